//! Interop with tokio-rustls, both ways, over loopback TCP.

use crate::support;

use rustls::ProtocolVersion;
use support::{bounded, name, tcp_pair, Version, World};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_tls_handshake::{Acceptor, Connector};

const VERSIONS: [(Version, ProtocolVersion); 2] = [
    (Version::Tls13, ProtocolVersion::TLSv1_3),
    (Version::Tls12, ProtocolVersion::TLSv1_2),
];

/// Sends `ping`, expects it echoed, both ways of a stream pair.
async fn echo<S: AsyncReadExt + AsyncWriteExt + Unpin>(stream: &mut S, msg: &[u8]) {
    stream.write_all(msg).await.expect("write");
    stream.flush().await.expect("flush");
    let mut back = vec![0u8; msg.len()];
    stream.read_exact(&mut back).await.expect("read echo");
    assert_eq!(back, msg);
}

async fn serve_echo<S: AsyncReadExt + AsyncWriteExt + Unpin>(stream: &mut S, len: usize) {
    let mut buf = vec![0u8; len];
    stream.read_exact(&mut buf).await.expect("server read");
    stream.write_all(&buf).await.expect("server write");
    stream.flush().await.expect("server flush");
}

#[tokio::test]
async fn our_client_against_tokio_rustls_server() {
    let world = World::new();
    for (version, expected) in VERSIONS {
        let server = world
            .server()
            .version(version)
            .alpn(&["h2", "http/1.1"])
            .require_client_cert()
            .build();
        let client = world
            .client()
            .version(version)
            .alpn(&["h2"])
            .identity(&world.client)
            .build();
        let (client_tcp, server_tcp) = tcp_pair().await;
        let peer = tokio::spawn(async move {
            let mut tls = tokio_rustls::TlsAcceptor::from(server)
                .accept(server_tcp)
                .await
                .expect("tokio-rustls accept");
            let (_, conn) = tls.get_ref();
            assert_eq!(conn.server_name(), Some("localhost"));
            assert_eq!(conn.alpn_protocol(), Some(&b"h2"[..]));
            assert!(conn.peer_certificates().is_some_and(|c| !c.is_empty()));
            serve_echo(&mut tls, 4).await;
            // Our shutdown must reach this side as close_notify: a clean EOF.
            let mut rest = Vec::new();
            tls.read_to_end(&mut rest)
                .await
                .expect("clean close_notify EOF");
            assert!(rest.is_empty());
        });
        let mut tls = bounded(Connector::from(client).connect(name("localhost"), client_tcp))
            .await
            .expect("our client handshake");
        assert_eq!(tls.connection().protocol_version(), Some(expected));
        assert_eq!(tls.connection().alpn_protocol(), Some(&b"h2"[..]));
        bounded(echo(&mut tls, b"ping")).await;
        bounded(tls.shutdown()).await.expect("shutdown");
        bounded(peer).await.expect("peer task");
    }
}

#[tokio::test]
async fn tokio_rustls_client_against_our_server() {
    let world = World::new();
    for (version, expected) in VERSIONS {
        let server = world
            .server()
            .version(version)
            .alpn(&["h2", "http/1.1"])
            .require_client_cert()
            .build();
        let client = world
            .client()
            .version(version)
            .alpn(&["http/1.1"])
            .identity(&world.client)
            .build();
        let (client_tcp, server_tcp) = tcp_pair().await;
        let peer = tokio::spawn(async move {
            let mut tls = tokio_rustls::TlsConnector::from(client)
                .connect(name("localhost"), client_tcp)
                .await
                .expect("tokio-rustls connect");
            echo(&mut tls, b"hello server").await;
            let mut rest = Vec::new();
            tls.read_to_end(&mut rest)
                .await
                .expect("clean close_notify EOF");
            assert!(rest.is_empty());
        });
        let mut tls = bounded(Acceptor::from(server).accept(server_tcp))
            .await
            .expect("our server handshake");
        let conn = tls.connection();
        assert_eq!(conn.protocol_version(), Some(expected));
        assert_eq!(conn.server_name(), Some("localhost"));
        assert_eq!(conn.alpn_protocol(), Some(&b"http/1.1"[..]));
        assert!(conn.peer_certificates().is_some_and(|c| !c.is_empty()));
        bounded(serve_echo(&mut tls, 12)).await;
        bounded(tls.shutdown()).await.expect("shutdown");
        bounded(peer).await.expect("peer task");
    }
}

