//! Session tickets a fleet of servers can all read: [`TicketKeys`], key material shared by
//! every server (from a file, from bytes, or derived per rotation period from one secret),
//! turned into a rustls ticketer. A client that got a ticket from one server resumes on any
//! other, in TLS 1.3 and TLS 1.2.
//!
//! A ticket is sealed with rustls' own primitives, taken from the configuration's crypto
//! provider: HKDF derives a key and nonce for each ticket from the shared key and a random
//! salt, and an AEAD (TLS 1.3's AES-256-GCM or ChaCha20-Poly1305 algorithm) seals it. The
//! ticket format (documented on [`TicketKeys`]) carries a version byte.

use std::{
    fmt,
    path::{Path, PathBuf},
    sync::Arc,
    time::Duration,
};

use rustls::{
    crypto::{
        cipher::{AeadKey, Iv},
        CryptoProvider, SecureRandom,
    },
    pki_types::UnixTime,
    server::ProducesTickets,
    CipherSuite, ServerConfig, Tls13CipherSuite,
};

/// The first line of a ticket key file.
pub const TICKET_KEYS_HEADER: &str = "tokio-tls-handshake ticket keys v1";

/// Bytes of one ticket key.
pub const TICKET_KEY_LEN: usize = 32;

/// The ticket format this crate writes.
const FORMAT: u8 = 1;
const KEY_ID_LEN: usize = 8;
const SALT_LEN: usize = 16;
const HEADER_LEN: usize = 1 + KEY_ID_LEN + SALT_LEN;
const TAG_LEN: usize = 16;
/// The AEAD's nonce, derived per ticket with its key.
const NONCE_LEN: usize = 12;
/// rustls keeps a ticket's lifetime as seconds in a `u32`; 12 hours, as its own ticketer.
const DEFAULT_LIFETIME: Duration = Duration::from_secs(12 * 60 * 60);

/// Key material for session tickets that a fleet of servers shares, so that a client resumes
/// on whichever server it reaches.
///
/// - [`TicketKeys::from_file`] / [`TicketKeys::parse`] read a key file: the first key
///   encrypts new tickets, every key decrypts. To rotate, put a new key first and keep the
///   previous ones as long as their tickets may be used (the ticket lifetime, 12 hours by
///   default), then drop them; load the file again on every server
///   ([`ReloadableConfig::reload_ticket_keys`](crate::ReloadableConfig::reload_ticket_keys)).
/// - [`TicketKeys::rotating`] derives a key per period from one fleet secret: servers with the
///   same secret and roughly the same clock agree without exchanging files; the current
///   period's key encrypts, the previous period's still decrypts.
///
/// A ticket the keys cannot open (unknown, or from a key rotated out) means a full handshake,
/// never an error.
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
/// # Ticket format (version 1)
///
/// `1` (a byte), the key's 8-byte id (derived from the key with HKDF), a 16-byte random salt,
/// then the session state sealed with AES-256-GCM (or ChaCha20-Poly1305 where the provider has
/// no AES-256-GCM) under a key and nonce derived from the ticket key and the salt with HKDF,
/// the first 25 bytes as additional data, and the 16-byte tag.
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
/// # fn run(mut config: rustls::ServerConfig) -> Result<(), tokio_tls_handshake::TicketKeyError> {
/// use tokio_tls_handshake::TicketKeys;
///
/// TicketKeys::from_file("/etc/app/ticket.keys")?.install(&mut config)?;
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct TicketKeys {
    schedule: Schedule,
    lifetime: Duration,
}

