//! The received TLS bytes, held by the caller as rustls 0.24 asks: either rustls' own
//! `VecInput`, kept for the connection's life (it shrinks to 4 KiB, never below), or
//! `ReleasingInput`, whose buffer is freed whenever rustls has consumed everything in it, so
//! that an idle connection holds no receive buffer at all.

use std::io::{self, Read};

use rustls_next::{TlsInputBuffer, VecInput};
use tokio::net::TcpStream;

/// What a stream does with its buffers once they are empty.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Buffers {
    /// rustls' `VecInput`, kept for the connection's life.
    Kept,
    /// A receive buffer freed whenever it is empty.
    Released,
}

/// Bytes read per socket read, as rustls' own buffers read (4 KiB at a time, up to a whole
/// record and its neighbours).
const READ_SIZE: usize = 4096;
/// The most a connection buffers before rustls consumes it (its own limit, 64 KiB).
const MAX_BUFFERED: usize = 0xffff;

/// The receive buffer of one stream.
pub enum Input {
    Kept(VecInput),
    Released(ReleasingInput),
}

impl Input {
    pub fn new(buffers: Buffers) -> Self {
        match buffers {
            Buffers::Kept => Self::Kept(VecInput::default()),
            Buffers::Released => Self::Released(ReleasingInput::default()),
        }
    }

    /// Reads what the socket has without waiting: `WouldBlock` if it has nothing, `Ok(0)`
    /// at its end.
    pub fn read_from(&mut self, tcp: &TcpStream) -> io::Result<usize> {
        match self {
            Self::Kept(input) => input.read(&mut TryRead(tcp)),
            Self::Released(input) => input.read_from(tcp),
        }
    }

    /// What rustls reads from.
    pub fn as_dyn(&mut self) -> &mut dyn TlsInputBuffer {
        match self {
            Self::Kept(input) => input,
            Self::Released(input) => input,
        }
    }

    /// Frees the buffer if it holds nothing (a released input only).
    pub fn release_if_empty(&mut self) {
        if let Self::Released(input) = self {
            input.release_if_empty();
        }
    }
}

/// A Tokio socket as the `std::io::Read` that `VecInput::read` takes: a read that would wait
/// is `WouldBlock`.
struct TryRead<'a>(&'a TcpStream);

impl Read for TryRead<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.0.try_read(buf)
    }
}

/// A receive buffer that holds no memory while empty.
#[derive(Default)]
pub struct ReleasingInput {
    buf: Vec<u8>,
    used: usize,
    eof: bool,
    closed: bool,
}

impl ReleasingInput {
    fn read_from(&mut self, tcp: &TcpStream) -> io::Result<usize> {
        if self.closed {
            return Ok(0);
        }
        if self.used >= MAX_BUFFERED {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "receive buffer full",
            ));
        }
        let need = (self.used + READ_SIZE).min(MAX_BUFFERED);
        if self.buf.len() < need {
            self.buf.resize(need, 0);
        }
        match tcp.try_read(&mut self.buf[self.used..]) {
            Ok(read) => {
                self.eof |= read == 0;
                self.used += read;
                self.release_if_empty();
                Ok(read)
            }
            Err(error) => {
                self.release_if_empty();
                Err(error)
            }
        }
    }

    fn release_if_empty(&mut self) {
        if self.used == 0 && self.buf.capacity() > 0 {
            self.buf = Vec::new();
        }
    }
}

impl TlsInputBuffer for ReleasingInput {
    fn slice_mut(&mut self) -> &mut [u8] {
        &mut self.buf[..self.used]
    }

    fn discard(&mut self, taken: usize) {
        if taken < self.used {
            self.buf.copy_within(taken..self.used, 0);
            self.used -= taken;
        } else {
            self.used = 0;
        }
    }

    fn received_close_notify(&mut self) {
        self.closed = true;
    }

    fn has_seen_eof(&self) -> bool {
        self.eof
    }
}
