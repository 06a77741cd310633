//! The future over real and faulty transports: the waker contract, bounded polls, flush as
//! state, and nothing lost between the handshake and the stream.

use crate::support;

use std::{io::Write, sync::Arc};

use rustls::{client::ClientConnection, HandshakeKind};
use support::{
    bounded, name, tcp_pair,
    transports::{audit, Audit, Audited, Faults, Faulty, Probe},
    World,
};
use tokio::io::{duplex, AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio_tls_handshake::{Acceptor, AsyncHandshake, Connector, Handshake, HandshakeError};

/// Runs our client over `client_io` and our server over `server_io`, both audited, no
/// deadlines (so every `Pending` must come from a transport).
async fn audited_pair<C, S>(
    world: &World,
    client_io: C,
    server_io: S,
) -> (
    (Result<(), HandshakeError>, Audit),
    (Result<(), HandshakeError>, Audit),
)
where
    C: AsyncRead + AsyncWrite + Unpin,
    S: AsyncRead + AsyncWrite + Unpin,
{
    let (client_probe, server_probe) = (Probe::new(), Probe::new());
    let connector = Connector::from(world.client().build());
    let acceptor = Acceptor::from(world.server().build()).without_timeout();
    let client = connector.connect(name("localhost"), Audited::new(client_io, &client_probe));
    let server = acceptor.accept(Audited::new(server_io, &server_probe));
    let (client_probes, server_probes) = ([client_probe], [server_probe]);
    let (server_done, mut server_is_done) = tokio::sync::oneshot::channel::<()>();
    let client_side = async {
        let (client, client_audit) = audit(client, &client_probes).await;
        let client = match client {
            Ok(mut tls) => {
                // The client reads on (taking in the server's session tickets) until the
                // server is done: over a pipe smaller than the tickets, the server's handshake
                // ends only once they are out.
                let mut buf = [0u8; 64];
                tokio::select! {
                    _ = &mut server_is_done => {}
                    _ = tls.read(&mut buf) => {}
                }
                Ok(())
            }
            Err(e) => Err(e),
        };
        (client, client_audit)
    };
    let server_side = async {
        let (server, server_audit) = audit(server, &server_probes).await;
        let _ = server_done.send(());
        (server.map(drop), server_audit)
    };
    bounded(async { tokio::join!(client_side, server_side) }).await
}

fn assert_clean(
    label: &str,
    (result, audit): &(Result<(), HandshakeError>, Audit),
    max_polls: u32,
) {
    assert!(result.is_ok(), "{label}: {result:?}");
    assert_eq!(
        audit.violations, 0,
        "{label}: Pending without a transport Pending"
    );
    assert!(
        audit.polls <= max_polls,
        "{label}: {} polls, more than {max_polls}",
        audit.polls
    );
}

#[tokio::test]
async fn waker_contract_over_tcp_both_roles() {
    let world = World::new();
    for _ in 0..5 {
        let (client_tcp, server_tcp) = tcp_pair().await;
        let (client, server) = audited_pair(&world, client_tcp, server_tcp).await;
        // Two or three flights each; spurious readiness may add a poll or two.
        assert_clean("client over tcp", &client, 10);
        assert_clean("server over tcp", &server, 10);
    }
}

#[tokio::test]
async fn waker_contract_over_a_small_memory_pipe() {
    let world = World::new();
    // 64-byte pipes force many WantWrite / WantRead turns.
    let (client_io, server_io) = duplex(64);
    let (client, server) = audited_pair(&world, client_io, server_io).await;
    assert_clean("client over 64-byte pipe", &client, 200);
    assert_clean("server over 64-byte pipe", &server, 200);
}

#[tokio::test]
async fn faulty_transports_complete_within_bounded_polls() {
    let cases = [
        (
            "one-byte reads and writes",
            Faults {
                one_byte: true,
                ..Faults::default()
            },
        ),
        (
            "pending on every other call",
            Faults {
                pending_every_other: true,
                ..Faults::default()
            },
        ),
        (
            "buffered, flush pending once",
            Faults {
                buffered_flush_pending_once: true,
                ..Faults::default()
            },
        ),
        (
            "all of them",
            Faults {
                one_byte: true,
                pending_every_other: true,
                buffered_flush_pending_once: true,
                ..Faults::default()
            },
        ),
    ];
    let world = World::new();
    for (label, faults) in cases {
        // The faulty side as client, then as server.
        let (a, b) = duplex(16 * 1024);
        eprintln!("case {label} faulty client");
        let (client, server) = audited_pair(&world, Faulty::new(a, faults), b).await;
        assert_clean(&format!("faulty client, {label}"), &client, 20_000);
        assert_clean(&format!("its server, {label}"), &server, 20_000);
        let (a, b) = duplex(16 * 1024);
        eprintln!("case {label} faulty server");
        let (client, server) = audited_pair(&world, a, Faulty::new(b, faults)).await;
        assert_clean(&format!("its client, {label}"), &client, 20_000);
        assert_clean(&format!("faulty server, {label}"), &server, 20_000);
    }
}

#[tokio::test]
async fn a_write_returning_zero_is_a_transport_error_not_a_spin() {
    let world = World::new();
    let faults = Faults {
        write_returns_zero: true,
        ..Faults::default()
    };
    let (a, _b) = duplex(1024);
    let probe = Probe::new();
    let connector = Connector::from(world.client().build());
    let client = connector.connect(
        name("localhost"),
        Audited::new(Faulty::new(a, faults), &probe),
    );
    let (result, audit) = bounded(audit(client, &[probe])).await;
    match result {
        Err(HandshakeError::Transport(e)) => assert_eq!(e.kind(), std::io::ErrorKind::WriteZero),
        other => panic!("expected Transport(WriteZero), got {:?}", other.map(drop)),
    }
    assert_eq!(audit.polls, 1);
}

#[tokio::test]
async fn application_data_with_the_clients_finished_is_not_lost() {
    let world = World::new();
    let message = b"sent in the same write as the client's Finished";
    // The client queues application data before the handshake: rustls sends it right after
    // its Finished, in the same write.
    let mut conn = ClientConnection::new(world.client().build(), name("localhost"))
        .expect("client connection");
    conn.writer().write_all(message).expect("queue early write");
    let (client_io, server_io) = duplex(64 * 1024);
    let client = AsyncHandshake::new(Handshake::from_connection(conn), client_io);
    let server = Acceptor::from(world.server().build()).accept(server_io);
    let (client, server) = bounded(async { tokio::join!(client, server) }).await;
    let _client = client.expect("client");
    let mut server = server.expect("server");
    // Already decrypted and buffered when the handshake completed: no further I/O needed.
    let mut buf = [0u8; 128];
    let n = std::io::Read::read(&mut server.connection_mut().reader(), &mut buf)
        .expect("data buffered at handshake completion");
    assert_eq!(&buf[..n], message);
}

#[tokio::test]
async fn session_tickets_after_the_handshake_are_processed_and_resume() {
    let world = World::new();
    let client_config = world.client().version(support::Version::Tls13).build();
    let server_config = world.server().build();
    let mut kinds = Vec::new();
    for _ in 0..2 {
        let (client_tcp, server_tcp) = tcp_pair().await;
        let connector = Connector::from(Arc::clone(&client_config));
        let acceptor = Acceptor::from(Arc::clone(&server_config));
        let (client, server) = bounded(async {
            tokio::join!(
                connector.connect(name("localhost"), client_tcp),
                acceptor.accept(server_tcp)
            )
        })
        .await;
        let (mut client, mut server) = (client.expect("client"), server.expect("server"));
        kinds.push(server.connection().handshake_kind());
        // The tickets travel after the handshake; reading processes them.
        server.write_all(b"x").await.expect("server write");
        server.shutdown().await.expect("server shutdown");
        let mut got = Vec::new();
        bounded(client.read_to_end(&mut got))
            .await
            .expect("client read");
        assert_eq!(got, b"x");
    }
    assert_eq!(
        kinds,
        [Some(HandshakeKind::Full), Some(HandshakeKind::Resumed)]
    );
}

/// The deadlock: over a pipe smaller than the client's 6-byte ChangeCipherSpec, the
/// client blocked writing it while the server blocked writing its flight, and neither read.
/// Each side now reads while its write waits, so any pipe size completes, with no deadline
/// (a hang fails the test's bound) and no waker-contract violation.
#[tokio::test]
async fn both_sides_writing_into_a_tiny_pipe_still_complete() {
    let world = World::new();
    for capacity in 1..=5 {
        let (client_io, server_io) = duplex(capacity);
        let (client, server) = audited_pair(&world, client_io, server_io).await;
        let label = format!("{capacity}-byte pipe");
        assert_clean(&format!("client over a {label}"), &client, 20_000);
        assert_clean(&format!("server over a {label}"), &server, 20_000);
    }
}

/// What the README says tokio-rustls does over such pipes, shown: with servers sending no
/// session tickets (so that only the handshake's flights cross the pipe), a tokio-rustls
/// client and server over `duplex(n)` never finish for n from 1 to 5 and do from 6 on, while
/// this crate's pair completes over every one of them. On a paused clock, so the 10 s wait
/// costs no real time. Should tokio-rustls change, this fails and the README's claim goes.
#[tokio::test(start_paused = true)]
async fn tokio_rustls_deadlocks_over_pipes_under_six_bytes_where_ours_completes() {
    let world = World::new();
    let connector = tokio_rustls::TlsConnector::from(world.client().build());
    let acceptor = tokio_rustls::TlsAcceptor::from(world.server().no_tickets().build());
    let limit = std::time::Duration::from_secs(10);
    for capacity in [1, 2, 3, 4, 5, 6, 4096] {
        let (client_io, server_io) = duplex(capacity);
        let theirs = tokio::time::timeout(limit, async {
            tokio::join!(
                connector.connect(name("localhost"), client_io),
                acceptor.accept(server_io)
            )
        })
        .await;
        let completed = matches!(theirs, Ok((Ok(_), Ok(_))));
        assert_eq!(
            completed,
            capacity >= 6,
            "tokio-rustls over {capacity} bytes"
        );
        let (client_io, server_io) = duplex(capacity);
        let ours = tokio::time::timeout(limit, async {
            tokio::join!(
                Connector::from(world.client().build()).connect(name("localhost"), client_io),
                Acceptor::from(world.server().no_tickets().build()).accept(server_io)
            )
        })
        .await;
        assert!(
            matches!(ours, Ok((Ok(_), Ok(_)))),
            "ours over {capacity} bytes"
        );
    }
}

/// A transport that says, once, when a write returns `Pending` after it was armed: armed by
/// the client once its handshake is done, that is the moment the server's session tickets
/// stop fitting the pipe (its earlier flight blocked too, before the arming).
struct SaysWhenWritesBlock<IO> {
    io: IO,
    armed: std::sync::Arc<std::sync::atomic::AtomicBool>,
    blocked: Option<tokio::sync::oneshot::Sender<()>>,
}

support::transports::delegate_read!(io for [IO: AsyncRead + Unpin] SaysWhenWritesBlock<IO>);

impl<IO: AsyncWrite + Unpin> AsyncWrite for SaysWhenWritesBlock<IO> {
    fn poll_write(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &[u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        let poll = std::pin::Pin::new(&mut self.io).poll_write(cx, buf);
        if poll.is_pending() && self.armed.load(std::sync::atomic::Ordering::SeqCst) {
            if let Some(blocked) = self.blocked.take() {
                let _ = blocked.send(());
            }
        }
        poll
    }
    fn poll_flush(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.io).poll_flush(cx)
    }
    fn poll_shutdown(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.io).poll_shutdown(cx)
    }
}

