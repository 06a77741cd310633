//! [`ReloadableConfig`]: a server configuration replaced while serving (certificate renewal),
//! and reading a certificate and key from PEM files without ever leaving the server without
//! a configuration.

use std::{
    fmt,
    path::Path,
    sync::{Arc, Mutex, PoisonError},
};

use arc_swap::ArcSwap;
use rustls::{sign::SingleCertAndKey, ServerConfig};

use super::{file, CertificateError};

/// A server configuration that can be replaced while serving: new handshakes use the new one,
/// handshakes in flight and established connections keep the one they started with.
///
/// Cheap to clone; every clone (and every [`Acceptor`](crate::Acceptor) made from one) sees
/// the same current configuration, so a clone can go into a signal handler.
///
/// # Examples
///
/// Reloading the certificate on SIGHUP, keeping the old one if the new files are bad:
///
/// ```no_run
/// # async fn run(config: std::sync::Arc<rustls::ServerConfig>) -> std::io::Result<()> {
/// use tokio::signal::unix::{signal, SignalKind};
/// use tokio_tls_handshake::{Acceptor, certificates::ReloadableConfig, listener::TlsListener};
///
/// let config = ReloadableConfig::new(config);
/// let tcp = tokio::net::TcpListener::bind("127.0.0.1:8443").await?;
/// let mut listener = TlsListener::new(tcp, Acceptor::from(config.clone()));
/// tokio::spawn(async move {
///     let mut hangups = signal(SignalKind::hangup()).expect("a signal handler");
///     while hangups.recv().await.is_some() {
///         match config.reload_pem_files("cert.pem", "key.pem") {
///             Ok(()) => eprintln!("certificate reloaded"),
///             Err(e) => eprintln!("reload failed, still serving the old one: {e}"),
///         }
///     }
/// });
/// while let Some(next) = listener.accept().await {
///     // serve
/// }
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct ReloadableConfig {
    inner: Arc<Inner>,
}

struct Inner {
    /// Swapped whole, as the certificate store's set is: a handshake never waits on a
    /// reload.
    current: ArcSwap<ServerConfig>,
    /// Held while a change is made, so that two changes at once both stay.
    changing: Mutex<()>,
}

impl fmt::Debug for ReloadableConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ReloadableConfig").finish_non_exhaustive()
    }
}

impl ReloadableConfig {
    /// Starts with `config`.
    pub fn new(config: Arc<ServerConfig>) -> Self {
        Self {
            inner: Arc::new(Inner {
                current: ArcSwap::new(config),
                changing: Mutex::new(()),
            }),
        }
    }

    /// The configuration new handshakes use now.
    pub fn current(&self) -> Arc<ServerConfig> {
        self.inner.current.load_full()
    }

    /// New handshakes use `config` from now on.
    pub fn replace(&self, config: Arc<ServerConfig>) {
        let _one_change_at_a_time = self.lock_changes();
        self.inner.current.store(config);
    }

    /// Reads a certificate chain (leaf first) and its private key from PEM files, with the
    /// [`CertificateStore`](super::CertificateStore)'s loader, and serves them from now on,
    /// for every handshake.
    ///
    /// What it replaces: exactly the configuration's `cert_resolver`, with one that serves
    /// this certificate whatever the client asks for. A custom resolver (certificates chosen
    /// by SNI, a certificate store) is replaced too, and stops choosing: reload such a
    /// resolver itself, or [`replace`](ReloadableConfig::replace) the configuration. Every
    /// other setting of the current configuration stays: ALPN, client authentication,
    /// versions, session storage, the ticketer, the key log.
    ///
    /// # Errors
    ///
    /// A [`CertificateError`] naming the file that cannot be read, holds no certificate or
    /// key, or whose key is unusable or does not match the certificate. The current
    /// configuration then stays in use: a bad file never leaves the server without one.
    pub fn reload_pem_files(
        &self,
        cert: impl AsRef<Path>,
        key: impl AsRef<Path>,
    ) -> Result<(), CertificateError> {
        let provider = self.current().crypto_provider().clone();
        let certified = file::load_pair(cert.as_ref(), key.as_ref(), &provider)?;
        self.update(|next| next.cert_resolver = Arc::new(SingleCertAndKey::from(certified)));
        Ok(())
    }

    /// Seals new session tickets with `keys` from now on (and opens those they can), keeping
    /// every other setting: the rotation step of a fleet sharing ticket keys.
    ///
    /// # Errors
    ///
    /// As [`TicketKeys::install`](crate::tickets::TicketKeys::install); the current configuration
    /// then stays in use.
    pub fn reload_ticket_keys(
        &self,
        keys: &crate::server::tickets::TicketKeys,
    ) -> Result<(), crate::server::tickets::TicketKeyError> {
        let ticketer = keys.ticketer_for(&self.current())?;
        self.update(|next| next.ticketer = ticketer);
        Ok(())
    }

    /// Serves a copy of the current configuration with `change` made to it. The copy is made
    /// while changes are locked out, so two reloads at once (a certificate and ticket keys,
    /// say) both stay; handshakes never take that lock.
    fn update(&self, change: impl FnOnce(&mut ServerConfig)) {
        let _one_change_at_a_time = self.lock_changes();
        let mut next = ServerConfig::clone(&self.inner.current.load());
        change(&mut next);
        self.inner.current.store(Arc::new(next));
    }

    fn lock_changes(&self) -> std::sync::MutexGuard<'_, ()> {
        self.inner
            .changing
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::mpsc;

    use rustls::server::ResolvesServerCertUsingSni;

    use super::*;

    fn provider() -> Arc<rustls::crypto::CryptoProvider> {
        #[cfg(feature = "aws-lc-rs")]
        return Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        #[cfg(all(feature = "ring", not(feature = "aws-lc-rs")))]
        return Arc::new(rustls::crypto::ring::default_provider());
    }

    /// Two reloads at once both stay because each copies and changes the configuration while
    /// changes are locked out: while one change is being made, no other reload can take the configuration
    /// it would copy (and later write back without this change).
    #[test]
    fn a_change_is_made_under_the_lock() {
        let config = ServerConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()
            .expect("versions")
            .with_no_client_auth()
            .with_cert_resolver(Arc::new(ResolvesServerCertUsingSni::new()));
        let reloadable = ReloadableConfig::new(Arc::new(config));
        let (entered, has_entered) = mpsc::channel();
        let (go, may_go) = mpsc::channel::<()>();
        let changing = std::thread::spawn({
            let reloadable = reloadable.clone();
            move || {
                reloadable.update(|next| {
                    entered.send(()).expect("the test waits");
                    may_go.recv().expect("the test says go");
                    next.max_fragment_size = Some(1000);
                });
            }
        });
        has_entered.recv().expect("the change began");
        assert!(
            reloadable.inner.changing.try_lock().is_err(),
            "another reload could copy the configuration in the middle of this change"
        );
        go.send(()).expect("the change waits");
        changing.join().expect("the reload");
        assert_eq!(reloadable.current().max_fragment_size, Some(1000));
    }
}
