//! An in-memory transport in the manner of OpenSSL's BIO pair: reading an empty inbox and
//! writing a full outbox would block. (The tests use it too.)

use std::io::{self, Read, Write};

pub(crate) struct MemoryBio {
    /// Peer bytes fed in, not yet read.
    pub(crate) inbox: Vec<u8>,
    /// Bytes written, not yet drained to the peer.
    pub(crate) outbox: Vec<u8>,
    /// How many bytes the outbox holds before writes would block.
    pub(crate) capacity: usize,
}

impl MemoryBio {
    pub(crate) fn new(capacity: usize) -> Self {
        Self {
            inbox: Vec::new(),
            outbox: Vec::new(),
            capacity,
        }
    }

    /// Moves everything written here into `peer`'s inbox; returns how many bytes moved.
    pub(crate) fn drain_into(&mut self, peer: &mut MemoryBio) -> usize {
        let n = self.outbox.len();
        peer.inbox.append(&mut self.outbox);
        n
    }
}

impl Read for MemoryBio {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.inbox.is_empty() {
            return Err(io::ErrorKind::WouldBlock.into());
        }
        let n = buf.len().min(self.inbox.len());
        buf[..n].copy_from_slice(&self.inbox[..n]);
        self.inbox.drain(..n);
        Ok(n)
    }
}

impl Write for MemoryBio {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let room = self.capacity - self.outbox.len();
        if room == 0 {
            return Err(io::ErrorKind::WouldBlock.into());
        }
        let n = buf.len().min(room);
        self.outbox.extend_from_slice(&buf[..n]);
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}
