//! The real OpenSSL (`openssl s_server` / `s_client`) as the peer: the program whose
//! `SSL_do_handshake` this crate mirrors.

use crate::support;

use std::sync::Arc;

use rustls::{
    AlertDescription, CertificateError, Error as TlsError, HandshakeKind, ProtocolVersion,
};
use support::{
    bounded, listen, name,
    openssl::{available, s_client, Files, SServer},
    Identity, Leaf, Version, World,
};
use tokio::{
    io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader},
    net::TcpStream,
};
use tokio_tls_handshake::{Acceptor, ClientTlsStream, Connector, HandshakeError};

const VERSIONS: [(Version, &str, ProtocolVersion); 2] = [
    (Version::Tls13, "-tls1_3", ProtocolVersion::TLSv1_3),
    (Version::Tls12, "-tls1_2", ProtocolVersion::TLSv1_2),
];

/// PEM files for an s_server presenting `identity`, and the CA for verifying clients.
fn server_files(world: &World, identity: &Identity) -> (Files, String, String, String) {
    let files = Files::new();
    let cert = files.write("server.pem", &identity.cert_pem);
    let key = files.write("server.key", &identity.key_pem);
    let ca = files.write("ca.pem", &world.ca.cert_pem());
    (files, cert, key, ca)
}

/// Our client to `server`; sends a line to s_server's `-rev` echo and checks it reversed.
async fn connect(
    config: Arc<rustls::ClientConfig>,
    server: &SServer,
    host: &str,
) -> Result<ClientTlsStream<TcpStream>, HandshakeError> {
    let tcp = TcpStream::connect(server.addr)
        .await
        .expect("connect to s_server");
    bounded(Connector::from(config).connect(name(host), tcp)).await
}

async fn rev_echo(tls: ClientTlsStream<TcpStream>) -> std::io::Result<ClientTlsStream<TcpStream>> {
    let mut tls = BufReader::new(tls);
    tls.get_mut().write_all(b"hello\n").await?;
    tls.get_mut().flush().await?;
    let mut line = String::new();
    bounded(tls.read_line(&mut line)).await?;
    assert_eq!(line, "olleh\n");
    Ok(tls.into_inner())
}

#[tokio::test]
async fn our_client_against_s_server_tls13_and_tls12() {
    if !available() {
        return;
    }
    let world = World::new();
    let (_files, cert, key, _) = server_files(&world, &world.server);
    for (version, flag, expected) in VERSIONS {
        let server = SServer::start(&["-cert", &cert, "-key", &key, flag, "-rev", "-naccept", "1"]);
        let tls = connect(
            world.client().version(version).build(),
            &server,
            "localhost",
        )
        .await
        .expect("handshake with s_server");
        assert_eq!(tls.connection().protocol_version(), Some(expected));
        rev_echo(tls).await.expect("echo through s_server");
    }
}

/// Our server accepting one s_client; the server reads a line, answers `pong`, and closes.
async fn serve_s_client(
    acceptor: Acceptor,
    args: &[&str],
) -> (
    Result<tokio_tls_handshake::ServerTlsStream<TcpStream>, HandshakeError>,
    support::openssl::ClientRun,
) {
    let (listener, addr) = listen().await;
    let server = async {
        let (tcp, _) = listener.accept().await.expect("accept");
        let mut tls = acceptor.accept(tcp).await?;
        let mut buf = [0u8; 5];
        if tls.read_exact(&mut buf).await.is_ok() {
            let _ = tls.write_all(b"pong\n").await;
        }
        let _ = tls.shutdown().await;
        Ok(tls)
    };
    let client = s_client(addr, args, b"ping\n");
    bounded(async { tokio::join!(server, client) }).await
}

#[tokio::test]
async fn s_client_against_our_server_tls13_and_tls12() {
    if !available() {
        return;
    }
    let world = World::new();
    let files = Files::new();
    let ca = files.write("ca.pem", &world.ca.cert_pem());
    for (version, flag, expected) in VERSIONS {
        let acceptor = Acceptor::from(world.server().version(version).build());
        let args = [
            "-servername",
            "localhost",
            "-CAfile",
            &ca,
            "-verify_return_error",
            flag,
            "-brief",
            "-ign_eof",
        ];
        let (ours, run) = serve_s_client(acceptor, &args).await;
        let tls = ours.expect("our server handshake with s_client");
        assert_eq!(tls.connection().protocol_version(), Some(expected));
        assert_eq!(tls.connection().server_name(), Some("localhost"), "SNI");
        assert!(run.stdout.contains("pong"), "{}", run.stdout);
        assert!(run.stderr.contains("Verification: OK"), "{}", run.stderr);
    }
}

