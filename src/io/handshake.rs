//! [`AsyncHandshake`]: the handshake as a future, over any Tokio transport.

use std::{
    future::Future,
    net::SocketAddr,
    pin::Pin,
    sync::Arc,
    task::{Context, Poll},
    time::Duration,
};

use rustls::{
    pki_types::ServerName, ClientConfig, ClientConnection, ServerConfig, ServerConnection,
};
use tokio::{
    io::{AsyncRead, AsyncWrite},
    time::Instant,
};

use super::{
    adapter::PollIo, deadline::Deadline, recoverable::Recoverable, sending_alert::SendingAlert,
};
use crate::{
    engine::HandshakeReport,
    engine::HandshakeStats,
    engine::TlsConnection,
    engine::{alert::OutgoingAlert, Facts},
    error::HandshakeError,
    io::Failed,
    io::{span::HandshakeSpan, TlsStream},
    step::Handshake,
    step::Step,
};

/// A TLS handshake in progress on the transport `IO`, for the role of `C`
/// (`rustls::ClientConnection` or `rustls::ServerConnection`).
///
/// Resolves to an established [`TlsStream`] or a [`HandshakeError`]. Each poll runs the
/// sync step ([`Handshake::do_handshake`]) through an adapter that turns the transport's
/// `Poll::Pending` into `WouldBlock`; a step that wants to read or write therefore means
/// the transport has registered the waker, and the future returns `Pending`. It never wakes
/// itself.
///
/// Made by [`Connector::connect`](crate::Connector::connect) or the constructors here; an
/// [`Acceptor`](crate::Acceptor)'s handshake is driven by the server layer's
/// [`Accept`](crate::accept::Accept), which reads what comes before TLS first.
///
/// It is `Unpin` (the deadline's timer is boxed on first use), so `tokio::select!` can poll
/// `&mut handshake` in a loop, as with tokio-rustls' `Accept` and `Connect`.
///
/// # Cancel safety
///
/// Dropping it at any point drops the transport (closing a socket) and leaves nothing
/// running. [`AsyncHandshake::recoverable`] gives the transport back on failure instead.
///
/// # Alerts
///
/// After a local fatal error the alert is written at once if the transport takes it. If
/// the transport is full, the future keeps trying until the deadline, then reports the
/// original error; with no deadline it reports at once. `alert_sent` tells which happened.
#[must_use = "futures do nothing unless you `.await` or poll them"]
#[derive(Debug)]
pub struct AsyncHandshake<IO, C> {
    state: State<IO, C>,
    deadline: Deadline,
    trace: HandshakeSpan,
}

#[derive(Debug)]
#[allow(
    clippy::large_enum_variant,
    reason = "a handshake spends nearly all its life in Handshaking; boxing it would cost an allocation per handshake to save bytes in states that last a moment"
)]
enum State<IO, C> {
    Handshaking {
        io: IO,
        handshake: Handshake<C>,
    },
    /// The handshake failed locally; its fatal alert is still going out.
    SendingAlert(SendingAlert<IO>),
    /// Failed before the first poll (the connection could not be created).
    Failed(Failed<IO>),
    Finished,
}

impl<IO> AsyncHandshake<IO, ClientConnection>
where
    IO: AsyncRead + AsyncWrite + Unpin,
{
    /// A client handshake with `server_name` over `io`.
    pub fn connect(config: Arc<ClientConfig>, server_name: ServerName<'static>, io: IO) -> Self {
        Self::start(Handshake::connect(config, server_name), io)
    }
}

impl<IO> AsyncHandshake<IO, ServerConnection>
where
    IO: AsyncRead + AsyncWrite + Unpin,
{
    /// A server handshake over `io`, with no deadline (see [`Acceptor`](crate::Acceptor) for
    /// one with a default).
    pub fn accept(config: Arc<ServerConfig>, io: IO) -> Self {
        Self::start(Handshake::accept(config), io)
    }
}

