//! The `tracing` feature: a span per handshake with the report's fields, an event on
//! completion and on failure. Run with `cargo test --features tracing --test tracing`.
#![cfg(feature = "tracing")]

use crate::support;

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