#[derive(Clone)]
enum Schedule {
    /// The first key encrypts; all decrypt.
    Fixed(Vec<[u8; TICKET_KEY_LEN]>),
    /// A key per period, derived from the secret; the current and the previous decrypt.
    Rotating {
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
            Schedule::Rotating { period, .. } => debug.field("rotating_every", period),
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
        }
    }

    /// A key per `period`, derived from `secret` and the period's number (Unix time divided
    /// by `period`): the current period's key encrypts, it and the previous period's decrypt.
    /// The ticket lifetime becomes at most `period`, so that every ticket can be opened for as
    /// long as it lives.
    pub fn rotating(secret: [u8; TICKET_KEY_LEN], period: Duration) -> Self {
        let period = period.max(Duration::from_secs(1));
        Self {
            schedule: Schedule::Rotating { secret, period },
            lifetime: DEFAULT_LIFETIME.min(period),
        }
    }

    /// Reads a key file (see the format above).
    ///
    /// # Errors
    ///
    /// [`TicketKeyError::Io`] when the file cannot be read, or what [`TicketKeys::parse`]
    /// finds wrong with it.
    pub fn from_file(path: impl AsRef<Path>) -> Result<Self, TicketKeyError> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|error| TicketKeyError::Io {
            path: path.to_path_buf(),
            error,
        })?;
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

    /// How long clients may use a ticket (12 hours by default); rustls refuses older ones.
    pub fn with_lifetime(mut self, lifetime: Duration) -> Self {
        self.lifetime = lifetime;
        self
    }

    /// A rustls ticketer sealing tickets with these keys and `provider`'s primitives.
    ///
    /// # Errors
    ///
    /// [`TicketKeyError::NoCipher`] when `provider` has neither TLS 1.3 AES-256-GCM nor
    /// ChaCha20-Poly1305.
    pub fn ticketer(
        &self,
        provider: &CryptoProvider,
    ) -> Result<Arc<dyn ProducesTickets>, TicketKeyError> {
        let seal = Seal::from_provider(provider)?;
        let schedule = match &self.schedule {
            Schedule::Fixed(keys) => {
                Keys::Fixed(keys.iter().map(|key| (seal.key_id(key), *key)).collect())
            }
            Schedule::Rotating { secret, period } => Keys::Rotating {
                secret: *secret,
                period: period.as_secs().max(1),
            },
        };
        let lifetime = u32::try_from(self.lifetime.as_secs()).unwrap_or(u32::MAX);
        Ok(Arc::new(SharedTicketer {
            keys: schedule,
            lifetime,
            seal,
            clock: || UnixTime::now().as_secs(),
        }))
    }

    /// Sets `config`'s ticketer to these keys (TLS 1.3 tickets and TLS 1.2 session tickets),
    /// with the configuration's own crypto provider.
    ///
    /// # Errors
    ///
    /// As [`TicketKeys::ticketer`]; `config` is then unchanged.
    pub fn install(&self, config: &mut ServerConfig) -> Result<(), TicketKeyError> {
        config.ticketer = self.ticketer(config.crypto_provider())?;
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

/// Why ticket keys could not be used.
#[derive(Debug)]
#[non_exhaustive]
pub enum TicketKeyError {
    /// The key file could not be read.
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        error: std::io::Error,
    },
    /// The key file is not in the expected format.
    Format {
        /// The line (from 1).
        line: usize,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// The key file holds no key.
    NoKey,
    /// The crypto provider has neither TLS 1.3 AES-256-GCM nor ChaCha20-Poly1305.
    NoCipher,
}

impl fmt::Display for TicketKeyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Io { path, error } => write!(f, "cannot read {}: {error}", path.display()),
            Self::Format { line, reason } => write!(f, "ticket key file, line {line}: {reason}"),
            Self::NoKey => f.write_str("the ticket key file holds no key"),
            Self::NoCipher => f.write_str(
                "the crypto provider has neither AES-256-GCM nor ChaCha20-Poly1305 for TLS 1.3",
            ),
        }
    }
}

impl std::error::Error for TicketKeyError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Io { error, .. } => Some(error),
            _ => None,
        }
    }
}

/// The keys a ticketer opens tickets with.
enum Keys {
    /// (id, key), the first one encrypting.
    Fixed(Vec<([u8; KEY_ID_LEN], [u8; TICKET_KEY_LEN])>),
    Rotating {
        secret: [u8; TICKET_KEY_LEN],
        /// Seconds.
        period: u64,
    },
}

struct SharedTicketer {
    keys: Keys,
    lifetime: u32,
    seal: Seal,
    /// Seconds since the Unix epoch.
    clock: fn() -> u64,
}

impl fmt::Debug for SharedTicketer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SharedTicketer")
            .field("lifetime", &self.lifetime)
            .finish_non_exhaustive()
    }
}

