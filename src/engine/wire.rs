//! The transport as the engine sees it, each rule in one place:
//!
//! - [`receive`]: one read from the peer into rustls: bytes read earlier first, the peer's
//!   first bytes through a stack buffer, every call counted and every byte shown to the
//!   record watcher while they are wanted. The engine's read rule and the ClientHello reader
//!   both read through it.
//! - [`write_out`]: write everything queued, then flush; `Ok(0)` is `WriteZero`, `Interrupted`
//!   is retried a bounded number of times, `WouldBlock` leaves the rest (and the flush) for
//!   the next call. The engine's write rule and the alert both write through it.
//! - [`TlsOutput`]: what `write_out` writes: a rustls connection's queued records (through
//!   the one function that calls rustls' `write_tls`), or an alert taken out of them.

use std::io::{self, Read, Write};

use rustls::ConnectionCommon;

use super::{records::PeerRecords, HandshakeStats};

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

/// The one place rustls' `write_tls` is called: to the transport (the write rule), or into
/// memory (taking a fatal alert out).
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

/// One read, retrying `Interrupted` a bounded number of times. `Ok(None)`: the transport would
/// block. `Ok(Some(0))`: end of stream.
pub(crate) fn read_once(mut read: impl FnMut() -> io::Result<usize>) -> io::Result<Option<usize>> {
    let mut interrupted = 0;
    loop {
        match read() {
            Ok(n) => return Ok(Some(n)),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(None),
            Err(e) if e.kind() == io::ErrorKind::Interrupted && interrupted < MAX_INTERRUPTED => {
                interrupted += 1;
            }
            Err(e) => return Err(e),
        }
    }
}

/// What one read from the peer gave.
#[derive(Debug)]
pub(crate) enum Received {
    /// Bytes arrived and rustls holds them.
    Bytes,
    /// The end of the peer's stream.
    Eof,
    /// Nothing to read now (the transport registered the waker).
    WouldBlock,
    /// rustls took nothing: it holds all it will until what it has is consumed (a full
    /// plaintext buffer, or a handshake message beyond its limit). Why, in rustls' words.
    Refused(io::Error),
}

/// What the engine is keeping track of while it reads.
pub(crate) struct Tracking<'a> {
    /// Where calls and bytes are counted (while handshaking).
    pub(crate) stats: Option<&'a mut HandshakeStats>,
    /// The record watcher, shown every byte (while it is wanted).
    pub(crate) watcher: Option<&'a mut PeerRecords>,
}

/// One read from the peer into rustls with `read_tls` (a connection's, or the ClientHello
/// acceptor's). Bytes read earlier by a layer in front of TLS (`earlier`) are read first; the
/// peer's first bytes go through a stack buffer (rustls allocates its 4 KiB receive buffer
/// before it reads, so a handshake waiting for a silent peer would otherwise hold it for
/// nothing).
///
/// # Errors
///
/// The transport's own errors, only.
pub(crate) fn receive<IO: Read + ?Sized>(
    io: &mut IO,
    earlier: &mut Vec<u8>,
    tracking: Tracking<'_>,
    mut read_tls: impl FnMut(&mut dyn Read) -> io::Result<usize>,
) -> io::Result<Received> {
    let first = tracking.watcher.as_ref().is_some_and(|w| w.received() == 0);
    let mut io = EarlierBytesFirst::new(earlier, io);
    let mut transport = CountingTransport {
        io: &mut io,
        tracking,
        failed: false,
    };
    let read = read_once(|| {
        if first {
            read_first(&mut transport, &mut read_tls)
        } else {
            read_tls(&mut transport)
        }
    });
    match read {
        Ok(Some(0)) => Ok(Received::Eof),
        Ok(Some(_)) => Ok(Received::Bytes),
        Ok(None) => Ok(Received::WouldBlock),
        Err(e) if transport.failed => Err(e),
        Err(e) => Ok(Received::Refused(e)),
    }
}

/// Bytes of the first read, taken on the stack (rustls' own first read is as large).
const FIRST_READ: usize = 4096;

/// The peer's first bytes go through a stack buffer, then into rustls. Same number of
/// transport reads; one copy of the first flight.
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

