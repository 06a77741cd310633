//! [`FleetTicketKeys`]: session-ticket keys a fleet keeps in its storage and rotates itself.

use std::{
    fmt,
    sync::{Arc, Mutex, PoisonError},
    time::Duration,
};

use arc_swap::ArcSwapOption;
use rustls::{
    crypto::CryptoProvider,
    server::ProducesTickets,
    time_provider::{DefaultTimeProvider, TimeProvider},
    ServerConfig,
};

use super::{context, keyset::KeySet, TicketKeyError, TicketKeys, TICKET_KEY_LEN};
use crate::server::storage::{Storage, StorageError};

/// Where the key set lives in the storage.
pub const KEY_SET_KEY: &str = "tickets/keys";
/// The lease under which one instance rotates the set.
const ROTATION_LEASE: &str = "tickets/rotation";
/// How long the rotation lease lasts: one load, one store.
const LEASE_TTL: Duration = Duration::from_secs(30);
/// How often an instance looks for the first set while another writes it.
const FIRST_SET_POLL: Duration = Duration::from_millis(100);
/// How soon [`FleetTicketKeys::run`] tries again while it has no set at all.
const RETRY_WITHOUT_KEYS: Duration = Duration::from_secs(1);

/// Session-ticket keys that a fleet keeps in its [`Storage`] and rotates itself, as Caddy's
/// distributed ticket keys do: every instance given the same storage seals and opens with the
/// same keys, and a client resumes on whichever instance it reaches.
///
/// - **The set**: a key that seals, the next key, and the previous ones, under
///   [`KEY_SET_KEY`]. The next key is stored one rotation before it seals, so every instance
///   can open a ticket by the time any instance seals one with it. No instance seals with a
///   key that is not in storage: until the first set is loaded, the server issues no tickets.
/// - **Rotation**: every [`rotation`](Self::with_rotation) (12 hours by default; between 1
///   minute and 7 days), whichever instance first finds the set due rotates it, under a lease,
///   so the fleet rotates once. The previous keys kept are enough for a ticket to open for its
///   whole [lifetime](Self::with_lifetime) (12 hours by default) across rotations.
/// - **Pick-up**: [`run`](Self::run) reloads the set every quarter of the rotation (at most
///   every 10 minutes), so every instance has a new set well within one rotation.
/// - **A store that is down** stops nothing: the keys loaded keep sealing and opening, the
///   failure is a typed [`StorageError`] (a `tracing` warning and the
///   `tls_storage_errors_total` metric with those features), and the next round retries.
/// - **A hostile store**: a set that does not parse is [`StorageError::Corrupt`]; the last good
///   set keeps serving, and the instance that finds it writes the last good set back (rotated,
///   if due) under the lease. A store that comes back empty gets the last good set back too.
///
/// # Examples
///
/// ```no_run
/// # async fn run(mut config: rustls::ServerConfig, storage: std::sync::Arc<dyn tokio_tls_handshake::storage::Storage>)
/// # -> Result<(), Box<dyn std::error::Error>> {
/// use tokio_tls_handshake::tickets::FleetTicketKeys;
///
/// let keys = FleetTicketKeys::new(storage);
/// keys.install(&mut config)?;
/// keys.refresh().await?; // the first set, before serving: tickets from the first handshake
/// tokio::spawn(keys.clone().run());
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct FleetTicketKeys {
    inner: Arc<Inner>,
}

struct Inner {
    storage: Arc<dyn Storage>,
    rotation: Duration,
    lifetime: Duration,
    context: Vec<u8>,
    time: Arc<dyn TimeProvider>,
    /// The configurations it serves, each with its live ticketer.
    installed: Mutex<Vec<Installed>>,
    /// The last good set, and the keys' randomness.
    last: Mutex<Option<KeySet>>,
}

/// One configuration's ticketer, swapped when the set changes.
struct Installed {
    live: Arc<LiveTicketer>,
    provider: Arc<CryptoProvider>,
    time: Arc<dyn TimeProvider>,
    policy: String,
}

