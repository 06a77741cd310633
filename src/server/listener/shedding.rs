//! Shedding the slowest peer: when the cap is full and a connection waits, the handshake whose
//! peer delivers the least is aborted to make room.

use super::{registry::TaskStatus, Incoming, TlsListener};

impl<I: Incoming, S> TlsListener<I, S> {
    /// Makes a slot for the connection waiting, if it can. `false`: not yet; the listener is
    /// woken when a slot may be free (the shed task ended) or a handshake may be shed.
    pub(super) fn make_room(&mut self) -> bool {
        if self.state.live() < self.max_in_flight {
            return true;
        }
        if let Some(id) = self.evicting {
            if self.registry.is_running(id) {
                return false;
            }
            self.evicting = None;
            if self.state.live() < self.max_in_flight {
                return true;
            }
        }
        let mut victim = self.registry.victim(self.state.now_micros());
        if victim.is_none() {
            self.state.want_victim();
            // A handshake may have begun waiting on its peer just before the flag was set.
            victim = self.registry.victim(self.state.now_micros());
        }
        if let Some(id) = victim {
            self.registry.abort(id, TaskStatus::Evicted);
            crate::measure::listener_evicted();
            self.evicting = Some(id);
        }
        false
    }
}
