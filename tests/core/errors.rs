//! The error matrix: every way a handshake fails, with its variant, the alert sent or
//! received, and the transport handed back.

use crate::support;

use std::time::Duration;

use rustls::{AlertDescription, CertificateError, Error as TlsError};
use support::{bounded, name, tcp_pair, Ca, Leaf, Version, World};
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpStream,
};
use tokio_tls_handshake::{Acceptor, Connector, Failed, HandshakeError};

/// Reads one whole TLS record (the peer's ClientHello). Closing with unread bytes would
/// make the kernel send RST instead of FIN.
async fn read_record(stream: &mut TcpStream) -> Vec<u8> {
    let mut record = vec![0u8; 5];
    stream.read_exact(&mut record).await.expect("record header");
    let len = usize::from(u16::from_be_bytes([record[3], record[4]]));
    record.resize(5 + len, 0);
    stream
        .read_exact(&mut record[5..])
        .await
        .expect("record body");
    record
}

/// Reads everything the peer sends until it closes (bounded).
async fn drain(stream: &mut TcpStream) -> Vec<u8> {
    let mut got = Vec::new();
    let _ = bounded(stream.read_to_end(&mut got)).await;
    got
}

/// Our server against a raw TCP client running `client`; returns our error and what the
/// client received before the server dropped the handed-back transport.
async fn our_server_fails<F, Fut>(world: &World, client: F) -> (HandshakeError, Vec<u8>)
where
    F: FnOnce(TcpStream) -> Fut,
    Fut: std::future::Future<Output = Vec<u8>> + Send + 'static,
{
    let (client_tcp, server_tcp) = tcp_pair().await;
    let peer = tokio::spawn(client(client_tcp));
    let failed = bounded(
        Acceptor::from(world.server().build())
            .accept(server_tcp)
            .recoverable(),
    )
    .await
    .expect_err("handshake must fail");
    assert!(failed.io.local_addr().is_ok(), "transport handed back");
    drop(failed.io);
    let received = bounded(peer).await.expect("peer task");
    (failed.error, received)
}

/// Our client (with `client_config`) against a raw TCP server running `server`.
async fn our_client_fails<F, Fut>(
    client_config: std::sync::Arc<rustls::ClientConfig>,
    server_name: &str,
    server: F,
) -> (HandshakeError, Fut::Output)
where
    F: FnOnce(TcpStream) -> Fut,
    Fut: std::future::Future + Send + 'static,
    Fut::Output: Send + 'static,
{
    let (client_tcp, server_tcp) = tcp_pair().await;
    let peer = tokio::spawn(server(server_tcp));
    let failed = bounded(
        Connector::from(client_config)
            .connect(name(server_name), client_tcp)
            .recoverable(),
    )
    .await
    .expect_err("handshake must fail");
    assert!(failed.io.local_addr().is_ok(), "transport handed back");
    drop(failed.io);
    let seen = bounded(peer).await.expect("peer task");
    (failed.error, seen)
}

fn assert_peer_closed(error: &HandshakeError, close_notify: bool, received: u64) {
    match error {
        HandshakeError::PeerClosed {
            close_notify: c,
            received: r,
        } => assert_eq!((*c, *r), (close_notify, received), "{error}"),
        other => panic!("expected PeerClosed, got {other:?}"),
    }
}

#[tokio::test]
async fn peer_closes_before_any_byte() {
    let world = World::new();
    let (error, _) = our_server_fails(&world, |tcp| async move {
        drop(tcp);
        Vec::new()
    })
    .await;
    assert_peer_closed(&error, false, 0);
    assert!(error.is_silent_close());
}

#[tokio::test]
async fn peer_closes_after_our_client_hello() {
    let world = World::new();
    let (error, hello_len) =
        our_client_fails(world.client().build(), "localhost", |mut tcp| async move {
            let hello = read_record(&mut tcp).await;
            assert_eq!(hello[0], 22, "a handshake record arrives first");
            hello.len()
        })
        .await;
    assert!(hello_len > 5);
    assert_peer_closed(&error, false, 0);
}

