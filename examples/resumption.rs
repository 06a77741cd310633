//! Session resumption: one client configuration connects twice; the second handshake resumes
//! the session from the first.
//!
//! - rustls keeps TLS 1.3 tickets (or TLS 1.2 sessions) in the `ClientConfig`'s in-memory
//!   store, so reusing the same `Arc<ClientConfig>` is all it takes;
//! - a TLS 1.3 server's tickets arrive after the handshake: the client reads the server's first
//!   bytes before the next connection, which processes them;
//! - prints both reports (`full`, then `resumed`; the second reads fewer bytes, as no
//!   certificate is sent).
//!
//! Run with `cargo run --example resumption`.

mod common;

use std::{error::Error, sync::Arc};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_tls_handshake::{Acceptor, Connector};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn Error>> {
    let (server_config, client_config) = common::configs("resumption example CA")?;
    let (client, server) = (Arc::new(client_config), Arc::new(server_config));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let acceptor = Acceptor::from(server);
    tokio::spawn(async move {
        for _ in 0..2 {
            let Ok((tcp, _)) = listener.accept().await else {
                return;
            };
            if let Ok(mut tls) = acceptor.accept(tcp).await {
                // The first write carries the session tickets.
                let _ = tls.write_all(b"welcome\n").await;
                let _ = tls.shutdown().await;
            }
        }
    });
    let connector = Connector::from(client);
    let mut resumed = false;
    for attempt in 1..=2 {
        let tcp = tokio::net::TcpStream::connect(addr).await?;
        let mut tls = connector.connect("localhost".try_into()?, tcp).await?;
        let mut welcome = Vec::new();
        tls.read_to_end(&mut welcome).await?;
        let report = tls.report();
        println!("connection {attempt}: {report}");
        resumed = report.is_resumed();
    }
    if !resumed {
        return Err("the second handshake did not resume".into());
    }
    Ok(())
}
