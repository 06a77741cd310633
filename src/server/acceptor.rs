//! [`Acceptor`]: the server entry point, a `ServerConfig` plus per-connection defaults.

use std::{net::IpAddr, sync::Arc, time::Duration};

use rustls::ServerConfig;
use tokio::io::{AsyncRead, AsyncWrite};

use super::accept::Accept;
use super::choose::Chooser;
use crate::{
    io::AsyncHandshake,
    server::accept::{ChooseConfig, LazyConfigAcceptor},
    server::certificates::ReloadableConfig,
    step::Handshake,
};

/// Accepts server handshakes with one configuration, fixed (`Acceptor::from(Arc<ServerConfig>)`)
/// or replaced while serving (`Acceptor::from(ReloadableConfig)`: each handshake takes the
/// configuration current when it starts).
///
/// The drop-in for tokio-rustls' `TlsAcceptor`: `Acceptor::from(config)` and
/// `acceptor.accept(tcp).await?`. Every handshake has a deadline,
/// [`Acceptor::DEFAULT_TIMEOUT`] unless changed.
///
/// # Examples
///
/// ```no_run
/// # async fn run(config: std::sync::Arc<rustls::ServerConfig>) -> std::io::Result<()> {
/// use tokio_tls_handshake::Acceptor;
///
/// let acceptor = Acceptor::from(config);
/// let listener = tokio::net::TcpListener::bind("127.0.0.1:8443").await?;
/// loop {
///     let (tcp, peer) = listener.accept().await?;
///     let acceptor = acceptor.clone();
///     tokio::spawn(async move {
///         match acceptor.accept(tcp).await {
///             Ok(tls) => { /* serve */ }
///             Err(e) if e.is_silent_close() => {}
///             Err(e) => eprintln!("{peer}: {e}"),
///         }
///     });
/// }
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct Acceptor {
    config: Config,
    timeout: Option<Duration>,
    send_alerts: bool,
    #[cfg(feature = "proxy-protocol")]
    proxy: Option<super::proxy::ProxyPolicy>,
    /// Decides from each ClientHello how the handshake goes on.
    chooser: Option<Chooser>,
}

#[derive(Debug, Clone)]
enum Config {
    Fixed(Arc<ServerConfig>),
    Reloadable(ReloadableConfig),
}

impl Acceptor {
    /// How long a server handshake may take by default. A server without a deadline can be
    /// held open forever by peers that connect and say nothing.
    pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

    /// An acceptor with the [`Acceptor::DEFAULT_TIMEOUT`] that sends alerts.
    pub fn new(config: Arc<ServerConfig>) -> Self {
        Self::with_config(Config::Fixed(config))
    }

    fn with_config(config: Config) -> Self {
        Self {
            config,
            timeout: Some(Self::DEFAULT_TIMEOUT),
            send_alerts: true,
            #[cfg(feature = "proxy-protocol")]
            proxy: None,
            chooser: None,
        }
    }

    /// Reads each client's ClientHello first and lets `chooser` decide how the handshake goes
    /// on: with this acceptor's configuration or another, refused with an alert (an unknown
    /// server name gets `unrecognized_name`, as nginx's `ssl_reject_handshake` sends), or
    /// answered and closed (an ACME TLS-ALPN-01 challenge). [`accept`](Acceptor::accept) and
    /// a [`TlsListener`](crate::listener::TlsListener) both run it, under the same deadline as the
    /// rest of the handshake; [`start`](Acceptor::start) does not (the caller chooses).
    ///
    /// Costs one allocation per handshake and rustls' ClientHello reader in front of the
    /// handshake; no extra transport call.
    ///
    /// # Examples
    ///
    /// A [`CertificateStore`](crate::certificates::CertificateStore) that refuses names it has no
    /// certificate for with `unrecognized_name`:
    ///
    /// ```no_run
    /// # fn run() -> Result<(), Box<dyn std::error::Error>> {
    /// use std::sync::Arc;
    /// use tokio_tls_handshake::{Acceptor, certificates::CertificateStore};
    ///
    /// let store = CertificateStore::from_dir("/etc/tls/certificates")?;
    /// let config = rustls::ServerConfig::builder()
    ///     .with_no_client_auth()
    ///     .with_cert_resolver(Arc::new(store.clone()));
    /// let acceptor = Acceptor::from(Arc::new(config)).with_chooser(store);
    /// # Ok(()) }
    /// ```
    pub fn with_chooser(mut self, chooser: impl ChooseConfig) -> Self {
        self.chooser = Some(Chooser(Arc::new(chooser)));
        self
    }

