//! Shedding the slowest peer: when the cap is full and a connection waits, the handshake whose
//! peer delivers the least is aborted to make room.

use super::{registry::TaskStatus, Incoming, TlsListener};

impl<I: Incoming, S> TlsListener<I, S> {
    /// Makes a slot for the connection waiting, if it can. `false`: not yet; the listener is
    /// woken when a slot may be free (the shed task ended) or a handshake may be shed.
    pub(super) fn make_room(&mut self) -> bool {
        if self.core.state.live() < self.core.max_in_flight {
            return true;
        }
        if let Some(id) = self.core.evicting {
            if self.core.registry.is_running(id) {
                return false;
            }
            self.core.evicting = None;
            if self.core.state.live() < self.core.max_in_flight {
                return true;
            }
        }
        let mut victim = self.core.registry.victim(self.core.state.now_micros());
        if victim.is_none() {
            self.core.state.want_victim();
            // A handshake may have begun waiting on its peer just before the flag was set.
            victim = self.core.registry.victim(self.core.state.now_micros());
        }
        if let Some(id) = victim {
            self.core.registry.abort(id, TaskStatus::Evicted);
            crate::measure::listener_evicted();
            self.core.evicting = Some(id);
        }
        false
    }
}
