//! The ticketer's rules, with clocks and providers made for the purpose.

use std::{
    sync::{
        atomic::{AtomicUsize, Ordering},
        Arc,
    },
    time::Duration,
};

use rustls::{
    crypto::{
        hmac,
        tls13::{Hkdf, HkdfExpander, OkmBlock, OutputLengthError},
        CryptoProvider,
    },
    pki_types::UnixTime,
    server::ProducesTickets,
    time_provider::TimeProvider,
    CipherSuite, SupportedCipherSuite, Tls13CipherSuite,
};

use super::{hex_key, TicketKeyError, TicketKeys};

fn provider() -> CryptoProvider {
    #[cfg(feature = "aws-lc-rs")]
    return rustls::crypto::aws_lc_rs::default_provider();
    #[cfg(all(feature = "ring", not(feature = "aws-lc-rs")))]
    return rustls::crypto::ring::default_provider();
}

/// `provider` with only the TLS 1.3 suites in `keep`.
fn only(mut provider: CryptoProvider, keep: &[CipherSuite]) -> CryptoProvider {
    provider
        .cipher_suites
        .retain(|suite| keep.contains(&suite.suite()));
    provider
}

/// A clock that reads what its function says, in seconds since the Unix epoch.
#[derive(Debug)]
struct Clock(fn() -> u64);

impl TimeProvider for Clock {
    fn current_time(&self) -> Option<UnixTime> {
        Some(UnixTime::since_unix_epoch(Duration::from_secs((self.0)())))
    }
}

/// A ticketer for `keys` on `provider`, whose clock reads `clock`.
fn ticketer(
    keys: &TicketKeys,
    provider: &CryptoProvider,
    clock: fn() -> u64,
) -> Arc<dyn ProducesTickets> {
    keys.build(provider, Arc::new(Clock(clock)), b"")
        .expect("a ticketer")
}

#[test]
fn derived_keys_open_the_periods_either_side_and_no_further() {
    let keys = TicketKeys::from_secret([7; 32], Duration::from_secs(100));
    assert_eq!(keys.lifetime, Duration::from_secs(100), "at most a period");
    // A lifetime longer than the window, so that the window alone decides here.
    let keys = keys.with_lifetime(Duration::from_secs(1000));
    let provider = provider();
    type Clock = fn() -> u64;
    // (sealed at, opened at, when, opens)
    let cases: [(Clock, Clock, &str, bool); 5] = [
        (|| 299, || 250, "in the same period", true),
        (|| 299, || 350, "in the next period", true),
        (|| 205, || 195, "a period behind (a slow clock)", true),
        (|| 299, || 450, "two periods on", false),
        (|| 399, || 395, "a period behind, two periods on", true),
    ];
    for (sealer, opener, when, opens) in cases {
        let ticket = ticketer(&keys, &provider, sealer)
            .encrypt(b"session")
            .expect("sealed");
        let opened = ticketer(&keys, &provider, opener).decrypt(&ticket);
        assert_eq!(opened.is_some(), opens, "a server {when}");
    }
}

/// The issue time is sealed into the ticket: a ticket opens for its lifetime and not a
/// second longer, and not when it claims to come from further ahead than the clock skew.
#[test]
fn a_ticket_opens_for_its_lifetime_and_no_longer() {
    let provider = provider();
    for keys in [
        TicketKeys::new([1; 32], []),
        TicketKeys::from_secret([2; 32], Duration::from_secs(3600)),
    ] {
        let keys = keys.with_lifetime(Duration::from_secs(60));
        let ticket = ticketer(&keys, &provider, || 10_000)
            .encrypt(b"session")
            .expect("sealed");
        type Clock = fn() -> u64;
        let servers: [(Clock, &str, bool); 5] = [
            (|| 10_000, "at once", true),
            (|| 10_060, "at the end of its lifetime", true),
            (|| 10_061, "a second after", false),
            (|| 10_000 + 30 * 86_400, "30 days on", false),
            (|| 9_940, "60 s behind (the skew allowed)", true),
        ];
        for (clock, when, opens) in servers {
            let opened = ticketer(&keys, &provider, clock).decrypt(&ticket);
            assert_eq!(opened.is_some(), opens, "{keys:?}: {when}");
        }
        let ahead = ticketer(&keys, &provider, || 10_000).decrypt(
            &ticketer(&keys, &provider, || 10_061)
                .encrypt(b"s")
                .expect("sealed"),
        );
        assert_eq!(ahead, None, "issued 61 s ahead of this clock");
    }
}

