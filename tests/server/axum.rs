//! The `axum` feature: `axum::serve` over `TlsListener`, the peer's address and the
//! handshake in handlers, failed handshakes that never end the server, and the axum example
//! against curl (HTTP/1.1 and HTTP/2) with its drain on Ctrl-C.
#![cfg(feature = "axum")]

use crate::support;

use std::{future::IntoFuture, net::SocketAddr};

use axum::{extract::ConnectInfo, routing::get, serve::ListenerExt, Router};
use support::{
    bounded,
    examples::{curl, curl_available, Running},
    listen, name, openssl, World,
};
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpStream,
};
use tokio_tls_handshake::{
    listener::{TlsConnectInfo, TlsListener},
    Acceptor, Connector,
};

/// One HTTP/1.1 request over our client; returns the response.
async fn request(world: &World, addr: SocketAddr) -> (SocketAddr, String) {
    let tcp = TcpStream::connect(addr).await.expect("connect");
    let local = tcp.local_addr().expect("local address");
    let mut tls = bounded(Connector::from(world.client().build()).connect(name("localhost"), tcp))
        .await
        .expect("handshake");
    tls.write_all(b"GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        .await
        .expect("request");
    let mut response = Vec::new();
    let _ = bounded(tls.read_to_end(&mut response)).await;
    (local, String::from_utf8_lossy(&response).into_owned())
}

#[tokio::test]
async fn axum_serves_https_with_the_peer_and_the_handshake_in_connect_info() {
    let world = World::new();
    let (tcp, addr) = listen().await;
    let listener = TlsListener::new(tcp, Acceptor::from(world.server().build()));
    let handle = listener.handle();
    let app = Router::new().route(
        "/",
        get(|ConnectInfo(tls): ConnectInfo<TlsConnectInfo>| async move {
            format!(
                "peer={} sni={:?} version={:?}",
                tls.peer,
                tls.report.server_name.as_deref(),
                tls.report.version
            )
        }),
    );
    let server = tokio::spawn(
        axum::serve(
            listener,
            app.into_make_service_with_connect_info::<TlsConnectInfo>(),
        )
        .into_future(),
    );

    // A plaintext client and a client that leaves before its hello fail; the server goes on.
    drop(TcpStream::connect(addr).await.expect("connect"));
    let mut plaintext = TcpStream::connect(addr).await.expect("connect");
    plaintext
        .write_all(b"GET / HTTP/1.1\r\n\r\n")
        .await
        .expect("send");
    // Its socket is closed once the listener has reported (and counted) the failure.
    let mut rest = Vec::new();
    let _ = bounded(plaintext.read_to_end(&mut rest)).await;

    let (local, response) = request(&world, addr).await;
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    assert!(response.contains(&format!("peer={local}")), "{response}");
    assert!(response.contains("sni=Some(\"localhost\")"), "{response}");
    assert!(response.contains("TLSv1_3"), "{response}");
    let stats = handle.stats();
    assert!(stats.failed >= 1, "{stats:?}");
    assert!(
        !server.is_finished(),
        "failed handshakes never end the server"
    );
    server.abort();
}

/// The bare `ConnectInfo<SocketAddr>` through axum's `tap_io`.
#[tokio::test]
async fn connect_info_socket_addr_through_tap_io() {
    let world = World::new();
    let (tcp, addr) = listen().await;
    let listener = TlsListener::new(tcp, Acceptor::from(world.server().build())).tap_io(|_| ());
    let app = Router::new().route(
        "/",
        get(|ConnectInfo(peer): ConnectInfo<SocketAddr>| async move { format!("peer={peer}") }),
    );
    let server = tokio::spawn(
        axum::serve(
            listener,
            app.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .into_future(),
    );
    let (local, response) = request(&world, addr).await;
    assert!(response.contains(&format!("peer={local}")), "{response}");
    server.abort();
}

/// The example, as a user runs it: curl over HTTP/1.1 and HTTP/2, then Ctrl-C drains it and it
/// exits cleanly.
#[tokio::test]
async fn axum_server_example_answers_curl_and_drains_on_ctrl_c() {
    if !curl_available() || !support::tools::available(support::tools::Tool::Kill) {
        return;
    }
    let files = openssl::Files::new();
    let ca = files.path("ca.pem");
    let (mut server, addr) =
        Running::server("axum_server", &ca, &["--header-timeout-ms", "500"]).await;
    let port = addr.port().to_string();
    for (flag, version, alpn) in [
        ("--http1.1", "HTTP/1.1", "http/1.1"),
        ("--http2", "HTTP/2.0", "h2"),
    ] {
        let stdout = curl(&ca, &port, flag).await;
        assert!(
            stdout.contains(&format!("hello over {version} from 127.0.0.1:")),
            "{stdout}"
        );
        assert!(stdout.contains("(sni \"localhost\""), "{stdout}");
        assert!(stdout.contains(&format!("alpn \"{alpn}\")")), "{stdout}");
    }
    // A client that finishes TLS and then drips its request line is closed by the
    // header-read timeout the example sets (500 ms here), as in `https_server`.
    let pem = std::fs::read(&ca).expect("CA file");
    let dripper = support::examples::drip_until_closed(
        support::examples::connect_trusting(&pem, addr, b"http/1.1").await,
    );
    assert_eq!(dripper.await, Some(()), "closed while dripping");
    server.interrupt().await;
    assert_eq!(server.line_after("draining").await, "");
    let report = server.line_after("listener drained: ").await;
    assert!(report.ends_with("0 cut off"), "{report}");
    assert!(server.exits().await, "axum_server exits 0 after the drain");
}
