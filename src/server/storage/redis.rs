//! [`RedisStorage`]: the fleet's storage on a Redis server (feature `redis`).

use std::{fmt, future::Future, time::Duration};

use redis::{aio::ConnectionManager, Client, Script};

use super::{key, Lease, Storage, StorageError, StorageFuture};

/// How long one command may take, connecting included, before it is
/// [`StorageError::Unavailable`]: the fleet's work is retried later, and nothing waits longer.
const DEFAULT_COMMAND_TIMEOUT: Duration = Duration::from_secs(3);

/// Extends a lease only for its owner.
const EXTEND: &str = "if redis.call('GET', KEYS[1]) == ARGV[1] then \
                      return redis.call('PEXPIRE', KEYS[1], ARGV[2]) else return 0 end";
/// Releases a lease only for its owner.
const UNLOCK: &str = "if redis.call('GET', KEYS[1]) == ARGV[1] then \
                      return redis.call('DEL', KEYS[1]) else return 0 end";

/// The fleet's storage on a Redis server, through the `redis` crate's reconnecting
/// connection manager: every instance given the same server (and prefix) shares it.
///
/// - Values are strings under `PREFIX + key` (`tokio-tls-handshake:` by default).
/// - A lease is `SET PREFIX lock:NAME OWNER NX PX TTL`, with a random owner token; it is
///   extended and released only by a script that compares the owner first, so that an
///   instance whose lease expired never releases the next holder's.
/// - It connects lazily and reconnects by itself: an instance started while Redis is down
///   serves what it has, and its calls fail with [`StorageError::Unavailable`] within
///   [`DEFAULT_TIMEOUT`](Self::DEFAULT_TIMEOUT) until Redis is back.
///
/// # Security
///
/// Redis holds the fleet's private keys and ticket keys. Give it a password or an ACL user
/// in the URL (`redis://user:password@host:6379/`) that can reach the prefix's keys only
/// (`ACL SETUSER fleet on >password ~tokio-tls-handshake:* +get +set +del +pexpire +eval
/// +evalsha +script`), and reach it over TLS (`rediss://`, with
/// [`connect_tls`](Self::connect_tls) for a private CA) or on a network only the fleet
/// reaches. Both are tested against a real `redis-server`.
///
/// # Examples
///
/// ```no_run
/// # async fn run() -> Result<(), tokio_tls_handshake::storage::StorageError> {
/// use tokio_tls_handshake::storage::{RedisStorage, Storage};
///
/// let storage = RedisStorage::connect("redis://fleet:secret@10.0.0.5:6379/")?;
/// storage.store("tickets/note", b"hello").await?;
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct RedisStorage {
    manager: ConnectionManager,
    prefix: String,
    timeout: Duration,
    /// The server's address, for Debug and errors (never the password).
    addr: String,
    extend: Script,
    unlock: Script,
}

impl fmt::Debug for RedisStorage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisStorage")
            .field("addr", &self.addr)
            .field("prefix", &self.prefix)
            .finish_non_exhaustive()
    }
}

impl RedisStorage {
    /// How long one command may take, connecting included, before it is
    /// [`StorageError::Unavailable`]: 3 s.
    pub const DEFAULT_TIMEOUT: Duration = DEFAULT_COMMAND_TIMEOUT;

    /// Storage on the Redis server at `url` (`redis://[user:password@]host:port/[db]`),
    /// connected on first use.
    ///
    /// With `rediss://`, the connection is TLS (rustls), and the server's certificate is
    /// checked against the platform's roots; [`connect_tls`](Self::connect_tls) takes a CA
    /// of your own.
    ///
    /// # Errors
    ///
    /// [`StorageError::Unavailable`] (operation `connect`) when `url` is not a Redis URL.
    pub fn connect(url: &str) -> Result<Self, StorageError> {
        let client = Client::open(url).map_err(|e| StorageError::unavailable("connect", "", e))?;
        Self::with_client(client)
    }

    /// Storage on the Redis server at `url` (`rediss://...`, TLS on rustls), whose
    /// certificate must chain to a root in `root_pem` (PEM: a private CA, as a fleet's Redis
    /// often has) instead of the platform's roots.
    ///
    /// # Errors
    ///
    /// [`StorageError::Unavailable`] (operation `connect`) when `url` is not a `rediss://`
    /// URL or `root_pem` holds no certificate.
    pub fn connect_tls(url: &str, root_pem: &[u8]) -> Result<Self, StorageError> {
        let roots = redis::TlsCertificates {
            client_tls: None,
            root_cert: Some(root_pem.to_vec()),
        };
        let client = Client::build_with_tls(url, roots)
            .map_err(|e| StorageError::unavailable("connect", "", e))?;
        Self::with_client(client)
    }

