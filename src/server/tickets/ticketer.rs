//! The rustls ticketer a fleet shares: which key seals now, which keys open, and when.
//!
//! The work one ticket can cause is bounded before any cryptography: a ticket whose issue
//! time is outside its lifetime, or whose key id this server does not hold for the ticket's
//! algorithm and context, is refused by comparing bytes. Only a ticket naming a key this
//! server holds costs one HKDF and one AEAD open, as a ticket costs rustls' own ticketer.
//! Derived keys are derived once per period, not per ticket. In this crate's handshakes, at
//! most 5 tickets per flight from a client get that far (`engine/ticket_budget.rs`).

use std::{fmt, sync::Arc};

use arc_swap::ArcSwapOption;
use rustls::{server::ProducesTickets, time_provider::TimeProvider};

use super::{
    seal::{Algorithm, Algorithms, Header, KEY_ID_LEN},
    TicketKeyError, TICKET_KEY_LEN,
};

/// How far in the future a ticket's issue time may be, for servers whose clocks differ: the
/// skew rustls allows a ticket's age for 0-RTT freshness.
pub(super) const MAX_CLOCK_SKEW_SECS: u64 = 60;

/// One key with its id, under one algorithm.
#[derive(Clone, Copy)]
pub(super) struct Entry {
    id: [u8; KEY_ID_LEN],
    key: [u8; TICKET_KEY_LEN],
}

/// The keys that open tickets, per algorithm (in the order of [`Algorithms::all`]); the
/// first key of each seals.
pub(super) struct KeyRing {
    by_algorithm: Vec<Vec<Entry>>,
}

impl KeyRing {
    /// `keys` (the sealing one first) with their ids in `context` under every algorithm.
    fn new(keys: &[[u8; TICKET_KEY_LEN]], algorithms: &Algorithms, context: &[u8]) -> Option<Self> {
        algorithms
            .all
            .iter()
            .map(|algorithm| {
                keys.iter()
                    .map(|key| {
                        let id = algorithm.key_id(key, context)?;
                        Some(Entry { id, key: *key })
                    })
                    .collect()
            })
            .collect::<Option<_>>()
            .map(|by_algorithm| Self { by_algorithm })
    }

    fn sealing(&self) -> Option<&Entry> {
        self.by_algorithm.first()?.first()
    }

    fn opening(&self, algorithm: usize, id: &[u8]) -> Option<&Entry> {
        self.by_algorithm
            .get(algorithm)?
            .iter()
            .find(|entry| entry.id[..] == *id)
    }
}

/// The keys a ticketer seals and opens tickets with.
pub(super) enum Keys {
    /// The first key seals; all open.
    Fixed(KeyRing),
    /// A key per period derived from one secret: the current period's seals; it and the
    /// periods either side of it open.
    Derived {
        secret: [u8; TICKET_KEY_LEN],
        /// Seconds.
        period: u64,
        /// The keys of the periods around the last period seen, derived once per period.
        window: ArcSwapOption<(u64, KeyRing)>,
    },
}

impl Keys {
    /// Fixed keys, with their ids in `context` under every algorithm derived now.
    ///
    /// # Errors
    ///
    /// [`TicketKeyError::KeyDerivation`] if the provider's HKDF fails.
    pub(super) fn fixed(
        keys: &[[u8; TICKET_KEY_LEN]],
        algorithms: &Algorithms,
        context: &[u8],
    ) -> Result<Self, TicketKeyError> {
        KeyRing::new(keys, algorithms, context)
            .map(Keys::Fixed)
            .ok_or(TicketKeyError::KeyDerivation)
    }

    /// Keys derived from `secret` per `period` seconds.
    pub(super) fn derived(secret: [u8; TICKET_KEY_LEN], period: u64) -> Self {
        Keys::Derived {
            secret,
            period: period.max(1),
            window: ArcSwapOption::empty(),
        }
    }
}

pub(super) struct SharedTicketer {
    pub(super) keys: Keys,
    /// Seconds.
    pub(super) lifetime: u32,
    pub(super) algorithms: Algorithms,
    /// The configuration's clock: tickets are stamped and judged by it.
    pub(super) time: Arc<dyn TimeProvider>,
    /// What a ticket is bound to (the application's context and the server's client
    /// authentication policy): a ticket opens only where it is the same.
    pub(super) context: Vec<u8>,
}

impl fmt::Debug for SharedTicketer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SharedTicketer")
            .field("lifetime", &self.lifetime)
            .finish_non_exhaustive()
    }
}

impl SharedTicketer {
    fn now(&self) -> Option<u64> {
        self.time.current_time().map(|now| now.as_secs())
    }

    /// Runs `with` on the key ring in force at `now`.
    fn with_ring<T>(&self, now: u64, with: impl FnOnce(&KeyRing) -> Option<T>) -> Option<T> {
        match &self.keys {
            Keys::Fixed(ring) => with(ring),
            Keys::Derived {
                secret,
                period,
                window,
            } => {
                let current = now / period;
                if let Some(held) = window.load().as_ref().filter(|held| held.0 == current) {
                    return with(&held.1);
                }
                let ring = self.period_ring(secret, current)?;
                let result = with(&ring);
                window.store(Some(Arc::new((current, ring))));
                result
            }
        }
    }

    /// The keys of period `current` (which seals) and the periods either side of it: a
    /// server whose clock runs a little behind or ahead of the one that sealed still opens
    /// at a period boundary.
    fn period_ring(&self, secret: &[u8; TICKET_KEY_LEN], current: u64) -> Option<KeyRing> {
        let periods = [
            Some(current),
            current.checked_sub(1),
            current.checked_add(1),
        ];
        let by_algorithm = self
            .algorithms
            .all
            .iter()
            .map(|algorithm: &Algorithm| {
                periods
                    .iter()
                    .flatten()
                    .map(|&n| {
                        let key = algorithm.period_key(secret, n)?;
                        let id = algorithm.key_id(&key, &self.context)?;
                        Some(Entry { id, key })
                    })
                    .collect()
            })
            .collect::<Option<_>>()?;
        Some(KeyRing { by_algorithm })
    }
}

impl ProducesTickets for SharedTicketer {
    fn enabled(&self) -> bool {
        true
    }

    fn lifetime(&self) -> u32 {
        self.lifetime
    }

    /// `None` (no ticket, so a full handshake next time) whenever a key cannot be derived or
    /// the clock cannot be read: never a ticket under a key that was not.
    fn encrypt(&self, plain: &[u8]) -> Option<Vec<u8>> {
        let now = self.now()?;
        let algorithm = self.algorithms.sealing();
        let sealing = self.with_ring(now, |ring| ring.sealing().copied())?;
        self.algorithms
            .seal(algorithm, &sealing.id, &sealing.key, now, plain)
    }

    fn decrypt(&self, ticket: &[u8]) -> Option<Vec<u8>> {
        let header = Header::read(ticket)?;
        let now = self.now()?;
        // Judged before any cryptography; the issue time is authenticated when it opens.
        let from_the_future = header.issued_at > now.saturating_add(MAX_CLOCK_SKEW_SECS);
        let expired = now.saturating_sub(header.issued_at) > u64::from(self.lifetime);
        if from_the_future || expired {
            return None;
        }
        let (index, algorithm) = self.algorithms.named(header.algorithm)?;
        let key = self.with_ring(now, |ring| {
            ring.opening(index, header.key_id).map(|entry| entry.key)
        })?;
        // Within this crate's handshakes, only so many per flight from a client.
        if !crate::engine::ticket_budget::take_one() {
            return None;
        }
        algorithm.open(&key, ticket)
    }
}
