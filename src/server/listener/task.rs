//! One handshake as a task of its own, so handshake crypto runs on every worker of the
//! runtime; and what the task shares with the listener while it runs ([`PeerTurns`]): whose
//! turn it is, how long the peer has had the turn, and how much the peer has delivered.
//!
//! Whose turn it is comes from the waker: the task polls the handshake with a waker of its
//! own, so it knows the moment the transport (or the deadline) woke it. Between returning
//! `Pending` and that wake-up the handshake waits on its peer; from the wake-up until it
//! returns `Pending` again, it waits on this machine (the runtime's queue, the crypto). Only
//! the first kind of time is held against the peer.

use std::{
    future::Future,
    net::SocketAddr,
    pin::Pin,
    sync::{
        atomic::{AtomicBool, AtomicU64, Ordering},
        Arc, OnceLock,
    },
    task::{Context, Poll, Wake, Waker},
};

use futures::task::AtomicWaker;
use tokio::{
    io::{AsyncRead, AsyncWrite},
    task::{AbortHandle, JoinSet},
};

use super::state::ListenerState;
use crate::{io::Failed, io::ServerTlsStream, server::accept::Accept, trace::ConnectionSpan};

/// What a handshake task ends with: its result, and the transport's peer it was started for
/// (so a finished result never depends on the listener's registry to be reported).
pub(crate) type Outcome<IO, A> = (Result<ServerTlsStream<IO>, Failed<IO>>, A);

/// What the listener can see of a running handshake.
#[derive(Debug)]
pub(crate) struct PeerTurns {
    state: Arc<ListenerState>,
    /// While the peer has the turn: when it got it (µs since the listener's epoch, plus one).
    /// Zero while the turn is this machine's, including before the first poll.
    peer_turn_since: AtomicU64,
    /// µs the peer had the turn, in turns already over.
    peer_time: AtomicU64,
    /// Bytes of the peer's complete TLS records.
    record_bytes: AtomicU64,
    /// The waker was called since the task's current poll began.
    woken: AtomicBool,
    /// The task's future has been dropped: its transport is closed or in its outcome.
    ended: AtomicBool,
    /// The runtime's waker for the task.
    task: AtomicWaker,
    /// The client's address, once a PROXY protocol header gave it: the peer to report should
    /// the task be aborted (evicted, cut off by a drain) or panic.
    forwarded_for: OnceLock<SocketAddr>,
}

/// How a waiting handshake compares when the listener must shed one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct PeerPace {
    /// Bytes of complete records per second of the peer's turns.
    pub(crate) bytes_per_second: u64,
    /// µs of the peer's turns so far.
    pub(crate) peer_time: u64,
}

impl PeerTurns {
    pub(crate) fn new(state: Arc<ListenerState>) -> Self {
        Self {
            state,
            peer_turn_since: AtomicU64::new(0),
            peer_time: AtomicU64::new(0),
            record_bytes: AtomicU64::new(0),
            woken: AtomicBool::new(false),
            ended: AtomicBool::new(false),
            task: AtomicWaker::new(),
            forwarded_for: OnceLock::new(),
        }
    }

    /// The client's address a PROXY protocol header gave, once it did.
    pub(crate) fn forwarded_for(&self) -> Option<SocketAddr> {
        self.forwarded_for.get().copied()
    }

    pub(crate) fn has_ended(&self) -> bool {
        self.ended.load(Ordering::Acquire)
    }

    /// The peer's pace, if the handshake is waiting on its peer now; `None` while it waits on
    /// this machine (not yet polled, or woken and not yet polled again).
    pub(crate) fn pace_if_waiting(&self, now: u64) -> Option<PeerPace> {
        let since = self.peer_turn_since.load(Ordering::SeqCst);
        if since == 0 || self.has_ended() {
            return None;
        }
        let peer_time = self.peer_time.load(Ordering::Relaxed) + now.saturating_sub(since - 1);
        let bytes = u128::from(self.record_bytes.load(Ordering::Relaxed));
        let rate = bytes * 1_000_000 / u128::from(peer_time.max(1));
        Some(PeerPace {
            bytes_per_second: u64::try_from(rate).unwrap_or(u64::MAX),
            peer_time,
        })
    }

    /// The turn passes to this machine: close the peer's turn, if it had one.
    fn our_turn(&self) {
        let since = self.peer_turn_since.swap(0, Ordering::SeqCst);
        if since != 0 {
            let held = self.state.now_micros().saturating_sub(since - 1);
            self.peer_time.fetch_add(held, Ordering::Relaxed);
        }
    }

    /// A poll begins: the turn is this machine's.
    fn poll_begins(&self) {
        self.woken.store(false, Ordering::SeqCst);
        self.our_turn();
    }

    /// The handshake returned `Pending`: the turn is the peer's, unless the task was woken
    /// while it was being polled (then it is already queued to run again).
    fn peer_turn(&self, record_bytes: u64) {
        self.record_bytes.store(record_bytes, Ordering::Relaxed);
        let now = self.state.now_micros();
        self.peer_turn_since.store(now + 1, Ordering::SeqCst);
        // Either this sees the wake-up's flag, or the wake-up (flag first, turn second) sees
        // the turn stored above and takes it back.
        if self.woken.load(Ordering::SeqCst) {
            self.our_turn();
            return;
        }
        // A listener waiting for a handshake it may shed is told one exists now.
        self.state.victim_available();
    }
}

