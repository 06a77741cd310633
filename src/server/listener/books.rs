//! The listener's books: what it shares with its handshake tasks and handles ([`Shared`]:
//! counters, the live count, wake-ups, the drain signal), and which handshake runs for which
//! peer ([`Books`]), including the choice of whom to shed when full.

use std::{
    cmp::Reverse,
    collections::HashMap,
    sync::{
        atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering},
        Arc, Mutex,
    },
    time::{Duration, Instant},
};

use futures::task::AtomicWaker;
use tokio::task::{AbortHandle, Id};

use super::{
    task::{PeerPace, Progress},
    ListenerStats, PeerAddr,
};

/// What the listener, its handshake tasks and its handles share.
#[derive(Debug)]
pub(crate) struct Shared {
    epoch: Instant,
    /// Handshake tasks whose future has not been dropped yet.
    live: AtomicUsize,
    accepted: AtomicU64,
    established: AtomicU64,
    failed: AtomicU64,
    evicted: AtomicU64,
    accept_errors: AtomicU64,
    /// The task polling the listener.
    listener: AtomicWaker,
    /// The listener is full and waits for a handshake it may shed.
    wants_victim: AtomicBool,
    /// A drain asked for, with its grace period, not yet started by the listener.
    drain_request: Mutex<Option<Duration>>,
}

impl Shared {
    pub(crate) fn new() -> Arc<Self> {
        Arc::new(Self {
            epoch: Instant::now(),
            live: AtomicUsize::new(0),
            accepted: AtomicU64::new(0),
            established: AtomicU64::new(0),
            failed: AtomicU64::new(0),
            evicted: AtomicU64::new(0),
            accept_errors: AtomicU64::new(0),
            listener: AtomicWaker::new(),
            wants_victim: AtomicBool::new(false),
            drain_request: Mutex::new(None),
        })
    }

    /// µs since the listener was made; the clock of [`Progress`].
    pub(crate) fn now_micros(&self) -> u64 {
        u64::try_from(self.epoch.elapsed().as_micros()).unwrap_or(u64::MAX)
    }

    pub(crate) fn live(&self) -> usize {
        self.live.load(Ordering::Acquire)
    }

    pub(crate) fn task_started(&self) {
        self.live.fetch_add(1, Ordering::AcqRel);
    }

    pub(crate) fn task_ended(&self) {
        self.live.fetch_sub(1, Ordering::AcqRel);
    }

    /// Registers the task polling the listener, for the wake-ups below.
    pub(crate) fn register_listener(&self, cx: &std::task::Context<'_>) {
        self.listener.register(cx.waker());
    }

    /// The listener is full: wake it when a handshake starts waiting on its peer.
    pub(crate) fn want_victim(&self) {
        self.wants_victim.store(true, Ordering::SeqCst);
    }

    pub(crate) fn victim_available(&self) {
        if self.wants_victim.load(Ordering::SeqCst)
            && self.wants_victim.swap(false, Ordering::SeqCst)
        {
            self.listener.wake();
        }
    }

    pub(crate) fn request_drain(&self, grace: Duration) {
        let mut request = self.drain_request.lock().unwrap_or_else(|e| e.into_inner());
        if request.is_none() {
            *request = Some(grace);
        }
        drop(request);
        self.listener.wake();
    }

    pub(crate) fn take_drain_request(&self) -> Option<Duration> {
        self.drain_request
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take()
    }

    pub(crate) fn count_accepted(&self) {
        self.accepted.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn count_accept_error(&self) {
        self.accept_errors.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn count_established(&self) {
        self.established.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn count_failed(&self, evicted: bool) {
        self.failed.fetch_add(1, Ordering::Relaxed);
        if evicted {
            self.evicted.fetch_add(1, Ordering::Relaxed);
        }
    }

    pub(crate) fn stats(&self) -> ListenerStats {
        ListenerStats {
            accepted: self.accepted.load(Ordering::Relaxed),
            established: self.established.load(Ordering::Relaxed),
            failed: self.failed.load(Ordering::Relaxed),
            evicted: self.evicted.load(Ordering::Relaxed),
            accept_errors: self.accept_errors.load(Ordering::Relaxed),
        }
    }
}

/// Why a handshake task is no longer wanted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Fate {
    Running,
    /// Shed to make room.
    Evicted,
    /// Still running when a drain's grace period ended.
    Cut,
}

#[derive(Debug)]
pub(crate) struct Entry<A> {
    pub(crate) peer: A,
    pub(crate) progress: Arc<Progress>,
    abort: AbortHandle,
    pub(crate) fate: Fate,
}

impl<A: PeerAddr> Entry<A> {
    /// The peer to report: the client's address from a PROXY protocol header once one was
    /// read (where the address type can hold it), else the transport's.
    pub(crate) fn client(&self) -> A {
        self.progress
            .proxy_source()
            .and_then(A::from_proxied)
            .unwrap_or_else(|| self.peer.clone())
    }
}

/// Every handshake task not yet reported, by task id.
#[derive(Debug)]
pub(crate) struct Books<A> {
    entries: HashMap<Id, Entry<A>>,
}

impl<A> Default for Books<A> {
    fn default() -> Self {
        Self {
            entries: HashMap::new(),
        }
    }
}

impl<A: PeerAddr> Books<A> {
    pub(crate) fn insert(&mut self, abort: AbortHandle, peer: A, progress: Arc<Progress>) {
        let entry = Entry {
            peer,
            progress,
            abort,
            fate: Fate::Running,
        };
        self.entries.insert(entry.abort.id(), entry);
    }

    pub(crate) fn remove(&mut self, id: Id) -> Option<Entry<A>> {
        self.entries.remove(&id)
    }

    /// Whether the task `id` is still running (its transport still open).
    pub(crate) fn is_running(&self, id: Id) -> bool {
        self.entries
            .get(&id)
            .is_some_and(|e| !e.progress.has_ended())
    }

    /// The handshake to shed, if one may be shed now: of those waiting on their peer, the one
    /// whose peer delivered the fewest bytes of complete records per second of its turns, then
    /// the one whose peer has had the longest turns. A handshake waiting on this machine (not
    /// polled yet, or woken and queued) is never chosen: its peer did its part.
    pub(crate) fn victim(&self, now: u64) -> Option<Id> {
        self.entries
            .iter()
            .filter(|(_, e)| e.fate == Fate::Running)
            .filter_map(|(id, e)| e.progress.pace_if_waiting(now).map(|pace| (*id, pace)))
            .min_by_key(|(_, pace): &(Id, PeerPace)| {
                (pace.bytes_per_second, Reverse(pace.peer_time))
            })
            .map(|(id, _)| id)
    }

    /// Aborts the task `id` (its future, and with it the transport, is dropped at once if it
    /// is idle, or as soon as its current poll returns), remembering why.
    pub(crate) fn abort(&mut self, id: Id, fate: Fate) {
        if let Some(entry) = self.entries.get_mut(&id) {
            entry.fate = fate;
            entry.abort.abort();
        }
    }

    /// Aborts every running task; returns their peers (the client behind a PROXY protocol
    /// header where one was read, as every item names it).
    pub(crate) fn cut_all(&mut self) -> Vec<A> {
        let mut cut = Vec::new();
        for entry in self.entries.values_mut() {
            if entry.fate == Fate::Running && !entry.progress.has_ended() {
                entry.fate = Fate::Cut;
                entry.abort.abort();
                cut.push(entry.client());
            }
        }
        cut
    }
}
