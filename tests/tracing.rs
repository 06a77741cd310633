//! The `tracing` feature: a span per handshake with the report's fields, an event on
//! completion and on failure; with `axum`, failed handshakes logged with the peer. Run with
//! `cargo test --features tracing --test tracing`.
//!
//! A binary of its own: these tests install a subscriber, and tracing's callsite interest is
//! process-wide, so handshakes that other tests run at the same time without one can leave a
//! callsite disabled (seen: the span disabled and no completion event, in the `core` binary).
#![cfg(feature = "tracing")]

mod support;

use std::{
    io,
    sync::{Arc, Mutex},
};

use support::{bounded, name, tcp_pair, World};
use tokio_tls_handshake::{Acceptor, Connector};

#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0
            .lock()
            .map_err(|_| io::Error::other("poisoned"))?
            .extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[tokio::test(flavor = "current_thread")]
async fn a_span_per_handshake_and_events_on_completion_and_failure() {
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .finish();
    let _default = tracing::subscriber::set_default(subscriber);

    let world = World::new();
    let (client_tcp, server_tcp) = tcp_pair().await;
    let (c, s) = bounded(async {
        tokio::join!(
            Connector::from(world.client().alpn(&["h2"]).build())
                .connect(name("localhost"), client_tcp),
            Acceptor::from(world.server().alpn(&["h2"]).build()).accept(server_tcp)
        )
    })
    .await;
    let (_c, _s) = (c.expect("client"), s.expect("server"));

    let (client_tcp, server_tcp) = tcp_pair().await;
    let server = tokio::spawn(Acceptor::from(world.server().build()).accept(server_tcp));
    let error =
        bounded(Connector::from(world.client().build()).connect(name("wrong.example"), client_tcp))
            .await
            .expect_err("wrong name");
    let _ = server.await;

    let log = String::from_utf8(captured.0.lock().expect("lock").clone()).expect("utf-8");
    assert_eq!(log.matches("tls handshake completed").count(), 2, "{log}");
    assert!(log.contains("tls_handshake{role=client"), "{log}");
    assert!(log.contains("tls_handshake{role=server"), "{log}");
    assert!(log.contains("version=TLSv1_3"), "{log}");
    assert!(log.contains("alpn=h2"), "{log}");
    assert!(log.contains("sni=localhost"), "{log}");
    assert!(log.contains("tls handshake failed"), "{log}");
    assert!(log.contains(&error.to_string()), "the typed cause: {log}");
}

/// With the `tracing` feature, a failed handshake under `axum::serve` is logged with the
/// peer's address (the listener's `tls_connection` span), at warn; a peer that left without a
/// byte (a health check) only at debug.
#[cfg(feature = "axum")]
#[tokio::test(flavor = "current_thread")]
async fn failed_handshakes_are_logged_with_the_peer() {
    use std::{future::IntoFuture, net::SocketAddr};

    use axum::{routing::get, Router};
    use support::listen;
    use tokio::{io::AsyncWriteExt, net::TcpStream};
    use tokio_tls_handshake::listener::TlsListener;

    #[derive(Clone, Default)]
    struct Captured(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);
    impl std::io::Write for Captured {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            if let Ok(mut log) = self.0.lock() {
                log.extend_from_slice(buf);
            }
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(move || writer.clone())
        .with_max_level(tracing::Level::DEBUG)
        .with_ansi(false)
        .finish();
    let _default = tracing::subscriber::set_default(subscriber);

    let world = World::new();
    let (tcp, addr) = listen().await;
    let listener = TlsListener::new(tcp, Acceptor::from(world.server().build()));
    let handle = listener.handle();
    let app = Router::new().route("/", get(|| async { "hello" }));
    let server = tokio::spawn(axum::serve(listener, app).into_future());
    let silent = TcpStream::connect(addr).await.expect("connect");
    let silent_addr = silent.local_addr().expect("addr");
    drop(silent);
    let mut plaintext = TcpStream::connect(addr).await.expect("connect");
    let plaintext_addr = plaintext.local_addr().expect("addr");
    plaintext
        .write_all(b"GET / HTTP/1.1\r\n\r\n")
        .await
        .expect("send");
    bounded(async {
        while handle.stats().failed < 2 {
            tokio::task::yield_now().await;
        }
    })
    .await;
    server.abort();
    let log = String::from_utf8(captured.0.lock().expect("lock").clone()).expect("utf-8");
    let line = |peer: SocketAddr| {
        log.lines()
            .find(|l| l.contains("tls handshake failed") && l.contains(&peer.to_string()))
            .unwrap_or_else(|| panic!("no failure logged for {peer}: {log}"))
            .to_string()
    };
    let plaintext_line = line(plaintext_addr);
    assert!(plaintext_line.contains("WARN"), "{plaintext_line}");
    assert!(
        plaintext_line.contains("did not speak tls"),
        "{plaintext_line}"
    );
    let silent_line = line(silent_addr);
    assert!(silent_line.contains("DEBUG"), "{silent_line}");
}
