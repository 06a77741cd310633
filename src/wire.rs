//! The transport as a handshake sees it: every call counted, every byte read shown to the
//! record watcher, the first read taken on the stack, and each read's outcome classified.
//! Shared by the step and by the ClientHello reader.

use std::io::{self, Read, Write};

use crate::{
    records::{PeerRecords, Verdict},
    HandshakeCost, HandshakeError,
};

/// What one read from the peer gave, when it gave no verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PeerRead {
    /// Bytes arrived and rustls holds them.
    Bytes,
    /// Nothing to read now.
    WouldBlock,
    /// The transport was interrupted; retry.
    Interrupted,
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
    let read = if first {
        read_first(&mut counted, read_tls)
    } else {
        read_tls(&mut counted)
    };
    let transport_failed = counted.failed;
    match read {
        Ok(0) => Err(HandshakeError::PeerClosed {
            close_notify: peer.saw_close_notify(),
            received: peer.received(),
        }),
        Ok(_) if peer.verdict() == Verdict::NotTls => Err(HandshakeError::NotTls {
            prefix: peer.take_not_tls_prefix(),
        }),
        Ok(_) => Ok(PeerRead::Bytes),
        Err(e) if e.kind() == io::ErrorKind::WouldBlock => Ok(PeerRead::WouldBlock),
        Err(e) if e.kind() == io::ErrorKind::Interrupted => Ok(PeerRead::Interrupted),
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
    mut read_tls: impl FnMut(&mut dyn Read) -> io::Result<usize>,
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
}

impl<IO: Read + ?Sized> Read for Counted<'_, IO> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.cost.reads += 1;
        let result = self.io.read(buf);
        let n = self.note(result)?;
        self.peer.observe(&buf[..n.min(buf.len())]);
        Ok(n)
    }
}

impl<IO: Write + ?Sized> Write for Counted<'_, IO> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.cost.writes += 1;
        let result = self.io.write(buf);
        self.note(result)
    }

    fn write_vectored(&mut self, bufs: &[io::IoSlice<'_>]) -> io::Result<usize> {
        self.cost.writes += 1;
        let result = self.io.write_vectored(bufs);
        self.note(result)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.cost.flushes += 1;
        let result = self.io.flush();
        self.note(result)
    }
}
