//! The ticket format and its sealing, with the crypto provider's own primitives.
//!
//! A ticket (format 3) is: the format byte, the algorithm byte, the key's 8-byte id, the
//! time it was issued (8 bytes, seconds since the Unix epoch, big-endian), a 16-byte random
//! salt, the sealed session state, and the 16-byte tag. Everything before the sealed state
//! is the AEAD's additional data, so the issue time cannot be changed without the key. The algorithm is named
//! in the ticket because it follows the provider's cipher suites: a fleet whose servers have
//! different providers, or different suites enabled, still opens every ticket one of its
//! algorithms can.

use rustls::{
    crypto::{
        cipher::{AeadKey, Iv},
        CryptoProvider, SecureRandom,
    },
    CipherSuite, SupportedCipherSuite, Tls13CipherSuite,
};

use super::{TicketKeyError, TICKET_KEY_LEN};

/// The ticket format this crate writes and reads.
const FORMAT: u8 = 3;
pub(super) const KEY_ID_LEN: usize = 8;
const ISSUED_LEN: usize = 8;
const SALT_LEN: usize = 16;
/// Format, algorithm, key id, issue time, salt: the additional data of the AEAD.
const HEADER_LEN: usize = 1 + 1 + KEY_ID_LEN + ISSUED_LEN + SALT_LEN;
/// Where the salt starts.
const SALT_AT: usize = HEADER_LEN - SALT_LEN;
const TAG_LEN: usize = 16;
/// The AEAD's nonce, derived per ticket with its key.
const NONCE_LEN: usize = 12;

/// The algorithms a ticket can name, in the order a server prefers to seal with them (the
/// same on every server, whatever order its provider lists its suites in): TLS 1.3's
/// AES-256-GCM with HKDF-SHA384, then ChaCha20-Poly1305 with HKDF-SHA256.
const ALGORITHMS: [(u8, CipherSuite); 2] = [
    (1, CipherSuite::TLS13_AES_256_GCM_SHA384),
    (2, CipherSuite::TLS13_CHACHA20_POLY1305_SHA256),
];

/// A ticket's fields, read without opening it.
pub(super) struct Header<'a> {
    pub(super) algorithm: u8,
    pub(super) key_id: &'a [u8],
    /// Seconds since the Unix epoch, as the sealing server's clock read it. Authenticated
    /// only once the ticket opens.
    pub(super) issued_at: u64,
}

impl<'a> Header<'a> {
    /// The header of `ticket`, if it can be one of ours.
    pub(super) fn read(ticket: &'a [u8]) -> Option<Self> {
        if ticket.len() < HEADER_LEN + TAG_LEN || ticket[0] != FORMAT {
            return None;
        }
        let issued: [u8; ISSUED_LEN] = ticket[2 + KEY_ID_LEN..SALT_AT].try_into().ok()?;
        Some(Self {
            algorithm: ticket[1],
            key_id: &ticket[2..2 + KEY_ID_LEN],
            issued_at: u64::from_be_bytes(issued),
        })
    }
}

/// One algorithm a ticket is sealed with: an HKDF and an AEAD with 32-byte keys, from one of
/// the provider's TLS 1.3 cipher suites.
#[derive(Clone, Copy)]
pub(super) struct Algorithm {
    pub(super) id: u8,
    suite: &'static Tls13CipherSuite,
    quic: &'static dyn rustls::quic::Algorithm,
}

/// The algorithms `provider` has, the one to seal with first.
pub(super) struct Algorithms {
    pub(super) all: Vec<Algorithm>,
    random: &'static dyn SecureRandom,
}

impl Algorithms {
    /// # Errors
    ///
    /// [`TicketKeyError::NoCipher`] when the provider has neither algorithm;
    /// [`TicketKeyError::KeyDerivation`] when its HKDF fails to derive a key.
    pub(super) fn from_provider(provider: &CryptoProvider) -> Result<Self, TicketKeyError> {
        let all: Vec<Algorithm> = ALGORITHMS
            .iter()
            .filter_map(|(id, wanted)| {
                let suite = provider
                    .cipher_suites
                    .iter()
                    .find_map(|suite| match suite {
                        SupportedCipherSuite::Tls13(s) if s.common.suite == *wanted => Some(*s),
                        _ => None,
                    })?;
                let quic = suite.quic?;
                (quic.aead_key_len() == TICKET_KEY_LEN).then_some(Algorithm {
                    id: *id,
                    suite,
                    quic,
                })
            })
            .collect();
        if all.is_empty() {
            return Err(TicketKeyError::NoCipher);
        }
        // A provider whose HKDF cannot derive a key is refused now, not found out per ticket.
        for algorithm in &all {
            algorithm
                .key_id(&[0; TICKET_KEY_LEN], b"")
                .ok_or(TicketKeyError::KeyDerivation)?;
        }
        Ok(Self {
            all,
            random: provider.secure_random,
        })
    }

