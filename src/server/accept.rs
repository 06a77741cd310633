//! The server's side of a handshake: [`Accept`], the future
//! [`Acceptor::accept`](crate::Acceptor::accept) returns, and what it may do before the core's
//! handshake starts: read a PROXY protocol header in front of TLS, read the ClientHello first
//! so that a [`ChooseConfig`] decides how the handshake goes on.
//!
//! The core's [`AsyncHandshake`] knows none of this: `Accept` runs these steps, then drives
//! it. A failure of a step of its own (a bad PROXY header, a ClientHello that cannot be
//! read) becomes a failed `AsyncHandshake`, so that it is traced, counted and reported in the
//! one place every handshake outcome is.
//!
//! # Choosing the configuration from the ClientHello
//!
//! To choose a certificate per SNI name, ALPN or versions, `Acceptor::start(io)` is a `LazyConfigAcceptor` that reads the ClientHello and
//! gives a `StartHandshake` exposing it (`server_name()`, `alpn()`, `cipher_suites()`,
//! `signature_schemes()`); its `into_stream(config)` continues the handshake with the
//! configuration chosen (tokio-rustls' names for the same roles). The acceptor's own
//! configuration is not used; its deadline covers both steps, and the choice in between may
//! await. For a choice made the same way on every connection (certificates by name, refusals),
//! give the acceptor a chooser instead: `Acceptor::with_chooser(impl ChooseConfig)` runs on
//! every `accept` and in a `TlsListener`, and answers each ClientHello with a configuration
//! (`Choice::Serve`), a refusal with the alert of your choice (`Choice::Refuse`, in the clear;
//! `HandshakeError::Refused`) or an ACME challenge (`Choice::AnswerChallenge`). A
//! `CertificateStore` and an `Acme` client are choosers (see Certificates below), and so is a
//! closure `|hello, config| -> Choice`.
//!
//! ```rust,no_run
//! use std::sync::Arc;
//! use tokio_tls_handshake::{Acceptor, ServerTlsStream};
//!
//! async fn route(
//!     acceptor: &Acceptor,
//!     tcp: tokio::net::TcpStream,
//!     a: Arc<rustls::ServerConfig>,
//!     b: Arc<rustls::ServerConfig>,
//! ) -> std::io::Result<ServerTlsStream<tokio::net::TcpStream>> {
//!     let hello = acceptor.start(tcp).await?;
//!     let config = match hello.client_hello().server_name() {
//!         Some("b.example") => b,
//!         _ => a,
//!     };
//!     Ok(hello.into_stream(config).await?)
//! }
//! ```

use std::{
    fmt,
    future::Future,
    net::SocketAddr,
    pin::Pin,
    sync::Arc,
    task::{ready, Context, Poll},
};

use rustls::{ServerConfig, ServerConnection};
use tokio::io::{AsyncRead, AsyncWrite};

use super::choose::Chooser;
pub use super::{
    choose::{Choice, ChooseConfig},
    client_hello::{LazyConfigAcceptor, StartHandshake},
};
use crate::{
    engine::HandshakeStats, error::HandshakeError, io::AsyncHandshake, io::Failed,
    io::ServerTlsStream,
};

/// A server handshake in progress on the transport `IO`, as an
/// [`Acceptor`](crate::Acceptor) set it up: its PROXY header and ClientHello steps, if any,
/// then the handshake. Resolves to an established stream or a [`HandshakeError`];
/// [`recoverable`](Accept::recoverable) hands the transport back on failure.
///
/// tokio-rustls' `Accept`, and its name. `Unpin`, like it.
///
/// # Cancel safety
///
/// Dropping it at any point drops the transport (closing a socket) and leaves nothing
/// running.
#[must_use = "futures do nothing unless you `.await` or poll them"]
pub struct Accept<IO> {
    state: State<IO>,
}

