//! TLS 1.3 early data (0-RTT), this crate on both ends: accepted, rejected (and resent), and
//! impossible (no session yet). The data always arrives exactly once.

use crate::support;

use std::sync::Arc;

use support::{bounded, handshake_storing_tickets, name, tcp_pair, Version, World};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_tls_handshake::{Acceptor, Connector, ServerTlsStream};

const REQUEST: &[u8] = b"GET /early";

fn client_config(world: &World) -> Arc<rustls::ClientConfig> {
    let mut config = (*world.client().version(Version::Tls13).build()).clone();
    config.enable_early_data = true;
    Arc::new(config)
}

fn server_config(world: &World, early: bool) -> Arc<rustls::ServerConfig> {
    let mut config = (*world.server().build()).clone();
    if early {
        config.max_early_data_size = 16 * 1024;
    }
    Arc::new(config)
}

/// A connection offering `REQUEST` as early data; returns whether the client saw it
/// accepted, and the server's stream.
async fn offer(
    client: &Arc<rustls::ClientConfig>,
    server: &Arc<rustls::ServerConfig>,
) -> (
    bool,
    ServerTlsStream<tokio::net::TcpStream>,
    tokio_tls_handshake::ClientTlsStream<tokio::net::TcpStream>,
) {
    let (client_tcp, server_tcp) = tcp_pair().await;
    let (c, s) = bounded(async {
        tokio::join!(
            Connector::from(client.clone()).connect_with_early_data(
                name("localhost"),
                REQUEST.to_vec(),
                client_tcp
            ),
            Acceptor::from(server.clone()).accept(server_tcp)
        )
    })
    .await;
    let (c, s) = (c.expect("client"), s.expect("server"));
    assert_eq!(c.report().early_data_accepted, c.early_data_accepted());
    let accepted = s.report().early_data_accepted;
    (accepted, s, c)
}

#[tokio::test]
async fn accepted_early_data_is_read_once_through_take_early_data() {
    let world = World::new();
    let (client, server) = (client_config(&world), server_config(&world, true));
    handshake_storing_tickets(&client, &server).await;
    let (accepted, mut s, mut c) = offer(&client, &server).await;
    assert!(accepted, "the server took the early data");
    assert!(c.early_data_accepted());
    assert!(c.report().early_data_offered);
    assert!(c.report().to_string().contains("early_data=accepted"));
    assert!(s.report().is_resumed());
    assert_eq!(s.take_early_data().expect("read").as_deref(), Some(REQUEST));
    // Not a second time through the ordinary read path: the next bytes are the next write.
    c.write_all(b"after").await.expect("write");
    c.flush().await.expect("flush");
    let mut buf = [0u8; 5];
    bounded(s.read_exact(&mut buf)).await.expect("read");
    assert_eq!(&buf, b"after");
}

#[tokio::test]
async fn rejected_early_data_is_resent_after_the_handshake() {
    let world = World::new();
    let client = client_config(&world);
    handshake_storing_tickets(&client, &server_config(&world, true)).await;
    // Another server (another session store): the ticket is unknown, early data rejected.
    let (accepted, mut s, c) = offer(&client, &server_config(&world, true)).await;
    assert!(!accepted);
    assert!(
        c.report().early_data_offered,
        "offered with the unknown ticket"
    );
    assert!(c.report().to_string().contains("early_data=rejected"));
    assert_eq!(s.take_early_data().expect("read"), None);
    let mut buf = vec![0u8; REQUEST.len()];
    bounded(s.read_exact(&mut buf))
        .await
        .expect("resent as application data");
    assert_eq!(buf, REQUEST);
}

#[tokio::test]
async fn without_a_session_the_data_goes_after_the_handshake() {
    let world = World::new();
    let (accepted, mut s, c) = offer(&client_config(&world), &server_config(&world, true)).await;
    assert!(!accepted);
    assert!(!c.report().early_data_offered, "no session, no early data");
    let mut buf = vec![0u8; REQUEST.len()];
    bounded(s.read_exact(&mut buf))
        .await
        .expect("sent after the handshake");
    assert_eq!(buf, REQUEST);
}

/// Offers `data` as early data, then closes cleanly; returns whether the server accepted it
/// early, and everything the server received (early data first, then the stream to its end).
async fn offer_and_close(
    client: &Arc<rustls::ClientConfig>,
    server: &Arc<rustls::ServerConfig>,
    data: Vec<u8>,
) -> (bool, Vec<u8>) {
    let (client_tcp, server_tcp) = tcp_pair().await;
    let connector = Connector::from(client.clone());
    let client_side = async {
        let mut tls = connector
            .connect_with_early_data(name("localhost"), data, client_tcp)
            .await
            .expect("client handshake");
        tls.shutdown().await.expect("close_notify");
        // Until the server is done reading (its close), so nothing unread causes a reset.
        let mut rest = Vec::new();
        let _ = tls.read_to_end(&mut rest).await;
    };
    let server_side = async {
        let mut tls = Acceptor::from(server.clone())
            .accept(server_tcp)
            .await
            .expect("server handshake");
        let accepted = tls.report().early_data_accepted;
        let mut received = tls.take_early_data().expect("read").unwrap_or_default();
        tls.read_to_end(&mut received)
            .await
            .expect("a clean close_notify ends the data");
        tls.shutdown().await.expect("server close");
        (accepted, received)
    };
    bounded(async { tokio::join!(client_side, server_side).1 }).await
}

/// Early data larger than rustls' 64 KiB send buffer arrives in full, exactly once: around
/// the limit and far above it, accepted, rejected and impossible. (It was cut at the buffer
/// limit, and the truncation ended in a clean close_notify.)
#[tokio::test]
async fn early_data_of_any_size_arrives_once_and_in_full() {
    let world = World::new();
    let client = client_config(&world);
    let server = server_config(&world, true);
    let other_server = server_config(&world, true);
    for len in [65_535, 65_536, 65_537, 100 * 1024, 1024 * 1024] {
        let data: Vec<u8> = (0..len).map(|i| (i % 251) as u8).collect();
        // No session yet: all of it after the handshake.
        let fresh = client_config(&world);
        let (accepted, received) = offer_and_close(&fresh, &server, data.clone()).await;
        assert!(!accepted);
        assert!(
            received == data,
            "{len} bytes, no session: got {}",
            received.len()
        );
        // Accepted: up to the server's 16 KiB early, the rest after.
        handshake_storing_tickets(&client, &server).await;
        let (accepted, received) = offer_and_close(&client, &server, data.clone()).await;
        assert!(accepted, "{len} bytes: the server took some early");
        assert!(
            received == data,
            "{len} bytes, accepted: got {}",
            received.len()
        );
        // Rejected (a ticket the other server does not know): all of it after.
        handshake_storing_tickets(&client, &server).await;
        let (accepted, received) = offer_and_close(&client, &other_server, data.clone()).await;
        assert!(!accepted);
        assert!(
            received == data,
            "{len} bytes, rejected: got {}",
            received.len()
        );
    }
}
