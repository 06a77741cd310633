//! [`TlsListener`]: accepts connections and runs many server handshakes at once, in one task,
//! each under its own deadline, shedding the least advanced when full.

use std::{
    fmt,
    future::Future,
    io,
    net::SocketAddr,
    panic::{catch_unwind, AssertUnwindSafe},
    pin::Pin,
    task::{Context, Poll, Waker},
    time::Duration,
};

use futures::stream::{FuturesUnordered, Stream, StreamExt};
use rustls::ServerConnection;
use tokio::{
    io::{AsyncRead, AsyncWrite},
    net::{TcpListener, TcpStream},
    time::{Instant, Sleep},
};

use crate::{Acceptor, AsyncHandshake, Failed, HandshakeError, HandshakeReport, TlsStream};

/// How many handshakes may be in flight at once by default.
pub const DEFAULT_MAX_IN_FLIGHT: usize = 1024;
/// How many connections one wake-up accepts at most before letting other tasks run.
pub const DEFAULT_ACCEPT_BATCH: usize = 64;
/// How long accepting pauses after an accept error (EMFILE, ENFILE, ...).
pub const ACCEPT_ERROR_BACKOFF: Duration = Duration::from_millis(50);

/// An accepted transport and its peer's address; `None` when no more will come.
pub type Connection<IO> = Option<io::Result<(IO, SocketAddr)>>;

/// A source of accepted transports, each with its peer's address.
pub trait Incoming: Unpin {
    /// The transport.
    type Io: AsyncRead + AsyncWrite + Unpin;
    /// Polls for the next connection; `Ready(None)` when there will be no more.
    fn poll_incoming(&mut self, cx: &mut Context<'_>) -> Poll<Connection<Self::Io>>;
}

impl Incoming for TcpListener {
    type Io = TcpStream;
    fn poll_incoming(&mut self, cx: &mut Context<'_>) -> Poll<Connection<TcpStream>> {
        self.poll_accept(cx).map(Some)
    }
}

/// Any `Stream` of `io::Result<(transport, peer address)>` as an [`Incoming`], for
/// [`TlsListener::from_stream`].
#[derive(Debug)]
pub struct StreamIncoming<S>(pub S);

impl<S, IO> Incoming for StreamIncoming<S>
where
    S: Stream<Item = io::Result<(IO, SocketAddr)>> + Unpin,
    IO: AsyncRead + AsyncWrite + Unpin,
{
    type Io = IO;
    fn poll_incoming(
        &mut self,
        cx: &mut Context<'_>,
    ) -> Poll<Option<io::Result<(IO, SocketAddr)>>> {
        self.0.poll_next_unpin(cx)
    }
}

/// Why the listener produced no established stream this time. Neither ends the listener.
#[derive(Debug)]
#[non_exhaustive]
pub enum ListenError<IO> {
    /// A handshake failed (including [`HandshakeError::TimedOut`] and
    /// [`HandshakeError::Evicted`]).
    Handshake {
        /// The peer's address.
        peer: SocketAddr,
        /// Why.
        error: HandshakeError,
        /// The transport, where the failure leaves one (not after a panic).
        io: Option<IO>,
        /// What the handshake had negotiated and cost (not after an eviction or a panic).
        report: Option<Box<HandshakeReport>>,
    },
    /// Accepting a connection failed (EMFILE, ENFILE, ECONNABORTED, ...). The listener
    /// pauses accepting for [`ACCEPT_ERROR_BACKOFF`], keeps driving its handshakes, and goes
    /// on.
    Accept(io::Error),
}

impl<IO> fmt::Display for ListenError<IO> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Handshake { peer, error, .. } => write!(f, "{peer}: {error}"),
            Self::Accept(e) => write!(f, "accept failed: {e}"),
        }
    }
}

impl<IO: fmt::Debug> std::error::Error for ListenError<IO> {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Handshake { error, .. } => Some(error),
            Self::Accept(e) => Some(e),
        }
    }
}

/// What a listener has done so far.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ListenerStats {
    /// Connections accepted.
    pub accepted: u64,
    /// Handshakes completed.
    pub established: u64,
    /// Handshakes failed, evictions and timeouts included.
    pub failed: u64,
    /// Handshakes shed to make room (also counted in `failed`).
    pub evicted: u64,
    /// Accept errors.
    pub accept_errors: u64,
}

/// What one finished handshake yields.
pub type Established<IO> = (TlsStream<IO, ServerConnection>, SocketAddr);

