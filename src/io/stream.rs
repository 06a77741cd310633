//! [`TlsStream`]: the established connection: the transport and the same engine the handshake
//! used, carrying on, so nothing the peer sent is lost or left unprocessed between them.

use std::{
    io,
    net::SocketAddr,
    pin::Pin,
    task::{ready, Context, Poll, Waker},
};

use rustls::{ClientConnection, ServerConnection};
use tokio::io::{AsyncBufRead, AsyncRead, AsyncWrite, ReadBuf};

use super::adapter::PollIo;
use crate::{
    engine::HandshakeReport,
    engine::HandshakeStats,
    engine::TlsConnection,
    engine::{Engine, Flush, Phase, ReadOutcome},
    error::HandshakeError,
};

/// An established TLS connection over the transport `IO`.
///
/// Reading returns the peer's plaintext; a `close_notify` from the peer reads as EOF, while a
/// transport EOF without one is an [`io::ErrorKind::UnexpectedEof`] error (a truncation
/// attack cannot pass for the end of the data). A fatal TLS error after the handshake (for
/// example a TLS 1.3 server rejecting this client's certificate) is an
/// [`io::ErrorKind::InvalidData`] error whose inner error is a [`HandshakeError::Protocol`],
/// once the plaintext that arrived before it has been read; every later read and write gets
/// the same error.
///
/// Writing encrypts into rustls' buffer and writes to the transport as far as it accepts;
/// `poll_flush` pushes out the rest; `poll_shutdown` sends `close_notify`, flushes, then
/// shuts the transport down.
///
/// Split into halves (`tokio::io::split`) for a reader task and a writer task, a fatal error
/// seen by the reader also ends the writer: the writer is woken and its writes fail.
///
/// `Debug` shows no application data.
#[derive(Debug)]
pub struct TlsStream<IO, C> {
    pub(super) io: IO,
    pub(super) engine: Engine<C>,
    close_notify_queued: bool,
    /// The task that last waited to write; woken when a read ends the connection.
    writer: Option<Waker>,
}

/// A client's established connection.
pub type ClientTlsStream<IO> = TlsStream<IO, ClientConnection>;

impl<IO> TlsStream<IO, ClientConnection> {
    /// Whether the server accepted this client's TLS 1.3 early data (see
    /// [`Connector::connect_with_early_data`](crate::Connector::connect_with_early_data)).
    pub fn early_data_accepted(&self) -> bool {
        self.engine.early_data_accepted()
    }
}

impl<IO> TlsStream<IO, ServerConnection> {
    /// Takes the TLS 1.3 early data (0-RTT) the client sent with its ClientHello, if the
    /// server accepted some (`ServerConfig::max_early_data_size` above zero). It arrives
    /// before the handshake proved anything about the connection's freshness.
    ///
    /// # Replay
    ///
    /// An attacker who captured it can send it again, to this or another server sharing the
    /// ticket keys: act on early data only if doing it twice is harmless (an idempotent
    /// `GET`), or defer it until the handshake is complete, which it is once this stream
    /// exists (the ordinary `read` path never returns early data).
    ///
    /// # Errors
    ///
    /// An error reading rustls' early-data buffer (it reads from memory and does not fail in
    /// practice); the data stays in rustls, nothing is lost.
    pub fn take_early_data(&mut self) -> io::Result<Option<Vec<u8>>> {
        self.engine.take_early_data()
    }
}
/// A server's established connection.
pub type ServerTlsStream<IO> = TlsStream<IO, ServerConnection>;

impl<IO, C: TlsConnection> TlsStream<IO, C> {
    /// The stream over `io`, carrying on with the engine the handshake used.
    pub(crate) fn new(io: IO, engine: Engine<C>) -> Self {
        Self {
            io,
            engine,
            close_notify_queued: false,
            writer: None,
        }
    }

    /// Server behind a proxy: the address the connection was forwarded for, as a layer in
    /// front of TLS read it (a PROXY protocol header: `Acceptor::with_proxy_protocol`, with the
    /// `proxy-protocol` feature). `None` when nothing in front said.
    pub fn forwarded_for(&self) -> Option<SocketAddr> {
        self.engine.forwarded_for()
    }

    /// The transport and the rustls connection, as tokio-rustls' `get_ref` gives them.
    pub fn get_ref(&self) -> (&IO, &C) {
        (&self.io, self.engine.conn())
    }

    /// The transport and the rustls connection, mutably, as tokio-rustls' `get_mut` gives
    /// them. Reading or writing the transport directly corrupts the TLS stream.
    pub fn get_mut(&mut self) -> (&mut IO, &mut C) {
        (&mut self.io, self.engine.conn_mut())
    }

    /// The rustls connection: negotiated version, cipher suite, ALPN, SNI, peer certificates.
    pub fn connection(&self) -> &C {
        self.engine.conn()
    }