impl SharedTicketer {
    /// The key that encrypts now, with its id.
    fn current(&self) -> Option<([u8; KEY_ID_LEN], [u8; TICKET_KEY_LEN])> {
        match &self.keys {
            Keys::Fixed(keys) => keys.first().copied(),
            Keys::Rotating { secret, period } => {
                let key = self.seal.period_key(secret, (self.clock)() / period);
                Some((self.seal.key_id(&key), key))
            }
        }
    }

    /// The key with id `id`, if it still opens tickets.
    fn find(&self, id: &[u8]) -> Option<[u8; TICKET_KEY_LEN]> {
        match &self.keys {
            Keys::Fixed(keys) => keys.iter().find(|(key_id, _)| key_id == id).map(|k| k.1),
            Keys::Rotating { secret, period } => {
                let now = (self.clock)() / period;
                [now, now.saturating_sub(1)]
                    .into_iter()
                    .map(|n| self.seal.period_key(secret, n))
                    .find(|key| self.seal.key_id(key) == id)
            }
        }
    }
}

impl ProducesTickets for SharedTicketer {
    fn enabled(&self) -> bool {
        true
    }

    fn lifetime(&self) -> u32 {
        self.lifetime
    }

    fn encrypt(&self, plain: &[u8]) -> Option<Vec<u8>> {
        let (id, key) = self.current()?;
        self.seal.seal(&id, &key, plain)
    }

    fn decrypt(&self, ticket: &[u8]) -> Option<Vec<u8>> {
        if ticket.len() < HEADER_LEN + TAG_LEN || ticket[0] != FORMAT {
            return None;
        }
        let key = self.find(&ticket[1..1 + KEY_ID_LEN])?;
        self.seal.open(&key, ticket)
    }
}

/// The provider's primitives for tickets: HKDF and an AEAD with 32-byte keys.
struct Seal {
    suite: &'static Tls13CipherSuite,
    quic: &'static dyn rustls::quic::Algorithm,
    random: &'static dyn SecureRandom,
}

impl Seal {
    fn from_provider(provider: &CryptoProvider) -> Result<Self, TicketKeyError> {
        // The same choice on every server of a fleet, whatever order its provider lists them.
        let preference = [
            CipherSuite::TLS13_AES_256_GCM_SHA384,
            CipherSuite::TLS13_CHACHA20_POLY1305_SHA256,
        ];
        let suite = preference
            .iter()
            .find_map(|wanted| {
                provider.cipher_suites.iter().find_map(|suite| match suite {
                    rustls::SupportedCipherSuite::Tls13(s) if s.common.suite == *wanted => Some(*s),
                    _ => None,
                })
            })
            .ok_or(TicketKeyError::NoCipher)?;
        let quic = suite.quic.ok_or(TicketKeyError::NoCipher)?;
        if quic.aead_key_len() != TICKET_KEY_LEN {
            return Err(TicketKeyError::NoCipher);
        }
        Ok(Self {
            suite,
            quic,
            random: provider.secure_random,
        })
    }

    fn expand(&self, salt: &[u8], secret: &[u8], label: &[u8], out: &mut [u8]) -> Option<()> {
        self.suite
            .hkdf_provider
            .extract_from_secret(Some(salt), secret)
            .expand_slice(&[label], out)
            .ok()
    }

    fn key_id(&self, key: &[u8; TICKET_KEY_LEN]) -> [u8; KEY_ID_LEN] {
        let mut id = [0u8; KEY_ID_LEN];
        // HKDF never fails for an output this short.
        let _ = self.expand(b"", key, b"tokio-tls-handshake ticket key id", &mut id);
        id
    }

    fn period_key(&self, secret: &[u8; TICKET_KEY_LEN], period: u64) -> [u8; TICKET_KEY_LEN] {
        let mut key = [0u8; TICKET_KEY_LEN];
        let _ = self.expand(
            &period.to_be_bytes(),
            secret,
            b"tokio-tls-handshake ticket period key",
            &mut key,
        );
        key
    }