#[tokio::test]
async fn alpn_agreed_and_mismatched() {
    if !available() {
        return;
    }
    let world = World::new();
    let (_files, cert, key, _) = server_files(&world, &world.server);
    let server = SServer::start(&[
        "-cert",
        &cert,
        "-key",
        &key,
        "-alpn",
        "h2,http/1.1",
        "-rev",
        "-naccept",
        "1",
    ]);
    let tls = connect(world.client().alpn(&["h2"]).build(), &server, "localhost")
        .await
        .expect("ALPN agreed");
    assert_eq!(tls.connection().alpn_protocol(), Some(&b"h2"[..]));
    rev_echo(tls).await.expect("echo");

    let server = SServer::start(&[
        "-cert", &cert, "-key", &key, "-alpn", "http/1.1", "-naccept", "1",
    ]);
    let error = connect(world.client().alpn(&["h2"]).build(), &server, "localhost")
        .await
        .expect_err("no common protocol");
    assert!(
        matches!(
            error,
            HandshakeError::Protocol {
                alert_received: Some(AlertDescription::NoApplicationProtocol),
                ..
            }
        ),
        "{error:?}"
    );

    // And the other way: s_client offering only h2 to our http/1.1 server.
    let files = Files::new();
    let ca = files.write("ca.pem", &world.ca.cert_pem());
    let acceptor = Acceptor::from(world.server().alpn(&["http/1.1"]).build());
    let args = [
        "-servername",
        "localhost",
        "-CAfile",
        &ca,
        "-alpn",
        "h2",
        "-brief",
    ];
    let (ours, run) = serve_s_client(acceptor, &args).await;
    let error = ours.expect_err("our server rejects the ALPN");
    assert_eq!(
        error.alert_sent(),
        Some(AlertDescription::NoApplicationProtocol),
        "{error:?}"
    );
    assert!(
        run.stderr.contains("alert number 120") || run.stderr.contains("no application protocol"),
        "{}",
        run.stderr
    );
}

