//! [`Acme`] (feature `acme`): certificates from an ACME server (RFC 8555), validated with
//! TLS-ALPN-01 (RFC 8737) on the serving port itself, written to a cache directory in the
//! [`CertificateStore`]'s layout and served by the store, renewed before they expire.
//!
//! - `config.rs`: what to order, from where, when to renew.
//! - `order.rs`: one certificate, through `instant-acme`.
//! - `challenge.rs`: the challenge certificates, and telling a validation's ClientHello.
//! - `cache.rs`: the account and certificates on disk.
//! - `error.rs`: [`AcmeError`].

mod cache;
mod challenge;
mod config;
mod error;
mod on_demand;
mod order;

use std::{
    collections::BTreeMap,
    fmt,
    sync::{Arc, Mutex, PoisonError},
    time::{Duration, SystemTime},
};

use instant_acme::Account;
use rustls::{crypto::CryptoProvider, server::ClientHello, AlertDescription, ServerConfig};
use tokio::sync::{watch, Notify};

use self::{cache::Cache, challenge::Challenges};
pub use self::{
    challenge::ACME_TLS_ALPN,
    config::{AcmeConfig, LETS_ENCRYPT, LETS_ENCRYPT_STAGING},
    error::{AcmeError, AcmeSource},
};
use crate::{CertificateInfo, CertificateSource, CertificateStore, Choice, ChooseConfig};

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
///   ([`HandshakeError::ChallengeAnswered`](crate::HandshakeError::ChallengeAnswered)); every
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
/// use tokio_tls_handshake::{Acceptor, Acme, AcmeConfig, CertificateStore, TlsListener, LETS_ENCRYPT};
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
    /// The names held: configured, and ordered on demand.
    names: Mutex<BTreeMap<String, Attempts>>,
    /// One order at a time; the account, once made.
    ordering: tokio::sync::Mutex<Option<Account>>,
    /// Wakes [`Acme::run`] when a name is asked for on demand.
    wake: Notify,
    /// When names were taken on demand, within the last hour.
    taken_on_demand: Mutex<std::collections::VecDeque<std::time::Instant>>,
    /// Counts the orders attempted.
    attempts: watch::Sender<u64>,
}

