//! `TlsListener`: the server's front door. It accepts connections, runs each handshake as a
//! task of its own (so handshake crypto uses every worker), sheds the slowest peers when its
//! cap is full, bounds the results waiting, drains on request, and hands out results.
//!
#![doc = include_str!("guide.md")]

mod accept_loop;
mod drain;
mod errors;
mod handle;
mod incoming;
mod outcomes;
mod registry;
mod shedding;
mod state;
mod task;

use std::{
    fmt, io,
    marker::PhantomData,
    pin::Pin,
    sync::Arc,
    task::{Context, Poll},
    time::Duration,
};

use futures::stream::{Stream, StreamExt};
use tokio::{
    net::TcpListener,
    task::{Id, JoinSet},
    time::{Instant, Sleep},
};

#[cfg(unix)]
pub use self::incoming::UnixPeer;
use self::{
    drain::Drain, handle::FinishedSignal, outcomes::Item, registry::HandshakeRegistry,
    state::ListenerState, task::Outcome,
};
pub use self::{
    errors::ListenError,
    handle::{DrainReport, ListenerHandle},
    incoming::{Incoming, NextConnection, PeerAddr, StreamIncoming},
    outcomes::Established,
    state::ListenerStats,
    task::{Spawn, SpawnHandshakes, SpawnLocal},
};
#[cfg(feature = "axum")]
pub use super::axum::TlsConnectInfo;
use crate::server::Acceptor;

/// How many handshakes may be in flight at once by default.
pub const DEFAULT_MAX_IN_FLIGHT: usize = 1024;
/// How many finished handshakes may wait for [`TlsListener::accept`] by default.
pub const DEFAULT_MAX_READY: usize = 64;
/// How many connections one wake-up accepts at most before letting other tasks run.
pub const DEFAULT_ACCEPT_BATCH: usize = 64;
/// How long accepting pauses after an accept error (EMFILE, ENFILE, ...).
pub const ACCEPT_ERROR_BACKOFF: Duration = Duration::from_millis(50);

/// Accepts connections and completes their TLS handshakes, each as a task of its own.
///
/// - **Every core.** Each handshake runs as its own task on the runtime the listener was
///   made in (`S` = [`Spawn`], the default), so handshake crypto spreads over every worker.
///   The listener itself only accepts, keeps the registry and hands out results, in whichever
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
///   reported as [`ListenError::Evicted`](crate::listener::ListenError::Evicted). If no handshake is waiting on its peer, the
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
///   ([`ListenError::Panicked`](crate::listener::ListenError::Panicked)).
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
/// use tokio_tls_handshake::{listener::{ListenError, TlsListener}, Acceptor};
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
    core: ListenerCore<I>,
    /// How handshakes are spawned; `fn() -> S` keeps the listener `Send` and `Unpin`.
    spawn: PhantomData<fn() -> S>,
}

/// Everything a listener holds but how it spawns, so that
/// [`spawn_local`](TlsListener::spawn_local) moves it whole.
pub(super) struct ListenerCore<I: Incoming> {
    /// `None` once the connections ended or a drain began.
    incoming: Option<I>,
    /// Accepted, waiting for a slot.
    waiting: Option<(I::Io, I::Addr)>,
    /// Where connections come to, kept from the start (the source goes when a drain begins).
    local_addr: Option<I::Addr>,
    acceptor: Acceptor,
    tasks: JoinSet<Outcome<I::Io, I::Addr>>,
    registry: HandshakeRegistry<I::Addr>,
    state: Arc<ListenerState>,
    finished_signal: FinishedSignal<I::Addr>,
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
}

