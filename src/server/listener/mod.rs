//! [`TlsListener`]: the server's front door. It accepts connections, runs each handshake as a
//! task of its own (so handshake crypto uses every worker), keeps the books (a cap that sheds
//! the slowest peers, a bounded queue of results, stats, drain), and hands out results.
//!
//! - `books.rs`: what the listener shares with its tasks and handles; whom to shed.
//! - `task.rs`: one handshake as a task, and how it reports whose turn it is.
//! - `handle.rs`: [`ListenerHandle`] and the graceful drain.
//! - `incoming.rs`: where connections come from.

mod books;
mod handle;
mod incoming;
mod task;

use std::{
    fmt,
    future::Future,
    io,
    marker::PhantomData,
    net::SocketAddr,
    pin::Pin,
    sync::Arc,
    task::{Context, Poll},
    time::Duration,
};

use futures::stream::{Stream, StreamExt};
use rustls::ServerConnection;
use tokio::{
    net::TcpListener,
    task::{Id, JoinError, JoinSet},
    time::{Instant, Sleep},
};

#[cfg(unix)]
pub use self::incoming::UnixPeer;
use self::{
    books::{Books, Fate, Shared},
    handle::Done,
    task::{HandshakeTask, Outcome, Progress},
};
pub use self::{
    handle::{DrainReport, ListenerHandle},
    incoming::{Connection, Incoming, PeerAddr, StreamIncoming},
    task::{Spawn, SpawnHandshakes, SpawnLocal},
};
use crate::{Acceptor, Failed, HandshakeError, HandshakeReport, TlsStream};

/// How many handshakes may be in flight at once by default.
pub const DEFAULT_MAX_IN_FLIGHT: usize = 1024;
/// How many finished handshakes may wait for [`TlsListener::accept`] by default.
pub const DEFAULT_MAX_READY: usize = 64;
/// How many connections one wake-up accepts at most before letting other tasks run.
pub const DEFAULT_ACCEPT_BATCH: usize = 64;
/// How long accepting pauses after an accept error (EMFILE, ENFILE, ...).
pub const ACCEPT_ERROR_BACKOFF: Duration = Duration::from_millis(50);

/// Why the listener produced no established stream this time. Neither ends the listener.
#[derive(Debug)]
#[non_exhaustive]
pub enum ListenError<IO, A = SocketAddr> {
    /// A handshake failed (including [`HandshakeError::TimedOut`],
    /// [`HandshakeError::Evicted`] and [`HandshakeError::Drained`]).
    Handshake {
        /// The peer's address.
        peer: A,
        /// Why.
        error: HandshakeError,
        /// The transport, where the failure leaves one: not after an eviction, a drain's
        /// cut-off or a panic, which close it at once.
        io: Option<IO>,
        /// What the handshake had negotiated and cost (not after an eviction, a drain's
        /// cut-off or a panic).
        report: Option<Box<HandshakeReport>>,
    },
    /// Accepting a connection failed. Neither kind ends the listener:
    /// - the system is out of a resource (EMFILE, ENFILE, ENOBUFS, ENOMEM): accepting pauses
    ///   for [`ACCEPT_ERROR_BACKOFF`] while the handshakes in flight go on, since retrying at
    ///   once would fail again ([`is_resource_exhaustion`](ListenError::is_resource_exhaustion));
    /// - one connection failed before it was accepted (ECONNABORTED, ECONNRESET, EPROTO, ...):
    ///   accepting goes on at once.
    Accept(io::Error),
}

impl<IO, A> ListenError<IO, A> {
    /// Whether this is an accept error that pauses accepting: the process or the system is
    /// out of file descriptors, buffers or memory.
    pub fn is_resource_exhaustion(&self) -> bool {
        matches!(self, Self::Accept(e) if accept_error_is_resource_exhaustion(e))
    }
}

/// EMFILE, ENFILE, ENOBUFS and ENOMEM (or their Windows socket equivalents): errors that
/// accepting again at once would meet again.
fn accept_error_is_resource_exhaustion(error: &io::Error) -> bool {
    if error.kind() == io::ErrorKind::OutOfMemory {
        return true;
    }
    #[cfg(unix)]
    let exhausted = [libc::EMFILE, libc::ENFILE, libc::ENOBUFS, libc::ENOMEM];
    // WSAEMFILE, WSAENOBUFS.
    #[cfg(windows)]
    let exhausted = [10024, 10055];
    #[cfg(not(any(unix, windows)))]
    let exhausted: [i32; 0] = [];
    error
        .raw_os_error()
        .is_some_and(|code| exhausted.contains(&code))
}

