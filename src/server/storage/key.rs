//! The keys a storage accepts: `/`-separated segments of a small alphabet, so that no name
//! (an SNI name from a peer, say) can walk out of a directory or into another key's space.

use super::StorageError;

/// The longest key accepted, in bytes.
pub(crate) const MAX_KEY_LEN: usize = 512;

/// `key`, if every segment is non-empty, does not start with `.`, and is made of ASCII
/// letters, digits, `.`, `-`, `_` and `*`.
pub(crate) fn check(key: &str) -> Result<&str, StorageError> {
    let valid = !key.is_empty()
        && key.len() <= MAX_KEY_LEN
        && key.split('/').all(|segment| {
            !segment.is_empty()
                && !segment.starts_with('.')
                && segment
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_' | b'*'))
        });
    if valid {
        Ok(key)
    } else {
        Err(StorageError::InvalidKey(key.chars().take(80).collect()))
    }
}

#[cfg(test)]
mod tests {
    use super::check;

    #[test]
    fn keys_stay_inside_their_space() {
        for good in [
            "tickets/keys",
            "certificates/example.com.pem",
            "challenges/*.example.com",
        ] {
            assert!(check(good).is_ok(), "{good}");
        }
        for bad in [
            "",
            "/abs",
            "a//b",
            "../etc/passwd",
            "a/../b",
            ".hidden",
            "a/.b",
            "a b",
            "a\\b",
            "é",
            "a/",
            "a\0b",
        ] {
            assert!(check(bad).is_err(), "{bad:?}");
        }
        assert!(check(&"a".repeat(513)).is_err());
    }
}
