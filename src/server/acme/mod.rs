//! [`Acme`] (feature `acme`): certificates from an ACME server (RFC 8555), validated with
//! TLS-ALPN-01 (RFC 8737) on the serving port itself, written to a cache directory in the
//! [`CertificateStore`]'s layout and served by the store, renewed before they expire.
//!
#![doc = include_str!("guide.md")]

mod attempts;
mod cache;
mod challenge;
mod config;
mod error;
mod fleet;
mod on_demand;
mod order;
mod pickup;
mod schedule;

use std::{
    collections::BTreeMap,
    fmt,
    sync::{Arc, Mutex, PoisonError},
    time::{Duration, SystemTime},
};

use instant_acme::Account;
use rustls::{crypto::CryptoProvider, server::ClientHello, AlertDescription, ServerConfig};
use tokio::sync::{watch, Notify};

use self::{attempts::Attempts, cache::Cache, challenge::Challenges};
pub use self::{
    challenge::ACME_TLS_ALPN,
    config::{AcmeConfig, LETS_ENCRYPT, LETS_ENCRYPT_STAGING},
    error::{AcmeError, AcmeSource},
};
use crate::{
    server::accept::{Choice, ChooseConfig},
    server::certificates::{CertificateInfo, CertificateSource, CertificateStore},
};

/// The longest [`Acme::run`] sleeps between checks, so that certificates changed behind its
/// back (a restored cache, a clock that jumped) are looked at again.
const LONGEST_SLEEP: Duration = Duration::from_secs(12 * 3600);

/// Certificates from an ACME server, held and renewed for the names configured, answering
/// the server's TLS-ALPN-01 validation on the serving port.
///
/// - Give it the [`CertificateStore`] the server resolves certificates with: it adds its
///   cache directory to the store, so a restart serves cached certificates at once, without
///   asking the ACME server; each certificate it obtains is written there (`NAME.pem`, chain
///   and key, owner-only) and loaded into the store.
/// - Make it the acceptor's chooser ([`Acceptor::with_chooser`](crate::Acceptor::with_chooser)):
///   a ClientHello offering only `acme-tls/1` for a name being validated gets the challenge
///   certificate and is closed
///   ([`HandshakeError::Answered`](crate::HandshakeError::Answered), by
///   [`accept::CHALLENGE`](crate::accept::CHALLENGE)); every
///   other ClientHello goes to the store's choice (unknown names refused with
///   `unrecognized_name`).
/// - Spawn [`run`](Self::run): it orders what is missing, renews at two thirds of a
///   certificate's lifetime, and after a failure retries with backoff. A failure never takes
///   the server down: the current certificate keeps serving, the error is in
///   [`status`](Self::status) and in a `tracing` warn event.
///
/// Cheap to clone: every clone is the same client.
///
/// # Examples
///
/// ```no_run
/// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
/// use std::sync::Arc;
/// use tokio_tls_handshake::{acme::{Acme, AcmeConfig, LETS_ENCRYPT}, certificates::CertificateStore, listener::TlsListener, Acceptor};
///
/// let store = CertificateStore::new();
/// let acme = Acme::new(
///     AcmeConfig::new(LETS_ENCRYPT, "/var/lib/myserver/acme")
///         .contact("mailto:ops@example.com")
///         .name("example.com"),
///     store.clone(),
/// )?;
/// tokio::spawn(acme.clone().run());
/// let config = rustls::ServerConfig::builder()
///     .with_no_client_auth()
///     .with_cert_resolver(Arc::new(store));
/// let tcp = tokio::net::TcpListener::bind("0.0.0.0:443").await?;
/// let mut listener = TlsListener::new(tcp, Acceptor::from(Arc::new(config)).with_chooser(acme));
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct Acme {
    inner: Arc<Inner>,
}

