//! [`FileStorage`]: the fleet's storage in a directory, for one machine.

use std::{
    fs,
    io::{self, Write},
    path::{Path, PathBuf},
    time::{Duration, SystemTime, UNIX_EPOCH},
};

use super::{key, Lease, Storage, StorageError, StorageFuture};

/// Where leases live, beside the values: no key reaches it (a key's segments never start
/// with `.`).
const LOCKS: &str = ".locks";

/// A takeover marker older than this belongs to a process that died while taking over an
/// expired lease; it is removed.
const STALE_TAKEOVER: Duration = Duration::from_secs(30);

/// The fleet's storage in a directory: each key a file under it (`certificates/a.pem`),
/// written whole under a hidden name and renamed into place, readable by its owner only.
/// Leases are lock files under `.locks/`, holding their owner and expiry; they work between
/// the processes of one machine (or of machines that share the directory over a file system
/// with atomic `rename` and exclusive create).
///
/// Its operations run on Tokio's blocking pool, never on the task that calls them.
///
/// # Examples
///
/// ```
/// # async fn run() -> Result<(), tokio_tls_handshake::storage::StorageError> {
/// use std::time::Duration;
/// use tokio_tls_handshake::storage::{FileStorage, Storage};
///
/// let storage = FileStorage::new(std::env::temp_dir().join("fleet-example"));
/// storage.store("tickets/note", b"hello").await?;
/// assert_eq!(storage.load("tickets/note").await?.as_deref(), Some(&b"hello"[..]));
/// if let Some(lease) = storage.try_lock("rotation", Duration::from_secs(30)).await? {
///     // ... the work one instance does ...
///     storage.unlock(&lease).await?;
/// }
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct FileStorage {
    dir: PathBuf,
}

impl FileStorage {
    /// Storage under `dir`, created (owner only) when first written.
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Self { dir: dir.into() }
    }

    /// Its directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn path(&self, key: &str) -> Result<PathBuf, StorageError> {
        Ok(self.dir.join(key::check(key)?))
    }

    fn lock_path(&self, name: &str) -> Result<PathBuf, StorageError> {
        Ok(self
            .dir
            .join(LOCKS)
            .join(format!("{}.lock", key::check(name)?)))
    }
}

/// Runs `work` on the blocking pool; its I/O error is the storage's.
async fn blocking<T: Send + 'static>(
    operation: &'static str,
    key: &str,
    work: impl FnOnce() -> io::Result<T> + Send + 'static,
) -> Result<T, StorageError> {
    match tokio::task::spawn_blocking(work).await {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(error)) => Err(StorageError::unavailable(operation, key, error)),
        Err(joined) => Err(StorageError::unavailable(operation, key, joined)),
    }
}

impl Storage for FileStorage {
    fn load<'a>(&'a self, key: &'a str) -> StorageFuture<'a, Option<Vec<u8>>> {
        Box::pin(async move {
            let path = self.path(key)?;
            blocking("load", key, move || match fs::read(&path) {
                Ok(bytes) => Ok(Some(bytes)),
                Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
                Err(e) => Err(e),
            })
            .await
        })
    }

    fn store<'a>(&'a self, key: &'a str, value: &'a [u8]) -> StorageFuture<'a, ()> {
        Box::pin(async move {
            let path = self.path(key)?;
            let value = value.to_vec();
            blocking("store", key, move || write_whole(&path, &value)).await
        })
    }

    fn delete<'a>(&'a self, key: &'a str) -> StorageFuture<'a, ()> {
        Box::pin(async move {
            let path = self.path(key)?;
            blocking("delete", key, move || match fs::remove_file(&path) {
                Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
                other => other,
            })
            .await
        })
    }

    fn try_lock<'a>(&'a self, name: &'a str, ttl: Duration) -> StorageFuture<'a, Option<Lease>> {
        Box::pin(async move {
            let path = self.lock_path(name)?;
            let lease = Lease::fresh(name);
            let owner = lease.owner().to_owned();
            let taken = blocking("lock", name, move || take(&path, &owner, ttl)).await?;
            Ok(taken.then_some(lease))
        })
    }

    fn extend<'a>(&'a self, lease: &'a Lease, ttl: Duration) -> StorageFuture<'a, bool> {
        Box::pin(async move {
            let path = self.lock_path(lease.name())?;
            let owner = lease.owner().to_owned();
            blocking("extend", lease.name(), move || match read_lock(&path)? {
                Some(held) if held.owner == owner && held.expires_ms > now_ms() => {
                    write_whole(&path, lock_text(&owner, ttl).as_bytes())?;
                    Ok(true)
                }
                _ => Ok(false),
            })
            .await
        })
    }

    fn unlock<'a>(&'a self, lease: &'a Lease) -> StorageFuture<'a, bool> {
        Box::pin(async move {
            let path = self.lock_path(lease.name())?;
            let owner = lease.owner().to_owned();
            blocking("unlock", lease.name(), move || match read_lock(&path)? {
                Some(held) if held.owner == owner => {
                    fs::remove_file(&path)?;
                    Ok(held.expires_ms > now_ms())
                }
                _ => Ok(false),
            })
            .await
        })
    }
}

