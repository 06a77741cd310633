//! [`CertificateStore`]: many certificates, each chosen by the name a client asks for (SNI),
//! loaded from directories and reloaded while serving.
//!
#![doc = include_str!("guide.md")]

mod error;
mod file;
mod info;
mod loading;
mod reload;
mod set;
#[cfg(feature = "watch")]
mod watch;

use std::{
    collections::BTreeMap,
    fmt,
    path::{Path, PathBuf},
    sync::{Arc, Mutex, PoisonError},
    time::SystemTime,
};

use arc_swap::ArcSwap;
use rustls::{
    crypto::CryptoProvider,
    server::{ClientHello, ResolvesServerCert},
    sign::CertifiedKey,
    AlertDescription, ServerConfig,
};

#[cfg(feature = "acme")]
pub(crate) use self::file::check_pem;
pub use self::reload::ReloadableConfig;
#[cfg(feature = "watch")]
pub use self::watch::{StoreWatcher, WatchEvent, DEFAULT_WATCH_DELAY};
pub use self::{
    error::{CertificateError, CertificateErrorKind, StoreLoadError},
    info::{CertificateInfo, CertificateSource},
};
use self::{
    file::{Stamp, Stored},
    set::CertificateSet,
};
use crate::server::accept::{Choice, ChooseConfig};

/// What a [`CertificateStore`] serves a client that asks for no name (no SNI, as a client
/// connecting by IP address) or for a name it has no certificate for.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum UnknownName {
    /// Nothing. As a [`ChooseConfig`] the store refuses the client with the
    /// `unrecognized_name` alert (nginx's `ssl_reject_handshake`); as a plain rustls resolver
    /// it resolves no certificate, and rustls refuses with `access_denied`.
    #[default]
    Refuse,
    /// The certificate that serves this name.
    Serve(String),
}

/// Certificates chosen by the name a client asks for: the exact name first, then a wildcard
/// (`*.example.com` matches exactly one label), then the [`UnknownName`] policy. A trailing
/// dot (`example.com.`) is the same name. Where several certificates claim a name, the one
/// valid now that expires last serves it, so a renewal staged before its `notBefore` takes
/// over when it becomes valid, with no reload.
///
/// - **Drops into any `ServerConfig`** as its certificate resolver (rustls'
///   `ResolvesServerCert`), this crate's or tokio-rustls'. With this crate's
///   [`Acceptor::with_chooser`](crate::Acceptor::with_chooser) it also refuses unknown names
///   with `unrecognized_name` before the handshake goes on.
/// - **Loads directories** ([`from_dir`](Self::from_dir), [`add_dir`](Self::add_dir)), in
///   two layouts: `NAME.pem` (or `NAME.crt`) holding the chain, leaf first, and its private
///   key; or the chain in `NAME.pem` / `NAME.crt` and the key in `NAME.key` beside it. Each
///   certificate is indexed by the DNS names of its subject alternative names (the file's
///   name does not matter). Hidden files, other extensions and subdirectories are not read,
///   so write a file under a hidden name and rename it into place. A Kubernetes TLS secret
///   mounted as a directory loads as it is: `tls.crt` with `tls.key` beside it, and `ca.crt`
///   (a CA certificate with no key) passed over as a trust bundle; the kubelet's `..data`
///   swap is seen on the next reload.
/// - **Reloads** on demand ([`reload`](Self::reload), from a SIGHUP handler say) or when
///   files change (`watch`, feature `watch`). Files whose contents did not change are not
///   parsed again (contents are compared, not modification times). The new set replaces the old one at once (`arc-swap`): a handshake sees
///   either, never a mix. A file that fails to load is a [`CertificateError`] naming it,
///   and the last good version from that file keeps serving.
/// - **Knows expiry**: [`earliest_expiry`](Self::earliest_expiry) and
///   [`certificates`](Self::certificates) give each certificate's `notAfter`.
///
/// Cheap to clone: every clone is the same store.
///
/// # Examples
///
/// ```no_run
/// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
/// use std::sync::Arc;
/// use tokio::signal::unix::{signal, SignalKind};
/// use tokio_tls_handshake::{Acceptor, certificates::CertificateStore, listener::TlsListener};
///
/// let store = CertificateStore::from_dir("/etc/tls/certificates")?;
/// let config = rustls::ServerConfig::builder()
///     .with_no_client_auth()
///     .with_cert_resolver(Arc::new(store.clone()));
/// let acceptor = Acceptor::from(Arc::new(config)).with_chooser(store.clone());
/// tokio::spawn(async move {
///     let mut hangups = signal(SignalKind::hangup()).expect("a signal handler");
///     while hangups.recv().await.is_some() {
///         if let Err(e) = store.reload() {
///             eprintln!("{e}"); // each file named keeps serving its last good version
///         }
///     }
/// });
/// let tcp = tokio::net::TcpListener::bind("0.0.0.0:443").await?;
/// let mut listener = TlsListener::new(tcp, acceptor);
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct CertificateStore {
    inner: Arc<Inner>,
}