/// A ticket is bound to its context: the same keys in another context do not open it.
#[test]
fn a_ticket_from_another_context_does_not_open() {
    let provider = provider();
    let clock: fn() -> u64 = || 1_000;
    for keys in [
        TicketKeys::new([1; 32], []),
        TicketKeys::from_secret([2; 32], Duration::from_secs(3600)),
    ] {
        let in_context = |application: &[u8], policy: &[u8]| {
            keys.clone()
                .with_context(application)
                .build(&provider, Arc::new(Clock(clock)), policy)
                .expect("a ticketer")
        };
        let ticket = in_context(b"app", b"no client auth")
            .encrypt(b"s")
            .expect("sealed");
        assert!(in_context(b"app", b"no client auth")
            .decrypt(&ticket)
            .is_some());
        assert_eq!(
            in_context(b"app", b"client auth required").decrypt(&ticket),
            None
        );
        assert_eq!(
            in_context(b"other", b"no client auth").decrypt(&ticket),
            None
        );
    }
}

/// The work a ticket can cause: one that names no key this server holds (unknown id,
/// another context, expired) costs no HKDF at all; derived keys are derived once per
/// period, not per ticket; a ticket that opens costs one HKDF, as before.
#[test]
fn a_ticket_that_cannot_open_costs_no_key_derivation() {
    let (counting, derivations) = counting_hkdf();
    let clock: fn() -> u64 = || 1_000_000;
    for keys in [
        TicketKeys::new([1; 32], []),
        TicketKeys::from_secret([2; 32], Duration::from_secs(3600)),
    ] {
        let server = ticketer(&keys, &counting, clock);
        let genuine = server.encrypt(b"session").expect("sealed");
        let other_context = keys
            .clone()
            .with_context(b"other".to_vec())
            .build(&counting, Arc::new(Clock(clock)), b"")
            .expect("a ticketer")
            .encrypt(b"session")
            .expect("sealed");
        let mut unknown_id = genuine.clone();
        unknown_id[2..10].copy_from_slice(&[0xee; 8]);
        let mut expired = genuine.clone();
        expired[10..18].copy_from_slice(&1u64.to_be_bytes());
        let before = derivations.load(Ordering::SeqCst);
        for _ in 0..1_000 {
            for forged in [&other_context, &unknown_id, &expired] {
                assert_eq!(server.decrypt(forged), None);
            }
        }
        assert_eq!(
            derivations.load(Ordering::SeqCst) - before,
            0,
            "{keys:?}: 3,000 forged tickets"
        );
        for _ in 0..10 {
            assert!(server.decrypt(&genuine).is_some());
        }
        assert_eq!(
            derivations.load(Ordering::SeqCst) - before,
            10,
            "{keys:?}: one derivation per ticket that opens"
        );
    }
}

/// The work one flight can cause: in this crate's handshakes, however many identities a
/// ClientHello offers, at most 5 tickets naming a key held reach the cryptography.
#[test]
fn a_flight_opens_at_most_five_tickets() {
    let (counting, derivations) = counting_hkdf();
    let server = ticketer(&TicketKeys::new([1; 32], []), &counting, || 1_000_000);
    let genuine = server.encrypt(b"session").expect("sealed");
    let mut forged = genuine.clone();
    let last = forged.len() - 1;
    forged[last] ^= 1;
    let before = derivations.load(Ordering::SeqCst);
    let opened = crate::engine::ticket_budget::bounded(|| {
        let forged_ones = (0..700)
            .filter(|_| server.decrypt(&forged).is_some())
            .count();
        (forged_ones, server.decrypt(&genuine).is_some())
    });
    assert_eq!(opened, (0, false), "the budget was spent on forgeries");
    assert_eq!(
        derivations.load(Ordering::SeqCst) - before,
        5,
        "700 forged identities"
    );
    assert!(
        server.decrypt(&genuine).is_some(),
        "the next flight has its own"
    );
}

