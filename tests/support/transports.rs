//! Transports for tests: one that audits the waker contract, and faulty ones.
#![allow(
    dead_code,
    unreachable_pub,
    reason = "shared by test binaries and the bench, each using part of it"
)]

use std::{
    future::Future,
    io,
    pin::Pin,
    sync::{
        atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering},
        Arc,
    },
    task::{Context, Poll},
};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// Implements `AsyncRead` for a wrapper by passing reads to its field `$field`:
/// `delegate_read!(io for [IO: AsyncRead + Unpin] Live<IO>);` (`[]` when not generic).
macro_rules! delegate_read {
    ($field:tt for [$($generics:tt)*] $ty:ty) => {
        impl<$($generics)*> tokio::io::AsyncRead for $ty {
            fn poll_read(
                mut self: std::pin::Pin<&mut Self>,
                cx: &mut std::task::Context<'_>,
                buf: &mut tokio::io::ReadBuf<'_>,
            ) -> std::task::Poll<std::io::Result<()>> {
                std::pin::Pin::new(&mut self.$field).poll_read(cx, buf)
            }
        }
    };
}

/// Implements `AsyncWrite` for a wrapper by passing writes, flushes and shutdowns to its
/// field `$field`, as [`delegate_read`] does for reads.
macro_rules! delegate_write {
    ($field:tt for [$($generics:tt)*] $ty:ty) => {
        impl<$($generics)*> tokio::io::AsyncWrite for $ty {
            fn poll_write(
                mut self: std::pin::Pin<&mut Self>,
                cx: &mut std::task::Context<'_>,
                buf: &[u8],
            ) -> std::task::Poll<std::io::Result<usize>> {
                std::pin::Pin::new(&mut self.$field).poll_write(cx, buf)
            }
            fn poll_flush(
                mut self: std::pin::Pin<&mut Self>,
                cx: &mut std::task::Context<'_>,
            ) -> std::task::Poll<std::io::Result<()>> {
                std::pin::Pin::new(&mut self.$field).poll_flush(cx)
            }
            fn poll_shutdown(
                mut self: std::pin::Pin<&mut Self>,
                cx: &mut std::task::Context<'_>,
            ) -> std::task::Poll<std::io::Result<()>> {
                std::pin::Pin::new(&mut self.$field).poll_shutdown(cx)
            }
        }
    };
}

#[allow(
    unused_imports,
    reason = "each test binary uses part of the support code"
)]
pub(crate) use {delegate_read, delegate_write};

/// What a transport did during the poll in progress.
#[derive(Default, Debug)]
pub struct Probe {
    pending_this_poll: AtomicBool,
    calls: AtomicU32,
    bytes_read: AtomicU64,
}

impl Probe {
    pub fn new() -> Arc<Self> {
        Arc::new(Self::default())
    }
    pub fn calls(&self) -> u32 {
        self.calls.load(Ordering::Relaxed)
    }
    /// Bytes the wrapped transport handed out: an upper bound on what the handshake buffers.
    pub fn bytes_read(&self) -> u64 {
        self.bytes_read.load(Ordering::Relaxed)
    }
    fn saw<T>(&self, poll: Poll<T>) -> Poll<T> {
        self.calls.fetch_add(1, Ordering::Relaxed);
        if poll.is_pending() {
            self.pending_this_poll.store(true, Ordering::Relaxed);
        }
        poll
    }
}

/// Records, through a [`Probe`], every `Pending` the wrapped transport returns.
#[derive(Debug)]
pub struct Audited<IO> {
    pub io: IO,
    probe: Arc<Probe>,
}

impl<IO> Audited<IO> {
    pub fn new(io: IO, probe: &Arc<Probe>) -> Self {
        Self {
            io,
            probe: probe.clone(),
        }
    }
}

impl<IO: AsyncRead + Unpin> AsyncRead for Audited<IO> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let poll = Pin::new(&mut self.io).poll_read(cx, buf);
        let read = (buf.filled().len() - before) as u64;
        self.probe.bytes_read.fetch_add(read, Ordering::Relaxed);
        self.probe.saw(poll)
    }
}

