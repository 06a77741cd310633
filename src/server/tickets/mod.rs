//! Session tickets a fleet of servers can all read: `TicketKeys`, key material shared by
//! every server (from a key file, from bytes, or derived per period from one secret), turned
//! into a rustls ticketer. A client that got a ticket from one server resumes on any other, in
//! TLS 1.3 and TLS 1.2.
//!
#![doc = include_str!("guide.md")]

mod context;
mod error;
mod fleet;
mod keyset;
mod seal;
mod ticketer;

use std::{fmt, path::Path, sync::Arc, time::Duration};

use rustls::{
    crypto::CryptoProvider,
    server::ProducesTickets,
    time_provider::{DefaultTimeProvider, TimeProvider},
    ServerConfig,
};

pub use self::{
    error::TicketKeyError,
    fleet::{FleetTicketKeys, Refreshed, KEY_SET_KEY},
};
use self::{
    seal::Algorithms,
    ticketer::{Keys, SharedTicketer},
};

/// The first line of a ticket key file.
pub const TICKET_KEYS_HEADER: &str = "tokio-tls-handshake ticket keys v1";

/// Bytes of one ticket key.
pub const TICKET_KEY_LEN: usize = 32;

/// rustls keeps a ticket's lifetime as seconds in a `u32`; 12 hours, as its own ticketer.
const DEFAULT_LIFETIME: Duration = Duration::from_secs(12 * 60 * 60);

/// Key material for session tickets that a fleet of servers shares, so that a client resumes
/// on whichever server it reaches.
///
/// - [`TicketKeys::from_file`] / [`TicketKeys::parse`] read a key file: the first key seals
///   new tickets, every key opens them. This is real rotation: put a new key first and keep
///   the previous ones as long as their tickets may be used (the ticket lifetime, 12 hours by
///   default), then drop them; load the file again on every server
///   ([`ReloadableConfig::reload_ticket_keys`](crate::certificates::ReloadableConfig::reload_ticket_keys)).
///   A key dropped from the file opens nothing any more.
/// - [`TicketKeys::from_secret`] derives a key per period from one long-lived fleet secret, so
///   servers with the same secret and roughly the same clock agree without exchanging files.
///   That is key *separation*, not rotation: the secret itself never changes, so whoever
///   learns it can derive every period's key, past and future. Replace the secret (everywhere)
///   to recover from a leak.
///
/// A ticket the keys cannot open (unknown, from a key rotated out, or sealed with an
/// algorithm this server's provider lacks) means a full handshake, never an error.
///
/// # Key file format (version 1)
///
/// ```text
/// tokio-tls-handshake ticket keys v1
/// # the current key: 32 bytes as 64 hex digits (for example `openssl rand -hex 32`)
/// 6b9c0f...e1
/// # previous keys, still accepted
/// 0d41aa...7c
/// ```
///
/// Blank lines and lines starting with `#` are ignored.
///
/// # Ticket format (version 3)
///
/// `3` (a byte); the algorithm (a byte: 1 for AES-256-GCM with HKDF-SHA384, 2 for
/// ChaCha20-Poly1305 with HKDF-SHA256, TLS 1.3's, from the configuration's crypto provider,
/// AES-256-GCM preferred); the key's 8-byte id (derived from the key and the ticket's context
/// with that HKDF); the issue time (8 bytes, Unix seconds, big-endian); a 16-byte random
/// salt; then the session state, sealed under a key and nonce derived from the ticket key and
/// the salt, with the first 34 bytes as additional data; and the 16-byte tag. Naming the
/// algorithm lets servers with different providers (aws-lc-rs and ring, say) or different
/// suites enabled open each other's tickets. Tickets of version 2 (before the issue time was
/// sealed in) no longer open: their clients do one full handshake.
///
/// # Lifetime and context
///
/// A ticket opens only within its [lifetime](Self::with_lifetime) of its sealed issue time,
/// by the server configuration's clock, and only in the same context: the application's
/// ([`with_context`](Self::with_context)) and the server's client authentication policy
/// ([`install`](Self::install) reads it from the configuration). Servers that share keys
/// and should resume each other's sessions must therefore have the same context and the
/// same client certificate verifier (the same trusted roots, the same optional or mandatory
/// policy, the same crypto provider); any difference means a full handshake, never a session
/// that skips a check its server requires.
///
/// The work a ticket costs is bounded before any cryptography: one that is out of its
/// lifetime or names a key this server does not hold is refused by comparing bytes; only one
/// naming a key held costs an HKDF and an AEAD open, as with rustls' own ticketer.
///
/// # Secrecy
///
/// Anyone with a ticket key can read the tickets made with it: treat the file as a private
/// key (mode 0600, never committed, distributed like other secrets), and rotate it. See the
/// README's "Behind a load balancer and across a fleet" section for what a leaked key exposes.
///
/// # Examples
///
/// ```no_run
/// # fn run(mut config: rustls::ServerConfig) -> Result<(), tokio_tls_handshake::tickets::TicketKeyError> {
/// use tokio_tls_handshake::tickets::TicketKeys;
///
/// TicketKeys::from_file("/etc/app/ticket.keys")?.install(&mut config)?;
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct TicketKeys {
    schedule: Schedule,
    lifetime: Duration,
    context: Vec<u8>,
}

