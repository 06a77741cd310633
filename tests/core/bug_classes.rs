//! The bug classes other TLS streams have had (tokio-rustls, tokio-native-tls, tokio-openssl,
//! s2n-tls-tokio, rustls itself), each tried against this crate, for the handshake and the
//! stream, client and server. Every case ends in a verdict within a bound: never a spin,
//! never a hang, never a waker-contract violation.

use crate::support;

use std::{
    io,
    pin::Pin,
    sync::{
        atomic::{AtomicU8, AtomicUsize, Ordering},
        Arc,
    },
    task::{Context, Poll, Wake, Waker},
    time::Duration,
};

use rustls::AlertDescription;
use support::{
    bounded, client_hello, established, name, records,
    transports::{audit, Audited, Faults, Faulty, Probe, Recorded},
    World,
};
use tokio::{
    io::{duplex, AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, DuplexStream, ReadBuf},
    net::{TcpSocket, TcpStream},
};
use tokio_tls_handshake::{Acceptor, Connector, Handshake, HandshakeError};

const CLOSE_NOTIFY: [u8; 7] = [21, 3, 3, 0, 2, 1, 0];
const FATAL_HANDSHAKE_FAILURE: [u8; 7] = [21, 3, 3, 0, 2, 2, 40];
/// A ClientHello record whose message claims no body: rustls refuses it with decode_error.
const EMPTY_CLIENT_HELLO: [u8; 9] = [22, 3, 1, 0, 4, 1, 0, 0, 0];

fn assert_verdict(label: &str, error: &HandshakeError, alert: [u8; 7]) {
    match (alert, error) {
        (CLOSE_NOTIFY, HandshakeError::PeerClosed { close_notify, .. }) => {
            assert!(close_notify, "{label}: {error:?}")
        }
        (FATAL_HANDSHAKE_FAILURE, HandshakeError::Protocol { alert_received, .. }) => {
            assert_eq!(
                *alert_received,
                Some(AlertDescription::HandshakeFailure),
                "{label}"
            )
        }
        _ => panic!("{label}: {error:?}"),
    }
}

/// rustls' RUSTSEC-2024-0336 was a loop on a ClientHello followed by a close_notify in the
/// same read. Through `accept`, `start` and the blocking sync step, with a close_notify or a
/// fatal alert after the hello: a verdict at once, in a few polls, no deadline waited for.
#[tokio::test(start_paused = true)]
async fn a_client_hello_and_an_alert_in_one_segment_end_in_a_verdict() {
    let world = World::new();
    let acceptor = Acceptor::from(world.server().build()).with_timeout(Duration::from_secs(10));
    let start = tokio::time::Instant::now();
    for alert in [CLOSE_NOTIFY, FATAL_HANDSHAKE_FAILURE] {
        let mut segment = client_hello(&world);
        segment.extend_from_slice(&alert);

        let (mut peer, io) = duplex(64 * 1024);
        peer.write_all(&segment).await.expect("send");
        let probe = Probe::new();
        let (result, audit) = audit(acceptor.accept(Audited::new(io, &probe)), &[probe]).await;
        let error = result.expect_err("no handshake");
        assert_verdict("accept", &error, alert);
        assert!(audit.polls <= 2 && audit.violations == 0, "{audit:?}");

        // `start` gives the verdict itself, or a complete hello whose `accept` gives it.
        let (mut peer, io) = duplex(64 * 1024);
        peer.write_all(&segment).await.expect("send");
        let error = match acceptor.start(io).await {
            Err(failed) => failed.error,
            Ok(hello) => hello
                .into_stream(world.server().build())
                .await
                .map(drop)
                .expect_err("no handshake"),
        };
        assert_verdict("start", &error, alert);

        let (mut peer, mut io) = std::os::unix::net::UnixStream::pair().expect("socket pair");
        std::io::Write::write_all(&mut peer, &segment).expect("send");
        io.set_read_timeout(Some(support::LIMIT)).expect("timeout");
        let mut step = Handshake::accept(world.server().build()).expect("step");
        let error = step.do_handshake(&mut io).expect_err("no handshake");
        assert_verdict("blocking step", &error, alert);
    }
    assert_eq!(
        start.elapsed(),
        Duration::ZERO,
        "no deadline was waited for"
    );
}

