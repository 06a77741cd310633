//! Accepting: up to a batch of connections per wake-up, a pause after the system ran out of
//! something, and each connection started as a handshake task once it has a slot.

use std::{
    future::Future,
    io,
    sync::Arc,
    task::{Context, Poll},
};

use tokio::time::Instant;

use super::{
    errors::accept_error_is_resource_exhaustion,
    task::{HandshakeTask, PeerTurns},
    Incoming, PeerAddr, SpawnHandshakes, TlsListener, ACCEPT_ERROR_BACKOFF,
};

impl<I: Incoming, S: SpawnHandshakes<I::Io>> TlsListener<I, S> {
    /// Finished handshakes waiting for the consumer.
    pub(super) fn ready(&self) -> usize {
        self.core.tasks.len().saturating_sub(self.core.state.live())
    }
    /// Accepts up to a batch of connections. `Some(error)` to report an accept error.
    /// Returns whether the batch was used up (more may be waiting).
    pub(super) fn poll_accepts(&mut self, cx: &mut Context<'_>) -> (Option<io::Error>, bool) {
        if self.core.backing_off {
            if self.core.backoff.as_mut().poll(cx).is_pending() {
                return (None, false);
            }
            self.core.backing_off = false;
        }
        for _ in 0..self.core.accept_batch {
            // A consumer that does not keep up: let the kernel's backlog hold the newcomers.
            if self.ready() >= self.core.max_ready || !self.start_waiting() {
                return (None, false);
            }
            let Some(incoming) = self.core.incoming.as_mut() else {
                return (None, false);
            };
            match incoming.poll_incoming(cx) {
                Poll::Ready(Some(Ok(connection))) => {
                    self.core.state.count_accepted();
                    self.core.waiting = Some(connection);
                }
                Poll::Ready(Some(Err(e))) => {
                    self.core.state.count_accept_error();
                    crate::measure::listener_accept_error(accept_error_is_resource_exhaustion(&e));
                    if accept_error_is_resource_exhaustion(&e) {
                        let until = Instant::now() + ACCEPT_ERROR_BACKOFF;
                        self.core.backoff.as_mut().reset(until);
                        // Registers the timer, so the pause ends with a wake-up.
                        let _ = self.core.backoff.as_mut().poll(cx);
                        self.core.backing_off = true;
                        return (Some(e), false);
                    }
                    // One connection's failure: the next may be waiting already.
                    return (Some(e), true);
                }
                Poll::Ready(None) => {
                    self.core.incoming = None;
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
    pub(super) fn start_waiting(&mut self) -> bool {
        if self.core.waiting.is_none() {
            return true;
        }
        if !self.make_room() {
            return false;
        }
        if let Some((io, peer)) = self.core.waiting.take() {
            let progress = Arc::new(PeerTurns::new(self.core.state.clone()));
            let handshake = self.core.acceptor.accept_peer(io, peer.ip());
            let task = HandshakeTask::new(handshake, progress.clone(), peer.clone());
            let abort = S::spawn(&mut self.core.tasks, task);
            self.core.registry.insert(abort, peer, progress);
        }
        true
    }
}