    /// The rustls connection, mutably (for example to send a key update).
    pub fn connection_mut(&mut self) -> &mut C {
        self.engine.conn_mut()
    }

    /// What the handshake cost, without building a whole report (for metrics).
    pub(crate) fn stats(&self) -> HandshakeStats {
        self.engine.stats()
    }

    /// What the handshake negotiated and cost, as one value with a log-friendly `Display`.
    pub fn report(&self) -> HandshakeReport {
        self.engine.report()
    }

    /// The transport and the rustls connection. Plaintext rustls has buffered stays in the
    /// connection; TLS bytes not yet written are lost unless the stream was flushed.
    pub fn into_inner(self) -> (IO, C) {
        (self.io, self.engine.into_conn())
    }
}

impl<IO, C> TlsStream<IO, C>
where
    IO: AsyncRead + AsyncWrite + Unpin,
    C: TlsConnection,
{
    /// Once the connection failed: the error every later read and write gets, the same typed
    /// error the first read got.
    fn failed(&self) -> Option<io::Error> {
        match self.engine.phase() {
            Phase::Failed(error) => Some(HandshakeError::clone(error).into()),
            _ => None,
        }
    }

    /// Writes rustls' pending TLS output through the engine's write rule, then flushes the
    /// transport if `flush`.
    fn poll_write_tls(&mut self, cx: &mut Context<'_>, flush: Flush) -> Poll<io::Result<()>> {
        if let Some(failed) = self.failed() {
            return Poll::Ready(Err(failed));
        }
        if let Some(error) = self.engine.take_deferred_write() {
            return Poll::Ready(Err(error));
        }
        match self
            .engine
            .write_to(&mut PollIo::new(&mut self.io, cx), flush)
        {
            Ok(true) => Poll::Ready(Ok(())),
            Ok(false) => {
                if !self
                    .writer
                    .as_ref()
                    .is_some_and(|w| w.will_wake(cx.waker()))
                {
                    self.writer = Some(cx.waker().clone());
                }
                Poll::Pending
            }
            Err(e) => Poll::Ready(Err(e)),
        }
    }

    /// One read from the peer through the engine's read rule.
    pub(super) fn poll_receive(
        &mut self,
        cx: &mut Context<'_>,
    ) -> Poll<Result<ReadOutcome, HandshakeError>> {
        match self.engine.read_from(&mut PollIo::new(&mut self.io, cx)) {
            Ok(ReadOutcome::WouldBlock) => Poll::Pending,
            other => Poll::Ready(other),
        }
    }

    /// Waits until plaintext is buffered in rustls, or the peer's close or an error is known.
    /// Plaintext that arrived before a fatal error is read first; then the error.
    fn poll_plaintext(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        loop {
            if let Some(failed) = self.failed() {
                return Poll::Ready(Err(failed));
            }
            match self.engine.plaintext() {
                Ok(_) => return Poll::Ready(Ok(())),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                Err(e) => return Poll::Ready(Err(e)),
            }
            // Nothing buffered: an error held by the read rule is due now.
            if let Some(error) = self.engine.take_held() {
                return Poll::Ready(Err(self.fail(error, cx)));
            }
            // Output rustls queues while reading (a key update answer) goes with the next
            // write or flush: writing here would register this reader's waker for write
            // readiness and could displace a writer task's.
            match ready!(self.poll_receive(cx)) {
                Ok(ReadOutcome::Bytes | ReadOutcome::Eof | ReadOutcome::Full) => {}
                Ok(ReadOutcome::WouldBlock) => return Poll::Pending,
                Err(error) => return Poll::Ready(Err(self.fail(error, cx))),
            }
        }
    }

    /// The connection failed after the handshake: its fatal alert goes out if the transport
    /// takes it at once, every later read and write gets the same error, and the task waiting
    /// to write (with split halves, another task) is woken so that it ends too. A fatal TLS
    /// error is an `InvalidData` error whose inner error is the `HandshakeError::Protocol`; the
    /// transport's own errors pass as they are.
    fn fail(&mut self, mut error: HandshakeError, cx: &mut Context<'_>) -> io::Error {
        // One attempt: the connection is over either way; `alert_sent` says whether it went.
        let _ = self
            .engine
            .send_alert(&mut PollIo::new(&mut self.io, cx), Some(&mut error));
        self.engine.fail(&error);
        if let Some(writer) = self.writer.take() {
            writer.wake();
        }
        match error {
            HandshakeError::Transport(e) => crate::error::unshare(e),
            other => other.into(),
        }
    }
}

