//! Handshake reports: what was negotiated and what it cost, on success and failure; and
//! session resumption as the reports show it.

use crate::support;

use std::sync::Arc;

use rustls::{CipherSuite, HandshakeKind, NamedGroup, ProtocolVersion};
use support::{bounded, name, tcp_pair, Version, World};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_tls_handshake::{Acceptor, Connector, HandshakeReport, Role};

/// One handshake between our client and server; returns both reports. The server writes a
/// byte that the client reads, so TLS 1.3 tickets reach the client.
async fn pair(
    client: Arc<rustls::ClientConfig>,
    server: Arc<rustls::ServerConfig>,
    host: &str,
) -> (HandshakeReport, HandshakeReport) {
    let (client_tcp, server_tcp) = tcp_pair().await;
    let (c, s) = bounded(async {
        tokio::join!(
            Connector::from(client).connect(name(host), client_tcp),
            Acceptor::from(server).accept(server_tcp)
        )
    })
    .await;
    let (mut c, mut s) = (c.expect("client"), s.expect("server"));
    s.write_all(b"x").await.expect("server write");
    s.flush().await.expect("flush");
    let mut byte = [0u8; 1];
    bounded(c.read_exact(&mut byte)).await.expect("client read");
    (c.report(), s.report())
}

#[tokio::test]
async fn both_sides_report_what_was_negotiated_and_what_it_cost() {
    let world = World::new();
    let client = world
        .client()
        .version(Version::Tls13)
        .alpn(&["h2"])
        .identity(&world.client)
        .build();
    let server = world.server().alpn(&["h2"]).require_client_cert().build();
    let (c, s) = pair(client, server, "localhost").await;
    for (report, role) in [(&c, Role::Client), (&s, Role::Server)] {
        assert_eq!(report.role, role);
        assert_eq!(report.version, Some(ProtocolVersion::TLSv1_3));
        assert!(matches!(
            report.cipher_suite,
            Some(
                CipherSuite::TLS13_AES_256_GCM_SHA384
                    | CipherSuite::TLS13_AES_128_GCM_SHA256
                    | CipherSuite::TLS13_CHACHA20_POLY1305_SHA256
            )
        ));
        assert!(report
            .key_exchange
            .is_some_and(|g| g != NamedGroup::Unknown(0)));
        assert_eq!(report.alpn.as_deref(), Some(&b"h2"[..]));
        assert_eq!(report.server_name.as_deref(), Some("localhost"));
        assert_eq!(report.kind, Some(HandshakeKind::Full));
        assert!(report.stats.bytes_read > 0 && report.stats.bytes_written > 0);
        assert!(report.stats.reads > 0 && report.stats.writes > 0);
        assert!(report.stats.duration.as_nanos() > 0);
    }
    // Client: the server's chain and subject. Server: the client's certificate.
    assert_eq!(c.peer_certificates, 2);
    assert_eq!(c.peer_subject.as_deref(), Some("CN=localhost"));
    assert!(s.client_certificate_given());
    assert_eq!(s.peer_subject.as_deref(), Some("CN=client.test"));
    // TLS 1.3: one round trip for the client.
    assert_eq!(c.stats.flights_received, 1);
    // Sent and received agree across the two sides.
    assert_eq!(c.stats.bytes_written, s.stats.bytes_read);
    let line = c.to_string();
    for part in [
        "client",
        "TLSv1_3",
        "alpn=h2",
        "sni=localhost",
        "full",
        "peer=\"CN=localhost\"",
        "flights=1",
    ] {
        assert!(line.contains(part), "{part} missing from {line}");
    }
    assert!(!line.contains('\n'));
}

#[tokio::test]
async fn a_failure_carries_a_report_too() {
    let world = World::new();
    let (client_tcp, server_tcp) = tcp_pair().await;
    let server = tokio::spawn(Acceptor::from(world.server().build()).accept(server_tcp));
    let failed = bounded(
        Connector::from(world.client().version(Version::Tls13).build())
            .connect(name("wrong.example"), client_tcp)
            .recoverable(),
    )
    .await
    .expect_err("wrong name");
    let report = failed.report;
    assert_eq!(report.role, Role::Client);
    assert_eq!(report.server_name.as_deref(), Some("wrong.example"));
    assert_eq!(
        report.version,
        Some(ProtocolVersion::TLSv1_3),
        "agreed before the certificate"
    );
    assert!(report.stats.bytes_read > 0);
    assert!(report.to_string().starts_with("client TLSv1_3"), "{report}");
    let _ = server.await;
}

#[tokio::test]
async fn resumption_is_reported_and_saves_a_round_trip_in_tls12() {
    let world = World::new();
    // TLS 1.2: the abbreviated handshake takes one flight from the server instead of two.
    let client = world.client().version(Version::Tls12).build();
    let server = world.server().version(Version::Tls12).build();
    let (full, _) = pair(client.clone(), server.clone(), "localhost").await;
    let (resumed, server_side) = pair(client, server, "localhost").await;
    assert!(!full.is_resumed() && resumed.is_resumed());
    assert!(server_side.is_resumed());
    assert_eq!(
        (full.stats.flights_received, resumed.stats.flights_received),
        (2, 1)
    );
    assert!(resumed.to_string().contains("resumed"));

    // TLS 1.3: resumed too (the same round trips).
    let client = world.client().version(Version::Tls13).build();
    let server = world.server().build();
    let (full, _) = pair(client.clone(), server.clone(), "localhost").await;
    let (resumed, _) = pair(client, server, "localhost").await;
    assert!(resumed.is_resumed());
    // No certificate on the wire this time (rustls still reports the session's chain).
    assert!(resumed.stats.bytes_read < full.stats.bytes_read);
}