#[tokio::test]
async fn our_client_and_server_exchange_bulk_data_both_ways() {
    let world = World::new();
    let (client_tcp, server_tcp) = tcp_pair().await;
    let acceptor = Acceptor::from(world.server().build());
    let connector = Connector::from(world.client().build());
    let (server, client) = tokio::join!(
        acceptor.accept(server_tcp),
        connector.connect(name("127.0.0.1"), client_tcp)
    );
    let (mut server, mut client) = (server.expect("server"), client.expect("client"));
    let data: Vec<u8> = (0..1_000_000u32).map(|i| (i % 251) as u8).collect();
    let sent = data.clone();
    let writer = tokio::spawn(async move {
        client.write_all(&sent).await.expect("client write");
        client.shutdown().await.expect("client shutdown");
        client
    });
    let mut got = Vec::new();
    bounded(server.read_to_end(&mut got))
        .await
        .expect("server read to close_notify");
    assert_eq!(got.len(), data.len());
    assert!(got == data);
    let _client = bounded(writer).await.expect("writer task");
    // The handshake's cost is visible on both ends.
    let cost = server.report().stats;
    assert!(cost.bytes_read > 0 && cost.bytes_written > 0 && cost.reads > 0);
}

#[tokio::test]
async fn eof_without_close_notify_is_unexpected_eof_and_buf_read_works() {
    use tokio::io::AsyncBufReadExt;
    let world = World::new();
    let (client_tcp, server_tcp) = tcp_pair().await;
    // No session tickets: a client closing with them unread would make its kernel send a
    // reset rather than the FIN this test is about.
    let acceptor = Acceptor::from(world.server().no_tickets().build());
    let connector = Connector::from(world.client().build());
    let (server, client) = bounded(async {
        tokio::join!(
            acceptor.accept(server_tcp),
            connector.connect(name("localhost"), client_tcp)
        )
    })
    .await;
    let (mut server, mut client) = (server.expect("server"), client.expect("client"));
    client
        .write_all(b"first line\nsecond")
        .await
        .expect("write");
    client.flush().await.expect("flush");
    let mut line = String::new();
    bounded(server.read_line(&mut line))
        .await
        .expect("read_line");
    assert_eq!(line, "first line\n");
    // Close the transport under the TLS stream: no close_notify.
    let (tcp, _) = client.into_inner();
    drop(tcp);
    let mut rest = Vec::new();
    let err = bounded(server.read_to_end(&mut rest))
        .await
        .expect_err("truncation must not look like a clean end");
    assert_eq!(err.kind(), std::io::ErrorKind::UnexpectedEof);
    assert_eq!(rest, b"second");
}

/// The same code as with tokio-rustls, where its `Accept` / `Connect` are polled by reference
/// in `select!`: both handshake futures are `Unpin`, so `&mut handshake` is a future.
#[tokio::test]
async fn handshakes_are_polled_by_reference_in_select_as_with_tokio_rustls() {
    fn unpin<T: Unpin>(_: &T) {}
    let world = World::new();
    let (client_tcp, server_tcp) = tcp_pair().await;
    let mut accept = Acceptor::from(world.server().build()).accept(server_tcp);
    let mut connect =
        Connector::from(world.client().build()).connect(name("localhost"), client_tcp);
    unpin(&accept);
    unpin(&connect);
    let mut ticks = tokio::time::interval(std::time::Duration::from_millis(1));
    let (mut server, mut client) = (None, None);
    while server.is_none() || client.is_none() {
        tokio::select! {
            done = &mut accept, if server.is_none() => server = Some(done.expect("accept")),
            done = &mut connect, if client.is_none() => client = Some(done.expect("connect")),
            // Other work in the same loop; the handshakes go on where they stood.
            _ = ticks.tick() => {}
        }
    }
    let (mut server, mut client) = (server.expect("server"), client.expect("client"));
    let echo_server = async { serve_echo(&mut server, 4).await };
    bounded(async { tokio::join!(echo(&mut client, b"ping"), echo_server) }).await;
}