impl<IO, A: fmt::Debug> fmt::Display for ListenError<IO, A> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Handshake { peer, error, .. } => write!(f, "{peer:?}: {error}"),
            Self::Accept(e) => write!(f, "accept failed: {e}"),
        }
    }
}

impl<IO: fmt::Debug, A: fmt::Debug> std::error::Error for ListenError<IO, A> {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Handshake { error, .. } => Some(error),
            Self::Accept(e) => Some(e),
        }
    }
}

/// What a listener has done so far. More counters may come; read the fields.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ListenerStats {
    /// Connections accepted.
    pub accepted: u64,
    /// Handshakes completed.
    pub established: u64,
    /// Handshakes failed, evictions, timeouts and drain cut-offs included.
    pub failed: u64,
    /// Handshakes shed to make room (also counted in `failed`).
    pub evicted: u64,
    /// Accept errors.
    pub accept_errors: u64,
}

/// What one finished handshake yields: the stream and the peer's address.
pub type Established<IO, A = SocketAddr> = (TlsStream<IO, ServerConnection>, A);

/// A handshake task as the `JoinSet` gives it back: its id and outcome, or why it has none.
type Joined<IO, A> = Result<(Id, Outcome<IO, A>), JoinError>;

/// What the listener yields: an established stream, or why there is none this time.
type Item<IO, A> = Result<Established<IO, A>, ListenError<IO, A>>;

/// Accepts connections and completes their TLS handshakes, each as a task of its own.
///
/// - **Every core.** Each handshake runs as its own task on the runtime the listener was
///   made in (`S` = [`Spawn`], the default), so handshake crypto spreads over every worker.
///   The listener itself only accepts, keeps the books and hands out results, in whichever
///   task polls it. Transports that are not `Send` use [`TlsListener::spawn_local`].
/// - **A deadline**: each handshake runs under the [`Acceptor`]'s (10 s by default).
/// - **A cap that sheds the slow, not the new.** At most
///   [`with_max_in_flight`](TlsListener::with_max_in_flight) handshakes run at once. When a new
///   connection finds them all taken, the listener sheds one whose *peer* is slowest: of the
///   handshakes waiting on their peer, the one whose peer delivered the fewest bytes of
///   complete TLS records per second of the time it had the turn (a peer dripping a byte at
///   a time delivers none), then the one whose peer had the turn longest. A handshake waiting
///   on this machine (not yet polled, or woken and queued for a worker) is never shed: its
///   peer did its part. The victim's task is aborted and its transport closed at once; it is
///   reported as [`HandshakeError::Evicted`]. If no handshake is waiting on its peer, the
///   listener stops accepting until one is or a slot frees, and the kernel's backlog holds
///   the newcomers.
/// - **Bounded everywhere.** Open transports never exceed `max_in_flight` running
///   handshakes, plus at most [`with_max_ready`](TlsListener::with_max_ready) finished ones waiting for
///   [`accept`](TlsListener::accept), plus the one connection accepted and waiting for a
///   slot. A consumer that does not keep up makes the listener stop accepting.
/// - One wake-up accepts at most [`with_accept_batch`](TlsListener::with_accept_batch) connections,
///   then yields.
/// - Accept errors are reported, followed by a short pause in accepting; they never end the
///   listener. A panicking handshake task fails that handshake only
///   ([`HandshakeError::Panicked`]).
/// - [`handle`](TlsListener::handle) gives a cloneable [`ListenerHandle`]: stats, the
///   in-flight count, and a graceful drain.
/// - Dropping the listener aborts every handshake task; their transports are closed.
///
/// # Panics
///
/// The constructors panic outside a Tokio runtime, and on a runtime built without the time
/// driver (`enable_time`): the listener needs timers for deadlines and its accept backoff,
/// and says so once, here, rather than failing every handshake.
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
pub struct TlsListener<I: Incoming, S = Spawn> {
    /// `None` once the connections ended or a drain began.
    incoming: Option<I>,
    /// Accepted, waiting for a slot.
    waiting: Option<(I::Io, I::Addr)>,
    /// Where connections come to, kept from the start (the source goes when a drain begins).
    local_addr: Option<I::Addr>,
    acceptor: Acceptor,
    tasks: JoinSet<Outcome<I::Io, I::Addr>>,
    books: Books<I::Addr>,
    shared: Arc<Shared>,
    done: Done<I::Addr>,
    /// The task shed to make room, until its future is dropped.
    evicting: Option<Id>,
    max_in_flight: usize,
    max_ready: usize,
    accept_batch: usize,
    backoff: Pin<Box<Sleep>>,
    backing_off: bool,
    /// An accept error held back while a finished handshake went first.
    accept_error: Option<io::Error>,
    drain: Option<Drain<I::Addr>>,
    finished: bool,
    /// How handshakes are spawned; `fn() -> S` keeps the listener `Send` and `Unpin`.
    spawn: PhantomData<fn() -> S>,
}

