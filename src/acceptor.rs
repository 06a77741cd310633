//! [`Acceptor`]: the server entry point, a `ServerConfig` plus per-connection defaults.

use std::{sync::Arc, time::Duration};

use rustls::{ServerConfig, ServerConnection};
use tokio::io::{AsyncRead, AsyncWrite};

use crate::{AsyncHandshake, Handshake, StartHandshake};

/// How long a server handshake may take by default. A server without a deadline can be held
/// open forever by peers that connect and say nothing.
pub const DEFAULT_SERVER_TIMEOUT: Duration = Duration::from_secs(10);

/// Accepts server handshakes with one configuration.
///
/// The drop-in for tokio-rustls' `TlsAcceptor`: `Acceptor::from(config)` and
/// `acceptor.accept(tcp).await?`. Every handshake has a deadline,
/// [`DEFAULT_SERVER_TIMEOUT`] unless changed.
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
    config: Arc<ServerConfig>,
    timeout: Option<Duration>,
    send_alerts: bool,
}

impl Acceptor {
    /// An acceptor with the [`DEFAULT_SERVER_TIMEOUT`] that sends alerts.
    pub fn new(config: Arc<ServerConfig>) -> Self {
        Self {
            config,
            timeout: Some(DEFAULT_SERVER_TIMEOUT),
            send_alerts: true,
        }
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

    /// Logs TLS secrets to the file named by the `SSLKEYLOGFILE` environment variable, in
    /// the format Wireshark reads, through rustls' `KeyLogFile`. Does nothing unless the
    /// variable is set. For debugging only: anyone with that file can decrypt the traffic.
    pub fn with_key_log_from_env(mut self) -> Self {
        self.config = crate::key_log::from_env(self.config);
        self
    }

    /// The configuration.
    pub fn config(&self) -> &Arc<ServerConfig> {
        &self.config
    }

    /// Starts a server handshake over `io`.
    pub fn accept<IO>(&self, io: IO) -> AsyncHandshake<IO, ServerConnection>
    where
        IO: AsyncRead + AsyncWrite + Unpin,
    {
        AsyncHandshake::start(Handshake::accept(self.config.clone()), io)
            .with_defaults(self.timeout, self.send_alerts)
    }
}

impl Acceptor {
    /// Reads the client's ClientHello first, so the configuration can be chosen from it
    /// (certificate by SNI, ALPN, versions), then continue with
    /// [`ClientHelloReceived::accept`](crate::ClientHelloReceived::accept). This acceptor's deadline covers both steps, and the
    /// choice in between may await (a certificate store, say). Its own configuration is not
    /// used.
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
    /// let tls = hello.accept(config).await?;
    /// # Ok(()) }
    /// ```
    pub fn start<IO>(&self, io: IO) -> StartHandshake<IO>
    where
        IO: AsyncRead + AsyncWrite + Unpin,
    {
        let deadline = self
            .timeout
            .and_then(|t| tokio::time::Instant::now().checked_add(t));
        StartHandshake::new(io, deadline, self.send_alerts)
    }
}

impl From<Arc<ServerConfig>> for Acceptor {
    fn from(config: Arc<ServerConfig>) -> Self {
        Self::new(config)
    }
}
