//! [`HandshakeStats`]: what a handshake cost on the wire.

use std::time::Duration;

/// What a handshake cost on the wire, counted by the engine while it handshakes. More figures may come; read the
/// fields, or start from `HandshakeStats::default()`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct HandshakeStats {
    /// Bytes read from the transport.
    pub bytes_read: u64,
    /// Bytes written to the transport.
    pub bytes_written: u64,
    /// `read` calls made on the transport, including those that would have blocked.
    pub reads: u32,
    /// `write` / `write_vectored` calls made on the transport, including those that would have
    /// blocked.
    pub writes: u32,
    /// `flush` calls made on the transport.
    pub flushes: u32,
    /// Flights received: runs of reads that were separated by a write of ours (round trips
    /// this side waited for).
    pub flights_received: u32,
    /// Time from the first step to completion or failure.
    pub duration: Duration,
}