impl<IO, C> AsyncRead for TlsStream<IO, C>
where
    IO: AsyncRead + AsyncWrite + Unpin,
    C: TlsConnection,
{
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        if buf.remaining() == 0 {
            // Nothing can be read into no room; reading the transport now would only fill
            // rustls' buffers.
            return Poll::Ready(Ok(()));
        }
        let chunk = ready!(self.as_mut().poll_fill_buf(cx))?;
        let n = chunk.len().min(buf.remaining());
        buf.put_slice(&chunk[..n]);
        self.as_mut().consume(n);
        // Plaintext of more records rustls already read fills the rest of the caller's buffer
        // now: one poll for all of it.
        let this = self.get_mut();
        while buf.remaining() > 0 {
            match this.engine.plaintext() {
                Ok([]) => break,
                Ok(chunk) => {
                    let n = chunk.len().min(buf.remaining());
                    buf.put_slice(&chunk[..n]);
                    this.engine.consume(n);
                }
                Err(_) => break,
            }
        }
        Poll::Ready(Ok(()))
    }
}

impl<IO, C> AsyncBufRead for TlsStream<IO, C>
where
    IO: AsyncRead + AsyncWrite + Unpin,
    C: TlsConnection,
{
    fn poll_fill_buf(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<&[u8]>> {
        let this = self.get_mut();
        ready!(this.poll_plaintext(cx))?;
        Poll::Ready(this.engine.plaintext())
    }

    fn consume(self: Pin<&mut Self>, amt: usize) {
        self.get_mut().engine.consume(amt);
    }
}

impl<IO, C> AsyncWrite for TlsStream<IO, C>
where
    IO: AsyncRead + AsyncWrite + Unpin,
    C: TlsConnection,
{
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        this.poll_write_with(cx, |writer| writer.write(buf), buf.is_empty())
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let empty = bufs.iter().all(|b| b.is_empty());
        this.poll_write_with(cx, |writer| writer.write_vectored(bufs), empty)
    }

    fn is_write_vectored(&self) -> bool {
        true
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.get_mut().poll_write_tls(cx, Flush::Always)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if !this.close_notify_queued {
            this.engine.queue_close_notify();
            this.close_notify_queued = true;
        }
        ready!(this.poll_write_tls(cx, Flush::Always))?;
        match ready!(Pin::new(&mut this.io).poll_shutdown(cx)) {
            // The peer already left: the connection is as shut down as it gets.
            Err(e) if e.kind() == io::ErrorKind::NotConnected => Poll::Ready(Ok(())),
            result => Poll::Ready(result),
        }
    }
}

impl<IO, C> TlsStream<IO, C>
where
    IO: AsyncRead + AsyncWrite + Unpin,
    C: TlsConnection,
{
    /// Hands plaintext to rustls with `write`, then pushes TLS output to the transport.
    /// Accepted bytes are reported even if the transport took only part of their records;
    /// the rest goes with the next write or flush.
    fn poll_write_with(
        &mut self,
        cx: &mut Context<'_>,
        mut write: impl FnMut(&mut dyn io::Write) -> io::Result<usize>,
        empty: bool,
    ) -> Poll<io::Result<usize>> {
        if empty {
            return Poll::Ready(Ok(0));
        }
        if let Some(failed) = self.failed() {
            return Poll::Ready(Err(failed));
        }
        let mut accepted = self.engine.queue_plaintext(&mut write)?;
        if accepted == 0 {
            // rustls' send buffer is full: make room first.
            ready!(self.poll_write_tls(cx, Flush::No))?;
            accepted = self.engine.queue_plaintext(&mut write)?;
            if accepted == 0 {
                return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
            }
        }
        // The accepted bytes are ours now; if the transport is full they go out later.
        if let Poll::Ready(Err(e)) = self.poll_write_tls(cx, Flush::No) {
            return Poll::Ready(Err(e));
        }
        Poll::Ready(Ok(accepted))
    }
}

#[cfg(unix)]
impl<IO: std::os::fd::AsRawFd, C> std::os::fd::AsRawFd for TlsStream<IO, C> {
    fn as_raw_fd(&self) -> std::os::fd::RawFd {
        self.io.as_raw_fd()
    }
}

#[cfg(unix)]
impl<IO: std::os::fd::AsFd, C> std::os::fd::AsFd for TlsStream<IO, C> {
    fn as_fd(&self) -> std::os::fd::BorrowedFd<'_> {
        self.io.as_fd()
    }
}

#[cfg(windows)]
impl<IO: std::os::windows::io::AsRawSocket, C> std::os::windows::io::AsRawSocket
    for TlsStream<IO, C>
{
    fn as_raw_socket(&self) -> std::os::windows::io::RawSocket {
        self.io.as_raw_socket()
    }
}

#[cfg(windows)]
impl<IO: std::os::windows::io::AsSocket, C> std::os::windows::io::AsSocket for TlsStream<IO, C> {
    fn as_socket(&self) -> std::os::windows::io::BorrowedSocket<'_> {
        self.io.as_socket()
    }
}