/// What a [`Switched`] transport does now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
enum Mode {
    Normal,
    /// Writes return `Pending` (the task is not woken: nothing will come of it).
    WritesPend,
    /// Writes return `Ok(0)`.
    WritesZero,
    /// Reads return `Ready(Ok(()))` with nothing filled.
    ReadsEmpty,
}

/// A transport whose behaviour the test switches after the handshake.
struct Switched {
    io: DuplexStream,
    mode: Arc<AtomicU8>,
}

impl Switched {
    fn new(io: DuplexStream) -> (Self, Arc<AtomicU8>) {
        let mode = Arc::new(AtomicU8::new(Mode::Normal as u8));
        (
            Self {
                io,
                mode: mode.clone(),
            },
            mode,
        )
    }
    fn mode(&self) -> u8 {
        self.mode.load(Ordering::SeqCst)
    }
}

impl AsyncRead for Switched {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        if self.mode() == Mode::ReadsEmpty as u8 {
            return Poll::Ready(Ok(()));
        }
        Pin::new(&mut self.io).poll_read(cx, buf)
    }
}

impl AsyncWrite for Switched {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.mode() {
            m if m == Mode::WritesPend as u8 => Poll::Pending,
            m if m == Mode::WritesZero as u8 => Poll::Ready(Ok(0)),
            _ => Pin::new(&mut self.io).poll_write(cx, buf),
        }
    }
    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_flush(cx)
    }
    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_shutdown(cx)
    }
}

/// Both roles of an established pair, `Switched` on one side (`client` chooses which), the
/// other side's plain transport kept alive.
async fn switched_pair(
    world: &World,
    switched_client: bool,
) -> (Box<dyn TlsIo>, Arc<AtomicU8>, Box<dyn TlsIo>) {
    let (a, b) = duplex(64 * 1024);
    if switched_client {
        let (a, mode) = Switched::new(a);
        let (client, server) = established(world, a, b).await;
        (Box::new(client), mode, Box::new(server))
    } else {
        let (b, mode) = Switched::new(b);
        let (client, server) = established(world, a, b).await;
        (Box::new(server), mode, Box::new(client))
    }
}

/// A TLS stream of either role, boxed.
trait TlsIo: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> TlsIo for T {}

const ROLES: [(bool, &str); 2] = [(true, "client"), (false, "server")];

/// A transport read that returns `Ready(Ok(()))` with nothing filled is the end of the
/// stream: without a close_notify, `UnexpectedEof`, at once. A read into no room returns at
/// once and touches nothing.
#[tokio::test]
async fn empty_reads_and_zero_capacity_buffers_are_verdicts_not_spins() {
    let world = World::new();
    for (client, role) in ROLES {
        let (mut tls, mode, _peer) = switched_pair(&world, client).await;
        let mut cx = Context::from_waker(Waker::noop());
        let mut nothing = [0u8; 0];
        let mut empty = ReadBuf::new(&mut nothing);
        let poll = Pin::new(&mut tls).poll_read(&mut cx, &mut empty);
        assert!(
            matches!(poll, Poll::Ready(Ok(()))),
            "{role}: a zero-capacity read returns at once"
        );
        mode.store(Mode::ReadsEmpty as u8, Ordering::SeqCst);
        let mut buf = [0u8; 16];
        let error = bounded(tls.read(&mut buf)).await.expect_err("truncated");
        assert_eq!(error.kind(), io::ErrorKind::UnexpectedEof, "{role}");
    }
    // During the handshake: the same read is the peer's EOF, `PeerClosed`, both roles.
    for (client, role) in ROLES {
        let (a, b) = duplex(64 * 1024);
        let (a, mode) = Switched::new(a);
        mode.store(Mode::ReadsEmpty as u8, Ordering::SeqCst);
        let error = if client {
            let _server = tokio::spawn(Acceptor::from(world.server().build()).accept(b));
            bounded(Connector::from(world.client().build()).connect(name("localhost"), a))
                .await
                .map(drop)
                .expect_err("EOF")
        } else {
            let _client =
                tokio::spawn(Connector::from(world.client().build()).connect(name("localhost"), b));
            bounded(Acceptor::from(world.server().build()).accept(a))
                .await
                .map(drop)
                .expect_err("EOF")
        };
        assert!(
            matches!(error, HandshakeError::PeerClosed { .. }),
            "{role}: {error:?}"
        );
    }
}