impl fmt::Debug for FleetTicketKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FleetTicketKeys")
            .field("storage", &self.inner.storage)
            .field("rotation", &self.inner.rotation)
            .field("lifetime", &self.inner.lifetime)
            .finish_non_exhaustive()
    }
}

/// What one [`refresh`](FleetTicketKeys::refresh) did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Refreshed {
    /// The stored set was loaded (unchanged, or changed by another instance).
    Loaded,
    /// This instance rotated the set (or wrote the first one), then loaded it.
    Rotated,
    /// The set was due, and another instance held the rotation lease: loaded as it is.
    RotatingElsewhere,
}

impl FleetTicketKeys {
    /// The default rotation: 12 hours, as Caddy's.
    pub const DEFAULT_ROTATION: Duration = Duration::from_secs(12 * 60 * 60);
    /// The shortest rotation accepted.
    pub const MIN_ROTATION: Duration = Duration::from_secs(60);
    /// The longest rotation accepted.
    pub const MAX_ROTATION: Duration = Duration::from_secs(7 * 24 * 60 * 60);

    /// Keys kept in `storage`, rotated every [`DEFAULT_ROTATION`](Self::DEFAULT_ROTATION).
    pub fn new(storage: Arc<dyn Storage>) -> Self {
        Self {
            inner: Arc::new(Inner {
                storage,
                rotation: Self::DEFAULT_ROTATION,
                lifetime: super::DEFAULT_LIFETIME,
                context: Vec::new(),
                time: Arc::new(DefaultTimeProvider),
                installed: Mutex::new(Vec::new()),
                last: Mutex::new(None),
            }),
        }
    }

    fn edit(mut self, change: impl FnOnce(&mut Inner)) -> Self {
        if let Some(inner) = Arc::get_mut(&mut self.inner) {
            change(inner);
        }
        self
    }

    /// Rotates every `rotation`, clamped to [`MIN_ROTATION`](Self::MIN_ROTATION) ..=
    /// [`MAX_ROTATION`](Self::MAX_ROTATION). Set it before cloning or installing.
    pub fn with_rotation(self, rotation: Duration) -> Self {
        self.edit(|inner| inner.rotation = rotation.clamp(Self::MIN_ROTATION, Self::MAX_ROTATION))
    }

    /// A ticket opens for `lifetime` after it was issued, as
    /// [`TicketKeys::with_lifetime`]; enough previous keys are kept for it.
    pub fn with_lifetime(self, lifetime: Duration) -> Self {
        self.edit(|inner| inner.lifetime = lifetime)
    }

    /// Binds tickets to `context`, as [`TicketKeys::with_context`].
    pub fn with_context(self, context: impl Into<Vec<u8>>) -> Self {
        let context = context.into();
        self.edit(|inner| inner.context = context)
    }

    /// The clock rotations are decided by (the system's by default; a test's own).
    pub fn with_time_provider(self, time: Arc<dyn TimeProvider>) -> Self {
        self.edit(|inner| inner.time = time)
    }

    /// How many previous keys a set keeps: a ticket sealed just before a rotation opens for
    /// its whole lifetime.
    fn keep(&self) -> usize {
        let rotation = self.inner.rotation.as_secs().max(1);
        let rotations = self.inner.lifetime.as_secs().div_ceil(rotation);
        usize::try_from(rotations)
            .unwrap_or(usize::MAX)
            .clamp(1, super::keyset::MAX_PREVIOUS)
    }

    /// Serves `config`'s tickets from the fleet's keys, under its client-auth policy and
    /// clock. No ticket is issued until the first set is loaded ([`refresh`](Self::refresh)).
    ///
    /// # Errors
    ///
    /// The configuration's crypto provider cannot seal tickets ([`TicketKeyError`]).
    pub fn install(&self, config: &mut ServerConfig) -> Result<(), TicketKeyError> {
        let installed = Installed {
            live: Arc::new(LiveTicketer::default()),
            provider: config.crypto_provider().clone(),
            time: config.time_provider.clone(),
            policy: context::client_auth_policy(config),
        };
        if let Some(set) = self.last() {
            installed.live.set(self.ticketer(&installed, &set)?);
        } else {
            // The provider is checked now, not at the first set.
            super::seal::Algorithms::from_provider(&installed.provider)?;
        }
        config.ticketer = installed.live.clone();
        self.installed().push(installed);
        Ok(())
    }

