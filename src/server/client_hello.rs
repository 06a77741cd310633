//! Reading the ClientHello before choosing a server configuration, with tokio-rustls' names
//! for the same roles: [`Acceptor::start`] gives a [`LazyConfigAcceptor`] future, which
//! resolves to a [`StartHandshake`] whose [`into_stream`](StartHandshake::into_stream)
//! continues the handshake with the configuration chosen, under the same deadline.
//!
//! [`Acceptor::start`]: crate::Acceptor::start

use std::{
    future::Future,
    io::{Read, Write},
    net::SocketAddr,
    pin::Pin,
    sync::Arc,
    task::{ready, Context, Poll},
};

use rustls::{
    server::{Accepted, ClientHello},
    AlertDescription, ServerConfig, ServerConnection,
};
use tokio::{
    io::{AsyncRead, AsyncWrite},
    time::Instant,
};

use crate::{
    engine::alert::OutgoingAlert,
    engine::{
        records::{PeerRecords, Verdict},
        wire::{self, Received, Tracking},
        Engine, Facts,
    },
    io::{adapter::PollIo, deadline::Deadline, sending_alert::SendingAlert},
    AsyncHandshake, Failed, Handshake, HandshakeError, HandshakeReport, HandshakeStats, Role,
};

/// The sync part: rustls' `Acceptor` fed through the same transport rule as the engine's
/// reads (`wire::receive`: counted, watched, earlier bytes first), so plaintext peers, EOF and
/// limits end the same way.
struct HelloReader {
    acceptor: rustls::server::Acceptor,
    watcher: PeerRecords,
    stats: HandshakeStats,
    started: Option<Instant>,
    /// TLS bytes read off the transport before the hello reader began (by a layer in front of
    /// TLS), read before the transport.
    earlier: Vec<u8>,
}

impl std::fmt::Debug for HelloReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HelloReader")
            .field("received", &self.watcher.received())
            .finish_non_exhaustive()
    }
}

impl HelloReader {
    /// What reading the hello cost so far.
    fn stats(&self) -> HandshakeStats {
        let mut stats = self.stats;
        stats.bytes_read = self.watcher.received();
        if let Some(started) = self.started {
            stats.duration = started.elapsed();
        }
        stats
    }

    fn new() -> Self {
        Self {
            acceptor: rustls::server::Acceptor::default(),
            watcher: PeerRecords::new(),
            stats: HandshakeStats::default(),
            started: None,
            earlier: Vec::new(),
        }
    }

    fn peer_closed(&self, close_notify: bool) -> HandshakeError {
        HandshakeError::PeerClosed {
            close_notify,
            received: self.watcher.received(),
        }
    }

    /// `Ok(None)`: the transport has nothing more now.
    fn read<IO: Read + Write + ?Sized>(
        &mut self,
        io: &mut IO,
    ) -> Result<Option<Accepted>, (HandshakeError, Option<OutgoingAlert>)> {
        self.started.get_or_insert_with(Instant::now);
        loop {
            let acceptor = &mut self.acceptor;
            let tracking = Tracking {
                stats: Some(&mut self.stats),
                watcher: Some(&mut self.watcher),
            };
            let received =
                wire::receive(io, &mut self.earlier, tracking, |rd| acceptor.read_tls(rd));
            match received.map_err(|e| (HandshakeError::transport(e), None))? {
                Received::Bytes => self.stats.flights_received = 1,
                Received::WouldBlock => return Ok(None),
                Received::Eof => {
                    let error = self.peer_closed(self.watcher.saw_close_notify());
                    return Err((error, None));
                }
                Received::Refused(e) => {
                    let error = rustls::Error::General(e.to_string());
                    return Err((HandshakeError::protocol(error, None), None));
                }
            }
            if self.watcher.verdict() == Verdict::NotTls {
                let prefix = self.watcher.take_not_tls_prefix();
                return Err((HandshakeError::NotTls { prefix }, None));
            }
            // A plaintext close_notify before the hello: the peer ended the connection
            // (`SSL_do_handshake` returning 0), whatever rustls makes of it.
            if self.watcher.saw_close_notify() {
                return Err((self.peer_closed(true), None));
            }
            match self.acceptor.accept() {
                Ok(None) => {}
                Ok(Some(accepted)) => return Ok(Some(accepted)),
                Err((rustls::Error::AlertReceived(AlertDescription::CloseNotify), _)) => {
                    return Err((self.peer_closed(true), None));
                }
                Err((error, alert)) => {
                    let alert = OutgoingAlert::from_accepted(alert, &error);
                    return Err((HandshakeError::protocol(error, None), alert));
                }
            }
        }
    }
}

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
    proxy: Option<crate::proxy::ProxyHeaderReader>,
    /// The client's address, as a PROXY protocol header gave it.
    proxy_source: Option<SocketAddr>,
    reader: HelloReader,
    deadline: Deadline,
    send_alerts: bool,
    /// The hello was refused; its alert is going out.
    sending: Option<SendingAlert<IO>>,
}