    /// The algorithm new tickets are sealed with.
    pub(super) fn sealing(&self) -> Algorithm {
        self.all[0]
    }

    /// The algorithm a ticket names, with its position in [`Algorithms::all`], if this
    /// provider has it.
    pub(super) fn named(&self, id: u8) -> Option<(usize, Algorithm)> {
        self.all
            .iter()
            .enumerate()
            .find(|(_, algorithm)| algorithm.id == id)
            .map(|(i, algorithm)| (i, *algorithm))
    }

    /// Seals `plain` under `key` (whose id under `algorithm` is `id`), issued at `issued_at`,
    /// with a fresh salt. `None` when the provider fails (no random bytes, a failed
    /// derivation): no ticket.
    pub(super) fn seal(
        &self,
        algorithm: Algorithm,
        id: &[u8; KEY_ID_LEN],
        key: &[u8; TICKET_KEY_LEN],
        issued_at: u64,
        plain: &[u8],
    ) -> Option<Vec<u8>> {
        let mut salt = [0u8; SALT_LEN];
        self.random.fill(&mut salt).ok()?;
        let mut ticket = Vec::with_capacity(HEADER_LEN + plain.len() + TAG_LEN);
        ticket.push(FORMAT);
        ticket.push(algorithm.id);
        ticket.extend_from_slice(id);
        ticket.extend_from_slice(&issued_at.to_be_bytes());
        ticket.extend_from_slice(&salt);
        ticket.extend_from_slice(plain);
        let (header, body) = ticket.split_at_mut(HEADER_LEN);
        // Each ticket has a key of its own, so the nonce's counter can stay 0.
        let tag = algorithm
            .packet_key(key, &salt)?
            .encrypt_in_place(0, header, body)
            .ok()?;
        ticket.extend_from_slice(tag.as_ref());
        Some(ticket)
    }
}

impl Algorithm {
    /// HKDF-Extract then -Expand with the suite's hash.
    ///
    /// `None` if the provider's HKDF fails. HKDF-Expand fails only for outputs longer than 255
    /// times the hash length (8,160 bytes for SHA-256), and the longest asked for here is 44
    /// bytes, so the built-in providers (aws-lc-rs, ring) never fail; a provider that does
    /// anyway gets no ticket, never a ticket under a key that was not derived.
    fn expand(&self, salt: &[u8], secret: &[u8], info: &[&[u8]], out: &mut [u8]) -> Option<()> {
        self.suite
            .hkdf_provider
            .extract_from_secret(Some(salt), secret)
            .expand_slice(info, out)
            .ok()
    }

    /// The id of `key` in tickets sealed with this algorithm in `context`: a ticket sealed
    /// in another context names an id this server does not know, and its header (the id
    /// included) is authenticated, so it does not open.
    pub(super) fn key_id(
        &self,
        key: &[u8; TICKET_KEY_LEN],
        context: &[u8],
    ) -> Option<[u8; KEY_ID_LEN]> {
        let mut id = [0u8; KEY_ID_LEN];
        self.expand(
            b"",
            key,
            &[b"tokio-tls-handshake ticket key id", context],
            &mut id,
        )?;
        Some(id)
    }

    /// The key of period `period`, derived from `secret`.
    pub(super) fn period_key(
        &self,
        secret: &[u8; TICKET_KEY_LEN],
        period: u64,
    ) -> Option<[u8; TICKET_KEY_LEN]> {
        let mut key = [0u8; TICKET_KEY_LEN];
        self.expand(
            &period.to_be_bytes(),
            secret,
            &[b"tokio-tls-handshake ticket period key"],
            &mut key,
        )?;
        Some(key)
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
            &[b"tokio-tls-handshake ticket aead key and iv"],
            &mut okm,
        )?;
        let (aead_key, iv) = okm.split_at(TICKET_KEY_LEN);
        let aead_key: [u8; TICKET_KEY_LEN] = aead_key.try_into().ok()?;
        let iv: [u8; NONCE_LEN] = iv.try_into().ok()?;
        Some(self.quic.packet_key(AeadKey::from(aead_key), Iv::new(iv)))
    }

    /// Opens a ticket sealed with this algorithm under `key`; `None` if it does not open.
    pub(super) fn open(&self, key: &[u8; TICKET_KEY_LEN], ticket: &[u8]) -> Option<Vec<u8>> {
        let (header, body) = ticket.split_at_checked(HEADER_LEN)?;
        let salt = &header[SALT_AT..];
        let mut body = body.to_vec();
        let plain = self
            .packet_key(key, salt)?
            .decrypt_in_place(0, header, &mut body)
            .ok()?;
        Some(plain.to_vec())
    }
}
