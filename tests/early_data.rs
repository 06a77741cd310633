//! TLS 1.3 early data (0-RTT), this crate on both ends: accepted, rejected (and resent), and
//! impossible (no session yet). The data always arrives exactly once.

mod support;

use std::sync::Arc;

use support::{bounded, name, tcp_pair, Version, World};
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

/// A full handshake whose tickets reach the client (the server writes, the client reads).
async fn prime(client: &Arc<rustls::ClientConfig>, server: &Arc<rustls::ServerConfig>) {
    let (client_tcp, server_tcp) = tcp_pair().await;
    let (c, s) = bounded(async {
        tokio::join!(
            Connector::from(client.clone()).connect(name("localhost"), client_tcp),
            Acceptor::from(server.clone()).accept(server_tcp)
        )
    })
    .await;
    let (mut c, mut s) = (c.expect("client"), s.expect("server"));
    s.write_all(b"t").await.expect("write");
    s.flush().await.expect("flush");
    let mut byte = [0u8; 1];
    bounded(c.read_exact(&mut byte)).await.expect("tickets");
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
    prime(&client, &server).await;
    let (accepted, mut s, mut c) = offer(&client, &server).await;
    assert!(accepted, "the server took the early data");
    assert!(c.early_data_accepted());
    assert!(c.report().early_data_offered);
    assert!(c.report().to_string().contains("early_data=accepted"));
    assert!(s.report().is_resumed());
    assert_eq!(s.take_early_data().as_deref(), Some(REQUEST));
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
    prime(&client, &server_config(&world, true)).await;
    // Another server (another session store): the ticket is unknown, early data rejected.
    let (accepted, mut s, c) = offer(&client, &server_config(&world, true)).await;
    assert!(!accepted);
    assert!(
        c.report().early_data_offered,
        "offered with the unknown ticket"
    );
    assert!(c.report().to_string().contains("early_data=rejected"));
    assert_eq!(s.take_early_data(), None);
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