#[allow(
    clippy::large_enum_variant,
    reason = "a handshake spends nearly all its life in Handshaking; the steps before it are boxed"
)]
enum State<IO> {
    /// A PROXY protocol header is read first, in front of TLS, under the handshake's deadline.
    #[cfg(feature = "proxy-protocol")]
    ReadingProxyHeader(Box<proxy::Reading<IO>>),
    /// The ClientHello is read first, and a chooser decides how the handshake goes on.
    Choosing(Box<Choosing<IO>>),
    Handshaking(AsyncHandshake<IO, ServerConnection>),
    /// The chooser chose to answer a challenge: once the handshake completes, the connection
    /// is closed and the future resolves to [`HandshakeError::Answered`].
    Answering(AsyncHandshake<IO, ServerConnection>),
}

/// What answered a connection that a [`ChooseConfig`] gave
/// [`Choice::AnswerChallenge`]: [`HandshakeError::Answered`]'s `by`.
pub const CHALLENGE: &str = "challenge";

struct Choosing<IO> {
    start: LazyConfigAcceptor<IO>,
    chooser: Chooser,
    config: Arc<ServerConfig>,
}

impl<IO> fmt::Debug for Accept<IO> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = match &self.state {
            #[cfg(feature = "proxy-protocol")]
            State::ReadingProxyHeader(_) => "reading the proxy header",
            State::Choosing(_) => "reading the client hello",
            State::Handshaking(_) => "handshaking",
            State::Answering(_) => "answering a challenge",
        };
        f.debug_struct("Accept")
            .field("state", &state)
            .finish_non_exhaustive()
    }
}

impl<IO: AsyncRead + AsyncWrite + Unpin> Accept<IO> {
    /// The handshake, driven as it is.
    pub(crate) fn handshaking(handshake: AsyncHandshake<IO, ServerConnection>) -> Self {
        Self {
            state: State::Handshaking(handshake),
        }
    }

    /// Reads the ClientHello with `start`, then goes on as `chooser` decides.
    pub(crate) fn choosing(
        start: LazyConfigAcceptor<IO>,
        chooser: Chooser,
        config: Arc<ServerConfig>,
    ) -> Self {
        Self {
            state: State::Choosing(Box::new(Choosing {
                start,
                chooser,
                config,
            })),
        }
    }

    /// Reads a PROXY protocol header with `reader`, then drives `handshake`.
    #[cfg(feature = "proxy-protocol")]
    pub(crate) fn reading_proxy_header(
        io: IO,
        reader: crate::server::proxy::ProxyHeaderReader,
        handshake: crate::step::Handshake<ServerConnection>,
        deadline: Option<tokio::time::Instant>,
    ) -> Self {
        Self {
            state: State::ReadingProxyHeader(Box::new(proxy::Reading::new(
                io, reader, handshake, deadline,
            ))),
        }
    }

    /// The transport, unless the future has completed.
    pub fn get_ref(&self) -> Option<&IO> {
        match &self.state {
            #[cfg(feature = "proxy-protocol")]
            State::ReadingProxyHeader(reading) => Some(reading.get_ref()),
            State::Choosing(choosing) => choosing.start.get_ref(),
            State::Handshaking(handshake) | State::Answering(handshake) => handshake.get_ref(),
        }
    }

    /// The transport, mutably, unless the future has completed. Reading or writing it
    /// directly corrupts the handshake.
    pub fn get_mut(&mut self) -> Option<&mut IO> {
        match &mut self.state {
            #[cfg(feature = "proxy-protocol")]
            State::ReadingProxyHeader(reading) => Some(reading.get_mut()),
            State::Choosing(choosing) => choosing.start.get_mut(),
            State::Handshaking(handshake) | State::Answering(handshake) => handshake.get_mut(),
        }
    }

    /// What the handshake has cost so far, while it is still in progress.
    pub fn stats(&self) -> Option<HandshakeStats> {
        match &self.state {
            #[cfg(feature = "proxy-protocol")]
            State::ReadingProxyHeader(reading) => Some(reading.stats()),
            State::Choosing(choosing) => Some(choosing.start.stats()),
            State::Handshaking(handshake) | State::Answering(handshake) => handshake.stats(),
        }
    }