#[tokio::test]
async fn close_notify_mid_handshake() {
    let world = World::new();
    let (error, ()) = our_client_fails(world.client().build(), "localhost", |mut tcp| async move {
        read_record(&mut tcp).await;
        // A plaintext warning close_notify, then a clean close.
        tcp.write_all(&[21, 3, 3, 0, 2, 1, 0])
            .await
            .expect("send close_notify");
    })
    .await;
    assert_peer_closed(&error, true, 7);
}

#[tokio::test]
async fn plaintext_http_is_not_tls_and_nothing_is_written_back() {
    let world = World::new();
    let (client_tcp, server_tcp) = tcp_pair().await;
    let request = b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n";
    let peer = tokio::spawn(async move {
        let mut tcp = client_tcp;
        tcp.write_all(request).await.expect("send request");
        drain(&mut tcp).await
    });
    let failed = bounded(
        Acceptor::from(world.server().build())
            .accept(server_tcp)
            .recoverable(),
    )
    .await
    .expect_err("plaintext must fail");
    let HandshakeError::NotTls { prefix } = &failed.error else {
        panic!("expected NotTls, got {:?}", failed.error);
    };
    assert_eq!(prefix.as_slice(), &request[..]);
    drop(failed);
    assert!(
        bounded(peer).await.expect("peer").is_empty(),
        "no alert, no bytes"
    );
}