#[tokio::test]
async fn confirm_surfaces_a_rejected_client_certificate_in_tls13() {
    let world = World::new();
    let server = world.server().require_client_cert().build();
    for (with_cert, expect_ok) in [(true, true), (false, false)] {
        let mut client = world.client().version(Version::Tls13);
        if with_cert {
            client = client.identity(&world.client);
        }
        let (client_tcp, server_tcp) = tcp_pair().await;
        let acceptor = Acceptor::from(server.clone());
        // The server only accepts; it never writes, so the client's confirmation can come
        // only from the server's session tickets or its alert.
        let server_task = tokio::spawn(async move {
            let _stream = acceptor.accept(server_tcp).await;
            std::future::pending::<()>().await;
        });
        let mut tls =
            bounded(Connector::from(client.build()).connect(name("localhost"), client_tcp))
                .await
                .expect("a TLS 1.3 client finishes before the server judges it");
        let confirmed = bounded(tls.confirm()).await;
        match (confirmed, expect_ok) {
            (Ok(()), true) => {}
            (Err(e), false) => {
                assert_eq!(
                    e.alert_received(),
                    Some(rustls::AlertDescription::CertificateRequired),
                    "{e:?}"
                )
            }
            (other, _) => panic!("with_cert={with_cert}: {other:?}"),
        }
        server_task.abort();
    }
}

/// The case: our own TLS 1.3 server, no client authentication, never writing. The
/// client's `confirm` completes at once (the server's handshake ends with its tickets
/// written), as it does against tokio-rustls.
#[tokio::test]
async fn confirm_completes_against_our_own_server_that_never_writes() {
    let world = World::new();
    let (client_tcp, server_tcp) = tcp_pair().await;
    let acceptor = Acceptor::from(world.server().version(Version::Tls13).build());
    let server_task = tokio::spawn(async move {
        let _stream = acceptor.accept(server_tcp).await;
        std::future::pending::<()>().await;
    });
    let mut tls = bounded(
        Connector::from(world.client().version(Version::Tls13).build())
            .connect(name("localhost"), client_tcp),
    )
    .await
    .expect("handshake");
    tokio::time::timeout(std::time::Duration::from_secs(2), tls.confirm())
        .await
        .expect("confirm completes without the server writing")
        .expect("confirmed");
    server_task.abort();
}

#[tokio::test]
async fn connect_with_alpn_reports_the_server_name() {
    let world = World::new();
    let (client_tcp, server_tcp) = tcp_pair().await;
    let (c, s) = bounded(async {
        tokio::join!(
            Connector::from(world.client().build()).connect_with_alpn(
                name("localhost"),
                vec![b"h2".to_vec()],
                client_tcp
            ),
            Acceptor::from(world.server().alpn(&["h2"]).build()).accept(server_tcp)
        )
    })
    .await;
    let (c, _s) = (c.expect("client"), s.expect("server"));
    let report = c.report();
    assert_eq!(report.server_name.as_deref(), Some("localhost"), "{report}");
    assert_eq!(report.alpn.as_deref(), Some(&b"h2"[..]));
}

/// No `Debug` output carries application data: not the early data a handshake holds, not
/// the plaintext a stream has buffered, not what a plaintext peer sent beyond the first
/// bytes that `Display` shows too.
#[tokio::test]
async fn debug_output_never_carries_application_data() {
    const SECRET: &str = "SECRET-application-data-0123456789";
    let world = World::new();
    let handshake = tokio_tls_handshake::Handshake::connect_with_early_data(
        world.client().build(),
        name("localhost"),
        SECRET.as_bytes().to_vec(),
    )
    .expect("handshake");
    let debug = format!("{handshake:?}");
    assert!(!debug.contains("SECRET"), "{debug}");
    assert!(!debug.contains("83, 69, 67"), "{debug}"); // "SEC" as bytes

    let (client_io, server_io) = tokio::io::duplex(64 * 1024);
    let client = Connector::from(world.client().build()).connect_with_early_data(
        name("localhost"),
        SECRET.as_bytes().to_vec(),
        client_io,
    );
    let debug = format!("{client:?}");
    assert!(
        !debug.contains("SECRET") && !debug.contains("83, 69, 67"),
        "{debug}"
    );
    let (c, s) = bounded(async {
        tokio::join!(
            client,
            Acceptor::from(world.server().build()).accept(server_io)
        )
    })
    .await;
    let (_c, mut s) = (c.expect("client"), s.expect("server"));
    // The early data went as application data; have the server buffer it, unread.
    let mut first = [0u8; 1];
    bounded(s.read_exact(&mut first)).await.expect("read");
    let debug = format!("{s:?}");
    assert!(!debug.contains("ECRET"), "{debug}");

    let mut request = b"GET / HTTP/1.1\r\nAuthorization: ".to_vec();
    request.extend_from_slice(SECRET.as_bytes());
    let error = tokio_tls_handshake::HandshakeError::NotTls { prefix: request };
    for shown in [format!("{error:?}"), error.to_string()] {
        assert!(!shown.contains("SECRET"), "{shown}");
        assert!(
            shown.contains("GET / HTTP/1.1"),
            "the first bytes are shown: {shown}"
        );
    }
}