#[derive(Clone)]
enum Schedule {
    /// The first key seals; all open.
    Fixed(Vec<[u8; TICKET_KEY_LEN]>),
    /// A key per period, derived from the secret; the periods either side of now open too.
    Derived {
        secret: [u8; TICKET_KEY_LEN],
        period: Duration,
    },
}

/// Never shows key material.
impl fmt::Debug for TicketKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut debug = f.debug_struct("TicketKeys");
        match &self.schedule {
            Schedule::Fixed(keys) => debug.field("keys", &keys.len()),
            Schedule::Derived { period, .. } => debug.field("key_per_period", period),
        };
        debug.field("lifetime", &self.lifetime).finish()
    }
}

impl TicketKeys {
    /// `current` encrypts new tickets; it and every key in `previous` decrypt.
    pub fn new(
        current: [u8; TICKET_KEY_LEN],
        previous: impl IntoIterator<Item = [u8; TICKET_KEY_LEN]>,
    ) -> Self {
        let mut keys = vec![current];
        keys.extend(previous);
        Self {
            schedule: Schedule::Fixed(keys),
            lifetime: DEFAULT_LIFETIME,
            context: Vec::new(),
        }
    }

    /// A key per `period`, derived from one long-lived `secret` and the period's number (Unix
    /// time divided by `period`), so that servers sharing the secret agree without exchanging
    /// files. The current period's key seals; it and the periods just before and just after
    /// open (a server whose clock runs a little behind another's still opens its tickets at a
    /// period boundary). The ticket lifetime becomes at most `period`.
    ///
    /// # Key separation, not rotation
    ///
    /// Each period's key is different, so a leaked *period key* opens only that period's
    /// tickets. But every period key derives from the one `secret`: whoever learns the secret
    /// opens every ticket sealed under it, past and future (for TLS 1.2, every resumable
    /// session's master secret). Keep it as secret as a private key, and after a leak replace
    /// it on every server; changing the period does not help. For keys that really change,
    /// rotate a key file instead ([`TicketKeys::from_file`]).
    pub fn from_secret(secret: [u8; TICKET_KEY_LEN], period: Duration) -> Self {
        let period = period.max(Duration::from_secs(1));
        Self {
            schedule: Schedule::Derived { secret, period },
            lifetime: DEFAULT_LIFETIME.min(period),
            context: Vec::new(),
        }
    }

