//! Faults injected at every transport call, and cancellation at every poll, for a full
//! handshake of each role. Every run ends in success or the right error, never a hang, never
//! a waker-contract violation, and no transport outlives its handshake.

use crate::support;

use std::{
    future::Future,
    io,
    pin::Pin,
    sync::{
        atomic::{AtomicUsize, Ordering},
        Arc,
    },
    task::{Context, Poll},
    time::Duration,
};

use rustls::{server::ClientHello, ServerConfig};
use support::{
    name,
    transports::{audit, Audited, Probe},
    World,
};
use tokio::io::{duplex, AsyncRead, AsyncWrite, AsyncWriteExt, DuplexStream, ReadBuf};
use tokio_tls_handshake::{accept::Choice, Acceptor, Connector, HandshakeError};

/// A hang shows up as this bound expiring, not as a stuck test.
const RUN_LIMIT: Duration = Duration::from_secs(10);

#[derive(Clone, Copy, Debug, PartialEq)]
enum Fault {
    /// The call returns `ConnectionReset`.
    Error,
    /// A read returns EOF, a write `Ok(0)` (a flush has no such answer, so it errors).
    Zero,
    /// The call returns `Pending` and wakes the task at once: a spurious wake-up.
    Spurious,
}

/// Injects `fault` into the `at`-th transport call (0-based; reads, writes and flushes
/// counted together), counts calls, and counts itself among the live transports.
struct FailAt {
    io: DuplexStream,
    at: usize,
    fault: Fault,
    calls: Arc<AtomicUsize>,
    live: Arc<AtomicUsize>,
}

impl FailAt {
    fn new(io: DuplexStream, at: usize, fault: Fault, live: &Arc<AtomicUsize>) -> Self {
        live.fetch_add(1, Ordering::SeqCst);
        Self {
            io,
            at,
            fault,
            calls: Arc::new(AtomicUsize::new(0)),
            live: live.clone(),
        }
    }

    /// `Some(poll)` when this call is the faulty one.
    fn inject<T>(
        &mut self,
        cx: &mut Context<'_>,
        zero: impl FnOnce() -> T,
    ) -> Option<Poll<io::Result<T>>> {
        let call = self.calls.fetch_add(1, Ordering::SeqCst);
        if call != self.at {
            return None;
        }
        Some(match self.fault {
            Fault::Error => Poll::Ready(Err(io::ErrorKind::ConnectionReset.into())),
            Fault::Zero => Poll::Ready(Ok(zero())),
            Fault::Spurious => {
                cx.waker().wake_by_ref();
                Poll::Pending
            }
        })
    }
}

impl Drop for FailAt {
    fn drop(&mut self) {
        self.live.fetch_sub(1, Ordering::SeqCst);
    }
}

impl AsyncRead for FailAt {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        // Ok(()) with nothing filled is EOF.
        if let Some(poll) = self.inject(cx, || ()) {
            return poll;
        }
        Pin::new(&mut self.io).poll_read(cx, buf)
    }
}

impl AsyncWrite for FailAt {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        if let Some(poll) = self.inject(cx, || 0) {
            return poll;
        }
        Pin::new(&mut self.io).poll_write(cx, buf)
    }
    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let zero_is_error = self.fault == Fault::Zero;
        if let Some(poll) = self.inject(cx, || ()) {
            return match poll {
                Poll::Ready(Ok(())) if zero_is_error => {
                    Poll::Ready(Err(io::ErrorKind::ConnectionReset.into()))
                }
                other => other,
            };
        }
        Pin::new(&mut self.io).poll_flush(cx)
    }
    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_shutdown(cx)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Side {
    Client,
    Server,
    /// A server that reads the ClientHello first and lets a chooser decide
    /// (`Acceptor::with_chooser`).
    ChoosingServer,
}

/// The acceptor for `side`: without a deadline, so that only the transport ends a handshake.
fn acceptor(world: &World, side: Side) -> Acceptor {
    let acceptor = Acceptor::from(world.server().build()).without_timeout();
    if side != Side::ChoosingServer {
        return acceptor;
    }
    acceptor.with_chooser(|_: &ClientHello<'_>, config: &Arc<ServerConfig>| {
        Choice::Serve(config.clone())
    })
}