impl<IO> LazyConfigAcceptor<IO> {
    pub(crate) fn new(io: IO, deadline: Option<Instant>, send_alerts: bool) -> Self {
        Self {
            io: Some(io),
            #[cfg(feature = "proxy-protocol")]
            proxy: None,
            proxy_source: None,
            reader: HelloReader::new(),
            deadline: Deadline::new(deadline),
            send_alerts,
            sending: None,
        }
    }

    /// What reading the hello cost, with the client's address from a PROXY header: nothing is
    /// negotiated yet.
    fn report(&self) -> HandshakeReport {
        HandshakeReport::without_connection(Facts {
            proxy_source: self.proxy_source,
            stats: self.reader.stats(),
            ..Facts::none(Role::Server)
        })
    }

    /// The client's address, once a PROXY protocol header gave it.
    pub(crate) fn proxy_source(&self) -> Option<SocketAddr> {
        self.proxy_source
    }

    /// What reading the hello cost so far.
    pub(crate) fn stats(&self) -> HandshakeStats {
        self.reader.stats()
    }

    /// Bytes of the peer's complete TLS records so far.
    pub(crate) fn peer_record_bytes(&self) -> u64 {
        self.reader.watcher.complete_bytes()
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
        reader: Option<crate::proxy::ProxyHeaderReader>,
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
        self.proxy_source = header.source;
        self.reader.earlier = header.received;
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
            Ok(true) => me.reader.read(&mut PollIo::new(&mut io, cx)),
            Ok(false) => Ok(None),
            Err(error) => Err((error, None)),
        };
        let error = match outcome {
            Ok(Some(accepted)) => {
                let reader = std::mem::replace(&mut me.reader, HelloReader::new());
                return Poll::Ready(Ok(StartHandshake {
                    io,
                    accepted,
                    watcher: reader.watcher,
                    stats: reader.stats,
                    started: reader.started,
                    deadline: me.deadline.instant(),
                    send_alerts: me.send_alerts,
                    earlier: reader.earlier,
                    proxy_source: me.proxy_source,
                }));
            }
            Ok(None) if !me.deadline.poll_expired(cx) => {
                me.io = Some(io);
                return Poll::Pending;
            }
            Ok(None) => HandshakeError::TimedOut,
            Err((error, Some(alert))) if me.send_alerts => {
                // The alert goes out as the handshake's would: bounded by the deadline.
                let report = Box::new(me.report());
                me.sending = Some(SendingAlert::new(io, alert, error, report));
                return Pin::new(me).poll(cx);
            }
            Err((error, _)) => error,
        };
        let report = Box::new(me.report());
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
    watcher: PeerRecords,
    stats: HandshakeStats,
    started: Option<Instant>,
    deadline: Option<Instant>,
    send_alerts: bool,
    /// TLS bytes read in front of the hello and not yet given to rustls.
    earlier: Vec<u8>,
    /// The client's address, as a PROXY protocol header gave it.
    proxy_source: Option<SocketAddr>,
}

impl<IO: AsyncRead + AsyncWrite + Unpin> StartHandshake<IO> {
    /// The client's address, as a PROXY protocol header in front of the hello gave it.
    pub fn proxy_source(&self) -> Option<SocketAddr> {
        self.proxy_source
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
            watcher,
            mut stats,
            started,
            deadline,
            send_alerts,
            earlier,
            proxy_source,
        } = self;
        // rustls reads the ClientHello's tickets here, before the engine's first process.
        match crate::engine::ticket_budget::bounded(|| accepted.into_connection(config)) {
            Ok(conn) => {
                let mut engine = Engine::after_client_hello(conn, watcher, stats, started, earlier);
                engine.set_proxy_source(proxy_source);
                engine.set_send_alerts(send_alerts);
                AsyncHandshake::start(Ok(Handshake::from_engine(engine)), io)
                    .set_deadline(deadline)
                    .with_alerts(send_alerts)
            }
            Err((error, alert)) => {
                let alert = OutgoingAlert::from_accepted(alert, &error).filter(|_| send_alerts);
                stats.bytes_read = watcher.received();
                let report = HandshakeReport::without_connection(Facts {
                    proxy_source,
                    stats,
                    ..Facts::none(Role::Server)
                });
                AsyncHandshake::failed(io, HandshakeError::protocol(error, None), alert, report)
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
            watcher,
            mut stats,
            deadline,
            send_alerts,
            proxy_source,
            ..
        } = self;
        stats.bytes_read = watcher.received();
        let report = HandshakeReport::without_connection(Facts {
            proxy_source,
            stats,
            server_name: server_name.as_deref(),
            ..Facts::none(Role::Server)
        });
        let error = HandshakeError::Refused {
            server_name,
            alert_sent: None,
        };
        let alert = send_alerts.then(|| OutgoingAlert::plaintext(alert));
        AsyncHandshake::failed(io, error, alert, report).set_deadline(deadline)
    }

    /// Gives up on the client (for example an unknown server name) and returns the
    /// transport; nothing is sent.
    pub fn into_inner(self) -> IO {
        self.io
    }
}
