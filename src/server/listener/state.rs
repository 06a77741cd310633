//! [`ListenerState`]: what the listener shares with its handshake tasks and its handles:
//! counters, the live count, the wake-ups, the drain request. Atomics and one mutex; no
//! knowledge of tasks.

use std::{
    sync::{
        atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering},
        Arc, Mutex,
    },
    time::{Duration, Instant},
};

use futures::task::AtomicWaker;

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

/// What the listener, its handshake tasks and its handles share.
#[derive(Debug)]
pub(crate) struct ListenerState {
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

impl ListenerState {
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

    /// µs since the listener was made; the clock of [`PeerTurns`](super::task::PeerTurns).
    pub(crate) fn now_micros(&self) -> u64 {
        u64::try_from(self.epoch.elapsed().as_micros()).unwrap_or(u64::MAX)
    }

    pub(crate) fn live(&self) -> usize {
        self.live.load(Ordering::Acquire)
    }

    pub(crate) fn task_started(&self) {
        self.live.fetch_add(1, Ordering::AcqRel);
        crate::measure::listener_task_started();
    }

    pub(crate) fn task_ended(&self) {
        self.live.fetch_sub(1, Ordering::AcqRel);
        crate::measure::listener_task_ended();
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