    /// Each handshake must complete within `timeout` of the `accept` call.
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// No deadline at all. Only for transports whose peers are trusted.
    pub fn without_timeout(mut self) -> Self {
        self.timeout = None;
        self
    }

    /// Whether to tell a rejected client why with a fatal alert (default: yes).
    pub fn with_alerts(mut self, send: bool) -> Self {
        self.send_alerts = send;
        self
    }

    /// Reads a PROXY protocol header (HAProxy's v1 or v2, as load balancers send it) before
    /// the TLS bytes of every connection, from the balancers `trusted` lists only, under the
    /// same deadline as the handshake. Its client address becomes the peer a
    /// [`TlsListener`](crate::listener::TlsListener) reports, [`TlsStream::forwarded_for`] and the
    /// report's `forwarded_for`. The header is read by a layer in front of TLS and never
    /// reaches rustls; TLS bytes that came with it are kept.
    ///
    /// Trust is decided by the transport's peer address, which a `TlsListener` knows; call
    /// [`accept_from`](Acceptor::accept_from) / [`start_from`](Acceptor::start_from) when
    /// accepting by hand, since [`accept`](Acceptor::accept) does not know it and so trusts
    /// its peer only under [`TrustedProxies::any`](crate::proxy::TrustedProxies::any). See
    /// [`ProxyProtocol`](crate::proxy::ProxyProtocol) for what each mode does with untrusted peers.
    ///
    /// [`TlsStream::forwarded_for`]: crate::TlsStream::forwarded_for
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # async fn run(config: std::sync::Arc<rustls::ServerConfig>) -> Result<(), Box<dyn std::error::Error>> {
    /// use tokio_tls_handshake::{proxy::{ProxyProtocol, TrustedProxies}, listener::TlsListener, Acceptor};
    ///
    /// let balancers = TrustedProxies::parse(["10.0.0.0/24"])?;
    /// let acceptor =
    ///     Acceptor::from(config).with_proxy_protocol(ProxyProtocol::Required, balancers);
    /// let tcp = tokio::net::TcpListener::bind("0.0.0.0:8443").await?;
    /// let mut listener = TlsListener::new(tcp, acceptor);
    /// while let Some(next) = listener.accept().await {
    ///     if let Ok((tls, client)) = next {
    ///         // `client` is the address behind the load balancer.
    ///     }
    /// }
    /// # Ok(()) }
    /// ```
    #[cfg(feature = "proxy-protocol")]
    pub fn with_proxy_protocol(
        mut self,
        mode: crate::server::proxy::ProxyProtocol,
        trusted: crate::server::proxy::TrustedProxies,
    ) -> Self {
        self.proxy = Some(super::proxy::ProxyPolicy { mode, trusted });
        self
    }

    /// Logs TLS secrets to the file named by the `SSLKEYLOGFILE` environment variable, in
    /// the format Wireshark reads, through rustls' `KeyLogFile`. Does nothing unless the
    /// variable is set. For debugging only: anyone with that file can decrypt the traffic.
    ///
    /// With a [`ReloadableConfig`], the current configuration gets the key log (for every
    /// holder of it); `reload_pem_files` keeps it, `replace` does not.
    pub fn with_key_log_from_env(mut self) -> Self {
        match &mut self.config {
            Config::Fixed(config) => *config = crate::key_log::from_env(config.clone()),
            Config::Reloadable(reloadable) => {
                reloadable.replace(crate::key_log::from_env(reloadable.current()));
            }
        }
        self
    }

    /// The configuration a handshake starting now would use.
    pub fn config(&self) -> Arc<ServerConfig> {
        match &self.config {
            Config::Fixed(config) => config.clone(),
            Config::Reloadable(reloadable) => reloadable.current(),
        }
    }

    /// Starts a server handshake over `io`.
    ///
    /// # Panics
    ///
    /// Polling the handshake panics on a Tokio runtime without the time driver
    /// (`enable_time`) while this acceptor has a deadline, as it does by default
    /// ([`Acceptor::DEFAULT_TIMEOUT`]); Tokio's message names `enable_time`.
    pub fn accept<IO>(&self, io: IO) -> Accept<IO>
    where
        IO: AsyncRead + AsyncWrite + Unpin,
    {
        self.accept_peer(io, None)
    }

    /// As [`accept`](Acceptor::accept), for a transport whose peer is `peer`: what a PROXY
    /// protocol policy needs to decide whether the peer is a trusted balancer
    /// ([`with_proxy_protocol`](Acceptor::with_proxy_protocol)).
    ///
    /// # Panics
    ///
    /// As [`accept`](Acceptor::accept).
    #[cfg(feature = "proxy-protocol")]
    pub fn accept_from<IO, A>(&self, io: IO, peer: &A) -> Accept<IO>
    where
        IO: AsyncRead + AsyncWrite + Unpin,
        A: crate::server::peer::PeerAddr,
    {
        self.accept_peer(io, peer.ip())
    }