/// A drain in progress.
#[derive(Debug)]
struct Drain<A> {
    grace: Pin<Box<Sleep>>,
    cut: bool,
    report: DrainReport<A>,
}

impl<I: Incoming, S> fmt::Debug for TlsListener<I, S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TlsListener")
            .field("in_flight", &self.shared.live())
            .field("max_in_flight", &self.max_in_flight)
            .field("stats", &self.shared.stats())
            .finish_non_exhaustive()
    }
}

impl TlsListener<TcpListener> {
    /// A listener accepting from `tcp`.
    ///
    /// # Panics
    ///
    /// Outside a Tokio runtime with the time driver enabled (see [`TlsListener`]).
    #[track_caller]
    pub fn new(tcp: TcpListener, acceptor: Acceptor) -> Self {
        Self::with_incoming(tcp, acceptor)
    }
}

#[cfg(unix)]
impl TlsListener<tokio::net::UnixListener> {
    /// A listener accepting from a Unix domain socket; peers are [`UnixPeer`]s: the socket's
    /// address, or behind a load balancer sending the PROXY protocol, the client's.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # async fn run(config: std::sync::Arc<rustls::ServerConfig>) -> std::io::Result<()> {
    /// use tokio_tls_handshake::{Acceptor, TlsListener};
    ///
    /// let unix = tokio::net::UnixListener::bind("/run/app/tls.sock")?;
    /// let mut listener = TlsListener::from_unix(unix, Acceptor::from(config));
    /// while let Some(next) = listener.accept().await {
    ///     if let Ok((tls, peer)) = next {
    ///         eprintln!("{peer}: {:?}", tls.connection().protocol_version());
    ///     }
    /// }
    /// # Ok(()) }
    /// ```
    ///
    /// # Panics
    ///
    /// Outside a Tokio runtime with the time driver enabled (see [`TlsListener`]).
    #[track_caller]
    pub fn from_unix(unix: tokio::net::UnixListener, acceptor: Acceptor) -> Self {
        Self::with_incoming(unix, acceptor)
    }
}

impl<St, IO, A> TlsListener<StreamIncoming<St>>
where
    St: futures::Stream<Item = io::Result<(IO, A)>> + Unpin,
    IO: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + 'static,
    A: PeerAddr,
{
    /// A listener over any stream of `(transport, peer address)`.
    ///
    /// # Panics
    ///
    /// Outside a Tokio runtime with the time driver enabled (see [`TlsListener`]).
    #[track_caller]
    pub fn from_stream(stream: St, acceptor: Acceptor) -> Self {
        Self::with_incoming(StreamIncoming(stream), acceptor)
    }
}

impl<I: Incoming> TlsListener<I> {
    /// A listener over any [`Incoming`].
    ///
    /// # Panics
    ///
    /// Outside a Tokio runtime with the time driver enabled (see [`TlsListener`]).
    #[track_caller]
    pub fn with_incoming(incoming: I, acceptor: Acceptor) -> Self {
        if tokio::runtime::Handle::try_current().is_err() {
            panic!(
                "TlsListener must be made inside a Tokio runtime: it spawns a task per handshake"
            );
        }
        // Made now so that a runtime without timers fails here, with Tokio's message
        // ("timers are disabled. Call `enable_time` ..."), not in every handshake.
        let backoff = Box::pin(tokio::time::sleep_until(Instant::now()));
        Self {
            local_addr: incoming.local_addr().ok(),
            incoming: Some(incoming),
            waiting: None,
            acceptor,
            tasks: JoinSet::new(),
            books: Books::default(),
            shared: Shared::new(),
            done: Arc::new(tokio::sync::watch::Sender::new(None)),
            evicting: None,
            max_in_flight: DEFAULT_MAX_IN_FLIGHT,
            max_ready: DEFAULT_MAX_READY,
            accept_batch: DEFAULT_ACCEPT_BATCH,
            backoff,
            backing_off: false,
            accept_error: None,
            drain: None,
            finished: false,
            spawn: PhantomData,
        }
    }