/// A transport write that returns `Ok(0)` in `poll_flush` and `poll_shutdown` of an
/// established stream is `WriteZero`, not a spin: both roles.
#[tokio::test]
async fn a_write_of_zero_in_flush_and_shutdown_is_write_zero() {
    let world = World::new();
    for (client, role) in ROLES {
        let (mut tls, mode, _peer) = switched_pair(&world, client).await;
        // Data accepted into rustls while the transport is full...
        mode.store(Mode::WritesPend as u8, Ordering::SeqCst);
        let mut cx = Context::from_waker(Waker::noop());
        let poll = Pin::new(&mut tls).poll_write(&mut cx, b"queued");
        assert!(matches!(poll, Poll::Ready(Ok(6))), "{role}: {poll:?}");
        // ...then the transport takes nothing.
        mode.store(Mode::WritesZero as u8, Ordering::SeqCst);
        let error = bounded(tls.flush()).await.expect_err("flush");
        assert_eq!(error.kind(), io::ErrorKind::WriteZero, "{role} flush");
        let error = bounded(tls.shutdown()).await.expect_err("shutdown");
        assert_eq!(error.kind(), io::ErrorKind::WriteZero, "{role} shutdown");
    }
}

/// A flush that returns `Pending` once and then `Ready` with nothing left to write (a
/// buffered transport), in the handshake, alert and shutdown paths: nothing hangs, the alert
/// reported as sent arrived, and the close_notify arrived.
#[tokio::test]
async fn a_flush_pending_once_is_remembered_in_handshake_alert_and_shutdown() {
    let world = World::new();
    let flush_once = Faults {
        buffered_flush_pending_once: true,
        ..Faults::default()
    };
    // Handshake, then shutdown, with the buffered transport on each side in turn.
    for (client, role) in ROLES {
        let (a, b) = duplex(64 * 1024);
        let (mut tls, mut peer): (Box<dyn TlsIo>, Box<dyn TlsIo>) = if client {
            let (c, s) = established(&world, Faulty::new(a, flush_once), b).await;
            (Box::new(c), Box::new(s))
        } else {
            let (c, s) = established(&world, a, Faulty::new(b, flush_once)).await;
            (Box::new(s), Box::new(c))
        };
        bounded(tls.shutdown()).await.expect("shutdown completes");
        let mut rest = Vec::new();
        bounded(peer.read_to_end(&mut rest))
            .await
            .unwrap_or_else(|e| panic!("{role}: the close_notify arrived: {e}"));
    }
    // The alert path: a server rejecting a malformed hello, with a deadline to send it in.
    let (mut peer, io) = duplex(64 * 1024);
    peer.write_all(&EMPTY_CLIENT_HELLO).await.expect("send");
    let acceptor = Acceptor::from(world.server().build()).with_timeout(Duration::from_secs(5));
    let error = bounded(acceptor.accept(Faulty::new(io, flush_once)))
        .await
        .map(drop)
        .expect_err("malformed");
    assert_eq!(error.alert_sent(), Some(AlertDescription::DecodeError));
    let mut alert = [0u8; 7];
    bounded(peer.read_exact(&mut alert))
        .await
        .expect("the alert reported as sent arrived");
    assert_eq!(alert, [21, 3, 3, 0, 2, 2, 50]);
}