struct Run {
    /// The faulty side's result, `Ok` if it completed.
    faulty: Result<(), HandshakeError>,
    /// Transport calls the faulty side made.
    calls: usize,
    violations: u32,
}

/// One full handshake between our client and our server; `side` gets a faulty transport.
async fn run(world: &World, side: Side, at: usize, fault: Fault, live: &Arc<AtomicUsize>) -> Run {
    let (a, b) = duplex(64 * 1024);
    let (faulty_io, plain_io) = (a, b);
    let faulty_io = FailAt::new(faulty_io, at, fault, live);
    let calls = faulty_io.calls.clone();
    let probe = Probe::new();
    let faulty_io = Audited::new(faulty_io, &probe);
    let connector = Connector::from(world.client().build());
    let acceptor = acceptor(world, side);
    let probes = [probe];
    let both = async {
        match side {
            Side::Client => {
                let (faulty, plain) = tokio::join!(
                    audit(connector.connect(name("localhost"), faulty_io), &probes),
                    acceptor.accept(plain_io)
                );
                drop(plain);
                (faulty.0.map(drop), faulty.1)
            }
            Side::Server | Side::ChoosingServer => {
                let (plain, faulty) = tokio::join!(
                    connector.connect(name("localhost"), plain_io),
                    audit(acceptor.accept(faulty_io), &probes)
                );
                // A fault while writing a TLS 1.3 server's session tickets does not undo the
                // completed handshake, and is not dropped either: the first flush returns it.
                let result = match faulty.0 {
                    Ok(mut tls) => tls
                        .flush()
                        .await
                        .map_err(|e| HandshakeError::Transport(e.into())),
                    Err(e) => Err(e),
                };
                drop(plain);
                (result, faulty.1)
            }
        }
    };
    let (faulty, audit) = tokio::time::timeout(RUN_LIMIT, both)
        .await
        .unwrap_or_else(|_| panic!("{side:?}, fault {fault:?} at call {at}: the handshake hung"));
    Run {
        faulty,
        calls: calls.load(Ordering::SeqCst),
        violations: audit.violations,
    }
}

/// The errors a fault may cause on the side that suffered it.
fn fits(fault: Fault, error: &HandshakeError) -> bool {
    match (fault, error) {
        (Fault::Error, HandshakeError::Transport(e)) => e.kind() == io::ErrorKind::ConnectionReset,
        (Fault::Zero, HandshakeError::Transport(e)) => {
            matches!(
                e.kind(),
                io::ErrorKind::WriteZero | io::ErrorKind::ConnectionReset
            )
        }
        (
            Fault::Zero,
            HandshakeError::PeerClosed {
                close_notify: false,
                ..
            },
        ) => true,
        _ => false,
    }
}

#[tokio::test]
async fn a_fault_at_every_transport_call_of_either_role() {
    let world = World::new();
    let live = Arc::new(AtomicUsize::new(0));
    let mut runs = 0;
    for side in [Side::Client, Side::Server, Side::ChoosingServer] {
        for fault in [Fault::Error, Fault::Zero, Fault::Spurious] {
            for at in 0.. {
                let run = run(&world, side, at, fault, &live).await;
                runs += 1;
                let label = format!("{side:?}, fault {fault:?} at call {at}");
                assert_eq!(run.violations, 0, "{label}: waker contract");
                assert_eq!(
                    live.load(Ordering::SeqCst),
                    0,
                    "{label}: a transport leaked"
                );
                let injected = at < run.calls;
                match (&run.faulty, fault) {
                    (Ok(()), Fault::Spurious) => {}
                    (Ok(()), _) => assert!(!injected, "{label}: the fault was dropped"),
                    (Err(e), Fault::Spurious) => {
                        panic!("{label}: a spurious wake-up failed it: {e:?}")
                    }
                    (Err(e), _) => assert!(fits(fault, e), "{label}: {e:?}"),
                }
                if !injected {
                    break; // the handshake finished before call `at`: every call was covered
                }
                assert!(at < 100, "{label}: too many transport calls");
            }
        }
    }
    eprintln!("\nfaults: {runs} handshakes, each with one fault at a different call");
}