    /// The AEAD key for one ticket, from the ticket key and the ticket's salt: key and nonce
    /// from one HKDF extract and one expand.
    fn packet_key(
        &self,
        key: &[u8; TICKET_KEY_LEN],
        salt: &[u8],
    ) -> Option<Box<dyn rustls::quic::PacketKey>> {
        let mut okm = [0u8; TICKET_KEY_LEN + NONCE_LEN];
        self.expand(
            salt,
            key,
            b"tokio-tls-handshake ticket aead key and iv",
            &mut okm,
        )?;
        let (aead_key, iv) = okm.split_at(TICKET_KEY_LEN);
        let aead_key: [u8; TICKET_KEY_LEN] = aead_key.try_into().ok()?;
        let iv: [u8; NONCE_LEN] = iv.try_into().ok()?;
        Some(self.quic.packet_key(AeadKey::from(aead_key), Iv::new(iv)))
    }

    fn seal(
        &self,
        id: &[u8; KEY_ID_LEN],
        key: &[u8; TICKET_KEY_LEN],
        plain: &[u8],
    ) -> Option<Vec<u8>> {
        let mut salt = [0u8; SALT_LEN];
        self.random.fill(&mut salt).ok()?;
        let mut ticket = Vec::with_capacity(HEADER_LEN + plain.len() + TAG_LEN);
        ticket.push(FORMAT);
        ticket.extend_from_slice(id);
        ticket.extend_from_slice(&salt);
        ticket.extend_from_slice(plain);
        let (header, body) = ticket.split_at_mut(HEADER_LEN);
        // Each ticket has a key of its own, so the nonce's counter can stay 0.
        let tag = self
            .packet_key(key, &salt)?
            .encrypt_in_place(0, header, body)
            .ok()?;
        ticket.extend_from_slice(tag.as_ref());
        Some(ticket)
    }

    fn open(&self, key: &[u8; TICKET_KEY_LEN], ticket: &[u8]) -> Option<Vec<u8>> {
        let (header, body) = ticket.split_at(HEADER_LEN);
        let salt = &header[1 + KEY_ID_LEN..];
        let mut body = body.to_vec();
        let plain = self
            .packet_key(key, salt)?
            .decrypt_in_place(0, header, &mut body)
            .ok()?;
        Some(plain.to_vec())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn provider() -> CryptoProvider {
        #[cfg(feature = "aws-lc-rs")]
        return rustls::crypto::aws_lc_rs::default_provider();
        #[cfg(all(feature = "ring", not(feature = "aws-lc-rs")))]
        return rustls::crypto::ring::default_provider();
    }

    fn ticketer(keys: &TicketKeys, clock: fn() -> u64) -> SharedTicketer {
        let seal = Seal::from_provider(&provider()).expect("a cipher");
        let Schedule::Rotating { secret, period } = &keys.schedule else {
            unreachable!("rotating keys only")
        };
        SharedTicketer {
            keys: Keys::Rotating {
                secret: *secret,
                period: period.as_secs(),
            },
            lifetime: 60,
            seal,
            clock,
        }
    }

    #[test]
    fn rotating_keys_open_the_previous_period_and_not_older() {
        let keys = TicketKeys::rotating([7; 32], Duration::from_secs(100));
        assert_eq!(keys.lifetime, Duration::from_secs(100), "at most a period");
        let at_150 = ticketer(&keys, || 150);
        let ticket = at_150.encrypt(b"session").expect("sealed");
        assert_eq!(at_150.decrypt(&ticket).as_deref(), Some(&b"session"[..]));
        // Another server with the same secret, in the next period: still opens it.
        let at_250 = ticketer(&keys, || 250);
        assert_eq!(at_250.decrypt(&ticket).as_deref(), Some(&b"session"[..]));
        // Two periods on, the key is gone: a full handshake, not an error.
        let at_350 = ticketer(&keys, || 350);
        assert_eq!(at_350.decrypt(&ticket), None);
        // A tampered ticket never opens.
        let mut tampered = ticket.clone();
        let last = tampered.len() - 1;
        tampered[last] ^= 1;
        assert_eq!(at_150.decrypt(&tampered), None);
        assert_eq!(at_150.decrypt(&ticket[..10]), None);
    }

    #[test]
    fn hex_keys_are_64_digits() {
        assert_eq!(hex_key(&"ab".repeat(32)), Some([0xab; 32]));
        assert_eq!(hex_key(&"ab".repeat(31)), None);
        assert_eq!(hex_key(&"zz".repeat(32)), None);
    }
}