#[test]
fn a_changed_or_cut_ticket_never_opens() {
    let keys = TicketKeys::new([1; 32], []);
    let provider = provider();
    let sealer = ticketer(&keys, &provider, || 0);
    let ticket = sealer.encrypt(b"session").expect("sealed");
    assert_eq!(sealer.decrypt(&ticket).as_deref(), Some(&b"session"[..]));
    for position in 0..ticket.len() {
        let mut changed = ticket.clone();
        changed[position] ^= 0x40;
        assert_eq!(sealer.decrypt(&changed), None, "byte {position} changed");
    }
    for len in 0..ticket.len() {
        assert_eq!(sealer.decrypt(&ticket[..len]), None, "cut to {len}");
    }
}

/// The ticket names its algorithm: a server whose provider seals with ChaCha20-Poly1305 (no
/// AES-256-GCM) and one that prefers AES-256-GCM open each other's tickets, where both
/// have the other's algorithm; one without it refuses (a full handshake), never misreads.
#[test]
fn servers_sealing_with_different_algorithms_open_each_others_tickets() {
    let keys = TicketKeys::new([3; 32], []);
    let chacha = only(provider(), &[CipherSuite::TLS13_CHACHA20_POLY1305_SHA256]);
    let aes = only(provider(), &[CipherSuite::TLS13_AES_256_GCM_SHA384]);
    let both = provider();
    let from_chacha = ticketer(&keys, &chacha, || 0)
        .encrypt(b"s")
        .expect("sealed");
    let from_both = ticketer(&keys, &both, || 0).encrypt(b"s").expect("sealed");
    assert_eq!(from_chacha[1], 2, "named ChaCha20-Poly1305");
    assert_eq!(from_both[1], 1, "named AES-256-GCM, the preference");
    assert!(ticketer(&keys, &both, || 0).decrypt(&from_chacha).is_some());
    assert!(ticketer(&keys, &aes, || 0).decrypt(&from_both).is_some());
    assert_eq!(ticketer(&keys, &aes, || 0).decrypt(&from_chacha), None);
    assert_eq!(ticketer(&keys, &chacha, || 0).decrypt(&from_both), None);
}

/// aws-lc-rs and ring seal and open each other's tickets (run with `--features ring`).
#[cfg(all(feature = "aws-lc-rs", feature = "ring"))]
#[test]
fn aws_lc_rs_and_ring_open_each_others_tickets() {
    let aws = rustls::crypto::aws_lc_rs::default_provider();
    let ring = rustls::crypto::ring::default_provider();
    for keys in [
        TicketKeys::new([5; 32], []),
        TicketKeys::from_secret([6; 32], Duration::from_secs(3600)),
    ] {
        let from_aws = ticketer(&keys, &aws, || 7200)
            .encrypt(b"s")
            .expect("sealed");
        let from_ring = ticketer(&keys, &ring, || 7200)
            .encrypt(b"s")
            .expect("sealed");
        assert_eq!(
            ticketer(&keys, &ring, || 7200)
                .decrypt(&from_aws)
                .as_deref(),
            Some(&b"s"[..])
        );
        assert_eq!(
            ticketer(&keys, &aws, || 7200)
                .decrypt(&from_ring)
                .as_deref(),
            Some(&b"s"[..])
        );
    }
}

/// An HKDF that fails for outputs of `fails_for` bytes (every output when `None`), and is the
/// real one otherwise.
struct FailingHkdf {
    real: &'static dyn Hkdf,
    fails_for: Option<usize>,
    /// Keys derived from a secret.
    extracts: AtomicUsize,
}

struct FailingExpander {
    real: Box<dyn HkdfExpander>,
    fails_for: Option<usize>,
}

impl FailingHkdf {
    fn wrap(&self, real: Box<dyn HkdfExpander>) -> Box<dyn HkdfExpander> {
        Box::new(FailingExpander {
            real,
            fails_for: self.fails_for,
        })
    }
}