/// What the other side may see when its peer's handshake is dropped: an EOF, or a broken
/// pipe if it was writing; or success, if the dropped side had already sent all it had to.
fn sees_close(peer: &Result<(), HandshakeError>) -> bool {
    match peer {
        Ok(()) | Err(HandshakeError::PeerClosed { .. }) => true,
        Err(HandshakeError::Transport(e)) => e.kind() == io::ErrorKind::BrokenPipe,
        Err(_) => false,
    }
}

/// Polls the inner future at most `polls` times, then gives up and drops it.
struct CancelAfter<F> {
    inner: Option<Pin<Box<F>>>,
    polls: usize,
}

impl<F: Future> Future for CancelAfter<F> {
    type Output = Option<F::Output>;
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        if self.polls == 0 {
            self.inner = None; // cancelled: dropped here, mid-handshake
            return Poll::Ready(None);
        }
        self.polls -= 1;
        match self.inner.as_mut().map(|f| f.as_mut().poll(cx)) {
            Some(Poll::Ready(output)) => Poll::Ready(Some(output)),
            Some(Poll::Pending) => Poll::Pending,
            None => Poll::Ready(None),
        }
    }
}

#[tokio::test]
async fn cancellation_at_every_poll_of_either_role() {
    let world = World::new();
    let live = Arc::new(AtomicUsize::new(0));
    let mut runs = 0;
    // A roomy pipe, and a 64-byte one that makes every flight take many polls.
    for (side, capacity) in [
        (Side::Client, 64 * 1024),
        (Side::Server, 64 * 1024),
        (Side::Client, 64),
        (Side::Server, 64),
        (Side::ChoosingServer, 64 * 1024),
        (Side::ChoosingServer, 64),
    ] {
        for polls in 0.. {
            let (a, b) = duplex(capacity);
            // Never faulty: `at` past any handshake.
            let ours = FailAt::new(a, usize::MAX, Fault::Error, &live);
            let connector = Connector::from(world.client().build());
            let acceptor = acceptor(&world, side);
            // The peer runs as its own task; it must see the cancelled side's close.
            let (finished, peer) = match side {
                Side::Client => {
                    let peer = tokio::spawn(async move { acceptor.accept(b).await.map(drop) });
                    let cancelled = CancelAfter {
                        inner: Some(Box::pin(connector.connect(name("localhost"), ours))),
                        polls,
                    };
                    (cancelled.await.map(|r| r.map(drop)), peer)
                }
                Side::Server | Side::ChoosingServer => {
                    let peer = tokio::spawn(async move {
                        connector.connect(name("localhost"), b).await.map(drop)
                    });
                    let cancelled = CancelAfter {
                        inner: Some(Box::pin(acceptor.accept(ours))),
                        polls,
                    };
                    (cancelled.await.map(|r| r.map(drop)), peer)
                }
            };
            runs += 1;
            let label =
                format!("{side:?} over a {capacity}-byte pipe, cancelled after {polls} polls");
            assert_eq!(
                live.load(Ordering::SeqCst),
                0,
                "{label}: the transport outlived the future"
            );
            let peer = tokio::time::timeout(RUN_LIMIT, peer)
                .await
                .unwrap_or_else(|_| panic!("{label}: the peer never saw the close"))
                .expect("peer task did not panic");
            match &finished {
                None => assert!(sees_close(&peer), "{label}: peer got {peer:?}"),
                Some(result) => assert!(result.is_ok(), "{label}: {result:?}"),
            }
            let alive = tokio::runtime::Handle::current()
                .metrics()
                .num_alive_tasks();
            assert_eq!(alive, 0, "{label}: a task was left behind");
            if finished.is_some() {
                break; // completed within `polls`: every earlier poll was a cancellation point
            }
            assert!(polls < 1000, "{label}: too many polls");
        }
    }
    eprintln!("\ncancellation: {runs} handshakes, dropped after every possible number of polls");
}