/// Milliseconds since the Unix epoch: lock files compare expiries across processes.
fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

fn lock_text(owner: &str, ttl: Duration) -> String {
    let ttl = u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX);
    format!("{owner} {}\n", now_ms().saturating_add(ttl))
}

/// A lock file's contents.
struct Held {
    owner: String,
    expires_ms: u64,
    text: String,
}

/// The lock at `path`; `None` if there is none. A lock file that does not parse has expired.
fn read_lock(path: &Path) -> io::Result<Option<Held>> {
    let text = match fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) if e.kind() == io::ErrorKind::InvalidData => String::new(),
        Err(e) => return Err(e),
    };
    let mut fields = text.split_whitespace();
    let owner = fields.next().unwrap_or_default().to_owned();
    let expires_ms = fields.next().and_then(|s| s.parse().ok()).unwrap_or(0);
    Ok(Some(Held {
        owner,
        expires_ms,
        text,
    }))
}

/// Takes the lock at `path` for `owner`: created if there is none; taken over if the one
/// there has expired, under a takeover marker so that two processes never both do.
fn take(path: &Path, owner: &str, ttl: Duration) -> io::Result<bool> {
    if let Some(parent) = path.parent() {
        create_dirs(parent)?;
    }
    let mine = lock_text(owner, ttl);
    if create_new(path, mine.as_bytes())? {
        return Ok(true);
    }
    let Some(held) = read_lock(path)? else {
        // Released between the two calls: one more try.
        return create_new(path, mine.as_bytes());
    };
    if held.expires_ms > now_ms() {
        return Ok(false);
    }
    let marker = path.with_extension("takeover");
    if !create_new(&marker, mine.as_bytes())? {
        remove_if_stale(&marker)?;
        return Ok(false);
    }
    // Only the marker's holder removes the expired lock, and only the one it read: a lock
    // taken meanwhile by create_new (in the gap below) wins, and this call returns false.
    let taken = match read_lock(path)? {
        Some(again) if again.text == held.text => {
            fs::remove_file(path)?;
            create_new(path, mine.as_bytes())
        }
        Some(_) => Ok(false),
        None => create_new(path, mine.as_bytes()),
    };
    let _ = fs::remove_file(&marker);
    taken
}

/// Removes a takeover marker left by a process that died while holding it.
fn remove_if_stale(marker: &Path) -> io::Result<()> {
    let modified = match fs::metadata(marker).and_then(|m| m.modified()) {
        Ok(modified) => modified,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e),
    };
    if modified.elapsed().is_ok_and(|age| age > STALE_TAKEOVER) {
        match fs::remove_file(marker) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(e),
            _ => {}
        }
    }
    Ok(())
}

/// Creates `path` with `bytes` unless it exists: `Ok(false)` when it does.
fn create_new(path: &Path, bytes: &[u8]) -> io::Result<bool> {
    let mut options = fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    match options.open(path) {
        Ok(mut file) => {
            file.write_all(bytes)?;
            Ok(true)
        }
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Ok(false),
        Err(e) => Err(e),
    }
}

/// Writes `bytes` to `path` whole: a hidden file beside it (owner only), synced, then
/// renamed over it, so that a reader sees the old contents or the new.
fn write_whole(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let parent = path.parent().unwrap_or(Path::new("."));
    create_dirs(parent)?;
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("value");
    let temporary = parent.join(format!(".{name}.{}", Lease::fresh(name).owner()));
    let mut options = fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let written = options.open(&temporary).and_then(|mut file| {
        file.write_all(bytes)?;
        file.sync_all()
    });
    let renamed = written.and_then(|()| fs::rename(&temporary, path));
    if renamed.is_err() {
        let _ = fs::remove_file(&temporary);
    }
    renamed
}

/// `dir` and its parents, owner only.
fn create_dirs(dir: &Path) -> io::Result<()> {
    let mut builder = fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(dir)
}
