//! An ACME client's part in a fleet ([`AcmeConfig::storage`](super::AcmeConfig::storage)):
//! the storage keys it shares, who orders a name (the holder of its lease), the challenges
//! every instance answers, and the certificates every instance picks up.
//!
//! In the storage:
//! - `certificates/NAME.pem`: the chain and key, as in the cache directory;
//! - `acme/certificates`: the index of those, a line `NAME NOT_AFTER-STAMP` each (its expiry,
//!   and a 64-bit FNV-1a of its PEM: two certificates issued in the same second differ), so
//!   that one read tells an instance whether anything is new;
//! - `acme/challenges`: the TLS-ALPN-01 challenges in flight, a line `NAME DIGEST` each (the
//!   SHA-256 of the key authorization, in hex); each instance makes its own challenge
//!   certificate from the digest, so no key crosses the store for it;
//! - `acme/attempts/NAME`: a name's failed orders in a row and when the next may be tried
//!   (`FAILURES RETRY_AT`, in milliseconds since the Unix epoch), written by the instance
//!   whose order failed, so that the fleet backs off as one client (an ACME server's limits
//!   on failed validations count per account); removed after a success;
//! - `acme/account.json`: the fleet's one ACME account (its directory and credentials, as
//!   the cache keeps them), made once, under the lease `acme/account`;
//! - leases: `acme/order/NAME` while an instance orders NAME, and one per index while it is
//!   rewritten.

use std::{
    collections::BTreeMap,
    fmt::Write as _,
    sync::Arc,
    time::{Duration, SystemTime, UNIX_EPOCH},
};

use crate::server::storage::{Lease, Storage, StorageError};

/// The index of the certificates in the storage.
pub(super) const CERTIFICATES: &str = "acme/certificates";
/// The index of the challenges in flight.
pub(super) const CHALLENGES: &str = "acme/challenges";
/// The fleet's account.
const ACCOUNT: &str = "acme/account.json";
/// How long an index's lease lasts: one load and one store.
const INDEX_LEASE: Duration = Duration::from_secs(10);
/// How often a busy index's lease is tried again.
const INDEX_RETRY: Duration = Duration::from_millis(50);
/// The most lines an index is read with: a bound on what a hostile store can make an
/// instance hold.
const MAX_LINES: usize = 10_000;

/// The storage an ACME client shares with its fleet, and its timings.
#[derive(Clone)]
pub(super) struct Fleet {
    pub(super) storage: Arc<dyn Storage>,
    /// How often each instance reads the indexes.
    pub(super) poll: Duration,
    /// How long an order's lease lasts before another instance may take the name over.
    pub(super) lease: Duration,
}

/// Where `name`'s certificate lives in the storage.
pub(super) fn certificate_key(name: &str) -> String {
    format!("certificates/{name}.pem")
}

/// Where the fleet's record of `name`'s failed orders lives.
fn attempts_key(name: &str) -> String {
    format!("acme/attempts/{name}")
}

/// The lease an instance holds while it orders `name`.
pub(super) fn order_lease(name: &str) -> String {
    format!("acme/order/{name}")
}

impl Fleet {
    /// How long the ordering instance waits, once its challenge is in the storage, before it
    /// tells the ACME server to validate: every instance reads the index within one poll;
    /// two, and a margin, for one that was mid-read.
    pub(super) fn propagation(&self) -> Duration {
        self.poll * 2 + Duration::from_millis(250)
    }

    /// The index under `key`: name → value. A line that does not parse is skipped; a value
    /// that is not UTF-8 is [`StorageError::Corrupt`].
    pub(super) async fn index(&self, key: &str) -> Result<BTreeMap<String, String>, StorageError> {
        let Some(bytes) = self.storage.load(key).await? else {
            return Ok(BTreeMap::new());
        };
        let text = std::str::from_utf8(&bytes)
            .map_err(|_| StorageError::corrupt(key, "the index is not UTF-8"))?;
        Ok(text
            .lines()
            .take(MAX_LINES)
            .filter_map(|line| {
                let (name, value) = line.split_once(' ')?;
                (super::orderable(name) && !value.is_empty()).then(|| (name.into(), value.into()))
            })
            .collect())
    }

    /// Changes the index under `key` under its lease, so that two instances never drop each
    /// other's lines.
    async fn change_index(
        &self,
        key: &str,
        change: impl FnOnce(&mut BTreeMap<String, String>),
    ) -> Result<(), StorageError> {
        let lease = self.index_lease(key).await?;
        let changed = async {
            // A bad index is replaced: what it held is found again by the next writes.
            let mut index = self.index(key).await.unwrap_or_default();
            change(&mut index);
            let mut text = String::new();
            for (name, value) in &index {
                let _ = writeln!(text, "{name} {value}");
            }
            self.storage.store(key, text.as_bytes()).await
        }
        .await;
        let _ = self.storage.unlock(&lease).await;
        changed
    }

