//! Reading the ClientHello before choosing a server configuration, with tokio-rustls' names
//! for the same roles: [`Acceptor::start`] gives a [`LazyConfigAcceptor`] future, which
//! resolves to a [`StartHandshake`] whose [`into_stream`](StartHandshake::into_stream)
//! continues the handshake with the configuration chosen, under the same deadline.
//!
//! [`Acceptor::start`]: crate::Acceptor::start

use std::{
    future::Future,
    net::SocketAddr,
    pin::Pin,
    sync::Arc,
    task::{ready, Context, Poll},
};

use rustls::{
    server::{Accepted, Acceptor, ClientHello},
    AlertDescription, ServerConfig, ServerConnection,
};
use tokio::{
    io::{AsyncRead, AsyncWrite},
    time::Instant,
};

use crate::{
    engine::Engine,
    engine::HandshakeStats,
    error::HandshakeError,
    io::AsyncHandshake,
    io::Failed,
    io::{adapter::PollIo, deadline::Deadline, sending_alert::SendingAlert},
    step::Handshake,
};

/// Reads a client's ClientHello, so a server can choose its configuration (certificate,
/// ALPN, versions) from it; made by [`Acceptor::start`](crate::Acceptor::start). The role of
/// tokio-rustls' `LazyConfigAcceptor`, and its name.
///
/// Resolves to a [`StartHandshake`], or to [`Failed`] with the transport (a plaintext
/// peer, a peer that left, a malformed hello, the deadline). `Unpin`.
///
/// # Cancel safety
///
/// Dropping it drops the transport.
#[must_use = "futures do nothing unless you `.await` or poll them"]
#[derive(Debug)]
pub struct LazyConfigAcceptor<IO> {
    io: Option<IO>,
    /// The PROXY protocol header still to read, in front of the hello.
    #[cfg(feature = "proxy-protocol")]
    proxy: Option<crate::server::proxy::ProxyHeaderReader>,
    /// The engine in its first phase, reading the hello.
    engine: Engine<Acceptor>,
    deadline: Deadline,
    /// The hello was refused; its alert is going out.
    sending: Option<SendingAlert<IO>>,
}

impl<IO> LazyConfigAcceptor<IO> {
    pub(crate) fn new(io: IO, deadline: Option<Instant>, send_alerts: bool) -> Self {
        let mut engine = Engine::reading_client_hello();
        engine.set_send_alerts(send_alerts);
        Self {
            io: Some(io),
            #[cfg(feature = "proxy-protocol")]
            proxy: None,
            engine,
            deadline: Deadline::new(deadline),
            sending: None,
        }
    }

    /// The client's address, once a PROXY protocol header gave it.
    pub(crate) fn forwarded_for(&self) -> Option<SocketAddr> {
        self.engine.forwarded_for()
    }

    /// What reading the hello cost so far.
    pub(crate) fn stats(&self) -> HandshakeStats {
        self.engine.stats()
    }

    /// Bytes of the peer's complete TLS records so far.
    pub(crate) fn peer_record_bytes(&self) -> u64 {
        self.engine.peer_record_bytes()
    }

    /// The transport, unless the future has completed.
    pub(crate) fn get_ref(&self) -> Option<&IO> {
        match &self.sending {
            Some(sending) => Some(sending.io()),
            None => self.io.as_ref(),
        }
    }

    /// The transport, mutably, unless the future has completed.
    pub(crate) fn get_mut(&mut self) -> Option<&mut IO> {
        match &mut self.sending {
            Some(sending) => Some(sending.io_mut()),
            None => self.io.as_mut(),
        }
    }

    /// Reads a PROXY protocol header in front of the ClientHello, under the same deadline.
    #[cfg(feature = "proxy-protocol")]
    pub(crate) fn with_proxy_header(
        mut self,
        reader: Option<crate::server::proxy::ProxyHeaderReader>,
    ) -> Self {
        self.proxy = reader;
        self
    }

    /// The PROXY protocol header in front of the hello, while it is still to read.
    /// `Ok(false)`: the transport would block.
    #[cfg(feature = "proxy-protocol")]
    fn read_proxy_header(&mut self, io: &mut impl std::io::Read) -> Result<bool, HandshakeError> {
        let Some(reader) = &mut self.proxy else {
            return Ok(true);
        };
        let Some(header) = reader.read(io)? else {
            return Ok(false);
        };
        self.proxy = None;
        self.engine.set_forwarded_for(header.source);
        self.engine.add_earlier(header.received);
        Ok(true)
    }
}

impl<IO: AsyncRead + AsyncWrite + Unpin> Future for LazyConfigAcceptor<IO> {
    type Output = Result<StartHandshake<IO>, Failed<IO>>;