    fn installed(&self) -> std::sync::MutexGuard<'_, Vec<Installed>> {
        self.inner
            .installed
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    fn last(&self) -> Option<KeySet> {
        self.inner
            .last
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    fn ticketer(
        &self,
        installed: &Installed,
        set: &KeySet,
    ) -> Result<Arc<dyn ProducesTickets>, TicketKeyError> {
        let mut keys = set.keys().into_iter();
        let current = keys.next().ok_or(TicketKeyError::NoKey)?;
        TicketKeys::new(current, keys)
            .with_lifetime(self.inner.lifetime)
            .with_context(self.inner.context.clone())
            .build(
                &installed.provider,
                installed.time.clone(),
                installed.policy.as_bytes(),
            )
    }

    /// Serves `set` in every installed configuration, and keeps it as the last good one.
    fn serve(&self, set: KeySet) {
        if self.last().as_ref() == Some(&set) {
            return;
        }
        for installed in self.installed().iter() {
            // Checked at install: the provider seals tickets.
            if let Ok(ticketer) = self.ticketer(installed, &set) {
                installed.live.set(ticketer);
            }
        }
        *self
            .inner
            .last
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = Some(set);
    }

    fn now(&self) -> u64 {
        self.inner.time.current_time().map_or(0, |t| t.as_secs())
    }

    /// One round: loads the stored set, rotates it first if it is due (or writes the first
    /// one) under the rotation lease, and serves it.
    ///
    /// # Errors
    ///
    /// The storage's: unavailable, or a stored set that does not parse
    /// ([`StorageError::Corrupt`]). What was served before keeps serving.
    pub async fn refresh(&self) -> Result<Refreshed, StorageError> {
        let stored = self.load().await;
        let every = self.inner.rotation.as_secs();
        let now = self.now();
        match &stored {
            Ok(Some(set)) if !set.is_due(now, every) => {
                self.serve(set.clone());
                return Ok(Refreshed::Loaded);
            }
            Err(StorageError::Corrupt { .. }) | Ok(_) => {}
            Err(_) => return stored.map(|_| Refreshed::Loaded),
        }
        let storage = &self.inner.storage;
        let Some(lease) = storage.try_lock(ROTATION_LEASE, LEASE_TTL).await? else {
            return match stored {
                Ok(Some(set)) => {
                    self.serve(set);
                    Ok(Refreshed::RotatingElsewhere)
                }
                // Another instance is writing the first set (instances started together):
                // it is waited for, so that this one does not serve without tickets.
                Ok(None) => {
                    if let Some(set) = self.wait_for_first_set().await? {
                        self.serve(set);
                    }
                    Ok(Refreshed::RotatingElsewhere)
                }
                Err(error) => Err(error),
            };
        };
        let rotated = self.rotate_holding_lease(now, every).await;
        let _ = storage.unlock(&lease).await;
        let set = rotated?;
        self.serve(set);
        match stored {
            Err(error) => Err(error),
            Ok(_) => Ok(Refreshed::Rotated),
        }
    }

    /// Under the lease: the set again (another instance may have just rotated it), rotated if
    /// still due, stored, and returned.
    async fn rotate_holding_lease(&self, now: u64, every: u64) -> Result<KeySet, StorageError> {
        let base = match self.load().await {
            Ok(Some(set)) if !set.is_due(now, every) => return Ok(set),
            Ok(Some(set)) => Some(set),
            // Nothing stored (a store that came back empty), or a bad set: the last good one
            // is written back (rotated if due), so that tickets sealed before still open.
            Ok(None) | Err(StorageError::Corrupt { .. }) => self.last(),
            Err(error) => return Err(error),
        };
        let set = match base {
            Some(set) if set.is_due(now, every) => set.rotated(now, self.fresh_key()?, self.keep()),
            Some(set) => set,
            None => KeySet::first(now, self.fresh_key()?, self.fresh_key()?),
        };
        self.inner
            .storage
            .store(KEY_SET_KEY, set.to_text().as_bytes())
            .await?;
        Ok(set)
    }

    /// The first set, while another instance holds the lease to write it: loaded again every
    /// 100 ms for at most the lease's time; `None` if it did not come.
    async fn wait_for_first_set(&self) -> Result<Option<KeySet>, StorageError> {
        let deadline = tokio::time::Instant::now() + LEASE_TTL;
        while tokio::time::Instant::now() < deadline {
            tokio::time::sleep(FIRST_SET_POLL).await;
            if let Some(set) = self.load().await? {
                return Ok(Some(set));
            }
        }
        Ok(None)
    }

    async fn load(&self) -> Result<Option<KeySet>, StorageError> {
        let Some(bytes) = self.inner.storage.load(KEY_SET_KEY).await? else {
            return Ok(None);
        };
        KeySet::parse(&bytes)
            .map(Some)
            .map_err(|reason| StorageError::corrupt(KEY_SET_KEY, reason))
    }

    /// A key from the provider's secure random source.
    fn fresh_key(&self) -> Result<[u8; TICKET_KEY_LEN], StorageError> {
        let provider = self
            .installed()
            .first()
            .map(|installed| installed.provider.clone())
            .or_else(|| CryptoProvider::get_default().cloned())
            .ok_or_else(|| StorageError::corrupt(KEY_SET_KEY, "no crypto provider for a key"))?;
        let mut key = [0; TICKET_KEY_LEN];
        provider
            .secure_random
            .fill(&mut key)
            .map_err(|_| StorageError::corrupt(KEY_SET_KEY, "the random source failed"))?;
        Ok(key)
    }

    /// How often [`run`](Self::run) reloads: a quarter of the rotation, 1 s to 10 minutes.
    pub fn reload_interval(&self) -> Duration {
        (self.inner.rotation / 4).clamp(Duration::from_secs(1), Duration::from_secs(600))
    }

    /// Refreshes every [`reload_interval`](Self::reload_interval), for ever: spawn it. A
    /// failed round is reported (tracing, metrics) and retried at the next; what was loaded
    /// keeps serving meanwhile. While no set was ever loaded (the store was down at start), it
    /// tries every second.
    pub async fn run(self) {
        loop {
            if let Err(error) = self.refresh().await {
                crate::trace::storage_failed("ticket keys", &error);
                crate::measure::storage_failed(error.label());
            }
            // Without keys (the store was down at start) the server issues no tickets: soon
            // again, until it has them.
            let next = match self.last() {
                Some(_) => self.reload_interval(),
                None => RETRY_WITHOUT_KEYS,
            };
            tokio::time::sleep(next).await;
        }
    }
}

/// The ticketer a configuration holds: the fleet's current one, swapped whole when the set
/// changes; none (no tickets issued) until the first set is loaded.
#[derive(Default)]
struct LiveTicketer {
    current: ArcSwapOption<Arc<dyn ProducesTickets>>,
}

impl LiveTicketer {
    fn set(&self, ticketer: Arc<dyn ProducesTickets>) {
        self.current.store(Some(Arc::new(ticketer)));
    }
}

impl fmt::Debug for LiveTicketer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LiveTicketer")
            .field("loaded", &self.current.load().is_some())
            .finish()
    }
}

impl ProducesTickets for LiveTicketer {
    fn enabled(&self) -> bool {
        self.current.load().as_ref().is_some_and(|t| t.enabled())
    }

    fn lifetime(&self) -> u32 {
        self.current.load().as_ref().map_or(0, |t| t.lifetime())
    }

    fn encrypt(&self, plain: &[u8]) -> Option<Vec<u8>> {
        self.current.load().as_ref()?.encrypt(plain)
    }

    fn decrypt(&self, cipher: &[u8]) -> Option<Vec<u8>> {
        self.current.load().as_ref()?.decrypt(cipher)
    }
}