/// A TLS 1.3 client and our server over `duplex(capacity)`, on this test's one-thread runtime:
/// the client completes its handshake (arming the server's transport before the server can
/// read its Finished), waits until the server's session tickets stop fitting the pipe, then
/// runs `client` (which must read, so that the tickets can go); the server runs `server`.
async fn while_the_servers_tickets_wait<T, U, C, S>(
    world: &World,
    capacity: usize,
    client: impl FnOnce(tokio_tls_handshake::ClientTlsStream<tokio::io::DuplexStream>) -> C
        + Send
        + 'static,
    server: impl FnOnce(
        tokio_tls_handshake::ServerTlsStream<SaysWhenWritesBlock<tokio::io::DuplexStream>>,
    ) -> S,
) -> (std::io::Result<T>, std::io::Result<U>)
where
    C: std::future::Future<Output = std::io::Result<T>> + Send + 'static,
    S: std::future::Future<Output = std::io::Result<U>>,
    T: Send + 'static,
{
    let (client_io, server_io) = duplex(capacity);
    let (blocked, writes_blocked) = tokio::sync::oneshot::channel();
    let armed = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let server_io = SaysWhenWritesBlock {
        io: server_io,
        armed: armed.clone(),
        blocked: Some(blocked),
    };
    let connector = Connector::from(world.client().version(support::Version::Tls13).build());
    let client = tokio::spawn(async move {
        let tls = connector.connect(name("localhost"), client_io).await?;
        armed.store(true, std::sync::atomic::Ordering::SeqCst);
        writes_blocked
            .await
            .map_err(|_| std::io::Error::other("the server's writes never blocked"))?;
        client(tls).await
    });
    // Stateless tickets (the session sealed inside), which a 256-byte pipe cannot take whole.
    let mut config = (*world.server().build()).clone();
    tokio_tls_handshake::tickets::TicketKeys::new([9; 32], [])
        .install(&mut config)
        .expect("ticket keys");
    let server = async {
        let tls = Acceptor::from(std::sync::Arc::new(config))
            .accept(server_io)
            .await?;
        server(tls).await
    };
    let server = tokio::time::timeout(std::time::Duration::from_secs(5), server)
        .await
        .unwrap_or_else(|_| Err(std::io::Error::other("the server hung")));
    let client = tokio::time::timeout(std::time::Duration::from_secs(5), client)
        .await
        .map_or_else(
            |_| Err(std::io::Error::other("the client hung")),
            |joined| joined.expect("client task"),
        );
    (client, server)
}

