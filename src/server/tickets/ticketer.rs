//! The rustls ticketer a fleet shares: which key seals now, which keys open, and when.

use std::fmt;

use rustls::server::ProducesTickets;

use super::{
    seal::{Algorithms, Header, KEY_ID_LEN},
    TicketKeyError, TICKET_KEY_LEN,
};

/// The keys a ticketer seals and opens tickets with.
pub(super) enum Keys {
    /// The first key seals; all open. Each key's id per algorithm, in the order of
    /// [`Algorithms::all`].
    Fixed(Vec<FixedKey>),
    /// A key per period derived from one secret: the current period's seals; it and the
    /// periods either side of it open.
    Derived {
        secret: [u8; TICKET_KEY_LEN],
        /// Seconds.
        period: u64,
    },
}

pub(super) struct FixedKey {
    key: [u8; TICKET_KEY_LEN],
    ids: Vec<[u8; KEY_ID_LEN]>,
}

impl Keys {
    /// Fixed keys, with their ids under every algorithm derived now.
    ///
    /// # Errors
    ///
    /// [`TicketKeyError::KeyDerivation`] if the provider's HKDF fails.
    pub(super) fn fixed(
        keys: &[[u8; TICKET_KEY_LEN]],
        algorithms: &Algorithms,
    ) -> Result<Self, TicketKeyError> {
        keys.iter()
            .map(|key| {
                let ids = algorithms
                    .all
                    .iter()
                    .map(|algorithm| algorithm.key_id(key))
                    .collect::<Option<Vec<_>>>()
                    .ok_or(TicketKeyError::KeyDerivation)?;
                Ok(FixedKey { key: *key, ids })
            })
            .collect::<Result<Vec<_>, _>>()
            .map(Keys::Fixed)
    }
}

pub(super) struct SharedTicketer {
    pub(super) keys: Keys,
    pub(super) lifetime: u32,
    pub(super) algorithms: Algorithms,
    /// Seconds since the Unix epoch.
    pub(super) clock: fn() -> u64,
}

impl fmt::Debug for SharedTicketer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SharedTicketer")
            .field("lifetime", &self.lifetime)
            .finish_non_exhaustive()
    }
}

impl ProducesTickets for SharedTicketer {
    fn enabled(&self) -> bool {
        true
    }

    fn lifetime(&self) -> u32 {
        self.lifetime
    }

    /// `None` (no ticket, so a full handshake next time) whenever a key cannot be derived:
    /// never a ticket under a key that was not.
    fn encrypt(&self, plain: &[u8]) -> Option<Vec<u8>> {
        let algorithm = self.algorithms.sealing();
        let (id, key) = match &self.keys {
            Keys::Fixed(keys) => {
                let first = keys.first()?;
                (*first.ids.first()?, first.key)
            }
            Keys::Derived { secret, period } => {
                let key = algorithm.period_key(secret, (self.clock)() / period)?;
                (algorithm.key_id(&key)?, key)
            }
        };
        self.algorithms.seal(algorithm, &id, &key, plain)
    }

    fn decrypt(&self, ticket: &[u8]) -> Option<Vec<u8>> {
        let header = Header::read(ticket)?;
        let (index, algorithm) = self.algorithms.named(header.algorithm)?;
        let key = match &self.keys {
            Keys::Fixed(keys) => keys
                .iter()
                .find(|k| k.ids.get(index).is_some_and(|id| id == header.key_id))
                .map(|k| k.key)?,
            Keys::Derived { secret, period } => {
                // The periods either side of now: a server whose clock runs a little behind
                // or ahead of the one that sealed still opens at a period boundary.
                let now = (self.clock)() / period;
                [Some(now), now.checked_sub(1), now.checked_add(1)]
                    .into_iter()
                    .flatten()
                    .filter_map(|n| algorithm.period_key(secret, n))
                    .find(|key| algorithm.key_id(key).is_some_and(|id| id == header.key_id))?
            }
        };
        algorithm.open(&key, ticket)
    }
}