struct Inner {
    config: AcmeConfig,
    store: CertificateStore,
    cache: Cache,
    provider: Arc<CryptoProvider>,
    challenges: Challenges,
    /// The challenges other instances of the fleet are being validated for.
    fleet_challenges: Challenges,
    /// The certificates index entry of each name's certificate this instance serves.
    fleet_seen: Mutex<std::collections::HashMap<String, String>>,
    /// The names held: configured, and ordered on demand.
    names: Mutex<BTreeMap<String, Attempts>>,
    /// The account, once made (held while one is made, so that orders share it).
    account: tokio::sync::Mutex<Option<Account>>,
    /// Bounds the orders that run at once.
    orders: tokio::sync::Semaphore,
    /// One write of the attempts file at a time.
    saving: Mutex<()>,
    /// Wakes [`Acme::run`] when a name is asked for on demand.
    wake: Notify,
    /// When names were taken on demand, within the last hour.
    taken_on_demand: Mutex<std::collections::VecDeque<std::time::Instant>>,
    /// Counts the orders attempted.
    attempts: watch::Sender<u64>,
}

/// What an [`Acme`] client knows of one name it holds a certificate for.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct AcmeStatus {
    /// The name.
    pub name: String,
    /// The certificate served for it from the cache, if there is one.
    pub certificate: Option<CertificateInfo>,
    /// When it is due for renewal (now, if there is no certificate).
    pub renew_at: SystemTime,
    /// Orders that failed in a row (0 after a success).
    pub failures: u32,
    /// The last order's error, until an order succeeds.
    pub last_error: Option<Arc<AcmeError>>,
    /// After a failure, when the next attempt is made.
    pub retry_at: Option<SystemTime>,
}

impl fmt::Debug for Acme {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Acme")
            .field("config", &self.inner.config)
            .finish_non_exhaustive()
    }
}

impl Acme {
    /// A client for `config` that serves what it obtains through `store`. Opens (or creates,
    /// owner-only) the cache directory and adds it to the store; cached certificates serve at
    /// once. Contacts nobody: [`run`](Self::run) does.
    ///
    /// # Errors
    ///
    /// A configured name cannot be ordered ([`AcmeError::InvalidName`]), the cache directory
    /// cannot be created ([`AcmeError::Cache`]), or there is no crypto provider.
    pub fn new(config: AcmeConfig, store: CertificateStore) -> Result<Self, AcmeError> {
        for name in &config.names {
            if !orderable(name) {
                return Err(AcmeError::InvalidName(name.clone()));
            }
        }
        let provider = crate::server::certificates::default_provider()
            .ok_or_else(|| AcmeError::Crypto("no crypto provider".into()))?;
        let cache = Cache::open(&config.cache_dir)?;
        if let Err(error) = store.add_dir(cache.dir()) {
            // Each file named is ordered again: it does not serve.
            tracing::warn!(error = %error, "acme cache: certificates not loaded");
        }
        let names = Self::held_at_start(&config, &cache);
        let orders = tokio::sync::Semaphore::new(config.concurrent_orders);
        Ok(Self {
            inner: Arc::new(Inner {
                config,
                store,
                cache,
                provider,
                challenges: Challenges::default(),
                fleet_challenges: Challenges::default(),
                fleet_seen: Mutex::default(),
                names: Mutex::new(names),
                account: tokio::sync::Mutex::new(None),
                orders,
                saving: Mutex::new(()),
                wake: Notify::new(),
                taken_on_demand: Mutex::default(),
                attempts: watch::channel(0).0,
            }),
        })
    }

    /// The certificate for `name`: the cached one if it is not yet due for renewal (without
    /// contacting the ACME server), or a new one, ordered now.
    ///
    /// # Errors
    ///
    /// As [`renew`](Self::renew).
    pub async fn ensure(&self, name: &str) -> Result<CertificateInfo, AcmeError> {
        if let Some(cached) = self.cached(name) {
            if self.renewal_point(&cached) > SystemTime::now() {
                return Ok(cached);
            }
        }
        self.renew(name).await
    }