struct Inner {
    current: ArcSwap<CertificateSet>,
    unknown: ArcSwap<UnknownName>,
    provider: Option<Arc<CryptoProvider>>,
    /// What a reload reads. Held while the set is changed, so that changes never race (each
    /// starts from the set the previous one made); handshakes never take it.
    sources: Mutex<Sources>,
}

#[derive(Debug, Default)]
pub(super) struct Sources {
    dirs: Vec<PathBuf>,
    files: Vec<PathBuf>,
    /// Files whose chain was found shortened ([`CertificateErrorKind::ChainShortened`]), with
    /// what they held then: taken if the next reload finds the same.
    shortened: std::collections::HashMap<PathBuf, Stamp>,
}

impl fmt::Debug for CertificateStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CertificateStore")
            .field("certificates", &self.len())
            .field("unknown_names", &**self.inner.unknown.load())
            .finish_non_exhaustive()
    }
}

impl Default for CertificateStore {
    fn default() -> Self {
        Self::new()
    }
}

impl CertificateStore {
    /// An empty store that refuses unknown names and loads keys with the process's default
    /// crypto provider (or the one this crate was built with).
    pub fn new() -> Self {
        Self::build(None)
    }

    /// An empty store that loads keys with `provider`.
    pub fn with_provider(provider: Arc<CryptoProvider>) -> Self {
        Self::build(Some(provider))
    }

    fn build(provider: Option<Arc<CryptoProvider>>) -> Self {
        Self {
            inner: Arc::new(Inner {
                current: ArcSwap::from_pointee(CertificateSet::default()),
                unknown: ArcSwap::from_pointee(UnknownName::Refuse),
                provider,
                sources: Mutex::new(Sources::default()),
            }),
        }
    }

    /// A store serving the certificates in `dir`, which [`reload`](Self::reload) reads
    /// again.
    ///
    /// # Errors
    ///
    /// Every file that could not be loaded, or the directory itself: a server should not
    /// start with a certificate missing. To serve what loads anyway, use
    /// [`new`](Self::new) and [`add_dir`](Self::add_dir).
    pub fn from_dir(dir: impl Into<PathBuf>) -> Result<Self, StoreLoadError> {
        let store = Self::new();
        store.add_dir(dir)?;
        Ok(store)
    }

    /// Serves the certificates in `dir` too, and reads it again on every
    /// [`reload`](Self::reload).
    ///
    /// # Errors
    ///
    /// The files that could not be loaded (the others are served), or the directory itself.
    pub fn add_dir(&self, dir: impl Into<PathBuf>) -> Result<(), StoreLoadError> {
        let mut sources = self.lock_sources();
        let dir = dir.into();
        if !sources.dirs.contains(&dir) {
            sources.dirs.push(dir);
        }
        self.reload_locked(&mut sources)
    }

