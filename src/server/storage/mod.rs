//! What a fleet of servers shares: values under keys, and leases that one instance holds at
//! a time.
//!
//! A [`Storage`] holds the fleet's state: certificates with their keys, the ACME account,
//! challenge certificates in flight, session-ticket keys, and the records of attempts. Every
//! instance that is given the same storage sees the same state, and a [`Lease`] decides
//! which instance does a piece of fleet-wide work (ordering a certificate, rotating the
//! ticket keys): the lease has an owner and an expiry, only its owner extends or releases
//! it, and a crashed holder's lease expires so that another instance takes over.
//!
//! Two backends come with the crate, and the trait is public, so that a backend on etcd,
//! Consul or a database is a type of your own:
//!
//! - [`FileStorage`]: a directory, the default. Values are files written whole (a reader sees
//!   the old value or the new one); leases are lock files, which work between the processes
//!   of one machine.
//! - `RedisStorage` (feature `redis`): a Redis server the whole fleet reaches. Leases are
//!   `SET NX PX` with a random owner token, extended and released only by a compare-and-set
//!   script.
//!
//! The handshake path never waits on storage: what the fleet shares is loaded into memory by
//! a task of its own, and a store that is down leaves every instance serving what it has.
//!
//! # Security
//!
//! The store holds private keys and session-ticket keys: whoever reads it can impersonate
//! the servers and decrypt resumed sessions' traffic. A [`FileStorage`] writes every file
//! readable by its owner only (mode 0600, directories 0700). A Redis server must be reached
//! over a network only the fleet can use, with a password or an ACL user that can touch the
//! fleet's keys only (`RedisStorage::connect` takes them from the URL).
//!
//! # Keys
//!
//! Keys are paths of segments separated by `/`, each of ASCII letters, digits, `.`, `-`,
//! `_` and `*` (an SNI wildcard), not starting with `.`: `certificates/example.com.pem`,
//! `tickets/keys`. Any other key is refused with [`StorageError::InvalidKey`] before the
//! store is touched, so that no name from a peer can walk out of a directory.

mod error;
mod file;
mod key;
mod lease;
#[cfg(feature = "redis")]
mod redis;

use std::{fmt, future::Future, pin::Pin, time::Duration};

#[cfg(feature = "redis")]
pub use self::redis::RedisStorage;
pub use self::{error::StorageError, file::FileStorage, lease::Lease};

/// What a [`Storage`] method returns: a boxed future, so that the trait is object-safe and
/// one `Arc<dyn Storage>` serves every part of the server.
pub type StorageFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T, StorageError>> + Send + 'a>>;

/// A store the instances of a fleet share: values under keys, and leases.
///
/// Implementations must make `store` atomic (a `load` sees the old value or the new one,
/// whole) and `try_lock` exclusive (while a lease is held and not expired, no other owner
/// gets it). Each call should be bounded in time: a store that does not answer is an error
/// ([`StorageError::Unavailable`]), never a wait without end.
pub trait Storage: Send + Sync + fmt::Debug + 'static {
    /// The value under `key`, or `None` if there is none.
    fn load<'a>(&'a self, key: &'a str) -> StorageFuture<'a, Option<Vec<u8>>>;

    /// Stores `value` under `key`, replacing what was there.
    fn store<'a>(&'a self, key: &'a str, value: &'a [u8]) -> StorageFuture<'a, ()>;

    /// Removes the value under `key`, if there is one.
    fn delete<'a>(&'a self, key: &'a str) -> StorageFuture<'a, ()>;

    /// Takes the lease `name` for `ttl`, unless another owner holds it: `Some(lease)` when
    /// taken, `None` when held by someone else.
    fn try_lock<'a>(&'a self, name: &'a str, ttl: Duration) -> StorageFuture<'a, Option<Lease>>;

    /// Extends `lease` to `ttl` from now if its owner still holds it: `false` when it
    /// expired and was lost (another owner may hold it now).
    fn extend<'a>(&'a self, lease: &'a Lease, ttl: Duration) -> StorageFuture<'a, bool>;

    /// Releases `lease` if its owner still holds it: `false` when it had already expired.
    fn unlock<'a>(&'a self, lease: &'a Lease) -> StorageFuture<'a, bool>;
}