/// Data and then close_notify + FIN from a client, arriving while a TLS 1.3 server's session
/// tickets wait for room in the pipe: the server must deliver the data and then a clean end
/// (close_notify), as a tokio-rustls server does. Over pipes of 64 and 256 bytes.
#[tokio::test]
async fn data_and_close_notify_read_while_the_servers_tickets_wait_arrive_in_order() {
    const MESSAGE: &[u8] = b"the request, then close_notify";
    let world = World::new();
    let mut failures = Vec::new();
    for capacity in [64, 256] {
        let (client, server) = while_the_servers_tickets_wait(
            &world,
            capacity,
            |mut tls| async move {
                tls.write_all(MESSAGE).await?;
                tls.shutdown().await?;
                // Then take in whatever the server sends, its tickets included, to the end.
                let mut rest = Vec::new();
                let _ = tls.read_to_end(&mut rest).await;
                Ok(())
            },
            |mut tls| async move {
                let mut received = Vec::new();
                tls.read_to_end(&mut received).await?;
                Ok(received)
            },
        )
        .await;
        match server {
            Ok(received) if received == MESSAGE => {}
            Ok(received) => failures.push(format!("{capacity}: received {received:?}")),
            Err(e) => failures.push(format!("{capacity}-byte pipe: the server: {e}")),
        }
        if let Err(e) = client {
            failures.push(format!("{capacity}-byte pipe: the client: {e}"));
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");
}

/// Without the FIN: a request arriving while the server's tickets wait is answered at once,
/// not left unprocessed until the client sends more (a request/response client would hang).
#[tokio::test]
async fn a_request_read_while_the_servers_tickets_wait_is_answered() {
    let world = World::new();
    let mut failures = Vec::new();
    for capacity in [64, 256] {
        let (client, server) = while_the_servers_tickets_wait(
            &world,
            capacity,
            |mut tls| async move {
                tls.write_all(b"ping").await?;
                let mut answer = [0u8; 4];
                tls.read_exact(&mut answer).await?;
                Ok(answer)
            },
            |mut tls| async move {
                let mut request = [0u8; 4];
                tls.read_exact(&mut request).await?;
                tls.write_all(b"pong").await?;
                tls.flush().await?;
                Ok((request, tls))
            },
        )
        .await;
        match server {
            Ok((request, _tls)) if &request == b"ping" => {}
            Ok((request, _)) => failures.push(format!("{capacity}: request {request:?}")),
            Err(e) => failures.push(format!("{capacity}-byte pipe: the server: {e}")),
        }
        match client {
            Ok(answer) if &answer == b"pong" => {}
            Ok(answer) => failures.push(format!("{capacity}: answer {answer:?}")),
            Err(e) => failures.push(format!("{capacity}-byte pipe: the client: {e}")),
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");
}

/// The client's twin: a TLS 1.3 client whose last writes of the handshake are blocked (here
/// the data it offered as early data, sent after its Finished since it has no session) reads
/// the server's session tickets meanwhile; `confirm()` must count them as the server's
/// reaction, not wait for a record the server will never send.
#[tokio::test]
async fn confirm_sees_tickets_read_while_the_clients_last_writes_waited() {
    const DATA: usize = 64 * 1024;
    let world = World::new();
    let mut failures = Vec::new();
    for capacity in [64, 256] {
        let (client_io, server_io) = duplex(capacity);
        let connector = Connector::from(world.client().version(support::Version::Tls13).build());
        let acceptor = Acceptor::from(world.server().build());
        let server = tokio::spawn(async move {
            let mut tls = acceptor.accept(server_io).await?;
            let mut data = vec![0u8; DATA];
            tls.read_exact(&mut data).await?;
            // Holds the connection open, writing nothing more.
            std::future::pending::<()>().await;
            Ok::<_, std::io::Error>(tls)
        });
        let client = async {
            let handshake =
                connector.connect_with_early_data(name("localhost"), vec![7; DATA], client_io);
            let mut tls = handshake.await?;
            tls.confirm().await?;
            Ok::<_, HandshakeError>(())
        };
        match tokio::time::timeout(std::time::Duration::from_secs(5), client).await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => failures.push(format!("{capacity}-byte pipe: {e}")),
            Err(_) => failures.push(format!("{capacity}-byte pipe: confirm hung")),
        }
        server.abort();
    }
    assert!(failures.is_empty(), "{failures:?}");
}

/// Records already in the transport are all read by one `read` whose buffer has room for
/// them, as tokio-rustls does: not one record per call.
#[tokio::test]
async fn one_read_takes_every_record_already_there() {
    let world = World::new();
    let (client_io, server_io) = duplex(64 * 1024);
    let (mut client, mut server) = support::established(&world, client_io, server_io).await;
    for record in [b"first;".as_slice(), b"second;", b"third"] {
        client.write_all(record).await.expect("write");
        client.flush().await.expect("flush");
    }
    let mut buf = [0u8; 1024];
    let n = bounded(server.read(&mut buf)).await.expect("read");
    assert_eq!(&buf[..n], b"first;second;third");
}