    /// Loads (or loads again) the certificate file `path` now, in either layout, and reads it
    /// again on every [`reload`](Self::reload). The way to take one new file at once, as the
    /// ACME client does after writing one.
    ///
    /// # Errors
    ///
    /// Why the file could not be loaded; the last good version from it keeps serving.
    pub fn load_file(&self, path: impl AsRef<Path>) -> Result<CertificateInfo, CertificateError> {
        let path = path.as_ref().to_path_buf();
        let mut sources = self.lock_sources();
        let in_a_dir = sources
            .dirs
            .iter()
            .any(|dir| path.parent() == Some(dir.as_path()));
        if !in_a_dir && !sources.files.contains(&path) {
            sources.files.push(path.clone());
        }
        let provider = self.provider().ok_or_else(|| CertificateError {
            path: path.clone(),
            kind: CertificateErrorKind::NoCryptoProvider,
        })?;
        let stored = file::load(&path, &provider)?.ok_or_else(|| CertificateError {
            path: path.clone(),
            kind: CertificateErrorKind::NoKey,
        })?;
        let stored = Arc::new(stored);
        let info = stored.info.clone();
        self.change(|all| {
            all.insert(info.source.clone(), stored);
        });
        Ok(info)
    }

    /// Serves `key` (a chain and its signing key, made in memory) under `label`, replacing
    /// what was inserted under that label before. Reloads leave it in place.
    ///
    /// # Errors
    ///
    /// The chain is empty or does not parse, names no DNS name, or its key does not belong
    /// to it.
    pub fn insert(
        &self,
        label: impl Into<String>,
        key: CertifiedKey,
    ) -> Result<CertificateInfo, CertificateError> {
        let source = CertificateSource::Inserted(label.into());
        let error = |kind| CertificateError {
            path: PathBuf::from(source.to_string()),
            kind,
        };
        let leaf = key
            .end_entity_cert()
            .map_err(|_| error(CertificateErrorKind::NoCertificate))?;
        let info = CertificateInfo::read(source.clone(), leaf).map_err(error)?;
        match key.keys_match() {
            Ok(()) | Err(rustls::Error::InconsistentKeys(rustls::InconsistentKeys::Unknown)) => {}
            Err(e) => return Err(error(CertificateErrorKind::Key(e))),
        }
        let stored = Arc::new(Stored {
            info: info.clone(),
            key: Arc::new(key),
            stamp: None,
        });
        let _sources = self.lock_sources();
        self.change(|all| {
            all.insert(source, stored);
        });
        Ok(info)
    }

    /// Stops serving the certificate from `source`; `false` if there was none. A file still
    /// in a directory comes back on the next reload.
    pub fn remove(&self, source: &CertificateSource) -> bool {
        let mut sources = self.lock_sources();
        if let CertificateSource::File(path) = source {
            sources.files.retain(|file| file != path);
        }
        let mut removed = false;
        self.change(|all| removed = all.remove(source).is_some());
        removed
    }

    /// Reads every directory and file again and serves what they hold now. Files whose
    /// contents did not change are not parsed again; files gone from a
    /// directory are no longer served; inserted certificates stay.
    ///
    /// # Errors
    ///
    /// The files (or directories) that could not be loaded. Every other file was; each one
    /// named keeps serving its last good version, if it had one.
    pub fn reload(&self) -> Result<(), StoreLoadError> {
        let mut sources = self.lock_sources();
        self.reload_locked(&mut sources)
    }

    /// What to serve clients that ask for no name or an unknown one, from now on.
    pub fn set_unknown_names(&self, policy: UnknownName) {
        self.inner.unknown.store(Arc::new(policy));
    }

    /// The certificate a client asking for `name` gets now (`None`: a client that sent no
    /// SNI), after the [`UnknownName`] policy; `None` if it is refused.
    pub fn resolve_name(&self, name: Option<&str>) -> Option<Arc<CertifiedKey>> {
        self.find(name).map(|stored| stored.key.clone())
    }

    /// What is known of the certificate a client asking for `name` gets now.
    pub fn certificate_for(&self, name: Option<&str>) -> Option<CertificateInfo> {
        self.find(name).map(|stored| stored.info.clone())
    }

