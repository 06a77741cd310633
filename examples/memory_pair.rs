//! `SSL_do_handshake` over a BIO pair: both sides in memory, no sockets.
//!
//! - `Step::WantRead` means "feed more peer bytes in";
//! - `Step::WantWrite` means "drain the output, then call again";
//! - outboxes of 256 bytes make both appear; the loop moves bytes between the sides.
//!
//! Run with `cargo run --example memory_pair`.

mod common;

use std::{error::Error, sync::Arc};

use common::bio::MemoryBio;
use tokio_tls_handshake::Handshake;

fn main() -> Result<(), Box<dyn Error>> {
    let (server_config, client_config) = common::configs("memory pair example CA")?;

    let mut client = Handshake::connect(Arc::new(client_config), "localhost".try_into()?)?;
    let mut server = Handshake::accept(Arc::new(server_config))?;
    let (mut client_bio, mut server_bio) = (MemoryBio::new(256), MemoryBio::new(256));
    for round in 1..=1000 {
        if !client.is_done() {
            println!(
                "round {round}: client {:?}",
                client.do_handshake(&mut client_bio)?
            );
        }
        if !server.is_done() {
            println!(
                "round {round}: server {:?}",
                server.do_handshake(&mut server_bio)?
            );
        }
        let to_server = client_bio.drain_into(&mut server_bio);
        let to_client = server_bio.drain_into(&mut client_bio);
        println!("round {round}: moved {to_server} bytes to the server, {to_client} to the client");
        if client.is_done() && server.is_done() {
            println!(
                "both done: client {:?}, server {:?}",
                client.stats(),
                server.stats()
            );
            return Ok(());
        }
    }
    Err("the pair did not finish in 1000 rounds".into())
}
