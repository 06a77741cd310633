//! The fleet's storage: the same contract checked on each backend (values written whole,
//! keys kept inside their space, leases held by one owner, released and extended by that
//! owner only, taken over once expired), and against a real `redis-server` (with the
//! `redis` feature): a password, an ACL user kept to its prefix, and a store that goes away.

use crate::support;

use std::{sync::Arc, time::Duration};

use support::bounded;
use tokio_tls_handshake::storage::{FileStorage, Lease, Storage, StorageError};

/// The value under `key`.
async fn value(storage: &dyn Storage, key: &str) -> Option<Vec<u8>> {
    storage.load(key).await.expect("load")
}

/// The contract every backend keeps.
async fn keeps_the_contract(storage: &dyn Storage) {
    assert_eq!(storage.load("fleet/missing").await.expect("load"), None);
    storage.store("fleet/a.pem", b"one").await.expect("store");
    assert_eq!(
        value(storage, "fleet/a.pem").await.as_deref(),
        Some(&b"one"[..])
    );
    storage
        .store("fleet/a.pem", b"two")
        .await
        .expect("overwrite");
    assert_eq!(
        value(storage, "fleet/a.pem").await.as_deref(),
        Some(&b"two"[..])
    );
    storage
        .store("fleet/*.example.com", b"w")
        .await
        .expect("a wildcard name");
    storage.delete("fleet/a.pem").await.expect("delete");
    storage.delete("fleet/a.pem").await.expect("delete again");
    assert_eq!(storage.load("fleet/a.pem").await.expect("load"), None);

    // Keys from a peer (an SNI name, say) never leave their space.
    for bad in [
        "../escape",
        "fleet/../../etc/passwd",
        "/abs",
        ".hidden",
        "a b",
        "",
    ] {
        let refused = storage.store(bad, b"x").await;
        assert!(
            matches!(refused, Err(StorageError::InvalidKey(_))),
            "{bad:?}: {refused:?}"
        );
        assert!(matches!(
            storage.load(bad).await,
            Err(StorageError::InvalidKey(_))
        ));
    }

    // One owner at a time.
    let ttl = Duration::from_secs(30);
    let held = storage
        .try_lock("rotation", ttl)
        .await
        .expect("lock")
        .expect("free");
    assert!(
        storage
            .try_lock("rotation", ttl)
            .await
            .expect("lock")
            .is_none(),
        "held"
    );
    let stranger = Lease::new("rotation", "someone-else");
    assert!(
        !storage.unlock(&stranger).await.expect("unlock"),
        "not the owner's"
    );
    assert!(
        !storage.extend(&stranger, ttl).await.expect("extend"),
        "not the owner's"
    );
    assert!(
        storage
            .try_lock("rotation", ttl)
            .await
            .expect("lock")
            .is_none(),
        "still held"
    );
    assert!(
        storage.extend(&held, ttl).await.expect("extend"),
        "the owner extends"
    );
    assert!(
        storage.unlock(&held).await.expect("unlock"),
        "the owner releases"
    );
    assert!(
        !storage.unlock(&held).await.expect("unlock"),
        "released once"
    );
    let next = storage
        .try_lock("rotation", ttl)
        .await
        .expect("lock")
        .expect("free again");
    assert_ne!(next.owner(), held.owner());
    assert!(storage.unlock(&next).await.expect("unlock"));

    // A holder that died: its short lease expires, and another owner takes it.
    let crashed = storage
        .try_lock("order/example.com", Duration::from_millis(50))
        .await
        .expect("lock")
        .expect("free");
    let taken = bounded(async {
        loop {
            if let Some(lease) = storage
                .try_lock("order/example.com", ttl)
                .await
                .expect("lock")
            {
                return lease;
            }
            tokio::task::yield_now().await;
        }
    })
    .await;
    assert!(
        !storage.extend(&crashed, ttl).await.expect("extend"),
        "the expired owner lost it"
    );
    assert!(
        !storage.unlock(&crashed).await.expect("unlock"),
        "and cannot release the new one"
    );
    assert!(storage.unlock(&taken).await.expect("unlock"));
}

#[tokio::test]
async fn file_storage_keeps_the_contract() {
    let dir = support::openssl::Files::new();
    let storage = FileStorage::new(dir.path("fleet"));
    keeps_the_contract(&storage).await;
}

/// What a file storage writes is its owner's alone, and a lock taken by one handle excludes
/// another handle on the same directory (another process, in production).
#[tokio::test]
async fn file_storage_is_owner_only_and_its_locks_exclude_other_handles() {
    use std::os::unix::fs::PermissionsExt;
    let dir = support::openssl::Files::new();
    let root = std::path::PathBuf::from(dir.path("fleet"));
    let storage = FileStorage::new(&root);
    storage
        .store("certificates/a.pem", b"key")
        .await
        .expect("store");
    let mode = |path: &std::path::Path| {
        std::fs::metadata(path)
            .expect("metadata")
            .permissions()
            .mode()
            & 0o777
    };
    assert_eq!(mode(&root.join("certificates/a.pem")), 0o600);
    assert_eq!(mode(&root.join("certificates")), 0o700);

    let handles: Vec<Arc<FileStorage>> =
        (0..8).map(|_| Arc::new(FileStorage::new(&root))).collect();
    let attempts = handles.iter().map(|handle| {
        let handle = handle.clone();
        tokio::spawn(async move { handle.try_lock("rotation", Duration::from_secs(30)).await })
    });
    let mut winners = 0;
    for attempt in attempts {
        if bounded(attempt)
            .await
            .expect("joined")
            .expect("lock")
            .is_some()
        {
            winners += 1;
        }
    }
    assert_eq!(winners, 1, "one handle holds the lease");

    // A lock file that does not parse counts as expired, not as held for ever.
    std::fs::write(root.join(".locks/stale.lock"), b"garbage").expect("write");
    let taken = storage
        .try_lock("stale", Duration::from_secs(30))
        .await
        .expect("lock");
    assert!(taken.is_some(), "a corrupt lock file is taken over");
}