/// Accepts connections and completes their TLS handshakes concurrently, in one task.
///
/// - Each handshake runs under the [`Acceptor`]'s deadline (10 s by default).
/// - At most [`max_in_flight`](TlsListener::max_in_flight) handshakes run at once. A new
///   connection beyond that **evicts** the handshake that has made the least progress (the
///   fewest bytes received, so no byte at all first; then the oldest), which is reported as
///   [`HandshakeError::Evicted`]. A full listener never stops accepting: idle or slow peers
///   cannot lock good clients out.
/// - One wake-up accepts at most [`accept_batch`](TlsListener::accept_batch) connections
///   and polls each ready handshake once, then yields.
/// - Accept errors are reported, followed by a short pause in accepting; they never end the
///   listener. A panic while driving one handshake fails that handshake only.
/// - Dropping the listener drops every in-flight handshake and closes its transport.
///
/// # Examples
///
/// ```no_run
/// # async fn run(config: std::sync::Arc<rustls::ServerConfig>) -> std::io::Result<()> {
/// use tokio_tls_handshake::{Acceptor, ListenError, TlsListener};
///
/// let tcp = tokio::net::TcpListener::bind("127.0.0.1:8443").await?;
/// let mut listener = TlsListener::new(tcp, Acceptor::from(config));
/// while let Some(next) = listener.accept().await {
///     match next {
///         Ok((tls, peer)) => { tokio::spawn(async move { /* serve tls */ }); }
///         Err(ListenError::Handshake { peer, error, .. }) => eprintln!("{peer}: {error}"),
///         Err(e) => eprintln!("{e}"),
///     }
/// }
/// # Ok(()) }
/// ```
pub struct TlsListener<I: Incoming> {
    incoming: I,
    incoming_done: bool,
    acceptor: Acceptor,
    in_flight: FuturesUnordered<InFlight<I::Io>>,
    max_in_flight: usize,
    accept_batch: usize,
    backoff: Option<Pin<Box<Sleep>>>,
    stats: ListenerStats,
}

impl<I: Incoming> fmt::Debug for TlsListener<I> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TlsListener")
            .field("in_flight", &self.in_flight.len())
            .field("max_in_flight", &self.max_in_flight)
            .field("stats", &self.stats)
            .finish_non_exhaustive()
    }
}

impl TlsListener<TcpListener> {
    /// A listener accepting from `tcp`.
    pub fn new(tcp: TcpListener, acceptor: Acceptor) -> Self {
        Self::with_incoming(tcp, acceptor)
    }
}

impl<S, IO> TlsListener<StreamIncoming<S>>
where
    S: Stream<Item = io::Result<(IO, SocketAddr)>> + Unpin,
    IO: AsyncRead + AsyncWrite + Unpin,
{
    /// A listener over any stream of `(transport, peer address)`.
    pub fn from_stream(stream: S, acceptor: Acceptor) -> Self {
        Self::with_incoming(StreamIncoming(stream), acceptor)
    }
}

impl<I: Incoming> TlsListener<I> {
    /// A listener over any [`Incoming`].
    pub fn with_incoming(incoming: I, acceptor: Acceptor) -> Self {
        Self {
            incoming,
            incoming_done: false,
            acceptor,
            in_flight: FuturesUnordered::new(),
            max_in_flight: DEFAULT_MAX_IN_FLIGHT,
            accept_batch: DEFAULT_ACCEPT_BATCH,
            backoff: None,
            stats: ListenerStats::default(),
        }
    }

    /// At most `max` handshakes in flight (at least 1); beyond that, new connections evict.
    pub fn max_in_flight(mut self, max: usize) -> Self {
        self.max_in_flight = max.max(1);
        self
    }

    /// At most `batch` accepts per wake-up (at least 1).
    pub fn accept_batch(mut self, batch: usize) -> Self {
        self.accept_batch = batch.max(1);
        self
    }

    /// Handshakes in flight now.
    pub fn in_flight(&self) -> usize {
        self.in_flight.len()
    }

    /// What the listener has done so far.
    pub fn stats(&self) -> ListenerStats {
        self.stats
    }

    /// The next established stream or failure. `None` once the incoming connections ended
    /// and every handshake finished (never, for a `TcpListener`).
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: all state lives in the listener, so dropping this future loses no
    /// connection and no handshake.
    pub async fn accept(&mut self) -> Option<Result<Established<I::Io>, ListenError<I::Io>>> {
        self.next().await
    }