impl Wake for PeerTurns {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.woken.store(true, Ordering::SeqCst);
        self.our_turn();
        self.task.wake();
    }
}

/// A server handshake, run as a task: polls the handshake with a waker that records whose
/// turn it is, and marks its [`PeerTurns`] ended when dropped (completed, failed, evicted or
/// aborted), so the listener counts a slot free only once the transport is closed or handed
/// over.
#[derive(Debug)]
#[allow(
    unreachable_pub,
    reason = "named by the sealed spawner trait; not reachable from outside the crate"
)]
pub struct HandshakeTask<IO, A> {
    handshake: Accept<IO>,
    progress: Arc<PeerTurns>,
    waker: Waker,
    span: ConnectionSpan,
    /// The transport's peer; `None` once handed out with the outcome.
    peer: Option<A>,
}

impl<IO, A: std::fmt::Debug> HandshakeTask<IO, A> {
    pub(crate) fn new(handshake: Accept<IO>, progress: Arc<PeerTurns>, peer: A) -> Self {
        progress.state.task_started();
        let waker = Waker::from(progress.clone());
        Self {
            handshake,
            progress,
            waker,
            span: ConnectionSpan::new(&peer),
            peer: Some(peer),
        }
    }
}

impl<IO: AsyncRead + AsyncWrite + Unpin, A: Unpin> Future for HandshakeTask<IO, A> {
    type Output = Outcome<IO, A>;

    /// # Panics
    ///
    /// When polled after it completed (the runtime never does).
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Outcome<IO, A>> {
        let me = self.get_mut();
        #[cfg_attr(not(feature = "tracing"), allow(clippy::let_unit_value))]
        let _entered = me.span.enter();
        me.progress.task.register(cx.waker());
        me.progress.poll_begins();
        let mut own = Context::from_waker(&me.waker);
        let poll = Pin::new(&mut me.handshake).poll_accept(&mut own);
        if me.progress.forwarded_for.get().is_none() {
            if let Some(source) = me.handshake.forwarded_for() {
                let _ = me.progress.forwarded_for.set(source);
            }
        }
        match poll {
            Poll::Ready(result) => {
                let peer = me
                    .peer
                    .take()
                    .expect("HandshakeTask polled after it completed");
                Poll::Ready((result, peer))
            }
            Poll::Pending => {
                let bytes = me.handshake.peer_record_bytes().unwrap_or(0);
                me.progress.peer_turn(bytes);
                Poll::Pending
            }
        }
    }
}

impl<IO, A> Drop for HandshakeTask<IO, A> {
    fn drop(&mut self) {
        self.progress.ended.store(true, Ordering::Release);
        self.progress.state.task_ended();
    }
}

/// How a [`TlsListener`](crate::listener::TlsListener) runs its handshakes: [`Spawn`] (the default)
/// or [`SpawnLocal`]. Sealed.
pub trait SpawnHandshakes<IO>: sealed::Spawner<IO> {}

impl<IO, S: sealed::Spawner<IO>> SpawnHandshakes<IO> for S {}

/// Each handshake is a task of its own, spawned on the runtime the listener runs in, so
/// handshake crypto spreads over every worker. Needs `Send` transports.
#[derive(Debug, Clone, Copy, Default)]
pub struct Spawn;

/// Each handshake is a task of its own on the current `tokio::task::LocalSet`: for
/// transports that are not `Send`. Every handshake then runs on the `LocalSet`'s one thread.
///
/// # Panics
///
/// The listener panics when it starts a handshake outside a `LocalSet`.
#[derive(Debug, Clone, Copy, Default)]
pub struct SpawnLocal;

pub(crate) mod sealed {
    use super::*;
    use crate::server::listener::PeerAddr;

    #[allow(
        unreachable_pub,
        reason = "public only to be named by the sealed trait; the module is private"
    )]
    pub trait Spawner<IO> {
        /// Starts `task` in `tasks`.
        fn spawn<A: PeerAddr>(
            tasks: &mut JoinSet<Outcome<IO, A>>,
            task: HandshakeTask<IO, A>,
        ) -> AbortHandle;
    }

    impl<IO: AsyncRead + AsyncWrite + Unpin + Send + 'static> Spawner<IO> for Spawn {
        fn spawn<A: PeerAddr>(
            tasks: &mut JoinSet<Outcome<IO, A>>,
            task: HandshakeTask<IO, A>,
        ) -> AbortHandle {
            tasks.spawn(task)
        }
    }

    impl<IO: AsyncRead + AsyncWrite + Unpin + 'static> Spawner<IO> for SpawnLocal {
        fn spawn<A: PeerAddr>(
            tasks: &mut JoinSet<Outcome<IO, A>>,
            task: HandshakeTask<IO, A>,
        ) -> AbortHandle {
            tasks.spawn_local(task)
        }
    }
}