    /// Runs each handshake as a task on the current `tokio::task::LocalSet`
    /// (`JoinSet::spawn_local`) instead of the runtime's workers: for transports that are not
    /// `Send`, or a `current_thread` runtime with a `LocalSet`. Handshakes then share the
    /// `LocalSet`'s one thread; everything else (cap, eviction, drain) is the same.
    ///
    /// Why `spawn_local` rather than driving such handshakes inside the listener's own task:
    /// one code path. Each handshake is a task either way, so its waker, its cancellation and
    /// the books behave identically; only where the task runs differs.
    ///
    /// # Panics
    ///
    /// The listener panics when it starts a handshake outside a `LocalSet`.
    pub fn spawn_local(mut self) -> TlsListener<I, SpawnLocal> {
        // Nothing has been spawned yet unless the listener was polled; keep what there is.
        TlsListener {
            incoming: self.incoming.take(),
            waiting: self.waiting.take(),
            local_addr: self.local_addr.take(),
            acceptor: self.acceptor.clone(),
            tasks: std::mem::take(&mut self.tasks),
            books: std::mem::take(&mut self.books),
            shared: self.shared.clone(),
            done: self.done.clone(),
            evicting: self.evicting.take(),
            max_in_flight: self.max_in_flight,
            max_ready: self.max_ready,
            accept_batch: self.accept_batch,
            backoff: Box::pin(tokio::time::sleep_until(Instant::now())),
            backing_off: self.backing_off,
            accept_error: self.accept_error.take(),
            drain: self.drain.take(),
            finished: std::mem::replace(&mut self.finished, true),
            spawn: PhantomData,
        }
    }
}

impl<I: Incoming, S> TlsListener<I, S> {
    /// At most `max` handshakes in flight (at least 1); beyond that, a new connection sheds
    /// the slowest peer's handshake.
    pub fn with_max_in_flight(mut self, max: usize) -> Self {
        self.max_in_flight = max.max(1);
        self
    }

    /// At most `max` finished handshakes waiting for [`accept`](TlsListener::accept) (at
    /// least 1); beyond that the listener stops accepting until the consumer catches up.
    pub fn with_max_ready(mut self, max: usize) -> Self {
        self.max_ready = max.max(1);
        self
    }

    /// At most `batch` accepts per wake-up (at least 1).
    pub fn with_accept_batch(mut self, batch: usize) -> Self {
        self.accept_batch = batch.max(1);
        self
    }

    /// Handshakes running now.
    pub fn in_flight(&self) -> usize {
        self.shared.live()
    }

    /// What the listener has done so far.
    pub fn stats(&self) -> ListenerStats {
        self.shared.stats()
    }

    /// A cloneable handle for other tasks: stats, the in-flight count, and a graceful drain.
    pub fn handle(&self) -> ListenerHandle<I::Addr> {
        ListenerHandle::new(self.shared.clone(), self.done.clone())
    }