#[tokio::test]
async fn plaintext_peer_can_be_answered_on_the_handed_back_transport() {
    let world = World::new();
    let (client_tcp, server_tcp) = tcp_pair().await;
    let peer = tokio::spawn(async move {
        let mut tcp = client_tcp;
        tcp.write_all(b"GET / HTTP/1.1\r\n\r\n")
            .await
            .expect("send");
        drain(&mut tcp).await
    });
    let Failed { error, mut io, .. } = bounded(
        Acceptor::from(world.server().build())
            .accept(server_tcp)
            .recoverable(),
    )
    .await
    .expect_err("plaintext must fail");
    assert!(matches!(error, HandshakeError::NotTls { .. }));
    io.write_all(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")
        .await
        .expect("answer in plaintext");
    drop(io);
    let answer = bounded(peer).await.expect("peer");
    assert!(answer.starts_with(b"HTTP/1.1 400 "));
}

#[tokio::test]
async fn plaintext_server_answering_our_client_is_not_tls() {
    let world = World::new();
    let (error, ()) = our_client_fails(world.client().build(), "localhost", |mut tcp| async move {
        read_record(&mut tcp).await;
        tcp.write_all(b"HTTP/1.1 400 Bad Request\r\n\r\n")
            .await
            .expect("answer");
    })
    .await;
    let HandshakeError::NotTls { prefix } = error else {
        panic!("expected NotTls, got {error:?}");
    };
    assert!(prefix.starts_with(b"HTTP/1.1 400"));
}

#[tokio::test]
async fn garbage_record_gets_a_decode_error_alert() {
    let world = World::new();
    let (error, received) = our_server_fails(&world, |mut tcp| async move {
        // A handshake record whose body is not a ClientHello.
        tcp.write_all(&[22, 3, 1, 0, 5, 0xff, 0, 0, 1, 0])
            .await
            .expect("send");
        drain(&mut tcp).await
    })
    .await;
    let HandshakeError::Protocol {
        alert_sent,
        alert_received,
        ..
    } = &error
    else {
        panic!("expected Protocol, got {error:?}");
    };
    assert_eq!(*alert_received, None);
    let sent = alert_sent.expect("an alert went out");
    // What went out on the wire is exactly the alert reported.
    assert_eq!(received.len(), 7, "{received:?}");
    assert_eq!(received[0], 21);
    assert_eq!(AlertDescription::from(received[6]), sent);
}

/// Our client against a tokio-rustls server presenting `server_identity`; returns our
/// error and the server's.
async fn verify_fails(
    world: &World,
    server_identity: support::Identity,
    client_config: std::sync::Arc<rustls::ClientConfig>,
    server_name: &str,
) -> (HandshakeError, std::io::Error) {
    let server = world.server().identity(server_identity).build();
    let (error, peer_result) = our_client_fails(client_config, server_name, |tcp| async move {
        tokio_rustls::TlsAcceptor::from(server).accept(tcp).await
    })
    .await;
    (error, peer_result.expect_err("server side must fail too"))
}

fn assert_rejected_cert(error: &HandshakeError, expected: AlertDescription) {
    match error {
        HandshakeError::Protocol {
            error: TlsError::InvalidCertificate(_),
            alert_sent,
            alert_received: None,
        } => assert_eq!(*alert_sent, Some(expected), "{error}"),
        other => panic!("expected a rejected certificate, got {other:?}"),
    }
}

fn assert_peer_got(peer: &std::io::Error, expected: AlertDescription) {
    let inner = peer.get_ref().and_then(|e| e.downcast_ref::<TlsError>());
    assert_eq!(inner, Some(&TlsError::AlertReceived(expected)), "{peer}");
}

#[tokio::test]
async fn server_certificate_with_the_wrong_name() {
    let world = World::new();
    for version in [Version::Tls13, Version::Tls12] {
        let client = world.client().version(version).build();
        let (error, peer) =
            verify_fails(&world, world.server.clone(), client, "wrong.example").await;
        assert_rejected_cert(&error, AlertDescription::BadCertificate);
        assert!(matches!(
            error,
            HandshakeError::Protocol {
                error: TlsError::InvalidCertificate(
                    CertificateError::NotValidForNameContext { .. }
                ),
                ..
            }
        ));
        assert_peer_got(&peer, AlertDescription::BadCertificate);
    }
}

#[tokio::test]
async fn server_certificate_from_an_unknown_ca() {
    let world = World::new();
    let stranger = Ca::new("someone else");
    let client = world.client().trust(&stranger).build();
    let (error, peer) = verify_fails(&world, world.server.clone(), client, "localhost").await;
    assert_rejected_cert(&error, AlertDescription::UnknownCA);
    assert_peer_got(&peer, AlertDescription::UnknownCA);
}

#[tokio::test]
async fn expired_server_certificate() {
    let world = World::new();
    let expired = world.ca.issue(&["localhost"], Leaf::ExpiredServer);
    let (error, peer) = verify_fails(&world, expired, world.client().build(), "localhost").await;
    assert_rejected_cert(&error, AlertDescription::CertificateExpired);
    assert_peer_got(&peer, AlertDescription::CertificateExpired);
}

#[tokio::test]
async fn our_server_sees_the_alert_our_client_sent() {
    let world = World::new();
    let stranger = Ca::new("someone else");
    let (client_tcp, server_tcp) = tcp_pair().await;
    let client = Connector::from(world.client().trust(&stranger).build());
    let acceptor = Acceptor::from(world.server().build());
    let (client, server) = bounded(async {
        tokio::join!(
            client.connect(name("localhost"), client_tcp),
            acceptor.accept(server_tcp)
        )
    })
    .await;
    let client = client.expect_err("client rejects");
    let server = server.expect_err("server sees the rejection");
    assert_eq!(client.alert_sent(), Some(AlertDescription::UnknownCA));
    assert_eq!(server.alert_received(), Some(AlertDescription::UnknownCA));
    assert_eq!(server.alert_sent(), None);
}

#[tokio::test]
async fn client_certificate_missing_when_required() {
    let world = World::new();
    for version in [Version::Tls13, Version::Tls12] {
        let server = Acceptor::from(
            world
                .server()
                .version(version)
                .require_client_cert()
                .build(),
        );
        let client = Connector::from(world.client().version(version).build());
        let (client_tcp, server_tcp) = tcp_pair().await;
        let (client, server) = bounded(async {
            tokio::join!(
                client.connect(name("localhost"), client_tcp),
                server.accept(server_tcp)
            )
        })
        .await;
        let server = server.expect_err("server requires a certificate");
        assert!(
            matches!(
                server,
                HandshakeError::Protocol {
                    error: TlsError::NoCertificatesPresented,
                    ..
                }
            ),
            "{server:?}"
        );
        // rustls sends certificate_required in both versions.
        let expected = AlertDescription::CertificateRequired;
        assert_eq!(server.alert_sent(), Some(expected), "{version:?}");
        match version {
            // TLS 1.3: the client finished first; the rejection arrives on its first read.
            Version::Tls13 => {
                let mut tls = client.expect("client handshake completes in TLS 1.3");
                let mut buf = [0u8; 1];
                let err = bounded(tls.read(&mut buf))
                    .await
                    .expect_err("first read fails");
                assert_eq!(err.kind(), std::io::ErrorKind::InvalidData);
                let inner = err
                    .get_ref()
                    .and_then(|e| e.downcast_ref::<HandshakeError>());
                assert_eq!(
                    inner.and_then(HandshakeError::alert_received),
                    Some(AlertDescription::CertificateRequired)
                );
            }
            _ => {
                let client = client.expect_err("TLS 1.2 client sees the alert in the handshake");
                assert_eq!(client.alert_received(), Some(expected));
            }
        }
    }
}

#[tokio::test]
async fn connection_reset_is_a_transport_error() {
    let world = World::new();
    let (error, _) = our_server_fails(&world, |tcp| async move {
        tcp.set_zero_linger().expect("linger 0");
        drop(tcp); // RST instead of FIN
        Vec::new()
    })
    .await;
    match &error {
        HandshakeError::Transport(e) => {
            assert_eq!(e.kind(), std::io::ErrorKind::ConnectionReset)
        }
        other => panic!("expected Transport, got {other:?}"),
    }
}

#[tokio::test(start_paused = true)]
async fn silent_peer_times_out_at_the_deadline() {
    let world = World::new();
    let (_silent_client, server_io) = tokio::io::duplex(4096);
    let start = tokio::time::Instant::now();
    let failed = Acceptor::from(world.server().build())
        .with_timeout(Duration::from_secs(10))
        .accept(server_io)
        .recoverable()
        .await
        .expect_err("must time out");
    assert!(matches!(failed.error, HandshakeError::TimedOut));
    assert!(start.elapsed() >= Duration::from_secs(10));
    assert!(start.elapsed() < Duration::from_secs(11));
    // The report gives the time spent, not zero.
    assert!(
        failed.report.stats.duration >= Duration::from_secs(10),
        "{}",
        failed.report
    );
    let io_err = std::io::Error::from(failed.error);
    assert_eq!(io_err.kind(), std::io::ErrorKind::TimedOut);
}

#[tokio::test(start_paused = true)]
async fn one_deadline_covers_the_whole_handshake_not_each_read() {
    let world = World::new();
    let (mut slow_client, server_io) = tokio::io::duplex(4096);
    // The peer sends a byte every 3 s: each read is quick, the whole is not.
    let dribble = tokio::spawn(async move {
        for byte in [22, 3, 1, 0, 200, 1, 0, 0, 196, 3] {
            tokio::time::sleep(Duration::from_secs(3)).await;
            if slow_client.write_all(&[byte]).await.is_err() {
                break;
            }
        }
    });
    let start = tokio::time::Instant::now();
    let error = Acceptor::from(world.server().build())
        .with_timeout(Duration::from_secs(10))
        .accept(server_io)
        .await
        .expect_err("must time out");
    assert!(matches!(error, HandshakeError::TimedOut), "{error:?}");
    assert!(start.elapsed() < Duration::from_secs(11));
    dribble.abort();
}

#[tokio::test]
async fn a_config_rustls_cannot_use_is_a_config_error() {
    let world = World::new();
    let mut config = (*world.client().build()).clone();
    config.max_fragment_size = Some(1); // rustls accepts 32 ..= 16389
    let (client_tcp, _server_tcp) = tcp_pair().await;
    let result = bounded(
        Connector::from(std::sync::Arc::new(config)).connect(name("localhost"), client_tcp),
    )
    .await;
    match result {
        Err(HandshakeError::Config(TlsError::BadMaxFragmentSize)) => {}
        other => panic!("expected a config error, got {:?}", other.map(|_| ())),
    }
}

/// A truncated ClientHello (its random cut short): rustls answers with a decode_error alert,
/// through `accept` and through `start`'s ClientHello reader alike.
const GARBAGE: [u8; 13] = [22, 3, 1, 0, 8, 1, 0, 0, 4, 3, 3, 0, 0];

/// The server's failure on `io`, through `accept` or, reading the ClientHello first, `start`.
async fn server_failure(
    acceptor: &Acceptor,
    io: tokio::io::DuplexStream,
    start: bool,
) -> HandshakeError {
    if start {
        acceptor
            .start(io)
            .await
            .map(drop)
            .expect_err("garbage")
            .error
    } else {
        acceptor.accept(io).await.map(drop).expect_err("garbage")
    }
}

/// A peer that sends a garbage record into a 4-byte pipe and never reads: the alert cannot
/// drain. Returns our error and how long (on the paused clock) it took.
async fn alert_into_a_full_pipe(acceptor: Acceptor, start: bool) -> (HandshakeError, Duration) {
    let (mut peer, server_io) = tokio::io::duplex(4);
    let writer = tokio::spawn(async move {
        peer.write_all(&GARBAGE).await.expect("send");
        peer // held, never read
    });
    let begun = tokio::time::Instant::now();
    let error = server_failure(&acceptor, server_io, start).await;
    let _peer = writer.await.expect("writer");
    (error, begun.elapsed())
}

#[tokio::test(start_paused = true)]
async fn an_alert_that_cannot_drain_waits_only_until_the_deadline() {
    let world = World::new();
    let acceptor = Acceptor::from(world.server().build()).with_timeout(Duration::from_secs(5));
    for start in [false, true] {
        let (error, took) = alert_into_a_full_pipe(acceptor.clone(), start).await;
        let undrained = matches!(
            error,
            HandshakeError::Protocol {
                alert_sent: None,
                ..
            }
        );
        assert!(undrained, "start: {start}: {error:?}");
        assert!(
            took >= Duration::from_secs(5) && took < Duration::from_secs(6),
            "start: {start}: {took:?} {error:?}"
        );
    }
}

#[tokio::test(start_paused = true)]
async fn without_a_deadline_an_alert_that_cannot_drain_is_not_waited_for() {
    let world = World::new();
    let acceptor = Acceptor::from(world.server().build()).without_timeout();
    for start in [false, true] {
        let (error, took) = alert_into_a_full_pipe(acceptor.clone(), start).await;
        let undrained = matches!(
            error,
            HandshakeError::Protocol {
                alert_sent: None,
                ..
            }
        );
        assert!(undrained, "start: {start}: {error:?}");
        assert_eq!(took, Duration::ZERO, "start: {start}");
    }
}

/// Through a pipe that takes one byte at a time, a peer that reads gets the whole alert from
/// `accept` and from `start` alike: the alert is sent until it is out (within the deadline),
/// not tried once, and `alert_sent` says so.
#[tokio::test]
async fn an_alert_through_a_one_byte_pipe_arrives_whole_from_accept_and_start() {
    let world = World::new();
    let acceptor = Acceptor::from(world.server().build());
    for start in [false, true] {
        let (mut peer, server_io) = tokio::io::duplex(1);
        let reader = tokio::spawn(async move {
            peer.write_all(&GARBAGE).await.expect("send");
            let mut received = Vec::new();
            let _ = peer.read_to_end(&mut received).await;
            received
        });
        let error = bounded(server_failure(&acceptor, server_io, start)).await;
        let received = bounded(reader).await.expect("reader");
        let sent = error.alert_sent();
        assert_eq!(
            sent,
            Some(AlertDescription::DecodeError),
            "start: {start}: {error:?}"
        );
        assert_eq!(
            received,
            [21, 3, 3, 0, 2, 2, 50],
            "start: {start}: the whole alert"
        );
    }
}

/// A plaintext close_notify before any handshake message, the socket left open: the man
/// page's return 0, a controlled shutdown, at once (not at the deadline), through `accept`,
/// `start` and the blocking sync step.
#[tokio::test(start_paused = true)]
async fn a_close_notify_before_any_handshake_message_ends_it_at_once() {
    const CLOSE_NOTIFY: [u8; 7] = [0x15, 3, 3, 0, 2, 1, 0];
    let world = World::new();
    let acceptor = Acceptor::from(world.server().build()).with_timeout(Duration::from_secs(10));
    let start = tokio::time::Instant::now();

    let (mut peer, io) = tokio::io::duplex(4096);
    peer.write_all(&CLOSE_NOTIFY).await.expect("send");
    let failed = acceptor.accept(io).recoverable().await.expect_err("closed");
    assert_peer_closed(&failed.error, true, 7);

    let (mut peer, io) = tokio::io::duplex(4096);
    peer.write_all(&CLOSE_NOTIFY).await.expect("send");
    let failed = acceptor.start(io).await.expect_err("closed");
    assert_peer_closed(&failed.error, true, 7);
    assert_eq!(
        start.elapsed(),
        Duration::ZERO,
        "no deadline was waited for"
    );

    // The blocking step: one call gives the verdict.
    let (mut peer, mut io) = std::os::unix::net::UnixStream::pair().expect("socket pair");
    std::io::Write::write_all(&mut peer, &CLOSE_NOTIFY).expect("send");
    io.set_read_timeout(Some(support::LIMIT)).expect("timeout");
    let mut step = tokio_tls_handshake::Handshake::accept(world.server().build()).expect("step");
    let error = step.do_handshake(&mut io).expect_err("closed");
    assert_peer_closed(&error, true, 7);
}

/// The issue's case: a TLS 1.3 client whose server refuses ALPN wrote only rustls'
/// compatibility ChangeCipherSpec after its ClientHello, so it sent no alert, and says so.
#[tokio::test]
async fn a_client_refused_alpn_claims_no_alert_it_did_not_send() {
    let world = World::new();
    let (client_io, server_io) = tokio::io::duplex(64 * 1024);
    let wire = support::transports::Recorded::new(client_io);
    let written = wire.written();
    let acceptor = Acceptor::from(world.server().alpn(&["http/1.1"]).build());
    let connector = Connector::from(world.client().version(Version::Tls13).alpn(&["h2"]).build());
    // The server keeps its transport (`recoverable`), so whatever the client writes after
    // the refusal reaches the wire.
    let (client, server) = bounded(async {
        tokio::join!(
            connector.connect(name("localhost"), wire),
            acceptor.accept(server_io).recoverable()
        )
    })
    .await;
    let server = server.expect_err("our server refuses the protocol");
    assert_eq!(
        server.error.alert_sent(),
        Some(AlertDescription::NoApplicationProtocol)
    );
    let client = client.expect_err("refused");
    assert_eq!(
        client.alert_received(),
        Some(AlertDescription::NoApplicationProtocol)
    );
    assert_eq!(client.alert_sent(), None, "{client:?}");
    assert!(!client.to_string().contains("sent alert"), "{client}");
    // On the wire: the ClientHello, then at most the 6-byte ChangeCipherSpec; no alert.
    let written = written.lock().expect("lock").clone();
    let records = support::records(&written);
    assert_eq!(records[0][0], 22, "the ClientHello");
    for record in &records[1..] {
        assert_eq!(
            record,
            &[20, 3, 3, 0, 1, 1],
            "only a ChangeCipherSpec follows"
        );
    }
}

/// One spelling per setting: `with_alerts(false)` silences the alert from every entry point
/// (`Acceptor`, `Connector`, `AsyncHandshake`, the sync `Handshake`), and `with_timeout` /
/// `with_deadline` bound every one.
#[tokio::test]
async fn with_alerts_false_sends_nothing_from_every_entry_point() {
    use tokio_tls_handshake::{AsyncHandshake, Handshake};
    const GARBAGE: [u8; 9] = [22, 3, 1, 0, 4, 1, 0, 0, 0];
    let world = World::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    type Accepting = std::pin::Pin<
        Box<
            dyn std::future::Future<
                Output = Result<
                    tokio_tls_handshake::ServerTlsStream<tokio::io::DuplexStream>,
                    HandshakeError,
                >,
            >,
        >,
    >;
    let quiet_server = |io| -> Accepting {
        Box::pin(
            AsyncHandshake::accept(world.server().build(), io)
                .with_alerts(false)
                .with_deadline(deadline),
        )
    };
    let servers: Vec<Box<dyn Fn(tokio::io::DuplexStream) -> Accepting + '_>> = vec![
        Box::new(|io| {
            Box::pin(
                Acceptor::from(world.server().build())
                    .with_alerts(false)
                    .with_timeout(Duration::from_secs(5))
                    .accept(io),
            )
        }),
        Box::new(quiet_server),
    ];
    for server in servers {
        let (mut peer, io) = tokio::io::duplex(4096);
        peer.write_all(&GARBAGE).await.expect("send");
        let error = bounded(server(io)).await.map(drop).expect_err("garbage");
        assert!(
            matches!(
                error,
                HandshakeError::Protocol {
                    alert_sent: None,
                    ..
                }
            ),
            "{error:?}"
        );
        let mut got = Vec::new();
        bounded(peer.read_to_end(&mut got)).await.expect("EOF");
        assert!(got.is_empty(), "nothing was written back: {got:?}");
    }
    // The client, against a server answering with garbage.
    let (mut peer, io) = tokio::io::duplex(4096);
    let client = Connector::from(world.client().build())
        .with_alerts(false)
        .with_timeout(Duration::from_secs(5))
        .connect(name("localhost"), io);
    let answer = async {
        let mut hello = vec![0u8; 5];
        peer.read_exact(&mut hello).await.expect("hello header");
        let len = usize::from(u16::from_be_bytes([hello[3], hello[4]]));
        let mut body = vec![0u8; len];
        peer.read_exact(&mut body).await.expect("hello body");
        peer.write_all(&GARBAGE).await.expect("garbage");
        let mut got = Vec::new();
        let _ = peer.read_to_end(&mut got).await;
        got
    };
    let (error, got) = bounded(async { tokio::join!(client, answer) }).await;
    assert!(matches!(
        error.map(drop),
        Err(HandshakeError::Protocol {
            alert_sent: None,
            ..
        })
    ));
    assert!(got.is_empty(), "nothing after the hello: {got:?}");
    // The sync step.
    let (mut peer, mut io) = std::os::unix::net::UnixStream::pair().expect("pair");
    std::io::Write::write_all(&mut peer, &GARBAGE).expect("send");
    io.set_read_timeout(Some(support::LIMIT)).expect("timeout");
    let mut step = Handshake::accept(world.server().build())
        .expect("step")
        .with_alerts(false);
    let error = step.do_handshake(&mut io).expect_err("garbage");
    assert_eq!(error.alert_sent(), None);
    assert_eq!(step.pending_alert(), None, "nothing left to send either");
}

/// The default deadline needs Tokio's timers: on a runtime built without them, `accept` panics
/// with Tokio's message, which names `enable_time` (as its `# Panics` section says).
#[test]
#[should_panic(expected = "enable_time")]
fn accept_on_a_runtime_without_timers_panics_naming_enable_time() {
    let world = World::new();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("a runtime without timers");
    runtime.block_on(async {
        let (_peer, io) = tokio::io::duplex(1024);
        let _ = Acceptor::from(world.server().build()).accept(io).await;
    });
}