/// One more of a counter. It saturates: a peer dripping one byte a time to a client with no
/// deadline makes billions of reads, and a counter must not overflow (a panic in a debug
/// build, a wrap to nonsense in a release one).
pub(crate) fn count(counter: &mut u32) {
    *counter = counter.saturating_add(1);
}

/// The transport as rustls sees it: counts every call and shows every byte read to the
/// record watcher, while the engine wants them; remembers whether the transport itself failed
/// (as opposed to rustls refusing to read).
pub(crate) struct CountingTransport<'a, 't, IO: ?Sized> {
    pub(crate) io: &'a mut IO,
    pub(crate) tracking: Tracking<'t>,
    /// The transport itself returned an error.
    pub(crate) failed: bool,
}

impl<IO: ?Sized> CountingTransport<'_, '_, IO> {
    fn note<T>(&mut self, result: io::Result<T>) -> io::Result<T> {
        if matches!(&result, Err(e) if e.kind() != io::ErrorKind::WouldBlock) {
            self.failed = true;
        }
        result
    }

    fn counter(&mut self, pick: impl FnOnce(&mut HandshakeStats) -> &mut u32) {
        if let Some(stats) = self.tracking.stats.as_deref_mut() {
            count(pick(stats));
        }
    }

    fn wrote(&mut self, result: io::Result<usize>) -> io::Result<usize> {
        let n = self.note(result)?;
        if let Some(stats) = self.tracking.stats.as_deref_mut() {
            stats.bytes_written = stats.bytes_written.saturating_add(n as u64);
        }
        Ok(n)
    }
}

impl<IO: Read + ?Sized> Read for CountingTransport<'_, '_, IO> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.counter(|s| &mut s.reads);
        let result = self.io.read(buf);
        let n = self.note(result)?;
        if let Some(watcher) = self.tracking.watcher.as_deref_mut() {
            watcher.observe(&buf[..n.min(buf.len())]);
        }
        Ok(n)
    }
}

impl<IO: Write + ?Sized> Write for CountingTransport<'_, '_, IO> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.counter(|s| &mut s.writes);
        let result = self.io.write(buf);
        self.wrote(result)
    }

    fn write_vectored(&mut self, bufs: &[io::IoSlice<'_>]) -> io::Result<usize> {
        self.counter(|s| &mut s.writes);
        let result = self.io.write_vectored(bufs);
        self.wrote(result)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.counter(|s| &mut s.flushes);
        let result = self.io.flush();
        self.note(result)
    }
}

/// A transport seen through bytes already read from it (by a layer in front of TLS, such as
/// a PROXY protocol header reader): reads take those first.
pub(crate) struct EarlierBytesFirst<'a, IO: ?Sized> {
    earlier: &'a mut Vec<u8>,
    io: &'a mut IO,
}

impl<'a, IO: ?Sized> EarlierBytesFirst<'a, IO> {
    pub(crate) fn new(earlier: &'a mut Vec<u8>, io: &'a mut IO) -> Self {
        Self { earlier, io }
    }
}

impl<IO: Read + ?Sized> Read for EarlierBytesFirst<'_, IO> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.earlier.is_empty() {
            return self.io.read(buf);
        }
        let n = buf.len().min(self.earlier.len());
        buf[..n].copy_from_slice(&self.earlier[..n]);
        self.earlier.drain(..n);
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cost_counters_saturate_instead_of_overflowing() {
        let mut stats = HandshakeStats {
            reads: u32::MAX,
            writes: u32::MAX,
            flushes: u32::MAX,
            ..HandshakeStats::default()
        };
        let mut watcher = PeerRecords::new();
        let mut io = io::Cursor::new(vec![0u8; 4]);
        let mut counted = CountingTransport {
            io: &mut io,
            tracking: Tracking {
                stats: Some(&mut stats),
                watcher: Some(&mut watcher),
            },
            failed: false,
        };
        let mut buf = [0u8; 2];
        assert_eq!(counted.read(&mut buf).ok(), Some(2));
        assert_eq!(counted.write(b"ab").ok(), Some(2));
        assert!(counted.flush().is_ok());
        assert_eq!(
            (stats.reads, stats.writes, stats.flushes),
            (u32::MAX, u32::MAX, u32::MAX)
        );
        let mut flights = u32::MAX;
        count(&mut flights);
        assert_eq!(flights, u32::MAX);
    }
}