impl<IO: AsyncWrite + Unpin> AsyncWrite for Audited<IO> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let poll = Pin::new(&mut self.io).poll_write(cx, buf);
        self.probe.saw(poll)
    }
    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let poll = Pin::new(&mut self.io).poll_write_vectored(cx, bufs);
        self.probe.saw(poll)
    }
    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }
    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let poll = Pin::new(&mut self.io).poll_flush(cx);
        self.probe.saw(poll)
    }
    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let poll = Pin::new(&mut self.io).poll_shutdown(cx);
        self.probe.saw(poll)
    }
}

/// How a future behaved under audit.
#[derive(Debug, Default, Clone, Copy)]
pub struct Audit {
    pub polls: u32,
    /// `Pending` returned though no audited transport returned `Pending` in that poll.
    pub violations: u32,
}

/// Polls `fut` to completion, checking after every `Pending` that one of `probes` saw the
/// transport return `Pending` in that same poll.
pub async fn audit<F: Future>(fut: F, probes: &[Arc<Probe>]) -> (F::Output, Audit) {
    let mut fut = std::pin::pin!(fut);
    let mut audit = Audit::default();
    let output = std::future::poll_fn(|cx| {
        for p in probes {
            p.pending_this_poll.store(false, Ordering::Relaxed);
        }
        audit.polls += 1;
        let poll = fut.as_mut().poll(cx);
        if poll.is_pending()
            && !probes
                .iter()
                .any(|p| p.pending_this_poll.load(Ordering::Relaxed))
        {
            audit.violations += 1;
        }
        poll
    })
    .await;
    (output, audit)
}

/// Misbehaviours a [`Faulty`] transport shows.
#[derive(Clone, Copy, Debug, Default)]
pub struct Faults {
    /// Reads and writes move at most one byte.
    pub one_byte: bool,
    /// Every other call returns `Pending` (after waking the task, as a ready socket would).
    pub pending_every_other: bool,
    /// Writes are buffered and reach the peer only on flush; each flush returns `Pending` once.
    pub buffered_flush_pending_once: bool,
    /// `poll_write` returns `Ok(0)`.
    pub write_returns_zero: bool,
}

#[derive(Debug)]
pub struct Faulty<IO> {
    io: IO,
    faults: Faults,
    toggle: bool,
    buffer: Vec<u8>,
    flush_blocked: bool,
}

impl<IO> Faulty<IO> {
    pub fn new(io: IO, faults: Faults) -> Self {
        Self {
            io,
            faults,
            toggle: false,
            buffer: Vec::new(),
            flush_blocked: false,
        }
    }

    /// `true` when this call should return `Pending`; wakes the task so it is retried.
    fn stall(&mut self, cx: &mut Context<'_>) -> bool {
        if !self.faults.pending_every_other {
            return false;
        }
        self.toggle = !self.toggle;
        if self.toggle {
            cx.waker().wake_by_ref();
        }
        self.toggle
    }
}

impl<IO: AsyncRead + Unpin> AsyncRead for Faulty<IO> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        if self.stall(cx) {
            return Poll::Pending;
        }
        if self.faults.one_byte && buf.remaining() > 1 {
            let mut one = [0u8; 1];
            let mut small = ReadBuf::new(&mut one);
            let poll = Pin::new(&mut self.io).poll_read(cx, &mut small);
            if let Poll::Ready(Ok(())) = poll {
                buf.put_slice(small.filled());
            }
            return poll;
        }
        Pin::new(&mut self.io).poll_read(cx, buf)
    }
}