impl<IO, C> AsyncHandshake<IO, C>
where
    IO: AsyncRead + AsyncWrite + Unpin,
    C: TlsConnection,
{
    /// Drives `handshake` over `io`.
    pub fn new(handshake: Handshake<C>, io: IO) -> Self {
        Self::start(Ok(handshake), io)
    }

    pub(crate) fn start(handshake: Result<Handshake<C>, HandshakeError>, io: IO) -> Self {
        let state = match handshake {
            Ok(handshake) => State::Handshaking { io, handshake },
            Err(error) => State::Failed(Failed {
                error,
                io,
                report: Box::new(HandshakeReport::without_connection(Facts::none(C::ROLE))),
            }),
        };
        Self {
            state,
            deadline: Deadline::default(),
            trace: HandshakeSpan::default(),
        }
    }

    /// The client's address, as a layer in front of TLS (a PROXY protocol header) told it.
    pub(crate) fn forwarded_for(&self) -> Option<SocketAddr> {
        self.handshake().and_then(|h| h.engine().forwarded_for())
    }

    /// A handshake that failed before it started (in a layer in front of it), reported as
    /// every outcome is, on its first poll.
    pub(crate) fn from_failed(failed: Failed<IO>) -> Self {
        Self {
            state: State::Failed(failed),
            deadline: Deadline::default(),
            trace: HandshakeSpan::default(),
        }
    }

    /// Fails the handshake with [`HandshakeError::TimedOut`] unless it completes within
    /// `timeout` from now. The one deadline covers the whole handshake, not each read.
    ///
    /// # Panics
    ///
    /// Polling the future panics outside a Tokio runtime with the time driver enabled, as
    /// `tokio::time::sleep` does.
    pub fn with_timeout(self, timeout: Duration) -> Self {
        let deadline = Instant::now().checked_add(timeout);
        self.set_deadline(deadline)
    }

    /// Fails the handshake with [`HandshakeError::TimedOut`] unless it completes by
    /// `deadline`.
    pub fn with_deadline(self, deadline: Instant) -> Self {
        self.set_deadline(Some(deadline))
    }

    pub(crate) fn set_deadline(mut self, deadline: Option<Instant>) -> Self {
        self.deadline = Deadline::new(deadline);
        self
    }

    /// A handshake that already failed; `alert` still goes out (within the deadline).
    pub(crate) fn failed(
        io: IO,
        error: HandshakeError,
        alert: Option<OutgoingAlert>,
        report: HandshakeReport,
    ) -> Self {
        Self {
            state: failing(io, error, alert, Box::new(report)),
            deadline: Deadline::default(),
            trace: HandshakeSpan::default(),
        }
    }

    /// Applies an entry point's defaults: a timeout from now, and the alert policy.
    pub(crate) fn with_defaults(self, timeout: Option<Duration>, send_alerts: bool) -> Self {
        let deadline = timeout.and_then(|t| Instant::now().checked_add(t));
        self.set_deadline(deadline).with_alerts(send_alerts)
    }

    /// Whether a fatal alert goes to the peer when this side rejects it (default: yes).
    pub fn with_alerts(mut self, send: bool) -> Self {
        if let Some(handshake) = self.handshake_mut() {
            handshake.set_alerts(send);
        }
        self
    }

    /// The handshake, before or while it runs.
    fn handshake(&self) -> Option<&Handshake<C>> {
        match &self.state {
            State::Handshaking { handshake, .. } => Some(handshake),
            _ => None,
        }
    }

    fn handshake_mut(&mut self) -> Option<&mut Handshake<C>> {
        match &mut self.state {
            State::Handshaking { handshake, .. } => Some(handshake),
            _ => None,
        }
    }

    /// The transport, unless the future has completed.
    pub fn get_ref(&self) -> Option<&IO> {
        match &self.state {
            State::Handshaking { io, .. } => Some(io),
            State::SendingAlert(sending) => Some(&sending.io),
            State::Failed(failed) => Some(&failed.io),
            State::Finished => None,
        }
    }

    /// What the handshake has cost so far (bytes received show its progress), while it is
    /// still handshaking.
    pub fn stats(&self) -> Option<HandshakeStats> {
        self.handshake().map(Handshake::stats)
    }

    /// Bytes of the peer's complete TLS records so far, while handshaking: the progress a
    /// listener weighs when it must shed a handshake.
    pub(crate) fn peer_record_bytes(&self) -> Option<u64> {
        self.handshake().map(Handshake::peer_record_bytes)
    }

    /// The transport, mutably, unless the future has completed. Reading or writing it
    /// directly corrupts the handshake.
    pub fn get_mut(&mut self) -> Option<&mut IO> {
        match &mut self.state {
            State::Handshaking { io, .. } => Some(io),
            State::SendingAlert(sending) => Some(&mut sending.io),
            State::Failed(failed) => Some(&mut failed.io),
            State::Finished => None,
        }
    }

    /// The same handshake, resolving to `Result<TlsStream, Failed<IO>>`: every failure hands
    /// the transport back, for a plaintext answer, STARTTLS-style fallback or logging.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # async fn run(acceptor: tokio_tls_handshake::Acceptor, tcp: tokio::net::TcpStream) {
    /// use tokio::io::AsyncWriteExt;
    /// use tokio_tls_handshake::{Failed, HandshakeError};
    ///
    /// match acceptor.accept(tcp).recoverable().await {
    ///     Ok(tls) => { /* serve */ }
    ///     Err(Failed { error: HandshakeError::NotTls { .. }, mut io, .. }) => {
    ///         let _ = io.write_all(b"HTTP/1.1 400 Bad Request\r\n\r\nthis port speaks https\n").await;
    ///     }
    ///     Err(failed) => eprintln!("handshake failed: {}", failed.error),
    /// }
    /// # }
    /// ```
    pub fn recoverable(self) -> Recoverable<IO, C> {
        Recoverable::new(self)
    }

    /// Polls the handshake, keeping the transport on failure.
    ///
    /// # Panics
    ///
    /// When polled again after it returned `Ready`.
    pub fn poll_handshake(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Result<TlsStream<IO, C>, Failed<IO>>> {
        let me = self.get_mut();
        #[cfg_attr(not(feature = "tracing"), allow(clippy::let_unit_value))]
        let _entered = me.trace.enter(C::ROLE);
        loop {
            match &mut me.state {
                State::Handshaking { io, handshake } => {
                    let step = handshake.do_handshake(&mut PollIo::new(io, cx));
                    match step {
                        Ok(Step::Done) => {
                            let State::Handshaking { io, handshake } = take(&mut me.state) else {
                                unreachable!("matched above")
                            };
                            let stream = TlsStream::new(io, handshake.into_engine());
                            if me.trace.is_enabled() {
                                me.trace.completed(&stream.report());
                            }
                            crate::measure::handshake_ended(
                                C::ROLE,
                                None,
                                stream.connection().protocol_version(),
                                stream.connection().alpn_protocol(),
                                stream.stats().duration,
                            );
                            return Poll::Ready(Ok(stream));
                        }
                        Ok(Step::WantRead | Step::WantWrite) => {
                            if !me.deadline.poll_expired(cx) {
                                return Poll::Pending;
                            }
                            me.state = fail(take(&mut me.state), HandshakeError::TimedOut);
                        }
                        // Waiting for the alert to drain is bounded by the deadline; without
                        // one, the single attempt the step made is all it gets.
                        Err(error) if me.deadline.is_set() => {
                            let alert = handshake.take_alert();
                            me.state = after_error(take(&mut me.state), error, alert);
                        }
                        Err(error) => me.state = fail(take(&mut me.state), error),
                    }
                }
                State::SendingAlert(sending) => {
                    if sending.poll_sent(cx, &mut me.deadline).is_pending() {
                        return Poll::Pending;
                    }
                    let State::SendingAlert(sending) = take(&mut me.state) else {
                        unreachable!("matched above")
                    };
                    me.state = State::Failed(sending.into_failed());
                }
                State::Failed(_) => {
                    let State::Failed(failed) = take(&mut me.state) else {
                        unreachable!("matched above")
                    };
                    me.trace.failed(&failed.error, &failed.report);
                    crate::measure::handshake_ended(
                        C::ROLE,
                        Some(&failed.error),
                        failed.report.version,
                        failed.report.alpn.as_deref(),
                        failed.report.stats.duration,
                    );
                    return Poll::Ready(Err(failed));
                }
                State::Finished => panic!("AsyncHandshake polled after it completed"),
            }
        }
    }
}

fn take<IO, C>(state: &mut State<IO, C>) -> State<IO, C> {
    std::mem::replace(state, State::Finished)
}

/// After a failure: send the alert if there is one left, else report.
fn after_error<IO, C: TlsConnection>(
    state: State<IO, C>,
    error: HandshakeError,
    alert: Option<OutgoingAlert>,
) -> State<IO, C> {
    match state {
        State::Handshaking { io, handshake } => {
            failing(io, error, alert, Box::new(handshake.report()))
        }
        State::SendingAlert(sending) => State::Failed(Failed {
            error,
            io: sending.io,
            report: sending.report,
        }),
        other => other,
    }
}

/// A failed handshake: its alert still to send, or ready to report.
fn failing<IO, C>(
    io: IO,
    error: HandshakeError,
    alert: Option<OutgoingAlert>,
    report: Box<HandshakeReport>,
) -> State<IO, C> {
    match alert {
        Some(alert) => State::SendingAlert(SendingAlert {
            io,
            alert,
            error,
            report,
        }),
        None => State::Failed(Failed { error, io, report }),
    }
}

fn fail<IO, C: TlsConnection>(state: State<IO, C>, error: HandshakeError) -> State<IO, C> {
    after_error(state, error, None)
}

impl<IO, C> Future for AsyncHandshake<IO, C>
where
    IO: AsyncRead + AsyncWrite + Unpin,
    C: TlsConnection,
{
    type Output = Result<TlsStream<IO, C>, HandshakeError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        self.poll_handshake(cx).map_err(Failed::into_error)
    }
}
