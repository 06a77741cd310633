//! [`ListenError`]: why the listener produced no established stream this time, and which accept
//! errors are the system running out of something.

use std::{fmt, io, net::SocketAddr};

use crate::{engine::HandshakeReport, error::HandshakeError};

/// Why the listener produced no established stream this time. Neither ends the listener.
#[derive(Debug)]
#[non_exhaustive]
pub enum ListenError<IO, A = SocketAddr> {
    /// A handshake failed (including [`HandshakeError::TimedOut`]).
    Handshake {
        /// The peer's address.
        peer: A,
        /// Why.
        error: HandshakeError,
        /// The transport, handed back.
        io: IO,
        /// What the handshake had negotiated and cost.
        report: Box<HandshakeReport>,
    },
    /// The listener, at its cap, shed this handshake to make room: its peer was the slowest
    /// ([`with_max_in_flight`](crate::listener::TlsListener::with_max_in_flight)). The
    /// transport is closed.
    Evicted {
        /// The peer's address.
        peer: A,
    },
    /// The listener was draining and its grace period ended before this handshake did
    /// ([`ListenerHandle::drain`](crate::listener::ListenerHandle::drain)). The transport is
    /// closed.
    Drained {
        /// The peer's address.
        peer: A,
    },
    /// Driving this handshake panicked; the listener caught it and failed only this one.
    Panicked {
        /// The peer's address.
        peer: A,
    },
    /// Accepting a connection failed. Neither kind ends the listener:
    /// - the system is out of a resource (EMFILE, ENFILE, ENOBUFS, ENOMEM): accepting pauses
    ///   for [`ACCEPT_ERROR_BACKOFF`](crate::listener::ACCEPT_ERROR_BACKOFF) while the handshakes in flight go on, since retrying at
    ///   once would fail again ([`is_resource_exhaustion`](ListenError::is_resource_exhaustion));
    /// - one connection failed before it was accepted (ECONNABORTED, ECONNRESET, EPROTO, ...):
    ///   accepting goes on at once.
    Accept(io::Error),
}

impl<IO, A> ListenError<IO, A> {
    /// The `outcome` label under which the `metrics` feature counts this: `evicted`,
    /// `drained`, `panicked`, a failed handshake's own
    /// (`metrics::outcome`, with that feature), or `accept`.
    pub fn outcome(&self) -> &'static str {
        match self {
            Self::Handshake { error, .. } => error.label(),
            Self::Evicted { .. } => "evicted",
            Self::Drained { .. } => "drained",
            Self::Panicked { .. } => "panicked",
            Self::Accept(_) => "accept",
        }
    }

    /// The peer of the handshake this is about; `None` for an accept error.
    pub fn peer(&self) -> Option<&A> {
        match self {
            Self::Handshake { peer, .. }
            | Self::Evicted { peer }
            | Self::Drained { peer }
            | Self::Panicked { peer } => Some(peer),
            Self::Accept(_) => None,
        }
    }

    /// Whether this is an accept error that pauses accepting: the process or the system is
    /// out of file descriptors, buffers or memory.
    pub fn is_resource_exhaustion(&self) -> bool {
        matches!(self, Self::Accept(e) if accept_error_is_resource_exhaustion(e))
    }
}

/// EMFILE, ENFILE, ENOBUFS and ENOMEM (or their Windows socket equivalents): errors that
/// accepting again at once would meet again.
pub(super) fn accept_error_is_resource_exhaustion(error: &io::Error) -> bool {
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
            Self::Evicted { peer } => write!(
                f,
                "{peer:?}: tls handshake shed: the listener was at its cap and this peer was the slowest"
            ),
            Self::Drained { peer } => write!(
                f,
                "{peer:?}: tls handshake cut off: the listener was draining and its grace period ended"
            ),
            Self::Panicked { peer } => write!(f, "{peer:?}: tls handshake panicked"),
            Self::Accept(e) => write!(f, "accept failed: {e}"),
        }
    }
}

impl<IO: fmt::Debug, A: fmt::Debug> std::error::Error for ListenError<IO, A> {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Handshake { error, .. } => Some(error),
            Self::Evicted { .. } | Self::Drained { .. } | Self::Panicked { .. } => None,
            Self::Accept(e) => Some(e),
        }
    }
}