/// With one-byte writes, an alert reported as sent is whole on the wire, from `accept` (which
/// waits for it within the deadline) and from `start` (which tries once): when the transport
/// stalls midway, `start` does not claim it.
#[tokio::test]
async fn an_alert_reported_as_sent_is_never_truncated() {
    let world = World::new();
    let acceptor = Acceptor::from(world.server().build()).with_timeout(Duration::from_secs(5));
    for (label, faults) in [
        (
            "one-byte writes",
            Faults {
                one_byte: true,
                ..Faults::default()
            },
        ),
        (
            "one-byte writes, pending every other call",
            Faults {
                one_byte: true,
                pending_every_other: true,
                ..Faults::default()
            },
        ),
    ] {
        for use_start in [false, true] {
            let (mut peer, io) = duplex(64 * 1024);
            peer.write_all(&EMPTY_CLIENT_HELLO).await.expect("send");
            let wire = Recorded::new(Faulty::new(io, faults));
            let written = wire.written();
            let error = if use_start {
                bounded(acceptor.start(wire))
                    .await
                    .map(drop)
                    .expect_err("bad")
                    .error
            } else {
                bounded(acceptor.accept(wire))
                    .await
                    .map(drop)
                    .expect_err("bad")
            };
            let wire = written.lock().expect("lock").clone();
            let path = if use_start { "start" } else { "accept" };
            if error.alert_sent().is_some() {
                assert_eq!(
                    records(&wire).last().map(Vec::as_slice),
                    Some(&[21, 3, 3, 0, 2, 2, 50][..]),
                    "{path}, {label}: the alert is whole on the wire"
                );
            } else {
                assert!(use_start, "{path}, {label}: accept waits for its alert");
            }
        }
    }
}

/// A TCP pair with small socket buffers, so that a writer blocks after a few KiB.
async fn small_buffer_pair() -> (TcpStream, TcpStream) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let socket = TcpSocket::new_v4().expect("socket");
    socket.set_send_buffer_size(4096).expect("sndbuf");
    socket.set_recv_buffer_size(4096).expect("rcvbuf");
    let (client, server) = tokio::join!(socket.connect(addr), listener.accept());
    // The accepted side keeps the listener's defaults: the client's small buffers are
    // enough to make its writer block.
    (client.expect("connect"), server.expect("accept").0)
}

/// Writes `chunk` until `total` bytes went out or an error; reports the first `Pending`.
async fn write_until_blocked_then_on<W: AsyncWrite + Unpin>(
    writer: &mut W,
    total: usize,
    blocked: tokio::sync::oneshot::Sender<()>,
) -> io::Result<()> {
    let chunk = vec![7u8; 16 * 1024];
    let mut blocked = Some(blocked);
    let mut sent = 0;
    while sent < total {
        let part = &chunk[..chunk.len().min(total - sent)];
        let n = std::future::poll_fn(|cx| {
            let poll = Pin::new(&mut *writer).poll_write(cx, part);
            if poll.is_pending() {
                if let Some(tell) = blocked.take() {
                    let _ = tell.send(());
                }
            }
            poll
        })
        .await?;
        sent += n;
    }
    writer.flush().await
}

/// Our client (split into halves) against a tokio-rustls server over TCP with small buffers.
async fn split_against_tokio_rustls(
    world: &World,
) -> (
    tokio::io::ReadHalf<tokio_tls_handshake::ClientTlsStream<TcpStream>>,
    tokio::io::WriteHalf<tokio_tls_handshake::ClientTlsStream<TcpStream>>,
    tokio_rustls::server::TlsStream<TcpStream>,
) {
    let (client_tcp, server_tcp) = small_buffer_pair().await;
    let acceptor =
        tokio_rustls::TlsAcceptor::from(world.server().version(support::Version::Tls13).build());
    let (ours, theirs) = bounded(async {
        tokio::join!(
            Connector::from(world.client().build()).connect(name("localhost"), client_tcp),
            acceptor.accept(server_tcp)
        )
    })
    .await;
    let (reader, writer) = tokio::io::split(ours.expect("ours"));
    (reader, writer, theirs.expect("theirs"))
}