    /// The client's address, once a PROXY protocol header gave it.
    pub fn forwarded_for(&self) -> Option<SocketAddr> {
        match &self.state {
            #[cfg(feature = "proxy-protocol")]
            State::ReadingProxyHeader(_) => None,
            State::Choosing(choosing) => choosing.start.forwarded_for(),
            State::Handshaking(handshake) | State::Answering(handshake) => {
                handshake.forwarded_for()
            }
        }
    }

    /// Bytes of the peer's complete TLS records so far: the progress a listener weighs when
    /// it must shed a handshake.
    pub(crate) fn peer_record_bytes(&self) -> Option<u64> {
        match &self.state {
            #[cfg(feature = "proxy-protocol")]
            State::ReadingProxyHeader(reading) => Some(reading.peer_record_bytes()),
            State::Choosing(choosing) => Some(choosing.start.peer_record_bytes()),
            State::Handshaking(handshake) | State::Answering(handshake) => {
                handshake.peer_record_bytes()
            }
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
    pub fn recoverable(self) -> RecoverableAccept<IO> {
        RecoverableAccept { inner: self }
    }

    /// Polls the handshake, keeping the transport on failure.
    ///
    /// # Panics
    ///
    /// When polled again after it returned `Ready`.
    pub fn poll_accept(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Result<ServerTlsStream<IO>, Failed<IO>>> {
        loop {
            self.state = match &mut self.state {
                #[cfg(feature = "proxy-protocol")]
                State::ReadingProxyHeader(reading) => {
                    State::Handshaking(ready!(reading.poll_read(cx)))
                }
                State::Choosing(choosing) => {
                    match ready!(Pin::new(&mut choosing.start).poll(cx)) {
                        Ok(hello) => as_chosen(hello, &choosing.chooser, &choosing.config),
                        // Reported by the core, as every outcome is.
                        Err(failed) => State::Handshaking(AsyncHandshake::from_failed(failed)),
                    }
                }
                State::Handshaking(handshake) => return Pin::new(handshake).poll_handshake(cx),
                State::Answering(handshake) => {
                    let stream = ready!(Pin::new(handshake).poll_handshake(cx))?;
                    return Poll::Ready(Err(close_answered(stream, cx)));
                }
            };
        }
    }
}

/// Goes on with the ClientHello as the chooser decides.
fn as_chosen<IO: AsyncRead + AsyncWrite + Unpin>(
    hello: StartHandshake<IO>,
    chooser: &Chooser,
    config: &Arc<ServerConfig>,
) -> State<IO> {
    match chooser.0.choose(&hello.client_hello(), config) {
        Choice::Serve(config) => State::Handshaking(hello.into_stream(config)),
        Choice::Refuse(alert) => State::Handshaking(hello.refuse(alert)),
        Choice::AnswerChallenge(config) => State::Answering(hello.into_stream(config)),
    }
}

/// The connection only answered a challenge: close_notify and the transport's shutdown go out
/// if the transport takes them now (best effort: the challenger has what it came for), and
/// the transport is handed back.
fn close_answered<IO: AsyncRead + AsyncWrite + Unpin>(
    mut stream: ServerTlsStream<IO>,
    cx: &mut Context<'_>,
) -> Failed<IO> {
    if let Poll::Ready(Err(e)) = Pin::new(&mut stream).poll_shutdown(cx) {
        crate::trace::alert_not_sent(&e);
    }
    let report = Box::new(stream.report());
    let (io, _) = stream.into_inner();
    Failed {
        error: HandshakeError::Answered { by: CHALLENGE },
        io,
        report,
    }
}

impl<IO: AsyncRead + AsyncWrite + Unpin> Future for Accept<IO> {
    type Output = Result<ServerTlsStream<IO>, HandshakeError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        self.poll_accept(cx).map_err(Failed::into_error)
    }
}

/// [`Accept`] resolving to `Result<TlsStream, Failed<IO>>`, from [`Accept::recoverable`].
#[must_use = "futures do nothing unless you `.await` or poll them"]
#[derive(Debug)]
pub struct RecoverableAccept<IO> {
    inner: Accept<IO>,
}

impl<IO: AsyncRead + AsyncWrite + Unpin> RecoverableAccept<IO> {
    /// The transport, unless the future has completed.
    pub fn get_ref(&self) -> Option<&IO> {
        self.inner.get_ref()
    }
}

impl<IO: AsyncRead + AsyncWrite + Unpin> Future for RecoverableAccept<IO> {
    type Output = Result<ServerTlsStream<IO>, Failed<IO>>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        Pin::new(&mut self.inner).poll_accept(cx)
    }
}

/// The PROXY protocol header read in front of the handshake.
#[cfg(feature = "proxy-protocol")]
mod proxy {
    use std::task::{Context, Poll};