    /// The fleet's record of failed orders for `name`: failures in a row, and when the next
    /// may be made. A record that does not parse is none.
    pub(super) async fn backoff(
        &self,
        name: &str,
    ) -> Result<Option<(u32, SystemTime)>, StorageError> {
        let Some(bytes) = self.storage.load(&attempts_key(name)).await? else {
            return Ok(None);
        };
        let text = String::from_utf8_lossy(&bytes);
        let mut fields = text.split_whitespace().map(str::parse::<u64>);
        let (Some(Ok(failures)), Some(Ok(millis))) = (fields.next(), fields.next()) else {
            return Ok(None);
        };
        let failures = u32::try_from(failures).unwrap_or(u32::MAX);
        let retry_at = UNIX_EPOCH.checked_add(Duration::from_millis(millis));
        Ok(retry_at.map(|retry_at| (failures, retry_at)))
    }

    /// Records `failures` failed orders for `name`, the next allowed at `retry_at`.
    pub(super) async fn save_backoff(
        &self,
        name: &str,
        failures: u32,
        retry_at: SystemTime,
    ) -> Result<(), StorageError> {
        let millis = retry_at
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
        let text = format!("{failures} {millis}\n");
        self.storage
            .store(&attempts_key(name), text.as_bytes())
            .await
    }

    /// Forgets `name`'s failures, after a success.
    pub(super) async fn clear_backoff(&self, name: &str) -> Result<(), StorageError> {
        self.storage.delete(&attempts_key(name)).await
    }

    /// The fleet's account credentials for `directory`, if it has one.
    pub(super) async fn account(
        &self,
        directory: &str,
    ) -> Result<Option<serde_json::Value>, StorageError> {
        let Some(bytes) = self.storage.load(ACCOUNT).await? else {
            return Ok(None);
        };
        let saved: serde_json::Value = serde_json::from_slice(&bytes)
            .map_err(|e| StorageError::corrupt(ACCOUNT, e.to_string()))?;
        if saved.get("directory").and_then(serde_json::Value::as_str) != Some(directory) {
            return Ok(None);
        }
        Ok(saved.get("credentials").cloned())
    }

    /// Keeps `credentials` as the fleet's account for `directory`.
    pub(super) async fn save_account(
        &self,
        directory: &str,
        credentials: &serde_json::Value,
    ) -> Result<(), StorageError> {
        let saved = serde_json::json!({ "directory": directory, "credentials": credentials });
        self.storage
            .store(ACCOUNT, saved.to_string().as_bytes())
            .await
    }

    /// The lease under which one instance makes the fleet's account.
    pub(super) async fn account_lease(&self) -> Result<Lease, StorageError> {
        self.index_lease("acme/account").await
    }

    /// Releases a lease taken here.
    pub(super) async fn release(&self, lease: &Lease) {
        let _ = self.storage.unlock(lease).await;
    }

    /// The lease of the index under `key`, tried again until it is free, for at most the
    /// lease's own time (its holder is done by then, or dead and its lease expired).
    async fn index_lease(&self, key: &str) -> Result<Lease, StorageError> {
        let deadline = tokio::time::Instant::now() + INDEX_LEASE;
        loop {
            if let Some(lease) = self.storage.try_lock(key, INDEX_LEASE).await? {
                return Ok(lease);
            }
            if tokio::time::Instant::now() >= deadline {
                return Err(StorageError::unavailable(
                    "lock",
                    key,
                    "the index's lease stayed taken",
                ));
            }
            tokio::time::sleep(INDEX_RETRY).await;
        }
    }

    /// Puts `name`'s challenge in the storage, for every instance to answer.
    pub(super) async fn publish_challenge(
        &self,
        name: &str,
        digest: &[u8],
    ) -> Result<(), StorageError> {
        let hex = digest.iter().fold(String::new(), |mut hex, byte| {
            let _ = write!(hex, "{byte:02x}");
            hex
        });
        self.change_index(CHALLENGES, |index| {
            index.insert(name.to_string(), hex);
        })
        .await
    }

    /// Takes `name`'s challenge out of the storage.
    pub(super) async fn withdraw_challenge(&self, name: &str) -> Result<(), StorageError> {
        self.change_index(CHALLENGES, |index| {
            index.remove(name);
        })
        .await
    }

    /// Puts `name`'s certificate (chain and key, PEM) in the storage, then in the index, so
    /// that an instance that sees the index entry finds the certificate; the entry's value.
    pub(super) async fn publish_certificate(
        &self,
        name: &str,
        pem: &[u8],
        not_after: u64,
    ) -> Result<String, StorageError> {
        self.storage.store(&certificate_key(name), pem).await?;
        let entry = format!("{not_after}-{:016x}", fnv1a(pem));
        let value = entry.clone();
        self.change_index(CERTIFICATES, |index| {
            index.insert(name.to_string(), value);
        })
        .await?;
        Ok(entry)
    }
}

/// The expiry in a certificates index entry (`NOT_AFTER-STAMP`, or `NOT_AFTER` alone).
pub(super) fn entry_not_after(entry: &str) -> Option<u64> {
    entry.split('-').next()?.parse().ok()
}

/// 64-bit FNV-1a: a stamp that is the same in every process (std's hashers are keyed).
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, byte| {
        (hash ^ u64::from(*byte)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

/// A digest in hex, as [`Fleet::publish_challenge`] writes it; `None` if it is not 32 bytes.
pub(super) fn digest_from_hex(hex: &str) -> Option<Vec<u8>> {
    if hex.len() != 64 {
        return None;
    }
    (0..32)
        .map(|i| u8::from_str_radix(hex.get(2 * i..2 * i + 2)?, 16).ok())
        .collect()
}