    fn with_client(client: Client) -> Result<Self, StorageError> {
        let addr = client.get_connection_info().addr().to_string();
        let config = redis::aio::ConnectionManagerConfig::new()
            .set_connection_timeout(Some(DEFAULT_COMMAND_TIMEOUT))
            .set_response_timeout(Some(DEFAULT_COMMAND_TIMEOUT))
            .set_number_of_retries(1);
        let manager = ConnectionManager::new_lazy_with_config(client, config)
            .map_err(|e| StorageError::unavailable("connect", &addr, e))?;
        Ok(Self {
            manager,
            prefix: "tokio-tls-handshake:".into(),
            timeout: DEFAULT_COMMAND_TIMEOUT,
            addr,
            extend: Script::new(EXTEND),
            unlock: Script::new(UNLOCK),
        })
    }

    /// Keys under `prefix` instead of `tokio-tls-handshake:`: fleets that share one Redis
    /// keep apart by prefix (and by ACL user).
    pub fn with_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = prefix.into();
        self
    }

    /// Each command bounded by `timeout` instead of [`DEFAULT_TIMEOUT`](Self::DEFAULT_TIMEOUT).
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    fn key(&self, key: &str) -> Result<String, StorageError> {
        Ok(format!("{}{}", self.prefix, key::check(key)?))
    }

    fn lock_key(&self, name: &str) -> Result<String, StorageError> {
        Ok(format!("{}lock:{}", self.prefix, key::check(name)?))
    }

    /// `command`, bounded by the timeout; its error is the storage's.
    async fn run<T>(
        &self,
        operation: &'static str,
        key: &str,
        command: impl Future<Output = redis::RedisResult<T>>,
    ) -> Result<T, StorageError> {
        match tokio::time::timeout(self.timeout, command).await {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(error)) => Err(StorageError::unavailable(operation, key, error)),
            Err(elapsed) => Err(StorageError::unavailable(operation, key, elapsed)),
        }
    }
}

fn millis(ttl: Duration) -> u64 {
    u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX).max(1)
}

impl Storage for RedisStorage {
    fn load<'a>(&'a self, key: &'a str) -> StorageFuture<'a, Option<Vec<u8>>> {
        Box::pin(async move {
            let full = self.key(key)?;
            let mut conn = self.manager.clone();
            let mut get = redis::cmd("GET");
            get.arg(&full);
            self.run("load", key, get.query_async(&mut conn)).await
        })
    }

    fn store<'a>(&'a self, key: &'a str, value: &'a [u8]) -> StorageFuture<'a, ()> {
        Box::pin(async move {
            let full = self.key(key)?;
            let mut conn = self.manager.clone();
            let mut set = redis::cmd("SET");
            set.arg(&full).arg(value);
            self.run("store", key, set.query_async(&mut conn)).await
        })
    }

    fn delete<'a>(&'a self, key: &'a str) -> StorageFuture<'a, ()> {
        Box::pin(async move {
            let full = self.key(key)?;
            let mut conn = self.manager.clone();
            let mut del = redis::cmd("DEL");
            del.arg(&full);
            let deleted = del.query_async::<i64>(&mut conn);
            self.run("delete", key, deleted).await.map(drop)
        })
    }

    fn try_lock<'a>(&'a self, name: &'a str, ttl: Duration) -> StorageFuture<'a, Option<Lease>> {
        Box::pin(async move {
            let full = self.lock_key(name)?;
            let lease = Lease::fresh(name);
            let mut conn = self.manager.clone();
            let mut set = redis::cmd("SET");
            set.arg(&full)
                .arg(lease.owner())
                .arg("NX")
                .arg("PX")
                .arg(millis(ttl));
            let set = set.query_async::<Option<String>>(&mut conn);
            let taken = self.run("lock", name, set).await?;
            Ok(taken.map(|_| lease))
        })
    }

    fn extend<'a>(&'a self, lease: &'a Lease, ttl: Duration) -> StorageFuture<'a, bool> {
        Box::pin(async move {
            let full = self.lock_key(lease.name())?;
            let mut conn = self.manager.clone();
            let mut invocation = self.extend.key(&full);
            invocation.arg(lease.owner()).arg(millis(ttl));
            let extended = invocation.invoke_async::<i64>(&mut conn);
            Ok(self.run("extend", lease.name(), extended).await? == 1)
        })
    }

    fn unlock<'a>(&'a self, lease: &'a Lease) -> StorageFuture<'a, bool> {
        Box::pin(async move {
            let full = self.lock_key(lease.name())?;
            let mut conn = self.manager.clone();
            let mut invocation = self.unlock.key(&full);
            invocation.arg(lease.owner());
            let released = invocation.invoke_async::<i64>(&mut conn);
            Ok(self.run("unlock", lease.name(), released).await? == 1)
        })
    }
}