    use rustls::ServerConnection;
    use tokio::{
        io::{AsyncRead, AsyncWrite},
        time::Instant,
    };

    use crate::{
        engine::HandshakeStats,
        error::HandshakeError,
        io::AsyncHandshake,
        io::{adapter::PollIo, deadline::Deadline},
        server::proxy::ProxyHeaderReader,
        step::Handshake,
    };

    pub(super) struct Reading<IO> {
        io: Option<IO>,
        reader: ProxyHeaderReader,
        handshake: Option<Handshake<ServerConnection>>,
        /// The handshake's one deadline: the header is read under it too.
        at: Option<Instant>,
        deadline: Deadline,
    }

    impl<IO: AsyncRead + AsyncWrite + Unpin> Reading<IO> {
        pub(super) fn new(
            io: IO,
            reader: ProxyHeaderReader,
            handshake: Handshake<ServerConnection>,
            deadline: Option<Instant>,
        ) -> Self {
            Self {
                io: Some(io),
                reader,
                handshake: Some(handshake),
                at: deadline,
                deadline: Deadline::new(deadline),
            }
        }

        pub(super) fn get_ref(&self) -> &IO {
            self.io
                .as_ref()
                .expect("the transport, until the header is read")
        }

        pub(super) fn get_mut(&mut self) -> &mut IO {
            self.io
                .as_mut()
                .expect("the transport, until the header is read")
        }

        fn handshake(&self) -> &Handshake<ServerConnection> {
            self.handshake
                .as_ref()
                .expect("the handshake, until the header is read")
        }

        pub(super) fn stats(&self) -> HandshakeStats {
            self.handshake().stats()
        }

        pub(super) fn peer_record_bytes(&self) -> u64 {
            self.handshake().peer_record_bytes()
        }

        /// The handshake to drive once the header is read, or a failed one to report.
        pub(super) fn poll_read(
            &mut self,
            cx: &mut Context<'_>,
        ) -> Poll<AsyncHandshake<IO, ServerConnection>> {
            let io = self.io.as_mut().expect("polled after the header was read");
            let outcome = match self.reader.read(&mut PollIo::new(io, cx)) {
                Ok(Some(header)) => Ok(header),
                Ok(None) if !self.deadline.poll_expired(cx) => return Poll::Pending,
                Ok(None) => Err(HandshakeError::TimedOut),
                Err(error) => Err(error),
            };
            let (Some(io), Some(handshake)) = (self.io.take(), self.handshake.take()) else {
                unreachable!("taken once, here")
            };
            Poll::Ready(match outcome {
                Ok(header) => {
                    let mut handshake = handshake.with_received(header.received);
                    handshake.set_forwarded_for(header.source);
                    AsyncHandshake::new(handshake, io).set_deadline(self.at)
                }
                Err(error) => {
                    let report = handshake.report();
                    AsyncHandshake::failed(io, error, None, report).set_deadline(self.at)
                }
            })
        }
    }
}