    /// Accepts up to a batch of connections. `Some(error)` to report an accept error.
    /// Returns whether the batch was used up (more may be waiting).
    fn poll_accepts(&mut self, cx: &mut Context<'_>) -> (Option<io::Error>, bool) {
        if let Some(backoff) = &mut self.backoff {
            if backoff.as_mut().poll(cx).is_pending() {
                return (None, false);
            }
            self.backoff = None;
        }
        if self.incoming_done {
            return (None, false);
        }
        for _ in 0..self.accept_batch {
            match self.incoming.poll_incoming(cx) {
                Poll::Ready(Some(Ok((io, peer)))) => {
                    self.stats.accepted += 1;
                    if self.in_flight.len() >= self.max_in_flight {
                        self.evict_one();
                    }
                    let handshake = Box::pin(self.acceptor.accept(io));
                    self.in_flight.push(InFlight::new(handshake, peer));
                }
                Poll::Ready(Some(Err(e))) => {
                    self.stats.accept_errors += 1;
                    let mut backoff = Box::pin(tokio::time::sleep(ACCEPT_ERROR_BACKOFF));
                    // Registers the timer, so the pause ends with a wake-up.
                    let _ = backoff.as_mut().poll(cx);
                    self.backoff = Some(backoff);
                    return (Some(e), false);
                }
                Poll::Ready(None) => {
                    self.incoming_done = true;
                    return (None, false);
                }
                Poll::Pending => return (None, false),
            }
        }
        (None, true)
    }

    /// Marks the least advanced handshake to be shed and wakes it: the fewest bytes received
    /// (so a peer that sent nothing goes first, and a slow drip before a real ClientHello),
    /// then the oldest.
    fn evict_one(&mut self) {
        let victim = self
            .in_flight
            .iter_mut()
            .filter(|h| !h.evicted)
            .min_by_key(|h| (h.received, h.started));
        if let Some(victim) = victim {
            victim.evicted = true;
            if let Some(waker) = victim.waker.take() {
                waker.wake();
            }
        }
    }

    fn count(&mut self, item: &Result<Established<I::Io>, ListenError<I::Io>>) {
        match item {
            Ok(_) => self.stats.established += 1,
            Err(ListenError::Handshake { error, .. }) => {
                self.stats.failed += 1;
                if matches!(error, HandshakeError::Evicted) {
                    self.stats.evicted += 1;
                }
            }
            Err(ListenError::Accept(_)) => {}
        }
    }
}

impl<I: Incoming> Stream for TlsListener<I> {
    type Item = Result<Established<I::Io>, ListenError<I::Io>>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        let (accept_error, more_waiting) = this.poll_accepts(cx);
        if let Some(e) = accept_error {
            return Poll::Ready(Some(Err(ListenError::Accept(e))));
        }
        // FuturesUnordered polls each woken handshake at most once per call, then yields.
        match this.in_flight.poll_next_unpin(cx) {
            Poll::Ready(Some(item)) => {
                this.count(&item);
                return Poll::Ready(Some(item));
            }
            Poll::Ready(None) if this.incoming_done => return Poll::Ready(None),
            Poll::Ready(None) | Poll::Pending => {}
        }
        if more_waiting {
            // The batch was used up with connections still queued: come back after other
            // tasks had their turn.
            cx.waker().wake_by_ref();
        }
        Poll::Pending
    }
}

/// One handshake in flight, with what eviction needs to know about it.
struct InFlight<IO> {
    handshake: Option<Pin<Box<AsyncHandshake<IO, ServerConnection>>>>,
    peer: SocketAddr,
    started: Instant,
    /// Bytes received so far: the measure of progress.
    received: u64,
    evicted: bool,
    waker: Option<Waker>,
}

impl<IO> InFlight<IO> {
    fn new(handshake: Pin<Box<AsyncHandshake<IO, ServerConnection>>>, peer: SocketAddr) -> Self {
        Self {
            handshake: Some(handshake),
            peer,
            started: Instant::now(),
            received: 0,
            evicted: false,
            waker: None,
        }
    }
}

impl<IO: AsyncRead + AsyncWrite + Unpin> Future for InFlight<IO> {
    type Output = Result<Established<IO>, ListenError<IO>>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        let peer = this.peer;
        let fail = |error, io, report| {
            Poll::Ready(Err(ListenError::Handshake {
                peer,
                error,
                io,
                report,
            }))
        };
        let Some(handshake) = this.handshake.as_mut() else {
            return fail(HandshakeError::Panicked, None, None);
        };
        if this.evicted {
            let io = handshake.as_mut().abandon();
            this.handshake = None;
            return fail(HandshakeError::Evicted, io, None);
        }
        let polled = catch_unwind(AssertUnwindSafe(|| handshake.as_mut().poll_handshake(cx)));
        match polled {
            Ok(Poll::Pending) => {
                this.received = handshake.cost().map_or(this.received, |c| c.bytes_read);
                if !this.waker.as_ref().is_some_and(|w| w.will_wake(cx.waker())) {
                    this.waker = Some(cx.waker().clone());
                }
                Poll::Pending
            }
            Ok(Poll::Ready(Ok(tls))) => Poll::Ready(Ok((tls, peer))),
            Ok(Poll::Ready(Err(Failed { error, io, report }))) => {
                fail(error, Some(io), Some(report))
            }
            Err(_panic) => {
                // Its state is unknown: drop it, transport included.
                this.handshake = None;
                fail(HandshakeError::Panicked, None, None)
            }
        }
    }
}