    /// # Panics
    ///
    /// When polled again after it returned `Ready`.
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let me = self.get_mut();
        if let Some(sending) = &mut me.sending {
            ready!(sending.poll_sent(cx, &mut me.deadline));
            let sending = me.sending.take().expect("checked above");
            return Poll::Ready(Err(sending.into_failed()));
        }
        let mut io = me
            .io
            .take()
            .expect("LazyConfigAcceptor polled after it completed");
        #[cfg(feature = "proxy-protocol")]
        let header = me.read_proxy_header(&mut PollIo::new(&mut io, cx));
        #[cfg(not(feature = "proxy-protocol"))]
        let header = Ok(true);
        let outcome = match header {
            Ok(true) => me.engine.read_client_hello(&mut PollIo::new(&mut io, cx)),
            Ok(false) => Ok(None),
            Err(error) => Err(error),
        };
        let error = match outcome {
            Ok(Some(accepted)) => {
                let engine = std::mem::replace(&mut me.engine, Engine::reading_client_hello());
                return Poll::Ready(Ok(StartHandshake {
                    io,
                    accepted,
                    engine,
                    deadline: me.deadline.instant(),
                }));
            }
            Ok(None) if !me.deadline.poll_expired(cx) => {
                me.io = Some(io);
                return Poll::Pending;
            }
            Ok(None) => HandshakeError::TimedOut,
            Err(error) => error,
        };
        let report = Box::new(me.engine.hello_report(None));
        if let Some(alert) = me.engine.take_alert() {
            // The alert goes out as the handshake's would: bounded by the deadline.
            me.sending = Some(SendingAlert::new(io, alert, error, report));
            return Pin::new(me).poll(cx);
        }
        Poll::Ready(Err(Failed { error, io, report }))
    }
}

/// A client's ClientHello, read and waiting for the server to choose a configuration: the
/// role of tokio-rustls' `StartHandshake`, and its name; [`into_stream`](Self::into_stream)
/// goes on as tokio-rustls' does.
#[derive(Debug)]
pub struct StartHandshake<IO> {
    io: IO,
    accepted: Accepted,
    /// The engine that read the hello: what it cost, and any TLS bytes that came with it.
    engine: Engine<Acceptor>,
    deadline: Option<Instant>,
}

impl<IO: AsyncRead + AsyncWrite + Unpin> StartHandshake<IO> {
    /// The client's address, as a PROXY protocol header in front of the hello gave it.
    pub fn forwarded_for(&self) -> Option<SocketAddr> {
        self.engine.forwarded_for()
    }

    /// What the client offered: SNI, ALPN, cipher suites, signature schemes.
    pub fn client_hello(&self) -> ClientHello<'_> {
        self.accepted.client_hello()
    }

    /// The transport.
    pub fn get_ref(&self) -> &IO {
        &self.io
    }

    /// Continues the handshake with `config`, under the deadline that started with
    /// [`Acceptor::start`](crate::Acceptor::start).
    ///
    /// # Errors
    ///
    /// The future resolves to [`HandshakeError::Protocol`] if `config` cannot serve this
    /// client (for example no common cipher suite), with the alert sent.
    ///
    /// # Panics
    ///
    /// As [`Acceptor::accept`](crate::Acceptor::accept): polling it needs the time driver
    /// while there is a deadline.
    pub fn into_stream(self, config: Arc<ServerConfig>) -> AsyncHandshake<IO, ServerConnection> {
        let Self {
            io,
            accepted,
            engine,
            deadline,
        } = self;
        let send_alerts = engine.sends_alerts();
        match engine.into_server(accepted, config) {
            Ok(engine) => AsyncHandshake::new(Handshake::from_engine(engine), io)
                .set_deadline(deadline)
                .with_alerts(send_alerts),
            Err((mut engine, error)) => {
                let report = engine.hello_report(None);
                AsyncHandshake::failed(io, error, engine.take_alert(), report)
                    .set_deadline(deadline)
            }
        }
    }

    /// Refuses the client with the fatal `alert`, sent in the clear (nothing is negotiated
    /// yet) within the deadline: nginx's `ssl_reject_handshake` for an unknown server name
    /// sends `UnrecognisedName`. The future resolves to [`HandshakeError::Refused`], with
    /// `alert_sent` set once the alert is out, and hands the transport back
    /// ([`recoverable`](AsyncHandshake::recoverable)).
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # async fn run(hello: tokio_tls_handshake::accept::StartHandshake<tokio::net::TcpStream>,
    /// #   config: std::sync::Arc<rustls::ServerConfig>) -> std::io::Result<()> {
    /// use rustls::AlertDescription;
    ///
    /// if hello.client_hello().server_name() != Some("example.com") {
    ///     let refused = hello.refuse(AlertDescription::UnrecognisedName).await;
    ///     assert!(refused.is_err());
    ///     return Ok(());
    /// }
    /// let tls = hello.into_stream(config).await?;
    /// # Ok(()) }
    /// ```
    pub fn refuse(self, alert: AlertDescription) -> AsyncHandshake<IO, ServerConnection> {
        let server_name = self.client_hello().server_name().map(str::to_owned);
        let Self {
            io,
            mut engine,
            deadline,
            ..
        } = self;
        let report = engine.hello_report(server_name.as_deref());
        let error = engine.refuse(server_name, alert);
        AsyncHandshake::failed(io, error, engine.take_alert(), report).set_deadline(deadline)
    }

    /// Gives up on the client (for example an unknown server name) and returns the
    /// transport; nothing is sent.
    pub fn into_inner(self) -> IO {
        self.io
    }
}