/// How ordering a name has gone.
#[derive(Debug, Clone, Default)]
struct Attempts {
    failures: u32,
    last_error: Option<Arc<AcmeError>>,
    /// After a failure: not before then.
    retry_at: Option<SystemTime>,
    /// The last order that succeeded: the next is not made within the retry interval of it,
    /// whatever the renewal point says.
    succeeded_at: Option<SystemTime>,
    on_demand: bool,
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
        let names = config
            .names
            .iter()
            .map(|name| (name.clone(), Attempts::default()))
            .collect();
        Ok(Self {
            inner: Arc::new(Inner {
                config,
                store,
                cache,
                provider,
                challenges: Challenges::default(),
                names: Mutex::new(names),
                ordering: tokio::sync::Mutex::new(None),
                wake: Notify::new(),
                taken_on_demand: Mutex::default(),
                attempts: watch::channel(0).0,
            }),
        })
    }

    /// Holds certificates for every name for as long as it runs: orders the ones missing,
    /// renews each once [`renew_at`](AcmeConfig::renew_at) of its lifetime has passed, retries
    /// failures with backoff, and takes on names asked for on demand. Never returns; drop or
    /// abort the task to stop it.
    pub async fn run(self) {
        loop {
            let mut next = SystemTime::now() + LONGEST_SLEEP;
            for name in self.names() {
                if !self.lock_names().contains_key(&name) {
                    continue; // forgotten since the names were read
                }
                if self.due_at(&name) <= SystemTime::now() {
                    let _ = self.renew(&name).await;
                }
                next = next.min(self.due_at(&name));
            }
            let sleep = next
                .duration_since(SystemTime::now())
                .unwrap_or(Duration::ZERO);
            let asked = std::pin::pin!(self.inner.wake.notified());
            let slept = std::pin::pin!(tokio::time::sleep(sleep));
            futures::future::select(asked, slept).await;
        }
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

    /// Orders a new certificate for `name` now, whatever the cached one's age, and serves it
    /// once issued. One order runs at a time. The outcome is recorded in
    /// [`status`](Self::status) and logged.
    ///
    /// # Errors
    ///
    /// Why no certificate was obtained; the one served before, if any, keeps serving.
    pub async fn renew(&self, name: &str) -> Result<CertificateInfo, AcmeError> {
        let name = name.to_ascii_lowercase();
        let outcome = if orderable(&name) {
            // Held from now on (a name forgotten while its order runs stays forgotten).
            self.lock_names().entry(name.clone()).or_default();
            let mut account = self.inner.ordering.lock().await;
            let timeout = self.inner.config.order_timeout;
            let ordered = tokio::time::timeout(timeout, self.order(&mut account, &name)).await;
            self.inner.challenges.remove(&name);
            ordered.unwrap_or_else(|_| Err(AcmeError::TimedOut { name: name.clone() }))
        } else {
            Err(AcmeError::InvalidName(name.clone()))
        };
        self.record(&name, &outcome);
        outcome
    }

    async fn order(
        &self,
        account: &mut Option<Account>,
        name: &str,
    ) -> Result<CertificateInfo, AcmeError> {
        let inner = &self.inner;
        let mut fresh = false;
        let mut nonce_retries = 3;
        loop {
            let current = match account.take() {
                Some(current) => current,
                None => order::account(&inner.config, &inner.cache, &inner.provider, fresh).await?,
            };
            let ordered = order::order(
                &current,
                name,
                &inner.challenges,
                &inner.provider,
                inner.config.order_timeout,
            )
            .await;
            match ordered {
                // The server does not know the saved account: make a new one, once.
                Err(e) if !fresh && order::account_unknown(&e) => fresh = true,
                Err(e) if nonce_retries > 0 && order::bad_nonce(&e) => {
                    nonce_retries -= 1;
                    *account = Some(current);
                }
                Err(e) => {
                    *account = Some(current);
                    return Err(e);
                }
                Ok(issued) => {
                    *account = Some(current);
                    let path =
                        inner
                            .cache
                            .save_certificate(name, &issued.chain_pem, &issued.key_pem)?;
                    return inner
                        .store
                        .load_file(path)
                        .map_err(|e| AcmeError::Certificate(Arc::new(e)));
                }
            }
        }
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

    /// When `name` is next due: a retry after a failure, else its certificate's renewal
    /// point (never within the retry interval of the last success), else now.
    fn due_at(&self, name: &str) -> SystemTime {
        let attempts = self.lock_names().get(name).cloned().unwrap_or_default();
        if let Some(retry_at) = attempts.retry_at {
            return retry_at;
        }
        let renewal = self
            .cached(name)
            .map_or(SystemTime::UNIX_EPOCH, |c| self.renewal_point(&c));
        match attempts.succeeded_at {
            Some(at) => renewal.max(at + self.inner.config.retry_first),
            None => renewal,
        }
    }

    fn record(&self, name: &str, outcome: &Result<CertificateInfo, AcmeError>) {
        {
            let mut names = self.lock_names();
            // A name forgotten while its order ran stays forgotten.
            if let Some(attempts) = names.get_mut(name) {
                match outcome {
                    Ok(certificate) => {
                        tracing::info!(name, not_after = ?certificate.not_after, "acme certificate issued");
                        *attempts = Attempts {
                            on_demand: attempts.on_demand,
                            succeeded_at: Some(SystemTime::now()),
                            ..Attempts::default()
                        };
                    }
                    Err(error) => {
                        attempts.failures = attempts.failures.saturating_add(1);
                        let forget = attempts.on_demand
                            && attempts.failures >= self.inner.config.on_demand_attempts;
                        let wait = self.inner.config.backoff(attempts.failures);
                        attempts.retry_at = Some(SystemTime::now() + wait);
                        attempts.last_error = Some(Arc::new(error.clone()));
                        if forget {
                            tracing::warn!(
                                name,
                                error = %error,
                                failures = attempts.failures,
                                "acme order failed; the name asked for on demand is forgotten"
                            );
                            names.remove(name);
                        } else {
                            tracing::warn!(
                                name,
                                error = %error,
                                retry_in_s = wait.as_secs(),
                                "acme order failed; the current certificate, if any, keeps serving"
                            );
                        }
                    }
                }
            }
        }
        self.inner.attempts.send_modify(|n| *n += 1);
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
            let waiting = hello
                .server_name()
                .and_then(|name| self.inner.challenges.get(name));
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