    /// Reads a key file (see the format above), which only its owner may read or write.
    ///
    /// A small synchronous read: call it at start-up, or from `spawn_blocking` in a task.
    ///
    /// # Errors
    ///
    /// [`TicketKeyError::Io`] when the file cannot be read; [`TicketKeyError::Exposed`] when
    /// its group or others have any access to it on Unix (refused, as OpenSSH refuses such a
    /// private key: `chmod 600` it); or what [`TicketKeys::parse`] finds wrong with it.
    pub fn from_file(path: impl AsRef<Path>) -> Result<Self, TicketKeyError> {
        let path = path.as_ref();
        let io_error = |error| TicketKeyError::Io {
            path: path.to_path_buf(),
            error,
        };
        let file = std::fs::File::open(path).map_err(io_error)?;
        // The open file's mode, not the path's: no window for a swap between check and read.
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = file.metadata().map_err(io_error)?.permissions().mode() & 0o777;
            if mode & 0o077 != 0 {
                return Err(TicketKeyError::Exposed {
                    path: path.to_path_buf(),
                    mode,
                });
            }
        }
        let text = std::io::read_to_string(file).map_err(io_error)?;
        Self::parse(&text)
    }

    /// Reads the text of a key file (see the format above).
    ///
    /// # Errors
    ///
    /// [`TicketKeyError::Format`] for a missing or unknown header or a key that is not 64 hex
    /// digits (the line is named, never the key); [`TicketKeyError::NoKey`] when there is none.
    pub fn parse(text: &str) -> Result<Self, TicketKeyError> {
        let mut lines = text
            .lines()
            .enumerate()
            .map(|(i, line)| (i + 1, line.trim()));
        match lines.next() {
            Some((_, TICKET_KEYS_HEADER)) => {}
            _ => {
                return Err(TicketKeyError::Format {
                    line: 1,
                    reason: "the first line must be \"tokio-tls-handshake ticket keys v1\"",
                })
            }
        }
        let mut keys = Vec::new();
        for (number, line) in lines {
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            keys.push(hex_key(line).ok_or(TicketKeyError::Format {
                line: number,
                reason: "a key is 32 bytes written as 64 hex digits",
            })?);
        }
        let mut keys = keys.into_iter();
        let current = keys.next().ok_or(TicketKeyError::NoKey)?;
        Ok(Self::new(current, keys))
    }

    /// How long a ticket opens after it was issued (12 hours by default, at most the period
    /// of [`from_secret`](Self::from_secret) keys). The issue time is sealed into the ticket
    /// and judged by the configuration's clock (`ServerConfig::time_provider`): an older
    /// ticket, or one issued more than a minute in the future, means a full handshake.
    pub fn with_lifetime(mut self, lifetime: Duration) -> Self {
        self.lifetime = lifetime;
        self
    }

    /// Binds tickets to `context`, as OpenSSL's `SSL_CTX_set_session_id_context` binds
    /// sessions: a ticket sealed in one context does not open in another, even under the
    /// same keys. Give servers that share keys but must not share sessions (another
    /// application, another authorization policy) different contexts.
    ///
    /// [`install`](Self::install) adds the configuration's client authentication policy to
    /// the context on its own, so that a ticket from a server without client certificates
    /// never resumes on a server that requires them.
    pub fn with_context(mut self, context: impl Into<Vec<u8>>) -> Self {
        self.context = context.into();
        self
    }

    /// A rustls ticketer sealing tickets with these keys and `provider`'s primitives, on the
    /// system clock, for a server **without client authentication**: its tickets open where
    /// [`install`](Self::install) put the same keys and context in a configuration without
    /// client authentication, and not where client certificates are asked for. Prefer
    /// [`install`](Self::install), which reads the policy and the clock from the
    /// configuration itself.
    ///
    /// # Errors
    ///
    /// [`TicketKeyError::NoCipher`] when `provider` has neither TLS 1.3 AES-256-GCM nor
    /// ChaCha20-Poly1305; [`TicketKeyError::KeyDerivation`] when its HKDF fails to derive a
    /// key (a broken provider: tickets are refused, never sealed under an underived key).
    pub fn ticketer(
        &self,
        provider: &CryptoProvider,
    ) -> Result<Arc<dyn ProducesTickets>, TicketKeyError> {
        let policy = context::no_client_auth_policy(provider);
        self.build(provider, Arc::new(DefaultTimeProvider), policy.as_bytes())
    }

    /// The ticketer [`install`](Self::install) puts in `config`: its provider, its clock,
    /// and its client authentication policy in the context.
    pub(crate) fn ticketer_for(
        &self,
        config: &ServerConfig,
    ) -> Result<Arc<dyn ProducesTickets>, TicketKeyError> {
        self.build(
            config.crypto_provider(),
            config.time_provider.clone(),
            context::client_auth_policy(config).as_bytes(),
        )
    }

    fn build(
        &self,
        provider: &CryptoProvider,
        time: Arc<dyn TimeProvider>,
        policy: &[u8],
    ) -> Result<Arc<dyn ProducesTickets>, TicketKeyError> {
        let algorithms = Algorithms::from_provider(provider)?;
        let context = context::encode(&self.context, policy);
        let keys = match &self.schedule {
            Schedule::Fixed(keys) => Keys::fixed(keys, &algorithms, &context)?,
            Schedule::Derived { secret, period } => Keys::derived(*secret, period.as_secs()),
        };
        let lifetime = u32::try_from(self.lifetime.as_secs()).unwrap_or(u32::MAX);
        Ok(Arc::new(SharedTicketer {
            keys,
            lifetime,
            algorithms,
            time,
            context,
        }))
    }

    /// Sets `config`'s ticketer to these keys (TLS 1.3 tickets and TLS 1.2 session tickets),
    /// with the configuration's own crypto provider and clock, bound to the
    /// [`with_context`](Self::with_context) context and to the configuration's client
    /// authentication policy.
    ///
    /// # Errors
    ///
    /// As [`TicketKeys::ticketer`]; `config` is then unchanged.
    pub fn install(&self, config: &mut ServerConfig) -> Result<(), TicketKeyError> {
        config.ticketer = self.ticketer_for(config)?;
        Ok(())
    }
}

/// 64 hex digits as 32 bytes.
fn hex_key(text: &str) -> Option<[u8; TICKET_KEY_LEN]> {
    let text = text.as_bytes();
    if text.len() != 2 * TICKET_KEY_LEN {
        return None;
    }
    let digit = |c: u8| {
        char::from(c)
            .to_digit(16)
            .and_then(|d| u8::try_from(d).ok())
    };
    let mut key = [0u8; TICKET_KEY_LEN];
    for (byte, pair) in key.iter_mut().zip(text.chunks_exact(2)) {
        *byte = digit(pair[0])? << 4 | digit(pair[1])?;
    }
    Some(key)
}

#[cfg(test)]
mod tests;