impl Hkdf for FailingHkdf {
    fn extract_from_zero_ikm(&self, salt: Option<&[u8]>) -> Box<dyn HkdfExpander> {
        self.wrap(self.real.extract_from_zero_ikm(salt))
    }
    fn extract_from_secret(&self, salt: Option<&[u8]>, secret: &[u8]) -> Box<dyn HkdfExpander> {
        self.extracts.fetch_add(1, Ordering::SeqCst);
        self.wrap(self.real.extract_from_secret(salt, secret))
    }
    fn expander_for_okm(&self, okm: &OkmBlock) -> Box<dyn HkdfExpander> {
        self.wrap(self.real.expander_for_okm(okm))
    }
    fn hmac_sign(&self, key: &OkmBlock, message: &[u8]) -> hmac::Tag {
        self.real.hmac_sign(key, message)
    }
}

impl HkdfExpander for FailingExpander {
    fn expand_slice(&self, info: &[&[u8]], output: &mut [u8]) -> Result<(), OutputLengthError> {
        if self.fails_for.is_none_or(|len| len == output.len()) {
            return Err(OutputLengthError);
        }
        self.real.expand_slice(info, output)
    }
    fn expand_block(&self, info: &[&[u8]]) -> OkmBlock {
        self.real.expand_block(info)
    }
    fn hash_len(&self) -> usize {
        self.real.hash_len()
    }
}

/// The default provider with its TLS 1.3 AES-256-GCM suite's HKDF failing as `fails_for` says.
fn failing_hkdf(fails_for: Option<usize>) -> CryptoProvider {
    wrapped_hkdf(fails_for).0
}

/// The default provider with its TLS 1.3 AES-256-GCM suite's HKDF counting the keys it
/// derives from a secret.
fn counting_hkdf() -> (CryptoProvider, &'static AtomicUsize) {
    wrapped_hkdf(Some(0))
}

fn wrapped_hkdf(fails_for: Option<usize>) -> (CryptoProvider, &'static AtomicUsize) {
    let mut provider = only(provider(), &[CipherSuite::TLS13_AES_256_GCM_SHA384]);
    let Some(SupportedCipherSuite::Tls13(real)) = provider.cipher_suites.first().copied() else {
        unreachable!("the default providers have TLS 1.3 AES-256-GCM")
    };
    let hkdf: &'static FailingHkdf = Box::leak(Box::new(FailingHkdf {
        real: real.hkdf_provider,
        fails_for,
        extracts: AtomicUsize::new(0),
    }));
    let suite: &'static Tls13CipherSuite = Box::leak(Box::new(Tls13CipherSuite {
        common: rustls::CipherSuiteCommon {
            suite: real.common.suite,
            hash_provider: real.common.hash_provider,
            confidentiality_limit: real.common.confidentiality_limit,
        },
        hkdf_provider: hkdf,
        aead_alg: real.aead_alg,
        quic: real.quic,
    }));
    provider.cipher_suites = vec![SupportedCipherSuite::Tls13(suite)];
    (provider, &hkdf.extracts)
}

/// Ticket keys fail closed: a provider whose HKDF fails is refused at installation, and one
/// that fails only for period keys (32 bytes) seals no ticket at all, never one under a key
/// that was not derived (all zeros).
#[test]
fn a_failing_hkdf_refuses_tickets_instead_of_sealing_under_an_underived_key() {
    for keys in [
        TicketKeys::new([1; 32], []),
        TicketKeys::from_secret([2; 32], Duration::from_secs(60)),
    ] {
        assert!(matches!(
            keys.ticketer(&failing_hkdf(None)),
            Err(TicketKeyError::KeyDerivation)
        ));
        assert!(keys.ticketer(&provider()).is_ok(), "a working provider");
    }
    let keys = TicketKeys::from_secret([2; 32], Duration::from_secs(60));
    let period_keys_fail = failing_hkdf(Some(32));
    let ticketer = keys.ticketer(&period_keys_fail).expect("key ids derive");
    assert_eq!(ticketer.encrypt(b"session"), None, "no ticket");
    let working = keys.ticketer(&provider()).expect("ticketer");
    let sealed = working.encrypt(b"session").expect("sealed");
    assert_eq!(ticketer.decrypt(&sealed), None, "and nothing opens");
}

#[test]
fn hex_keys_are_64_digits() {
    assert_eq!(hex_key(&"ab".repeat(32)), Some([0xab; 32]));
    assert_eq!(hex_key(&"ab".repeat(31)), None);
    assert_eq!(hex_key(&"zz".repeat(32)), None);
}