/// Split halves in two tasks: the writer is blocked on a full socket when the reader receives
/// a corrupt record. The reader ends with the error, and the writer is woken and ends too (a
/// reader that sent its alert with its own waker used to strand a writer waiting to write).
#[tokio::test]
async fn split_halves_both_end_when_the_reader_meets_a_corrupt_record() {
    let world = World::new();
    let (mut reader, mut writer, mut theirs) = split_against_tokio_rustls(&world).await;
    let (blocked, is_blocked) = tokio::sync::oneshot::channel();
    let writer_task = tokio::spawn(async move {
        write_until_blocked_then_on(&mut writer, 64 * 1024 * 1024, blocked).await
    });
    let reader_task = tokio::spawn(async move {
        let mut buf = vec![0u8; 4096];
        loop {
            match reader.read(&mut buf).await {
                Ok(0) => return Ok(()),
                Ok(_) => {}
                // Read again after the failure: the same typed error.
                Err(e) => return Err((e, reader.read(&mut buf).await)),
            }
        }
    });
    bounded(is_blocked).await.expect("the writer blocks");
    // A record that fails to decrypt, straight onto the socket under the peer's TLS.
    let mut corrupt = vec![23, 3, 3, 0, 40];
    corrupt.extend([0xAA; 40]);
    theirs
        .get_mut()
        .0
        .write_all(&corrupt)
        .await
        .expect("inject");
    let read = bounded(reader_task).await.expect("reader task");
    let (error, again) = read.expect_err("the corrupt record fails the read");
    let protocol = |error: &io::Error| match error
        .get_ref()
        .and_then(|inner| inner.downcast_ref::<HandshakeError>())
    {
        Some(HandshakeError::Protocol { error, .. }) => Some(error.clone()),
        _ => None,
    };
    assert_eq!(error.kind(), io::ErrorKind::InvalidData, "{error}");
    let cause = protocol(&error).expect("a typed protocol error");
    // Every read and write after it gets the same typed error.
    let again = again.expect_err("read again after the failure");
    assert_eq!(again.kind(), io::ErrorKind::InvalidData, "{again}");
    assert_eq!(protocol(&again), Some(cause.clone()), "{again}");
    let written = bounded(writer_task).await.expect("writer task");
    let written = written.expect_err("the writer ends with an error too");
    assert_eq!(protocol(&written), Some(cause), "{written}");
    drop(theirs);
}

/// Split halves in two tasks: the writer is blocked on a full socket when the reader receives
/// a KeyUpdate that asks for one back. The answer waits for the writer; once the peer reads,
/// everything arrives and both tasks end.
#[tokio::test]
async fn split_halves_both_end_after_a_key_update_request() {
    const TOTAL: usize = 4 * 1024 * 1024;
    let world = World::new();
    let (mut reader, mut writer, mut theirs) = split_against_tokio_rustls(&world).await;
    let (blocked, is_blocked) = tokio::sync::oneshot::channel();
    let writer_task = tokio::spawn(async move {
        write_until_blocked_then_on(&mut writer, TOTAL, blocked).await?;
        writer.shutdown().await
    });
    let reader_task = tokio::spawn(async move {
        let mut rest = Vec::new();
        reader.read_to_end(&mut rest).await.map(|_| rest.len())
    });
    bounded(is_blocked).await.expect("the writer blocks");
    theirs
        .get_mut()
        .1
        .refresh_traffic_keys()
        .expect("key update");
    theirs.flush().await.expect("send the key update");
    // Now read everything the writer sends, then close.
    let mut received = Vec::with_capacity(TOTAL);
    bounded(theirs.read_to_end(&mut received))
        .await
        .expect("everything, then our close_notify");
    assert_eq!(received.len(), TOTAL);
    theirs.shutdown().await.expect("close");
    bounded(writer_task)
        .await
        .expect("writer task")
        .expect("the writer finished");
    assert_eq!(
        bounded(reader_task)
            .await
            .expect("reader task")
            .expect("EOF"),
        0
    );
}