    /// The address connections come to (a `TcpListener`'s or `UnixListener`'s), also after a
    /// drain closed it.
    ///
    /// # Errors
    ///
    /// `Unsupported` for a source without one, such as a stream of connections.
    pub fn local_addr(&self) -> io::Result<I::Addr> {
        self.local_addr.clone().ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::Unsupported,
                "this listener's connections come from a source without a local address",
            )
        })
    }

    /// Finished handshakes waiting for the consumer.
    fn ready(&self) -> usize {
        self.tasks.len().saturating_sub(self.shared.live())
    }

    /// Starts a drain if one was asked for; cuts off the handshakes still running once its
    /// grace period is over.
    fn poll_drain(&mut self, cx: &mut Context<'_>) {
        if self.drain.is_none() {
            let Some(grace) = self.shared.take_drain_request() else {
                return;
            };
            // Closing the listening socket refuses new connections; one accepted but not yet
            // started is closed too.
            self.incoming = None;
            self.waiting = None;
            self.drain = Some(Drain {
                grace: Box::pin(tokio::time::sleep(grace)),
                cut: false,
                report: DrainReport::default(),
            });
        }
        if let Some(drain) = &mut self.drain {
            if !drain.cut && drain.grace.as_mut().poll(cx).is_ready() {
                drain.cut = true;
                drain.report.cut_off = self.books.cut_all();
            }
        }
    }

    /// Makes a slot for the connection waiting, if it can. `false`: not yet; the listener is
    /// woken when a slot may be free (the shed task ended) or a handshake may be shed.
    fn make_room(&mut self) -> bool {
        if self.shared.live() < self.max_in_flight {
            return true;
        }
        if let Some(id) = self.evicting {
            if self.books.is_running(id) {
                return false;
            }
            self.evicting = None;
            if self.shared.live() < self.max_in_flight {
                return true;
            }
        }
        let mut victim = self.books.victim(self.shared.now_micros());
        if victim.is_none() {
            self.shared.want_victim();
            // A handshake may have begun waiting on its peer just before the flag was set.
            victim = self.books.victim(self.shared.now_micros());
        }
        if let Some(id) = victim {
            self.books.abort(id, Fate::Evicted);
            self.evicting = Some(id);
        }
        false
    }

    /// Turns a finished task into what the listener yields. The peer is the same kind of
    /// address for every item: the client's, when a PROXY protocol header gave one the peer
    /// type can hold (also for a handshake evicted, cut off or panicked after its header was
    /// read), else the transport's. `None` only for an aborted task the books do not know,
    /// which cannot happen (every task is booked as it is spawned) and returned nothing.
    fn report(&mut self, joined: Joined<I::Io, I::Addr>) -> Option<Item<I::Io, I::Addr>> {
        let (id, outcome) = match joined {
            Ok((id, outcome)) => (id, Ok(outcome)),
            Err(error) => (error.id(), Err(error)),
        };
        let entry = self.books.remove(id);
        let client = |proxied: Option<std::net::SocketAddr>, transport: I::Addr| {
            proxied.and_then(I::Addr::from_proxied).unwrap_or(transport)
        };
        let item = match outcome {
            // A finished task hands its peer back with its result: nothing depends on the books.
            Ok((Ok(tls), transport)) => {
                let peer = client(tls.proxy_source(), transport);
                Ok((tls, peer))
            }
            Ok((Err(Failed { error, io, report }), transport)) => Err(ListenError::Handshake {
                peer: client(report.proxy_source, transport),
                error,
                io: Some(io),
                report: Some(report),
            }),
            Err(join_error) => {
                let Some(entry) = &entry else {
                    debug_assert!(false, "a handshake task missing from the books: {id}");
                    crate::trace::unbooked_task(&join_error);
                    self.shared.count_failed(false);
                    return None;
                };
                let error = if join_error.is_panic() {
                    HandshakeError::Panicked
                } else if entry.fate == Fate::Evicted {
                    HandshakeError::Evicted
                } else {
                    HandshakeError::Drained
                };
                Err(ListenError::Handshake {
                    peer: entry.client(),
                    error,
                    io: None,
                    report: None,
                })
            }
        };
        match &item {
            Ok(_) => self.shared.count_established(),
            Err(ListenError::Handshake { error, .. }) => {
                self.shared
                    .count_failed(matches!(error, HandshakeError::Evicted));
            }
            Err(ListenError::Accept(_)) => {}
        }
        if let Some(drain) = &mut self.drain {
            if entry.is_none_or(|entry| entry.fate != Fate::Cut) {
                drain.report.completed += 1;
            }
        }
        Some(item)
    }

    /// The listener has nothing more to yield: tell the handles.
    fn finish(&mut self) {
        self.finished = true;
        let report = self.drain.take().map(|d| d.report).unwrap_or_default();
        self.done.send_replace(Some(report));
    }
}

impl<I: Incoming, S: SpawnHandshakes<I::Io>> TlsListener<I, S> {
    /// The next established stream or failure. `None` once the listener has finished: its
    /// incoming connections ended (never, for a `TcpListener`) or a drain completed, and
    /// every handshake was reported.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: all state lives in the listener, so dropping this future loses no
    /// connection and no handshake.
    pub async fn accept(&mut self) -> Option<Item<I::Io, I::Addr>> {
        self.next().await
    }