#[cfg(feature = "redis")]
mod redis_backend {
    use super::*;
    use support::redis::Redis;
    use tokio_tls_handshake::storage::RedisStorage;

    async fn redis() -> Option<Redis> {
        if !support::redis::available() {
            return None;
        }
        Some(Redis::start().await)
    }

    #[tokio::test]
    async fn redis_storage_keeps_the_contract() {
        let Some(redis) = redis().await else { return };
        let storage = RedisStorage::connect(&redis.url()).expect("url");
        keeps_the_contract(&storage).await;
        // Values live under the prefix, as Redis strings.
        storage
            .store("tickets/note", b"hello")
            .await
            .expect("store");
        let raw = redis
            .admin(&["GET", "tokio-tls-handshake:tickets/note"])
            .await;
        assert_eq!(raw, redis::Value::BulkString(b"hello".to_vec()));
    }

    /// The store is protected by what Redis offers: a wrong password reaches nothing, and an
    /// ACL user kept to its fleet's prefix cannot touch another prefix.
    #[tokio::test]
    async fn a_wrong_password_reaches_nothing_and_an_acl_user_only_its_prefix() {
        let Some(redis) = redis().await else { return };
        let wrong = RedisStorage::connect(&redis.url_as("default", "wrong"))
            .expect("url")
            .with_timeout(Duration::from_secs(2));
        let refused = wrong.load("tickets/keys").await;
        assert!(
            matches!(refused, Err(StorageError::Unavailable { .. })),
            "{refused:?}"
        );

        redis
            .admin(&[
                "ACL",
                "SETUSER",
                "fleet-a",
                "on",
                ">secret-a",
                "resetkeys",
                "~fleet-a:*",
                "resetchannels",
                "-@all",
                "+get",
                "+set",
                "+del",
                "+pexpire",
                "+eval",
                "+evalsha",
                "+script",
            ])
            .await;
        let fleet = RedisStorage::connect(&redis.url_as("fleet-a", "secret-a"))
            .expect("url")
            .with_prefix("fleet-a:");
        keeps_the_contract(&fleet).await;
        let elsewhere = RedisStorage::connect(&redis.url_as("fleet-a", "secret-a"))
            .expect("url")
            .with_prefix("fleet-b:");
        let denied = elsewhere.store("tickets/keys", b"x").await;
        assert!(
            matches!(denied, Err(StorageError::Unavailable { .. })),
            "{denied:?}"
        );
        let text = denied.expect_err("denied").to_string();
        assert!(
            text.contains("NOPERM") || text.contains("permission"),
            "{text}"
        );
    }

    /// Redis goes away: calls fail fast with a typed error, bounded by the timeout; once it
    /// is back, the same handle works again (the connection manager reconnects).
    #[tokio::test]
    async fn a_store_that_goes_away_fails_fast_and_comes_back() {
        let Some(mut redis) = redis().await else {
            return;
        };
        let storage = RedisStorage::connect(&redis.url())
            .expect("url")
            .with_timeout(Duration::from_millis(500));
        storage.store("k", b"v").await.expect("store");
        redis.stop().await;
        let started = tokio::time::Instant::now();
        let failed = storage.load("k").await;
        assert!(
            matches!(failed, Err(StorageError::Unavailable { .. })),
            "{failed:?}"
        );
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "bounded: {:?}",
            started.elapsed()
        );
        redis.restart().await;
        let back = bounded(async {
            loop {
                match storage.store("k", b"again").await {
                    Ok(()) => return,
                    Err(StorageError::Unavailable { .. }) => tokio::task::yield_now().await,
                    Err(other) => panic!("{other}"),
                }
            }
        });
        back.await;
        assert_eq!(
            storage.load("k").await.expect("load").as_deref(),
            Some(&b"again"[..])
        );
    }
}

#[cfg(feature = "redis")]
mod redis_over_tls {
    use super::*;
    use support::redis::Redis;
    use tokio_tls_handshake::storage::RedisStorage;

    /// The store reached over TLS (`rediss://`, rustls, a private CA): the contract holds;
    /// a client that does not trust the server's CA, or that speaks plaintext to the TLS
    /// port, reaches nothing.
    #[tokio::test]
    async fn redis_over_tls_keeps_the_contract_and_refuses_an_untrusted_server() {
        if !support::redis::available() {
            return;
        }
        let redis = Redis::start_tls().await;
        let storage =
            RedisStorage::connect_tls(&redis.tls_url(), redis.ca_pem().as_bytes()).expect("url");
        keeps_the_contract(&storage).await;

        let other = support::Ca::new("another CA");
        let untrusted = RedisStorage::connect_tls(&redis.tls_url(), other.cert_pem().as_bytes())
            .expect("url")
            .with_timeout(Duration::from_secs(2));
        let refused = untrusted.load("tickets/keys").await;
        assert!(
            matches!(refused, Err(StorageError::Unavailable { .. })),
            "{refused:?}"
        );

        let plaintext = RedisStorage::connect(&redis.url())
            .expect("url")
            .with_timeout(Duration::from_secs(2));
        let refused = plaintext.load("tickets/keys").await;
        assert!(
            matches!(refused, Err(StorageError::Unavailable { .. })),
            "{refused:?}"
        );
    }
}