/// What servers expect of a stream, as tokio-rustls gives it: the transport's descriptor,
/// the transport and the connection together, and a shutdown that treats a peer already gone
/// (`NotConnected` from the transport) as done.
#[tokio::test]
async fn stream_conveniences_servers_expect() {
    use std::os::fd::{AsFd, AsRawFd};
    let world = World::new();
    let (client_tcp, server_tcp) = tcp_pair().await;
    let fd = server_tcp.as_raw_fd();
    let (client, server) = bounded(async {
        tokio::join!(
            Connector::from(world.client().build()).connect(name("localhost"), client_tcp),
            Acceptor::from(world.server().build()).accept(server_tcp)
        )
    })
    .await;
    let (_client, server) = (client.expect("client"), server.expect("server"));
    assert_eq!(server.as_raw_fd(), fd);
    assert_eq!(server.as_fd().as_raw_fd(), fd);
    let (tcp, conn) = server.get_ref();
    assert!(tcp.peer_addr().is_ok());
    assert_eq!(conn.server_name(), Some("localhost"));

    let (client_io, server_io) = tokio::io::duplex(64 * 1024);
    let (client, server) = bounded(async {
        tokio::join!(
            Connector::from(world.client().build())
                .connect(name("localhost"), GoneOnShutdown(client_io)),
            Acceptor::from(world.server().build()).accept(server_io)
        )
    })
    .await;
    let (mut client, _server) = (client.expect("client"), server.expect("server"));
    bounded(client.shutdown())
        .await
        .expect("NotConnected from the transport's shutdown is success");
}

/// A transport whose shutdown finds the peer already gone.
struct GoneOnShutdown(tokio::io::DuplexStream);

support::transports::delegate_read!(0 for [] GoneOnShutdown);

impl tokio::io::AsyncWrite for GoneOnShutdown {
    fn poll_write(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &[u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        std::pin::Pin::new(&mut self.0).poll_write(cx, buf)
    }
    fn poll_flush(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.0).poll_flush(cx)
    }
    fn poll_shutdown(
        self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::task::Poll::Ready(Err(std::io::ErrorKind::NotConnected.into()))
    }
}

/// The key exchange groups a handshake agreed on: post-quantum (X25519MLKEM768) by default
/// with aws-lc-rs, between our own client and server, and no HelloRetryRequest with peers
/// that lack it (OpenSSL 3.0 both ways, GnuTLS 3.7 as the client): they agree on a classical
/// group in the first round trip.
mod key_exchange {
    use std::process::Stdio;

    use rustls::{HandshakeKind, NamedGroup};
    use support::{
        listen,
        openssl::{self, s_client, Files, SServer},
        tools::{available, Tool},
    };
    use tokio::{io::AsyncBufReadExt, io::BufReader, net::TcpStream};

    use super::*;

    #[cfg(feature = "aws-lc-rs")]
    #[tokio::test]
    async fn our_client_and_server_agree_on_x25519mlkem768_in_one_round_trip() {
        let world = World::new();
        let (client_io, server_io) = tcp_pair().await;
        let (client, server) = bounded(async {
            tokio::join!(
                Connector::from(world.client().build()).connect(name("localhost"), client_io),
                Acceptor::from(world.server().build()).accept(server_io)
            )
        })
        .await;
        let (client, server) = (client.expect("client"), server.expect("server"));
        for connection in [
            client.connection().handshake_kind(),
            server.connection().handshake_kind(),
        ] {
            assert_eq!(
                connection,
                Some(HandshakeKind::Full),
                "no HelloRetryRequest"
            );
        }
        let group = |g: Option<&'static dyn rustls::crypto::SupportedKxGroup>| g.map(|g| g.name());
        assert_eq!(
            group(client.connection().negotiated_key_exchange_group()),
            Some(NamedGroup::X25519MLKEM768)
        );
        assert_eq!(
            group(server.connection().negotiated_key_exchange_group()),
            Some(NamedGroup::X25519MLKEM768)
        );
        assert!(
            client.report().to_string().contains("X25519MLKEM768"),
            "the report names it: {}",
            client.report()
        );
    }

