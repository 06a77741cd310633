//! A Tokio transport and a task `Context`, seen as `std::io::Read + Write`.
//!
//! The contract: `Poll::Pending` becomes `io::ErrorKind::WouldBlock`, and only that does.
//! So when the sync step reports `WantRead` / `WantWrite` through this adapter, the transport
//! has already registered the task's waker, and returning `Poll::Pending` is safe. A transport
//! that itself returns `Ready(Err(WouldBlock))` from a poll function breaks Tokio's contract
//! (nothing would wake the task); that is reported as an ordinary error instead of a hang.

use std::{
    io::{self, Read, Write},
    pin::Pin,
    task::{Context, Poll},
};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

pub(crate) struct PollIo<'a, 'b, IO> {
    io: &'a mut IO,
    cx: &'a mut Context<'b>,
}

impl<'a, 'b, IO> PollIo<'a, 'b, IO> {
    pub(crate) fn new(io: &'a mut IO, cx: &'a mut Context<'b>) -> Self {
        Self { io, cx }
    }
}

fn into_io<T>(poll: Poll<io::Result<T>>) -> io::Result<T> {
    match poll {
        Poll::Pending => Err(io::ErrorKind::WouldBlock.into()),
        Poll::Ready(Err(e)) if e.kind() == io::ErrorKind::WouldBlock => Err(io::Error::other(
            "transport returned WouldBlock from a poll function instead of Pending",
        )),
        Poll::Ready(result) => result,
    }
}

impl<IO: AsyncRead + Unpin> Read for PollIo<'_, '_, IO> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let mut buf = ReadBuf::new(buf);
        into_io(Pin::new(&mut *self.io).poll_read(self.cx, &mut buf))?;
        Ok(buf.filled().len())
    }
}

impl<IO: AsyncWrite + Unpin> Write for PollIo<'_, '_, IO> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        into_io(Pin::new(&mut *self.io).poll_write(self.cx, buf))
    }

    fn write_vectored(&mut self, bufs: &[io::IoSlice<'_>]) -> io::Result<usize> {
        into_io(Pin::new(&mut *self.io).poll_write_vectored(self.cx, bufs))
    }

    fn flush(&mut self) -> io::Result<()> {
        into_io(Pin::new(&mut *self.io).poll_flush(self.cx))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::task::Waker;

    #[test]
    fn pending_is_would_block_and_a_ready_would_block_is_an_error() {
        assert_eq!(
            into_io::<()>(Poll::Pending).map_err(|e| e.kind()),
            Err(io::ErrorKind::WouldBlock)
        );
        let err = into_io::<()>(Poll::Ready(Err(io::ErrorKind::WouldBlock.into())));
        assert_eq!(err.map_err(|e| e.kind()), Err(io::ErrorKind::Other));
    }

    #[test]
    fn reads_and_writes_pass_through() {
        let mut cx = Context::from_waker(Waker::noop());
        let mut io = tokio::io::join(&b"peer"[..], Vec::<u8>::new());
        let mut adapter = PollIo::new(&mut io, &mut cx);
        let mut buf = [0u8; 8];
        assert_eq!(adapter.read(&mut buf).ok(), Some(4));
        assert_eq!(adapter.write(b"ours").ok(), Some(4));
        assert!(adapter.flush().is_ok());
    }
}
