//! [`Phase`]: where a connection is, as one value. Every combination of the engine's state
//! that can exist is a variant; none that cannot.

use crate::error::HandshakeError;

/// Where a connection is.
#[derive(Debug)]
pub(crate) enum Phase {
    /// rustls is handshaking: flights go back and forth.
    Handshaking {
        /// The last write would block: the next step reads first (a peer blocked writing to
        /// this side waits for that read).
        write_blocked: bool,
    },
    /// rustls has completed its handshake; this side writes what is left of it: its final
    /// flight, a TLS 1.3 server's session tickets, a client's early data sent late. What the
    /// peer sends meanwhile is read and processed, for the stream.
    Finishing {
        /// As in `Handshaking`.
        write_blocked: bool,
    },
    /// The handshake is complete (`Step::Done`): the stream's phase.
    Established,
    /// The connection failed; the error, given again to whoever asks (boxed: a connection
    /// that never fails pays nothing for its size).
    Failed(Box<HandshakeError>),
}

impl Phase {
    /// Whether the handshake is still going on (handshaking or finishing).
    pub(crate) fn is_handshake(&self) -> bool {
        matches!(self, Phase::Handshaking { .. } | Phase::Finishing { .. })
    }

    /// Whether the last write would block, and forget it.
    pub(crate) fn take_write_blocked(&mut self) -> bool {
        match self {
            Phase::Handshaking { write_blocked } | Phase::Finishing { write_blocked } => {
                std::mem::take(write_blocked)
            }
            Phase::Established | Phase::Failed(_) => false,
        }
    }

    /// Records whether the last write would block.
    pub(crate) fn set_write_blocked(&mut self, blocked: bool) {
        if let Phase::Handshaking { write_blocked } | Phase::Finishing { write_blocked } = self {
            *write_blocked = blocked;
        }
    }
}
