//! The transport as the crate sees it, each rule in one place:
//!
//! - [`write_out`]: write everything queued, then flush; `Ok(0)` is `WriteZero`, `Interrupted`
//!   is retried a bounded number of times, `WouldBlock` leaves the rest (and the flush) for
//!   the next call. Used by the step, the stream and the alert.
//! - [`read_once`]: one read into rustls, with the same `Interrupted` rule; [`read_peer`]
//!   classifies it for a handshake (EOF, plaintext, rustls refusing to buffer more).
//! - [`Counted`]: every call counted, every byte read shown to the record watcher, and the
//!   first read taken on the stack.

use std::io::{self, Read, Write};

use rustls::ConnectionCommon;

use crate::{
    records::{PeerRecords, Verdict},
    HandshakeCost, HandshakeError,
};

/// Retries of a transport call that returned `Interrupted` before giving up on it.
pub(crate) const MAX_INTERRUPTED: u32 = 64;

/// TLS bytes waiting to go to the peer: a rustls connection's output, or an alert taken out
/// of it.
pub(crate) trait TlsOutput {
    /// Whether anything is left to write.
    fn wants_write(&self) -> bool;
    /// Writes some of it; how much.
    fn write_tls(&mut self, io: &mut dyn Write) -> io::Result<usize>;
}

impl<D> TlsOutput for ConnectionCommon<D> {
    fn wants_write(&self) -> bool {
        rustls::CommonState::wants_write(self)
    }
    fn write_tls(&mut self, io: &mut dyn Write) -> io::Result<usize> {
        ConnectionCommon::write_tls(self, io)
    }
}

/// Writes everything `out` holds to `io`, then flushes it if `flush`. `Ok(true)`: all out
/// (and flushed); `Ok(false)`: the transport would block, call again once it is writable.
/// `unflushed` is state across calls: a flush that would block is not forgotten.
pub(crate) fn write_out(
    out: &mut (impl TlsOutput + ?Sized),
    io: &mut dyn Write,
    unflushed: &mut bool,
    flush: bool,
) -> io::Result<bool> {
    let mut interrupted = 0;
    while out.wants_write() {
        match out.write_tls(io) {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(_) => *unflushed = true,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(false),
            Err(e) if e.kind() == io::ErrorKind::Interrupted && interrupted < MAX_INTERRUPTED => {
                interrupted += 1;
            }
            Err(e) => return Err(e),
        }
    }
    while flush && *unflushed {
        match io.flush() {
            Ok(()) => *unflushed = false,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(false),
            Err(e) if e.kind() == io::ErrorKind::Interrupted && interrupted < MAX_INTERRUPTED => {
                interrupted += 1;
            }
            Err(e) => return Err(e),
        }
    }
    Ok(true)
}

/// One read into rustls (`read_tls`), retrying `Interrupted` a bounded number of times.
/// `Ok(None)`: the transport would block. `Ok(Some(0))`: end of stream.
pub(crate) fn read_once(
    mut read_tls: impl FnMut() -> io::Result<usize>,
) -> io::Result<Option<usize>> {
    let mut interrupted = 0;
    loop {
        match read_tls() {
            Ok(n) => return Ok(Some(n)),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(None),
            Err(e) if e.kind() == io::ErrorKind::Interrupted && interrupted < MAX_INTERRUPTED => {
                interrupted += 1;
            }
            Err(e) => return Err(e),
        }
    }
}

/// What one read from the peer gave, when it gave no verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PeerRead {
    /// Bytes arrived and rustls holds them.
    Bytes,
    /// Nothing to read now.
    WouldBlock,
}

/// Reads from the peer into rustls with `read_tls`, and turns what happened into either a
/// [`PeerRead`] or the terminal error: EOF is `PeerClosed`, non-TLS first bytes are `NotTls`,
/// a transport error is `Transport`, and rustls refusing to buffer more (an oversized
/// handshake message) is `Protocol`.
pub(crate) fn read_peer<IO: Read + Write + ?Sized>(
    io: &mut IO,
    peer: &mut PeerRecords,
    cost: &mut HandshakeCost,
    mut read_tls: impl FnMut(&mut dyn Read) -> io::Result<usize>,
) -> Result<PeerRead, HandshakeError> {
    let first = peer.received() == 0;
    let mut counted = Counted::new(io, cost, peer);
    let read = read_once(|| {
        if first {
            read_first(&mut counted, &mut read_tls)
        } else {
            read_tls(&mut counted)
        }
    });
    let transport_failed = counted.failed;
    match read {
        Ok(Some(0)) => Err(HandshakeError::PeerClosed {
            close_notify: peer.saw_close_notify(),
            received: peer.received(),
        }),
        Ok(Some(_)) if peer.verdict() == Verdict::NotTls => Err(HandshakeError::NotTls {
            prefix: peer.take_not_tls_prefix(),
        }),
        Ok(Some(_)) => Ok(PeerRead::Bytes),
        Ok(None) => Ok(PeerRead::WouldBlock),
        Err(e) if transport_failed => Err(HandshakeError::Transport(e)),
        Err(e) => Err(HandshakeError::protocol(
            rustls::Error::General(e.to_string()),
            None,
        )),
    }
}