/// Full-duplex copy, 64 MiB each way, both ends this crate over TCP with small socket
/// buffers, `copy_bidirectional` on each side: no deadlock, each copy ends with every byte
/// both ways (close_notify, not a truncation), and every byte arrives in its place.
#[tokio::test]
async fn copy_bidirectional_64_mib_each_way_with_small_buffers() {
    const TOTAL: usize = 64 * 1024 * 1024;
    const CHUNK: usize = 64 * 1024;
    let world = World::new();
    let (client_tcp, server_tcp) = small_buffer_pair().await;
    let (client, server) = established(&world, client_tcp, server_tcp).await;
    /// The byte at `position` of the stream a side with `seed` sends: it depends on the
    /// position, so a byte lost, repeated or out of order shows.
    fn byte_at(position: usize, seed: u64) -> u8 {
        let mixed = (position as u64 ^ seed).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        (mixed >> 56) as u8
    }
    /// One side: its TLS stream copied both ways to a local pipe whose far end sends `TOTAL`
    /// bytes of its sequence and checks what comes back against the other side's. Returns
    /// the copy's result and how many bytes came back in place.
    fn side<T: AsyncRead + AsyncWrite + Unpin + Send + 'static>(
        mut tls: T,
        seed: u64,
        peer_seed: u64,
    ) -> tokio::task::JoinHandle<(io::Result<(u64, u64)>, usize)> {
        tokio::spawn(async move {
            let (mut local, far) = duplex(CHUNK);
            let copy =
                tokio::spawn(
                    async move { tokio::io::copy_bidirectional(&mut tls, &mut local).await },
                );
            let (mut far_read, mut far_write) = tokio::io::split(far);
            let send = async {
                let mut chunk = vec![0u8; CHUNK];
                for start in (0..TOTAL).step_by(CHUNK) {
                    for (i, byte) in chunk.iter_mut().enumerate() {
                        *byte = byte_at(start + i, seed);
                    }
                    far_write.write_all(&chunk).await.expect("send");
                }
                far_write.shutdown().await.expect("end of sending");
            };
            let receive = async {
                let mut got = 0usize;
                let mut buf = vec![0u8; CHUNK];
                loop {
                    let n = far_read.read(&mut buf).await.expect("receive");
                    if n == 0 {
                        return got;
                    }
                    for (i, byte) in buf[..n].iter().enumerate() {
                        assert_eq!(*byte, byte_at(got + i, peer_seed), "byte {}", got + i);
                    }
                    got += n;
                }
            };
            let ((), received) = tokio::join!(send, receive);
            (copy.await.expect("the copy task"), received)
        })
    }
    let (at_client, at_server) = (side(client, 0x5a, 0xa5), side(server, 0xa5, 0x5a));
    let limit = Duration::from_secs(120);
    let (client_side, server_side) = tokio::time::timeout(limit, async {
        (
            at_client.await.expect("client side"),
            at_server.await.expect("server side"),
        )
    })
    .await
    .expect("no deadlock");
    let both_ways = (TOTAL as u64, TOTAL as u64);
    for (label, (copied, received)) in [("client", client_side), ("server", server_side)] {
        assert_eq!(
            copied.unwrap_or_else(|e| panic!("{label}: the copy failed: {e}")),
            both_ways,
            "{label}: the copy moved everything both ways"
        );
        assert_eq!(received, TOTAL, "{label}: every byte came back, in place");
    }
}

/// After the peer's close_notify, or its FIN without one, repeated reads return at once and
/// make no new transport call: no busy loop. Both roles.
#[tokio::test]
async fn reads_after_the_end_return_at_once_without_transport_calls() {
    let world = World::new();
    for (client, role) in ROLES {
        for close_notify in [true, false] {
            let probe = Probe::new();
            let (a, b) = duplex(64 * 1024);
            let (mut tls, mut peer): (Box<dyn TlsIo>, Box<dyn TlsIo>) = if client {
                let (c, s) = established(&world, Audited::new(a, &probe), b).await;
                (Box::new(c), Box::new(s))
            } else {
                let (c, s) = established(&world, a, Audited::new(b, &probe)).await;
                (Box::new(s), Box::new(c))
            };
            if close_notify {
                peer.shutdown().await.expect("close_notify");
            }
            drop(peer);
            let mut buf = [0u8; 64];
            let first = bounded(tls.read(&mut buf)).await;
            let calls = probe.calls();
            for _ in 0..100 {
                let again = bounded(tls.read(&mut buf)).await;
                assert_eq!(
                    again.as_ref().map_err(io::Error::kind),
                    first.as_ref().map_err(io::Error::kind),
                    "{role}, close_notify={close_notify}"
                );
            }
            assert_eq!(
                probe.calls(),
                calls,
                "{role}, close_notify={close_notify}: no transport call after the end"
            );
            match first {
                Ok(0) => assert!(close_notify),
                Err(e) => assert_eq!(e.kind(), io::ErrorKind::UnexpectedEof),
                other => panic!("{role}: {other:?}"),
            }
        }
    }
}