    /// What is known of the certificate from `source`, if it is served now.
    pub fn certificate(&self, source: &CertificateSource) -> Option<CertificateInfo> {
        let set = self.inner.current.load();
        set.sources().get(source).map(|stored| stored.info.clone())
    }

    /// Whether a certificate names `name`, exactly or by wildcard (the [`UnknownName`]
    /// policy aside).
    pub fn serves(&self, name: &str) -> bool {
        self.find_name(name).is_some()
    }

    /// Every certificate served now, by source.
    pub fn certificates(&self) -> Vec<CertificateInfo> {
        self.inner.current.load().infos().cloned().collect()
    }

    /// The certificate that expires first, for an operator's alarm or a renewal schedule.
    pub fn earliest_expiry(&self) -> Option<CertificateInfo> {
        self.inner
            .current
            .load()
            .infos()
            .min_by_key(|info| info.not_after)
            .cloned()
    }

    /// How many certificates are served now.
    pub fn len(&self) -> usize {
        self.inner.current.load().len()
    }

    /// Whether no certificate is served now.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The certificate for `name`, then the [`UnknownName`] policy's.
    fn find(&self, name: Option<&str>) -> Option<Arc<Stored>> {
        name.and_then(|name| self.find_name(name))
            .or_else(|| match &**self.inner.unknown.load() {
                UnknownName::Refuse => None,
                UnknownName::Serve(default) => self.find_name(default),
            })
    }

    /// The certificate naming `name`, exactly or by wildcard.
    fn find_name(&self, name: &str) -> Option<Arc<Stored>> {
        let set = self.inner.current.load();
        // A fully qualified name (`example.com.`) is the same name.
        let name = name.strip_suffix('.').unwrap_or(name);
        let now = SystemTime::now();
        if name.bytes().any(|b| b.is_ascii_uppercase()) {
            set.find(&name.to_ascii_lowercase(), now).cloned()
        } else {
            set.find(name, now).cloned()
        }
    }

    fn lock_sources(&self) -> std::sync::MutexGuard<'_, Sources> {
        self.inner
            .sources
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    fn provider(&self) -> Option<Arc<CryptoProvider>> {
        self.inner.provider.clone().or_else(default_provider)
    }

    /// Serves a copy of the current set with `edit` made to its certificates. Callers hold
    /// the sources' lock.
    fn change(&self, edit: impl FnOnce(&mut BTreeMap<CertificateSource, Arc<Stored>>)) {
        let mut all = self.inner.current.load().sources().clone();
        edit(&mut all);
        self.inner.current.store(Arc::new(CertificateSet::new(all)));
    }
}

/// The process's default crypto provider, or the one this crate was built with.
pub(crate) fn default_provider() -> Option<Arc<CryptoProvider>> {
    CryptoProvider::get_default()
        .cloned()
        .or_else(built_in_provider)
}

/// The provider this crate was built with, for a process that installed none.
fn built_in_provider() -> Option<Arc<CryptoProvider>> {
    #[cfg(feature = "aws-lc-rs")]
    return Some(Arc::new(rustls::crypto::aws_lc_rs::default_provider()));
    #[cfg(all(feature = "ring", not(feature = "aws-lc-rs")))]
    return Some(Arc::new(rustls::crypto::ring::default_provider()));
    #[cfg(not(any(feature = "aws-lc-rs", feature = "ring")))]
    return None;
}

/// The store as rustls' certificate resolver: the certificate for the client's SNI, after
/// the [`UnknownName`] policy.
impl ResolvesServerCert for CertificateStore {
    fn resolve(&self, hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        self.resolve_name(hello.server_name())
    }
}

/// The store as an acceptor's chooser: a client whose name the store serves goes on with the
/// acceptor's configuration (whose resolver should be this store); any other is refused with
/// `unrecognized_name`.
impl ChooseConfig for CertificateStore {
    fn choose(&self, hello: &ClientHello<'_>, config: &Arc<ServerConfig>) -> Choice {
        match self.find(hello.server_name()) {
            Some(_) => Choice::Serve(config.clone()),
            None => Choice::Refuse(AlertDescription::UnrecognisedName),
        }
    }
}