#[tokio::test]
async fn client_certificate_required_given_and_missing() {
    if !available() {
        return;
    }
    let world = World::new();
    let (_files, cert, key, ca) = server_files(&world, &world.server);
    let args = [
        "-cert",
        &cert,
        "-key",
        &key,
        "-Verify",
        "1",
        "-verify_return_error",
        "-CAfile",
        &ca,
        "-rev",
        "-naccept",
        "1",
    ];

    let server = SServer::start(&args);
    let tls = connect(
        world.client().identity(&world.client).build(),
        &server,
        "localhost",
    )
    .await
    .expect("client certificate accepted");
    rev_echo(tls).await.expect("echo");

    // TLS 1.3 with `confirm`: the acceptance (OpenSSL's tickets) or the refusal is known
    // before the first read.
    let server = SServer::start(&args);
    let mut tls = connect(
        world
            .client()
            .version(Version::Tls13)
            .identity(&world.client)
            .build(),
        &server,
        "localhost",
    )
    .await
    .expect("handshake");
    bounded(tls.confirm())
        .await
        .expect("OpenSSL accepted the certificate");
    rev_echo(tls).await.expect("echo after confirm");
    let server = SServer::start(&args);
    let mut tls = connect(
        world.client().version(Version::Tls13).build(),
        &server,
        "localhost",
    )
    .await
    .expect("TLS 1.3 client finishes first");
    let refused = bounded(tls.confirm()).await.expect_err("refused");
    assert_eq!(
        refused.alert_received(),
        Some(AlertDescription::CertificateRequired),
        "{refused:?}"
    );

    // TLS 1.3: our handshake completes before OpenSSL checks; the refusal arrives on read.
    let server = SServer::start(&args);
    let tls = connect(
        world.client().version(Version::Tls13).build(),
        &server,
        "localhost",
    )
    .await
    .expect("TLS 1.3 client finishes first");
    let err = rev_echo(tls)
        .await
        .expect_err("s_server refuses the missing certificate");
    let inner = err
        .get_ref()
        .and_then(|e| e.downcast_ref::<HandshakeError>());
    assert_eq!(
        inner.and_then(HandshakeError::alert_received),
        Some(AlertDescription::CertificateRequired),
        "{err}"
    );

    // TLS 1.2: the refusal is part of the handshake.
    let server = SServer::start(&args);
    let error = connect(
        world.client().version(Version::Tls12).build(),
        &server,
        "localhost",
    )
    .await
    .expect_err("TLS 1.2 handshake refused");
    assert!(error.alert_received().is_some(), "{error:?}");

    // Our server requiring one: s_client with and without.
    let files = Files::new();
    let ca_file = files.write("ca.pem", &world.ca.cert_pem());
    let client_cert = files.write("client.pem", &world.client.cert_pem);
    let client_key = files.write("client.key", &world.client.key_pem);
    let acceptor = Acceptor::from(world.server().require_client_cert().build());
    let args = [
        "-servername",
        "localhost",
        "-CAfile",
        &ca_file,
        "-cert",
        &client_cert,
        "-key",
        &client_key,
        "-brief",
        "-ign_eof",
    ];
    let (ours, run) = serve_s_client(acceptor.clone(), &args).await;
    let tls = ours.expect("s_client's certificate accepted");
    assert!(tls
        .connection()
        .peer_certificates()
        .is_some_and(|c| !c.is_empty()));
    assert!(run.stdout.contains("pong"), "{}", run.stdout);
    let args = [
        "-servername",
        "localhost",
        "-CAfile",
        &ca_file,
        "-brief",
        "-ign_eof",
    ];
    let (ours, _) = serve_s_client(acceptor, &args).await;
    assert!(
        matches!(
            ours,
            Err(HandshakeError::Protocol {
                error: TlsError::NoCertificatesPresented,
                ..
            })
        ),
        "{:?}",
        ours.map(drop)
    );
}

#[tokio::test]
async fn session_resumption_both_ways() {
    if !available() {
        return;
    }
    let world = World::new();
    // Our client resumes with s_server (reading the echo processes its tickets).
    let (_files, cert, key, _) = server_files(&world, &world.server);
    let server = SServer::start(&["-cert", &cert, "-key", &key, "-rev", "-naccept", "2"]);
    let config = world.client().version(Version::Tls13).build();
    let mut kinds = Vec::new();
    for _ in 0..2 {
        let tls = connect(config.clone(), &server, "localhost")
            .await
            .expect("handshake");
        kinds.push(tls.connection().handshake_kind());
        rev_echo(tls).await.expect("echo");
    }
    assert_eq!(
        kinds,
        [Some(HandshakeKind::Full), Some(HandshakeKind::Resumed)]
    );

    // s_client -sess_out, then -sess_in, against our server.
    let files = Files::new();
    let ca = files.write("ca.pem", &world.ca.cert_pem());
    let session = files.path("session.pem");
    let acceptor = Acceptor::from(world.server().build());
    let mut kinds = Vec::new();
    for sess in ["-sess_out", "-sess_in"] {
        let args = [
            "-servername",
            "localhost",
            "-CAfile",
            &ca,
            sess,
            &session,
            "-brief",
            "-ign_eof",
        ];
        let (ours, run) = serve_s_client(acceptor.clone(), &args).await;
        let tls = ours.expect("handshake with s_client");
        kinds.push(tls.connection().handshake_kind());
        assert!(run.stdout.contains("pong"), "{}", run.stdout);
    }
    assert_eq!(
        kinds,
        [Some(HandshakeKind::Full), Some(HandshakeKind::Resumed)]
    );
}

#[tokio::test]
async fn tls12_only_server_against_a_tls13_only_client() {
    if !available() {
        return;
    }
    let world = World::new();
    let (_files, cert, key, _) = server_files(&world, &world.server);
    let server = SServer::start(&["-cert", &cert, "-key", &key, "-tls1_2", "-naccept", "1"]);
    let error = connect(
        world.client().version(Version::Tls13).build(),
        &server,
        "localhost",
    )
    .await
    .expect_err("no common version");
    assert_eq!(
        error.alert_received(),
        Some(AlertDescription::ProtocolVersion),
        "{error:?}"
    );
}