    /// OpenSSL 3.0 has no X25519MLKEM768: our client's X25519 share serves it at once.
    #[tokio::test]
    async fn our_client_and_openssl_s_server_agree_on_x25519_without_a_retry() {
        if !openssl::available() {
            return;
        }
        let world = World::new();
        let files = Files::new();
        let cert = files.write("server.pem", &world.server.cert_pem);
        let key = files.write("server.key", &world.server.key_pem);
        let server = SServer::start(&["-cert", &cert, "-key", &key, "-tls1_3", "-naccept", "1"]);
        let tcp = TcpStream::connect(server.addr).await.expect("connect");
        let tls = bounded(Connector::from(world.client().build()).connect(name("localhost"), tcp))
            .await
            .expect("handshake with s_server");
        let connection = tls.connection();
        assert_eq!(connection.handshake_kind(), Some(HandshakeKind::Full));
        assert_eq!(
            connection.negotiated_key_exchange_group().map(|g| g.name()),
            Some(NamedGroup::X25519)
        );
    }

    /// Our server accepting one handshake, answering `pong` to `ping` and closing.
    async fn serve_one(
        listener: tokio::net::TcpListener,
        world: &World,
    ) -> Result<(Option<HandshakeKind>, Option<NamedGroup>), tokio_tls_handshake::HandshakeError>
    {
        let (tcp, _) = listener.accept().await.expect("accept");
        let mut tls = Acceptor::from(world.server().version(Version::Tls13).build())
            .accept(tcp)
            .await?;
        let facts = (
            tls.connection().handshake_kind(),
            tls.connection()
                .negotiated_key_exchange_group()
                .map(|g| g.name()),
        );
        let mut buf = [0u8; 5];
        if tls.read_exact(&mut buf).await.is_ok() {
            let _ = tls.write_all(b"pong\n").await;
        }
        let _ = tls.shutdown().await;
        Ok(facts)
    }

    #[tokio::test]
    async fn openssl_s_client_and_our_server_agree_without_a_retry() {
        if !openssl::available() {
            return;
        }
        let world = World::new();
        let files = Files::new();
        let ca = files.write("ca.pem", &world.ca.cert_pem());
        let (listener, addr) = listen().await;
        let args = [
            "-servername",
            "localhost",
            "-CAfile",
            &ca,
            "-tls1_3",
            "-brief",
            "-ign_eof",
        ];
        let (ours, run) = bounded(async {
            tokio::join!(
                serve_one(listener, &world),
                s_client(addr, &args, b"ping\n")
            )
        })
        .await;
        let (kind, group) = ours.expect("our server with s_client");
        assert!(run.stdout.contains("pong"), "{}", run.stdout);
        assert_eq!(kind, Some(HandshakeKind::Full), "no HelloRetryRequest");
        assert_eq!(
            group,
            Some(NamedGroup::X25519),
            "OpenSSL's first preference"
        );
    }

    #[tokio::test]
    async fn gnutls_cli_and_our_server_agree_without_a_retry() {
        if !available(Tool::Gnutls) {
            return;
        }
        let world = World::new();
        let files = Files::new();
        let ca = files.write("ca.pem", &world.ca.cert_pem());
        let (listener, addr) = listen().await;
        let client = async {
            let mut child = tokio::process::Command::new("gnutls-cli")
                .args(["--port", &addr.port().to_string(), "127.0.0.1"])
                .args([
                    "--sni-hostname",
                    "localhost",
                    "--verify-hostname",
                    "localhost",
                ])
                .args(["--x509cafile", &ca])
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .kill_on_drop(true)
                .spawn()
                .expect("spawn gnutls-cli");
            let mut stdin = child.stdin.take().expect("stdin");
            let mut stdout = BufReader::new(child.stdout.take().expect("stdout")).lines();
            // gnutls-cli ends at the EOF of its input: send the ping only once it is
            // connected, and read until the answer.
            let mut seen = String::new();
            while let Ok(Some(line)) = stdout.next_line().await {
                seen.push_str(&line);
                seen.push('\n');
                if line.contains("Handshake was completed") {
                    stdin.write_all(b"ping\n").await.expect("ping");
                }
                if line.contains("pong") {
                    break;
                }
            }
            drop(stdin);
            let _ = child.kill().await;
            seen
        };
        let (ours, seen) =
            bounded(async { tokio::join!(serve_one(listener, &world), client) }).await;
        let (kind, group) = ours.expect("our server with gnutls-cli");
        assert!(seen.contains("pong"), "{seen}");
        assert_eq!(
            kind,
            Some(HandshakeKind::Full),
            "no HelloRetryRequest: {seen}"
        );
        assert!(group.is_some(), "a group agreed: {seen}");
    }
}