/// Bytes of the first read, taken on the stack (rustls' own first read is as large).
const FIRST_READ: usize = 4096;

/// The peer's first bytes go through a stack buffer, then into rustls. rustls allocates its
/// 4 KiB receive buffer before it reads, so a handshake waiting for a peer that has not sent
/// anything yet (an idle connection, a slow client) would otherwise hold that buffer for
/// nothing. Same number of transport reads; one copy of the first flight.
fn read_first(
    io: &mut dyn Read,
    read_tls: &mut impl FnMut(&mut dyn Read) -> io::Result<usize>,
) -> io::Result<usize> {
    let mut first = [0u8; FIRST_READ];
    let n = io.read(&mut first)?;
    let mut unread = &first[..n];
    while !unread.is_empty() {
        if read_tls(&mut unread)? == 0 {
            // rustls had no room (it always has 4 KiB for a first read); never spin.
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "rustls did not take the first bytes",
            ));
        }
    }
    Ok(n)
}

/// One more of a cost counter. It saturates: a peer dripping one byte a time to a client with
/// no deadline makes billions of reads, and a counter must not overflow (a panic in a debug
/// build, a wrap to nonsense in a release one).
pub(crate) fn count(counter: &mut u32) {
    *counter = counter.saturating_add(1);
}

/// The transport as rustls sees it during the handshake: counts every call and shows every
/// byte read to the record watcher.
pub(crate) struct Counted<'a, IO: ?Sized> {
    io: &'a mut IO,
    cost: &'a mut HandshakeCost,
    peer: &'a mut PeerRecords,
    /// The transport itself returned an error (as opposed to rustls refusing to read).
    pub(crate) failed: bool,
}

impl<'a, IO: ?Sized> Counted<'a, IO> {
    pub(crate) fn new(
        io: &'a mut IO,
        cost: &'a mut HandshakeCost,
        peer: &'a mut PeerRecords,
    ) -> Self {
        Self {
            io,
            cost,
            peer,
            failed: false,
        }
    }

    fn note<T>(&mut self, result: io::Result<T>) -> io::Result<T> {
        if result.is_err() {
            self.failed = true;
        }
        result
    }

    fn wrote(&mut self, result: io::Result<usize>) -> io::Result<usize> {
        let n = self.note(result)?;
        self.cost.bytes_written = self.cost.bytes_written.saturating_add(n as u64);
        Ok(n)
    }
}

impl<IO: Read + ?Sized> Read for Counted<'_, IO> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        count(&mut self.cost.reads);
        let result = self.io.read(buf);
        let n = self.note(result)?;
        self.peer.observe(&buf[..n.min(buf.len())]);
        Ok(n)
    }
}

impl<IO: Write + ?Sized> Write for Counted<'_, IO> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        count(&mut self.cost.writes);
        let result = self.io.write(buf);
        self.wrote(result)
    }

    fn write_vectored(&mut self, bufs: &[io::IoSlice<'_>]) -> io::Result<usize> {
        count(&mut self.cost.writes);
        let result = self.io.write_vectored(bufs);
        self.wrote(result)
    }

    fn flush(&mut self) -> io::Result<()> {
        count(&mut self.cost.flushes);
        let result = self.io.flush();
        self.note(result)
    }
}

/// A transport seen through bytes already read from it (by a layer in front of TLS): reads
/// take those first.
pub(crate) struct Prefixed<'a, IO: ?Sized> {
    pending: &'a mut Vec<u8>,
    io: &'a mut IO,
}

impl<'a, IO: ?Sized> Prefixed<'a, IO> {
    pub(crate) fn new(pending: &'a mut Vec<u8>, io: &'a mut IO) -> Self {
        Self { pending, io }
    }
}

impl<IO: Read + ?Sized> Read for Prefixed<'_, IO> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.pending.is_empty() {
            return self.io.read(buf);
        }
        let n = buf.len().min(self.pending.len());
        buf[..n].copy_from_slice(&self.pending[..n]);
        self.pending.drain(..n);
        Ok(n)
    }
}

impl<IO: io::Write + ?Sized> io::Write for Prefixed<'_, IO> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.io.write(buf)
    }
    fn write_vectored(&mut self, bufs: &[io::IoSlice<'_>]) -> io::Result<usize> {
        self.io.write_vectored(bufs)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.io.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cost_counters_saturate_instead_of_overflowing() {
        let mut cost = HandshakeCost {
            reads: u32::MAX,
            writes: u32::MAX,
            flushes: u32::MAX,
            ..HandshakeCost::default()
        };
        let mut peer = PeerRecords::new();
        let mut io = io::Cursor::new(vec![0u8; 4]);
        let mut counted = Counted::new(&mut io, &mut cost, &mut peer);
        let mut buf = [0u8; 2];
        assert_eq!(counted.read(&mut buf).ok(), Some(2));
        assert_eq!(counted.write(b"ab").ok(), Some(2));
        assert!(counted.flush().is_ok());
        assert_eq!(
            (cost.reads, cost.writes, cost.flushes),
            (u32::MAX, u32::MAX, u32::MAX)
        );
        let mut flights = u32::MAX;
        count(&mut flights);
        assert_eq!(flights, u32::MAX);
    }
}