impl<IO: AsyncWrite + Unpin> AsyncWrite for Faulty<IO> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        if self.stall(cx) {
            return Poll::Pending;
        }
        if self.faults.write_returns_zero {
            return Poll::Ready(Ok(0));
        }
        let buf = if self.faults.one_byte && buf.len() > 1 {
            &buf[..1]
        } else {
            buf
        };
        if self.faults.buffered_flush_pending_once {
            self.buffer.extend_from_slice(buf);
            self.flush_blocked = true;
            return Poll::Ready(Ok(buf.len()));
        }
        Pin::new(&mut self.io).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        if self.stall(cx) {
            return Poll::Pending;
        }
        if self.flush_blocked {
            self.flush_blocked = false;
            cx.waker().wake_by_ref();
            return Poll::Pending;
        }
        while !self.buffer.is_empty() {
            let me = &mut *self;
            let n = std::task::ready!(Pin::new(&mut me.io).poll_write(cx, &me.buffer))?;
            if n == 0 {
                return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
            }
            me.buffer.drain(..n);
        }
        Pin::new(&mut self.io).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        std::task::ready!(self.as_mut().poll_flush(cx))?;
        Pin::new(&mut self.io).poll_shutdown(cx)
    }
}

/// How many [`Live`] transports are open now, and the most that ever were at once.
#[derive(Debug, Default)]
pub struct LiveCount {
    open: std::sync::atomic::AtomicUsize,
    most: std::sync::atomic::AtomicUsize,
}

impl LiveCount {
    pub fn new() -> Arc<Self> {
        Arc::new(Self::default())
    }
    pub fn open(&self) -> usize {
        self.open.load(Ordering::SeqCst)
    }
    pub fn most(&self) -> usize {
        self.most.load(Ordering::SeqCst)
    }
}

/// A transport counted in a [`LiveCount`] from creation until it is dropped.
#[derive(Debug)]
pub struct Live<IO> {
    io: IO,
    count: Arc<LiveCount>,
}

impl<IO> Live<IO> {
    pub fn new(io: IO, count: &Arc<LiveCount>) -> Self {
        let open = count.open.fetch_add(1, Ordering::SeqCst) + 1;
        count.most.fetch_max(open, Ordering::SeqCst);
        Self {
            io,
            count: count.clone(),
        }
    }
}

impl<IO> Drop for Live<IO> {
    fn drop(&mut self) {
        self.count.open.fetch_sub(1, Ordering::SeqCst);
    }
}

delegate_read!(io for [IO: AsyncRead + Unpin] Live<IO>);
delegate_write!(io for [IO: AsyncWrite + Unpin] Live<IO>);

/// A transport that keeps a copy of every byte written through it.
#[derive(Debug)]
pub struct Recorded<IO> {
    io: IO,
    written: Arc<std::sync::Mutex<Vec<u8>>>,
}

impl<IO> Recorded<IO> {
    pub fn new(io: IO) -> Self {
        Self {
            io,
            written: Arc::default(),
        }
    }
    /// Everything written so far, shared.
    pub fn written(&self) -> Arc<std::sync::Mutex<Vec<u8>>> {
        self.written.clone()
    }
}

delegate_read!(io for [IO: AsyncRead + Unpin] Recorded<IO>);

impl<IO: AsyncWrite + Unpin> AsyncWrite for Recorded<IO> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let poll = Pin::new(&mut self.io).poll_write(cx, buf);
        if let Poll::Ready(Ok(n)) = poll {
            if let Ok(mut written) = self.written.lock() {
                written.extend_from_slice(&buf[..n]);
            }
        }
        poll
    }
    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_flush(cx)
    }
    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_shutdown(cx)
    }
}

/// A transport that reports its peer's port each time a read delivers bytes, so a test knows
/// a handshake has read what its peer sent.
#[derive(Debug)]
pub struct Reported {
    pub io: tokio::io::DuplexStream,
    pub port: u16,
    pub reads: tokio::sync::mpsc::UnboundedSender<u16>,
}

impl AsyncRead for Reported {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let poll = Pin::new(&mut self.io).poll_read(cx, buf);
        if buf.filled().len() > before {
            let _ = self.reads.send(self.port);
        }
        poll
    }
}

delegate_write!(io for [] Reported);