    /// What is known of every name held.
    pub fn status(&self) -> Vec<AcmeStatus> {
        let names = self.lock_names().clone();
        names
            .into_iter()
            .map(|(name, attempts)| {
                let certificate = self.cached(&name);
                AcmeStatus {
                    renew_at: certificate
                        .as_ref()
                        .map_or(SystemTime::UNIX_EPOCH, |c| self.renewal_point(c)),
                    name,
                    certificate,
                    failures: attempts.failures,
                    last_error: attempts.last_error,
                    retry_at: attempts.retry_at,
                }
            })
            .collect()
    }

    /// The number of orders attempted so far: `changed().await` on it waits for the next
    /// one to end, successful or not.
    pub fn attempts(&self) -> watch::Receiver<u64> {
        self.inner.attempts.subscribe()
    }

    fn names(&self) -> Vec<String> {
        self.lock_names().keys().cloned().collect()
    }

    fn lock_names(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, Attempts>> {
        self.inner
            .names
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// The certificate this client cached for `name` and the store serves.
    fn cached(&self, name: &str) -> Option<CertificateInfo> {
        let source = CertificateSource::File(self.inner.cache.certificate_path(name));
        self.inner.store.certificate(&source)
    }

    fn renewal_point(&self, certificate: &CertificateInfo) -> SystemTime {
        certificate.lifetime_point(self.inner.config.renew_at)
    }
}

/// Whether `name` can be ordered with TLS-ALPN-01 and used as a file name: a DNS name of
/// lowercase letters, digits and hyphens, no wildcard.
fn orderable(name: &str) -> bool {
    name.len() <= 253
        && name.split('.').all(|label| {
            (1..=63).contains(&label.len())
                && label
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        })
}

/// The client as the acceptor's chooser: an ACME server's validation (a ClientHello whose
/// only ALPN protocol is `acme-tls/1`) gets the challenge certificate for the name being
/// validated, or `unrecognized_name` if none is; every other ClientHello goes to the store.
impl ChooseConfig for Acme {
    fn choose(&self, hello: &ClientHello<'_>, config: &Arc<ServerConfig>) -> Choice {
        if challenge::is_validation(hello) {
            let waiting = hello.server_name().and_then(|name| {
                let inner = &self.inner;
                inner
                    .challenges
                    .get(name)
                    .or_else(|| inner.fleet_challenges.get(name))
            });
            return match waiting {
                Some(challenge) => Choice::AnswerChallenge(challenge),
                None => Choice::Refuse(AlertDescription::UnrecognisedName),
            };
        }
        if let Some(name) = hello.server_name() {
            if !self.inner.store.serves(name) {
                self.ask_on_demand(name);
            }
        }
        self.inner.store.choose(hello, config)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn configured_names_are_ordered_before_names_asked_for_on_demand() {
        let dir = std::env::temp_dir().join(format!("acme-due-{}", std::process::id()));
        let config = AcmeConfig::new("https://127.0.0.1:1/dir", &dir)
            .name("z.test")
            .name("m.test");
        let acme = Acme::new(config, CertificateStore::new()).expect("acme");
        for name in ["a.demand.test", "b.demand.test"] {
            acme.lock_names().insert(
                name.into(),
                Attempts {
                    on_demand: true,
                    ..Attempts::default()
                },
            );
        }
        assert_eq!(
            acme.due_names(SystemTime::now()),
            ["m.test", "z.test", "a.demand.test", "b.demand.test"]
        );
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn only_plain_dns_names_can_be_ordered() {
        for good in [
            "example.com",
            "a-b.example",
            "localhost",
            "xn--bcher-kva.example",
        ] {
            assert!(orderable(good), "{good}");
        }
        for bad in [
            "*.example.com",
            "../etc",
            "a/b",
            "Example.com",
            "",
            "a..b",
            "a_b.test",
        ] {
            assert!(!orderable(bad), "{bad}");
        }
    }
}