#[tokio::test]
async fn expired_and_wrong_name_certificates_from_s_server() {
    if !available() {
        return;
    }
    let world = World::new();
    let expired = world.ca.issue(&["localhost"], Leaf::ExpiredServer);
    let (_files, cert, key, _) = server_files(&world, &expired);
    let server = SServer::start(&["-cert", &cert, "-key", &key, "-naccept", "1"]);
    let error = connect(world.client().build(), &server, "localhost")
        .await
        .expect_err("expired");
    assert!(
        matches!(
            error,
            HandshakeError::Protocol {
                error: TlsError::InvalidCertificate(CertificateError::ExpiredContext { .. }),
                alert_sent: Some(AlertDescription::CertificateExpired),
                ..
            }
        ),
        "{error:?}"
    );

    let (_files, cert, key, _) = server_files(&world, &world.server);
    let server = SServer::start(&["-cert", &cert, "-key", &key, "-naccept", "1"]);
    let error = connect(world.client().build(), &server, "wrong.example")
        .await
        .expect_err("wrong name");
    assert_eq!(
        error.alert_sent(),
        Some(AlertDescription::BadCertificate),
        "{error:?}"
    );
}

#[tokio::test]
async fn early_data_with_openssl_both_ways() {
    if !available() {
        return;
    }
    let world = World::new();
    // Our client to `s_server -early_data`: a session first, then 0-RTT.
    let (_files, cert, key, _) = server_files(&world, &world.server);
    let server = SServer::start(&["-cert", &cert, "-key", &key, "-early_data", "-naccept", "2"]);
    let mut config = (*world.client().version(Version::Tls13).build()).clone();
    config.enable_early_data = true;
    let config = Arc::new(config);
    let mut tls = connect(config.clone(), &server, "localhost")
        .await
        .expect("first handshake");
    // s_server sends its tickets right after the handshake; confirm reads them. A clean
    // close keeps the session resumable for OpenSSL.
    bounded(tls.confirm()).await.expect("tickets");
    bounded(tls.shutdown()).await.expect("close_notify");
    let tcp = TcpStream::connect(server.addr).await.expect("connect");
    let tls = bounded(Connector::from(config).connect_with_early_data(
        name("localhost"),
        b"hello\n".to_vec(),
        tcp,
    ))
    .await
    .expect("resumed handshake");
    assert!(
        tls.connection().handshake_kind() == Some(HandshakeKind::Resumed),
        "{}\n{}",
        tls.report(),
        server.output()
    );
    assert!(tls.early_data_accepted(), "s_server took the early data");
    drop(tls);

    // `s_client -early_data` with a saved session, to our server.
    let files = Files::new();
    let ca = files.write("ca.pem", &world.ca.cert_pem());
    let session = files.path("session.pem");
    let early = files.write("early.txt", "ping\n");
    let mut server_config = (*world.server().build()).clone();
    server_config.max_early_data_size = 16 * 1024;
    let acceptor = Acceptor::from(Arc::new(server_config));
    let args = [
        "-servername",
        "localhost",
        "-CAfile",
        &ca,
        "-sess_out",
        &session,
        "-brief",
        "-ign_eof",
    ];
    let (first, _) = serve_s_client(acceptor.clone(), &args).await;
    first.expect("first handshake");
    let (listener, addr) = listen().await;
    let server = async {
        let (tcp, _) = listener.accept().await.expect("accept");
        let mut tls = acceptor.accept(tcp).await.expect("resumed handshake");
        let early = tls.take_early_data().expect("early data read");
        let _ = tls.write_all(b"pong\n").await;
        let _ = tls.shutdown().await;
        (tls.report(), early)
    };
    let args = [
        "-servername",
        "localhost",
        "-CAfile",
        &ca,
        "-sess_in",
        &session,
        "-early_data",
        &early,
        "-brief",
        "-ign_eof",
    ];
    let ((report, early), run) =
        bounded(async { tokio::join!(server, s_client(addr, &args, b"")) }).await;
    assert!(report.is_resumed(), "{report}");
    assert!(report.early_data_accepted, "{report}");
    assert_eq!(early.as_deref(), Some(&b"ping\n"[..]), "{}", run.stderr);
}