/// `shutdown` against a peer that never reads waits for the transport: polled by hand with a
/// waker that counts, it stays `Pending` and never wakes itself (a shutdown that spun would),
/// and once the peer reads, it completes.
#[tokio::test]
async fn shutdown_against_a_peer_that_never_reads_waits_without_spinning() {
    let world = World::new();
    for (client, role) in ROLES {
        let (a, b) = duplex(16 * 1024);
        let (c, s) = established(&world, a, b).await;
        let (mut tls, mut peer): (Box<dyn TlsIo>, Box<dyn TlsIo>) = if client {
            (Box::new(c), Box::new(s))
        } else {
            (Box::new(s), Box::new(c))
        };
        // Fill the pipe: the peer does not read.
        let mut cx = Context::from_waker(Waker::noop());
        while Pin::new(&mut tls)
            .poll_write(&mut cx, &[1u8; 4096])
            .is_ready()
        {}
        let counter = Arc::new(Counter(AtomicUsize::new(0)));
        let waker = Waker::from(counter.clone());
        let mut cx = Context::from_waker(&waker);
        for poll in 0..3 {
            assert!(
                Pin::new(&mut tls).poll_shutdown(&mut cx).is_pending(),
                "{role}: poll {poll}: the shutdown waits for the peer"
            );
        }
        assert_eq!(
            counter.0.load(Ordering::SeqCst),
            0,
            "{role}: no wake-up while the peer does not read"
        );
        // The peer reads everything, up to the close_notify: the shutdown completes.
        let reader = tokio::spawn(async move {
            let mut rest = Vec::new();
            peer.read_to_end(&mut rest).await.map(|_| rest.len())
        });
        bounded(std::future::poll_fn(|cx| {
            Pin::new(&mut tls).poll_shutdown(cx)
        }))
        .await
        .unwrap_or_else(|e| panic!("{role}: shutdown: {e}"));
        drop(tls);
        let read = bounded(reader).await.expect("reader task");
        assert!(
            read.is_ok_and(|n| n > 0),
            "{role}: the peer read to the close_notify"
        );
    }
}

/// Counts wake-ups.
struct Counter(AtomicUsize);

impl Wake for Counter {
    fn wake(self: Arc<Self>) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

/// An idle established stream polled for reading registers with the transport and is woken
/// only when the peer sends: no wake-up without readiness. Both roles.
#[tokio::test]
async fn an_idle_stream_is_woken_only_by_the_peer() {
    let world = World::new();
    for (client, role) in ROLES {
        let (a, b) = duplex(64 * 1024);
        let (mut tls, mut peer): (Box<dyn TlsIo>, Box<dyn TlsIo>) = if client {
            let (c, s) = established(&world, a, b).await;
            (Box::new(c), Box::new(s))
        } else {
            let (c, s) = established(&world, a, b).await;
            (Box::new(s), Box::new(c))
        };
        let wakes = Arc::new(Counter(AtomicUsize::new(0)));
        let waker = Waker::from(wakes.clone());
        let mut cx = Context::from_waker(&waker);
        let mut buf = [0u8; 16];
        let mut read_buf = ReadBuf::new(&mut buf);
        // Whatever is still in flight from the handshake (tickets) is taken in first.
        while Pin::new(&mut tls)
            .poll_read(&mut cx, &mut read_buf)
            .is_ready()
        {}
        let baseline = wakes.0.load(Ordering::SeqCst);
        for _ in 0..100 {
            tokio::task::yield_now().await;
        }
        assert_eq!(
            wakes.0.load(Ordering::SeqCst),
            baseline,
            "{role}: woken without readiness"
        );
        peer.write_all(b"hello").await.expect("send");
        peer.flush().await.expect("flush");
        assert!(
            wakes.0.load(Ordering::SeqCst) > baseline,
            "{role}: the peer's data wakes it"
        );
        let mut read_buf = ReadBuf::new(&mut buf);
        assert!(Pin::new(&mut tls)
            .poll_read(&mut cx, &mut read_buf)
            .is_ready());
        assert_eq!(read_buf.filled(), b"hello");
    }
}
