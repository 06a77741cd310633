//! [`Connector`]: the client entry point, a `ClientConfig` plus per-connection defaults.

use std::{sync::Arc, time::Duration};

use rustls::{pki_types::ServerName, ClientConfig, ClientConnection};
use tokio::io::{AsyncRead, AsyncWrite};

use crate::{error::HandshakeError, io::AsyncHandshake, step::Handshake};

/// Starts client handshakes with one configuration.
///
/// The drop-in for tokio-rustls' `TlsConnector`: `Connector::from(config)` and
/// `connector.connect(server_name, tcp).await?` work in functions returning `io::Result`.
/// Clients have no deadline unless one is set with [`Connector::with_timeout`].
///
/// # Examples
///
/// ```no_run
/// # async fn run(config: std::sync::Arc<rustls::ClientConfig>) -> std::io::Result<()> {
/// use std::time::Duration;
/// use tokio::io::AsyncWriteExt;
/// use tokio_tls_handshake::Connector;
///
/// let connector = Connector::from(config).with_timeout(Duration::from_secs(5));
/// let tcp = tokio::net::TcpStream::connect("127.0.0.1:8443").await?;
/// let server_name = "localhost".try_into().expect("a valid DNS name");
/// let mut tls = connector.connect(server_name, tcp).await?;
/// tls.write_all(b"hello").await?;
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct Connector {
    config: Arc<ClientConfig>,
    timeout: Option<Duration>,
    send_alerts: bool,
}

impl Connector {
    /// A connector with no deadline that sends alerts.
    pub fn new(config: Arc<ClientConfig>) -> Self {
        Self {
            config,
            timeout: None,
            send_alerts: true,
        }
    }

    /// Every handshake fails with [`HandshakeError::TimedOut`] unless it completes within
    /// `timeout` of the `connect` call.
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// Whether to tell a rejected server why with a fatal alert (default: yes).
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
    pub fn config(&self) -> &Arc<ClientConfig> {
        &self.config
    }

    /// Starts a handshake with `server_name` over `io`.
    ///
    /// # Errors
    ///
    /// The future resolves to a [`HandshakeError`]; a configuration rustls cannot use is
    /// [`HandshakeError::Config`].
    ///
    /// # Panics
    ///
    /// With a deadline ([`Connector::with_timeout`]), polling the handshake panics on a Tokio
    /// runtime without the time driver (`enable_time`); Tokio's message names it.
    pub fn connect<IO>(
        &self,
        server_name: ServerName<'static>,
        io: IO,
    ) -> AsyncHandshake<IO, ClientConnection>
    where
        IO: AsyncRead + AsyncWrite + Unpin,
    {
        self.start(Handshake::connect(self.config.clone(), server_name), io)
    }

    /// As [`Connector::connect`], offering `alpn_protocols` instead of the configuration's.
    ///
    /// # Panics
    ///
    /// With a deadline ([`Connector::with_timeout`]), polling the handshake panics on a Tokio
    /// runtime without the time driver (`enable_time`); Tokio's message names it.
    pub fn connect_with_alpn<IO>(
        &self,
        server_name: ServerName<'static>,
        alpn_protocols: Vec<Vec<u8>>,
        io: IO,
    ) -> AsyncHandshake<IO, ClientConnection>
    where
        IO: AsyncRead + AsyncWrite + Unpin,
    {
        let conn = ClientConnection::new_with_alpn(
            self.config.clone(),
            server_name.clone(),
            alpn_protocols,
        );
        let handshake = conn
            .map(|conn| Handshake::from_connection(conn).with_server_name(Some(server_name)))
            .map_err(HandshakeError::Config);
        self.start(handshake, io)
    }

    /// As [`Connector::connect`], sending `data` as TLS 1.3 early data (0-RTT) with the
    /// ClientHello when this client resumes a session whose server allows early data (and
    /// the configuration has `enable_early_data = true`). Whatever the server does not accept
    /// is sent right after the handshake, so `data` always arrives exactly once as
    /// application data; [`ClientTlsStream::early_data_accepted`](crate::ClientTlsStream)
    /// and the report say whether it went early.
    ///
    /// # Replay
    ///
    /// Early data can be replayed by an attacker: use it only for requests that are safe to
    /// repeat.
    ///
    /// # Panics
    ///
    /// With a deadline ([`Connector::with_timeout`]), polling the handshake panics on a Tokio
    /// runtime without the time driver (`enable_time`); Tokio's message names it.
    pub fn connect_with_early_data<IO>(
        &self,
        server_name: ServerName<'static>,
        data: Vec<u8>,
        io: IO,
    ) -> AsyncHandshake<IO, ClientConnection>
    where
        IO: AsyncRead + AsyncWrite + Unpin,
    {
        let handshake = Handshake::connect_with_early_data(self.config.clone(), server_name, data);
        self.start(handshake, io)
    }

    fn start<IO>(
        &self,
        handshake: Result<Handshake<ClientConnection>, HandshakeError>,
        io: IO,
    ) -> AsyncHandshake<IO, ClientConnection>
    where
        IO: AsyncRead + AsyncWrite + Unpin,
    {
        AsyncHandshake::start(handshake, io).with_defaults(self.timeout, self.send_alerts)
    }
}

impl From<Arc<ClientConfig>> for Connector {
    fn from(config: Arc<ClientConfig>) -> Self {
        Self::new(config)
    }
}