    /// Accepts up to a batch of connections. `Some(error)` to report an accept error.
    /// Returns whether the batch was used up (more may be waiting).
    fn poll_accepts(&mut self, cx: &mut Context<'_>) -> (Option<io::Error>, bool) {
        if self.backing_off {
            if self.backoff.as_mut().poll(cx).is_pending() {
                return (None, false);
            }
            self.backing_off = false;
        }
        for _ in 0..self.accept_batch {
            // A consumer that does not keep up: let the kernel's backlog hold the newcomers.
            if self.ready() >= self.max_ready || !self.start_waiting() {
                return (None, false);
            }
            let Some(incoming) = self.incoming.as_mut() else {
                return (None, false);
            };
            match incoming.poll_incoming(cx) {
                Poll::Ready(Some(Ok(connection))) => {
                    self.shared.count_accepted();
                    self.waiting = Some(connection);
                }
                Poll::Ready(Some(Err(e))) => {
                    self.shared.count_accept_error();
                    if accept_error_is_resource_exhaustion(&e) {
                        let until = Instant::now() + ACCEPT_ERROR_BACKOFF;
                        self.backoff.as_mut().reset(until);
                        // Registers the timer, so the pause ends with a wake-up.
                        let _ = self.backoff.as_mut().poll(cx);
                        self.backing_off = true;
                        return (Some(e), false);
                    }
                    // One connection's failure: the next may be waiting already.
                    return (Some(e), true);
                }
                Poll::Ready(None) => {
                    self.incoming = None;
                    return (None, false);
                }
                Poll::Pending => return (None, false),
            }
        }
        // The last connection accepted may still wait for a slot; it counts as more waiting.
        (None, self.start_waiting())
    }

    /// Starts the connection waiting for a slot, if there is one and a slot can be had.
    /// `false`: it still waits.
    fn start_waiting(&mut self) -> bool {
        if self.waiting.is_none() {
            return true;
        }
        if !self.make_room() {
            return false;
        }
        if let Some((io, peer)) = self.waiting.take() {
            let progress = Arc::new(Progress::new(self.shared.clone()));
            let handshake = self.acceptor.accept_peer(io, peer.ip());
            let task = HandshakeTask::new(handshake, progress.clone(), peer.clone());
            let abort = S::spawn(&mut self.tasks, task);
            self.books.insert(abort, peer, progress);
        }
        true
    }
}

impl<I: Incoming, S: SpawnHandshakes<I::Io>> Stream for TlsListener<I, S> {
    type Item = Item<I::Io, I::Addr>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        if this.finished {
            return Poll::Ready(None);
        }
        this.shared.register_listener(cx);
        this.poll_drain(cx);
        // An accept error held back by the last poll goes first; then a finished handshake
        // goes before a new accept error, so a steady run of accept errors cannot starve
        // finished handshakes, nor they the errors.
        if let Some(e) = this.accept_error.take() {
            return Poll::Ready(Some(Err(ListenError::Accept(e))));
        }
        let (accept_error, more_waiting) = this.poll_accepts(cx);
        loop {
            match this.tasks.poll_join_next_with_id(cx) {
                Poll::Ready(Some(joined)) => {
                    if let Some(item) = this.report(joined) {
                        this.accept_error = accept_error;
                        return Poll::Ready(Some(item));
                    }
                }
                Poll::Ready(None) if this.incoming.is_none() && this.waiting.is_none() => {
                    this.finish();
                    return Poll::Ready(None);
                }
                Poll::Ready(None) | Poll::Pending => break,
            }
        }
        if let Some(e) = accept_error {
            return Poll::Ready(Some(Err(ListenError::Accept(e))));
        }
        if more_waiting {
            // The batch was used up with connections still queued: come back after other
            // tasks had their turn.
            cx.waker().wake_by_ref();
        }
        Poll::Pending
    }
}

impl<I: Incoming, S> Drop for TlsListener<I, S> {
    fn drop(&mut self) {
        if self.finished {
            return;
        }
        // The JoinSet aborts every task as it drops; their transports close as they end.
        let mut report = self.drain.take().map(|d| d.report).unwrap_or_default();
        report.cut_off.extend(self.books.cut_all());
        self.done.send_replace(Some(report));
    }
}
