//! [`HandshakeRegistry`]: every handshake task not yet reported, by task id: its peer, its
//! [`PeerTurns`], its abort handle, and why it was stopped, if it was.

use std::{cmp::Reverse, collections::HashMap, sync::Arc};

use tokio::task::{AbortHandle, Id};

use super::{
    task::{PeerPace, PeerTurns},
    PeerAddr,
};

/// Whether a handshake task is still wanted, and if not, why.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TaskStatus {
    /// Running, wanted.
    Running,
    /// Shed to make room: aborted.
    Evicted,
    /// Still running when a drain's grace period ended: aborted.
    CutOff,
}

#[derive(Debug)]
pub(crate) struct Registered<A> {
    pub(crate) peer: A,
    pub(crate) progress: Arc<PeerTurns>,
    abort: AbortHandle,
    pub(crate) status: TaskStatus,
    /// When the handshake started, for the duration recorded when the listener reports it.
    started: std::time::Instant,
}

impl<A: PeerAddr> Registered<A> {
    /// The peer to report: the client's address from a PROXY protocol header once one was
    /// read (where the address type can hold it), else the transport's.
    pub(crate) fn client(&self) -> A {
        self.progress
            .forwarded_for()
            .and_then(A::from_proxied)
            .unwrap_or_else(|| self.peer.clone())
    }

    /// How long the handshake has run.
    pub(crate) fn handshake_time(&self) -> std::time::Duration {
        self.started.elapsed()
    }
}

/// Every handshake task not yet reported, by task id.
#[derive(Debug)]
pub(crate) struct HandshakeRegistry<A> {
    entries: HashMap<Id, Registered<A>>,
}

impl<A> Default for HandshakeRegistry<A> {
    fn default() -> Self {
        Self {
            entries: HashMap::new(),
        }
    }
}

impl<A: PeerAddr> HandshakeRegistry<A> {
    pub(crate) fn insert(&mut self, abort: AbortHandle, peer: A, progress: Arc<PeerTurns>) {
        let entry = Registered {
            peer,
            progress,
            abort,
            status: TaskStatus::Running,
            started: std::time::Instant::now(),
        };
        self.entries.insert(entry.abort.id(), entry);
    }

    pub(crate) fn remove(&mut self, id: Id) -> Option<Registered<A>> {
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
            .filter(|(_, e)| e.status == TaskStatus::Running)
            .filter_map(|(id, e)| e.progress.pace_if_waiting(now).map(|pace| (*id, pace)))
            .min_by_key(|(_, pace): &(Id, PeerPace)| {
                (pace.bytes_per_second, Reverse(pace.peer_time))
            })
            .map(|(id, _)| id)
    }

    /// Aborts the task `id` (its future, and with it the transport, is dropped at once if it
    /// is idle, or as soon as its current poll returns), remembering why.
    pub(crate) fn abort(&mut self, id: Id, status: TaskStatus) {
        if let Some(entry) = self.entries.get_mut(&id) {
            entry.status = status;
            entry.abort.abort();
        }
    }

    /// Aborts every running task; returns their peers (the client behind a PROXY protocol
    /// header where one was read, as every item names it).
    pub(crate) fn cut_all(&mut self) -> Vec<A> {
        let mut cut = Vec::new();
        for entry in self.entries.values_mut() {
            if entry.status == TaskStatus::Running && !entry.progress.has_ended() {
                entry.status = TaskStatus::CutOff;
                entry.abort.abort();
                cut.push(entry.client());
            }
        }
        cut
    }
}
