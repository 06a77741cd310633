//! What a handshake negotiates on each rustls version, to show that the contenders run the
//! same handshake.

use std::io;

use tokio::net::TcpListener;

use crate::{
    contenders::{Contender, TokioRustls},
    input::Buffers,
    next_stream::NextStream,
    setup::{tcp_pair, Setup, SERVER_NAME},
};

/// What a handshake negotiates on rustls 0.24 and on 0.23 (tokio-rustls): version, suite
/// and key exchange group, as text, to show that both run the same handshake.
pub async fn negotiated(setup: &Setup) -> io::Result<[String; 2]> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let (client, server) = tcp_pair(&listener).await?;
    let (next, _server) = tokio::join!(
        NextStream::connect(&setup.next_client, SERVER_NAME, client, Buffers::Released),
        NextStream::accept(&setup.next_server, server, Buffers::Released)
    );
    let next = next?;
    let conn = next.connection();
    let next = format!(
        "{:?} {:?} {:?}",
        conn.protocol_version(),
        conn.negotiated_cipher_suite().map(|s| s.suite()),
        conn.negotiated_key_exchange_group().map(|g| g.name())
    );
    let (client, server) = tcp_pair(&listener).await?;
    let old = TokioRustls::new(setup);
    let (old, _server) = tokio::join!(old.connect(client), old.accept(server));
    let conn = old?.0.into_inner().1;
    let old = format!(
        "{:?} {:?} {:?}",
        conn.protocol_version(),
        conn.negotiated_cipher_suite().map(|s| s.suite()),
        conn.negotiated_key_exchange_group().map(|g| g.name())
    );
    Ok([next, old])
}
