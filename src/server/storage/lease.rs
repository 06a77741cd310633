//! [`Lease`]: a piece of fleet-wide work held by one owner until it expires.

use std::{
    collections::hash_map::RandomState,
    fmt,
    hash::{BuildHasher, Hasher},
    sync::atomic::{AtomicU64, Ordering},
    time::{SystemTime, UNIX_EPOCH},
};

/// A lease taken with [`Storage::try_lock`](super::Storage::try_lock): its name and the
/// owner token that proves who holds it. Only the owner extends or releases it; a lease that
/// is not extended expires, and another owner may take it.
#[derive(Clone, PartialEq, Eq)]
pub struct Lease {
    name: String,
    owner: String,
}

impl Lease {
    /// A lease on `name` held by `owner` (for a backend of your own).
    pub fn new(name: impl Into<String>, owner: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            owner: owner.into(),
        }
    }

    /// A lease on `name` with a fresh owner token, unique to this call.
    pub fn fresh(name: impl Into<String>) -> Self {
        Self::new(name, owner_token())
    }

    /// What the lease is on.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The owner's token.
    pub fn owner(&self) -> &str {
        &self.owner
    }
}

/// Shows the owner token's first characters only.
impl fmt::Debug for Lease {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Lease")
            .field("name", &self.name)
            .field("owner", &self.owner.get(..8).unwrap_or(&self.owner))
            .finish()
    }
}

/// 128 bits, unique per call across processes and machines: two SipHash states keyed from
/// the OS's randomness (std's `RandomState`), over the process id, the time and a counter.
/// Uniqueness is what an owner token needs; it protects nothing secret.
fn owner_token() -> String {
    static CALLS: AtomicU64 = AtomicU64::new(0);
    let call = CALLS.fetch_add(1, Ordering::Relaxed);
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let half = || {
        let mut hasher = RandomState::new().build_hasher();
        hasher.write_u32(std::process::id());
        hasher.write_u128(now);
        hasher.write_u64(call);
        hasher.finish()
    };
    format!("{:016x}{:016x}", half(), half())
}

#[cfg(test)]
mod tests {
    use super::Lease;

    #[test]
    fn fresh_owners_differ() {
        let tokens: std::collections::HashSet<String> = (0..1000)
            .map(|_| Lease::fresh("x").owner().to_owned())
            .collect();
        assert_eq!(tokens.len(), 1000);
        assert!(tokens.iter().all(|t| t.len() == 32));
    }
}