    /// Starts a server handshake over `io`, whose peer's IP address is `peer` if known.
    #[cfg_attr(not(feature = "proxy-protocol"), allow(unused_variables))]
    pub(crate) fn accept_peer<IO>(&self, io: IO, peer: Option<IpAddr>) -> Accept<IO>
    where
        IO: AsyncRead + AsyncWrite + Unpin,
    {
        if let Some(chooser) = &self.chooser {
            let start = self.start_peer(io, peer);
            return Accept::choosing(start, chooser.clone(), self.config());
        }
        let deadline = self
            .timeout
            .and_then(|t| tokio::time::Instant::now().checked_add(t));
        let handshake = Handshake::accept(self.config());
        #[cfg(feature = "proxy-protocol")]
        let handshake = match (&self.proxy, handshake) {
            (Some(policy), Ok(mut handshake)) => {
                handshake.set_alerts(self.send_alerts);
                return Accept::reading_proxy_header(io, policy.reader(peer), handshake, deadline);
            }
            (_, handshake) => handshake,
        };
        Accept::handshaking(
            AsyncHandshake::start(handshake, io)
                .set_deadline(deadline)
                .with_alerts(self.send_alerts),
        )
    }
}

impl Acceptor {
    /// Reads the client's ClientHello first, so the configuration can be chosen from it
    /// (certificate by SNI, ALPN, versions), then continue with
    /// [`StartHandshake::into_stream`](crate::accept::StartHandshake::into_stream). This acceptor's
    /// deadline covers both steps, and the choice in between may await (a certificate store,
    /// say).
    ///
    /// **This acceptor's own configuration is not used**, nor its
    /// [chooser](Acceptor::with_chooser): the handshake goes on with the one given to
    /// `into_stream`. Only the acceptor's deadline, alert policy and PROXY protocol settings
    /// apply.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # async fn run(acceptor: tokio_tls_handshake::Acceptor, tcp: tokio::net::TcpStream,
    /// #   a: std::sync::Arc<rustls::ServerConfig>, b: std::sync::Arc<rustls::ServerConfig>)
    /// #   -> std::io::Result<()> {
    /// let hello = acceptor.start(tcp).await?;
    /// let config = match hello.client_hello().server_name() {
    ///     Some("b.example") => b,
    ///     _ => a,
    /// };
    /// let tls = hello.into_stream(config).await?;
    /// # Ok(()) }
    /// ```
    ///
    /// # Panics
    ///
    /// As [`accept`](Acceptor::accept): polling it needs the time driver while there is a
    /// deadline.
    pub fn start<IO>(&self, io: IO) -> LazyConfigAcceptor<IO>
    where
        IO: AsyncRead + AsyncWrite + Unpin,
    {
        self.start_peer(io, None)
    }

    /// As [`start`](Acceptor::start), for a transport whose peer is `peer` (see
    /// [`accept_from`](Acceptor::accept_from)).
    ///
    /// # Panics
    ///
    /// As [`accept`](Acceptor::accept).
    #[cfg(feature = "proxy-protocol")]
    pub fn start_from<IO, A>(&self, io: IO, peer: &A) -> LazyConfigAcceptor<IO>
    where
        IO: AsyncRead + AsyncWrite + Unpin,
        A: crate::server::peer::PeerAddr,
    {
        self.start_peer(io, peer.ip())
    }

    #[cfg_attr(not(feature = "proxy-protocol"), allow(unused_variables))]
    fn start_peer<IO>(&self, io: IO, peer: Option<IpAddr>) -> LazyConfigAcceptor<IO>
    where
        IO: AsyncRead + AsyncWrite + Unpin,
    {
        let deadline = self
            .timeout
            .and_then(|t| tokio::time::Instant::now().checked_add(t));
        let start = LazyConfigAcceptor::new(io, deadline, self.send_alerts);
        #[cfg(feature = "proxy-protocol")]
        let start = start.with_proxy_header(self.proxy.as_ref().map(|p| p.reader(peer)));
        start
    }
}

impl From<Arc<ServerConfig>> for Acceptor {
    fn from(config: Arc<ServerConfig>) -> Self {
        Self::new(config)
    }
}

/// An acceptor whose configuration can be replaced while serving: each handshake uses the one
/// current when it starts.
impl From<ReloadableConfig> for Acceptor {
    fn from(config: ReloadableConfig) -> Self {
        Self::with_config(Config::Reloadable(config))
    }
}
