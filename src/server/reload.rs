//! [`ReloadableConfig`]: a server configuration replaced while serving (certificate renewal),
//! and reading a certificate and key from PEM files without ever leaving the server without
//! a configuration.

use std::{
    fmt,
    path::{Path, PathBuf},
    sync::{Arc, PoisonError, RwLock},
};

use rustls::{
    pki_types::{pem::PemObject, CertificateDer, PrivateKeyDer},
    sign::{CertifiedKey, SingleCertAndKey},
    ServerConfig,
};

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
    current: Arc<RwLock<Arc<ServerConfig>>>,
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
            current: Arc::new(RwLock::new(config)),
        }
    }

    /// The configuration new handshakes use now.
    pub fn current(&self) -> Arc<ServerConfig> {
        self.current
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// New handshakes use `config` from now on.
    pub fn replace(&self, config: Arc<ServerConfig>) {
        *self.current.write().unwrap_or_else(PoisonError::into_inner) = config;
    }

    /// Reads a certificate chain (leaf first) and its private key from PEM files and serves
    /// them from now on, for every handshake.
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
    /// A [`ReloadError`] when a file cannot be read, holds no certificate or key, or the key
    /// is unusable or does not match the certificate. The current configuration then stays
    /// in use: a bad file never leaves the server without one.
    pub fn reload_pem_files(
        &self,
        cert: impl AsRef<Path>,
        key: impl AsRef<Path>,
    ) -> Result<(), ReloadError> {
        let certified = certified_key_from_pem_files(&self.current(), cert.as_ref(), key.as_ref())?;
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
        keys: &crate::tickets::TicketKeys,
    ) -> Result<(), crate::tickets::TicketKeyError> {
        let ticketer = keys.ticketer_for(&self.current())?;
        self.update(|next| next.ticketer = ticketer);
        Ok(())
    }

    /// Serves a copy of the current configuration with `change` made to it. The copy is made
    /// under the lock, so two reloads at once (a certificate and ticket keys, say) both stay.
    fn update(&self, change: impl FnOnce(&mut ServerConfig)) {
        let mut current = self.current.write().unwrap_or_else(PoisonError::into_inner);
        let mut next = ServerConfig::clone(&current);
        change(&mut next);
        *current = Arc::new(next);
    }
}

/// The certificate and key in PEM files, checked against each other with `config`'s crypto
/// provider.
fn certified_key_from_pem_files(
    config: &ServerConfig,
    cert: &Path,
    key: &Path,
) -> Result<CertifiedKey, ReloadError> {
    let pem_error = |path: &Path| {
        let path = path.to_path_buf();
        move |error| ReloadError::Pem { path, error }
    };
    let chain = CertificateDer::pem_file_iter(cert)
        .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
        .map_err(pem_error(cert))?;
    if chain.is_empty() {
        return Err(ReloadError::NoCertificate {
            path: cert.to_path_buf(),
        });
    }
    let key = PrivateKeyDer::from_pem_file(key).map_err(pem_error(key))?;
    CertifiedKey::from_der(chain, key, config.crypto_provider()).map_err(ReloadError::Key)
}

/// Why a reload was refused; the configuration in use did not change.
#[derive(Debug)]
#[non_exhaustive]
pub enum ReloadError {
    /// A file could not be read, or holds no valid PEM of the kind needed.
    Pem {
        /// The file.
        path: PathBuf,
        /// What was wrong with it.
        error: rustls::pki_types::pem::Error,
    },
    /// The certificate file holds no certificate.
    NoCertificate {
        /// The file.
        path: PathBuf,
    },
    /// The key cannot be used, or does not belong to the certificate (rustls' verdict).
    Key(rustls::Error),
}

impl fmt::Display for ReloadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Pem { path, error } => write!(f, "cannot use {}: {error}", path.display()),
            Self::NoCertificate { path } => {
                write!(f, "no certificate in {}", path.display())
            }
            Self::Key(error) => write!(f, "unusable private key: {error}"),
        }
    }
}

impl std::error::Error for ReloadError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Pem { error, .. } => Some(error),
            Self::NoCertificate { .. } => None,
            Self::Key(error) => Some(error),
        }
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

    /// Two reloads at once both stay because each copies and changes the configuration under
    /// the lock: while one change is being made, no other reload can take the configuration
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
            reloadable.current.try_read().is_err(),
            "another reload could copy the configuration in the middle of this change"
        );
        go.send(()).expect("the change waits");
        changing.join().expect("the reload");
        assert_eq!(reloadable.current().max_fragment_size, Some(1000));
    }
}