impl<I: Incoming, S> fmt::Debug for TlsListener<I, S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TlsListener")
            .field("in_flight", &self.core.state.live())
            .field("max_in_flight", &self.core.max_in_flight)
            .field("stats", &self.core.state.stats())
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
    /// use tokio_tls_handshake::{Acceptor, listener::TlsListener};
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
            core: ListenerCore {
                local_addr: incoming.local_addr().ok(),
                incoming: Some(incoming),
                waiting: None,
                acceptor,
                tasks: JoinSet::new(),
                registry: HandshakeRegistry::default(),
                state: ListenerState::new(),
                finished_signal: Arc::new(tokio::sync::watch::Sender::new(None)),
                evicting: None,
                max_in_flight: DEFAULT_MAX_IN_FLIGHT,
                max_ready: DEFAULT_MAX_READY,
                accept_batch: DEFAULT_ACCEPT_BATCH,
                backoff,
                backing_off: false,
                accept_error: None,
                drain: None,
                finished: false,
            },
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
    /// the registry behave identically; only where the task runs differs.
    ///
    /// # Panics
    ///
    /// The listener panics when it starts a handshake outside a `LocalSet`.
    pub fn spawn_local(self) -> TlsListener<I, SpawnLocal> {
        // Nothing has been spawned yet unless the listener was polled; keep what there is.
        TlsListener {
            core: self.core,
            spawn: PhantomData,
        }
    }
}

impl<I: Incoming, S> TlsListener<I, S> {
    /// At most `max` handshakes in flight (at least 1); beyond that, a new connection sheds
    /// the slowest peer's handshake.
    pub fn with_max_in_flight(mut self, max: usize) -> Self {
        self.core.max_in_flight = max.max(1);
        self
    }

    /// At most `max` finished handshakes waiting for [`accept`](TlsListener::accept) (at
    /// least 1); beyond that the listener stops accepting until the consumer catches up.
    pub fn with_max_ready(mut self, max: usize) -> Self {
        self.core.max_ready = max.max(1);
        self
    }

    /// At most `batch` accepts per wake-up (at least 1).
    pub fn with_accept_batch(mut self, batch: usize) -> Self {
        self.core.accept_batch = batch.max(1);
        self
    }

    /// Handshakes running now.
    pub fn in_flight(&self) -> usize {
        self.core.state.live()
    }

    /// What the listener has done so far.
    pub fn stats(&self) -> ListenerStats {
        self.core.state.stats()
    }

    /// A cloneable handle for other tasks: stats, the in-flight count, and a graceful drain.
    pub fn handle(&self) -> ListenerHandle<I::Addr> {
        ListenerHandle::new(self.core.state.clone(), self.core.finished_signal.clone())
    }

    /// The address connections come to (a `TcpListener`'s or `UnixListener`'s), also after a
    /// drain closed it.
    ///
    /// # Errors
    ///
    /// `Unsupported` for a source without one, such as a stream of connections.
    pub fn local_addr(&self) -> io::Result<I::Addr> {
        self.core.local_addr.clone().ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::Unsupported,
                "this listener's connections come from a source without a local address",
            )
        })
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
}

impl<I: Incoming, S: SpawnHandshakes<I::Io>> Stream for TlsListener<I, S> {
    type Item = Item<I::Io, I::Addr>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        if this.core.finished {
            return Poll::Ready(None);
        }
        this.core.state.register_listener(cx);
        this.poll_drain(cx);
        // An accept error held back by the last poll goes first; then a finished handshake
        // goes before a new accept error, so a steady run of accept errors cannot starve
        // finished handshakes, nor they the errors.
        if let Some(e) = this.core.accept_error.take() {
            return Poll::Ready(Some(Err(ListenError::Accept(e))));
        }
        let (accept_error, more_waiting) = this.poll_accepts(cx);
        loop {
            match this.core.tasks.poll_join_next_with_id(cx) {
                Poll::Ready(Some(joined)) => {
                    if let Some(item) = this.item_from(joined) {
                        this.core.accept_error = accept_error;
                        return Poll::Ready(Some(item));
                    }
                }
                Poll::Ready(None)
                    if this.core.incoming.is_none() && this.core.waiting.is_none() =>
                {
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

impl<I: Incoming> Drop for ListenerCore<I> {
    fn drop(&mut self) {
        if self.finished {
            return;
        }
        // The JoinSet aborts every task as it drops; their transports close as they end.
        let mut report = self.drain.take().map(|d| d.report).unwrap_or_default();
        report.cut_off.extend(self.registry.cut_all());
        self.finished_signal.send_replace(Some(report));
    }
}
