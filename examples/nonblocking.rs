//! `SSL_do_handshake` on a nonblocking BIO with `select()`: the sync step over a nonblocking
//! socket, driven by a `poll(2)` loop (mio).
//!
//! - `Step::WantRead` / `Step::WantWrite` mean: wait for readiness, then call again;
//! - the loop is bounded, and prints every step it saw.
//!
//! Run with `cargo run --example nonblocking`.

mod common;

use std::{error::Error, sync::Arc, thread, time::Duration};

use mio::{Events, Interest, Poll, Token};
use tokio_tls_handshake::{Handshake, Step};

fn main() -> Result<(), Box<dyn Error>> {
    let (server_config, client_config) = common::configs("nonblocking example CA")?;

    // The server side is a plain blocking step on its own thread.
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    let addr = listener.local_addr()?;
    let server = thread::spawn(move || -> Result<Step, String> {
        let (mut tcp, _) = listener.accept().map_err(|e| e.to_string())?;
        let mut handshake =
            Handshake::accept(Arc::new(server_config)).map_err(|e| e.to_string())?;
        handshake.do_handshake(&mut tcp).map_err(|e| e.to_string())
    });

    let mut tcp = mio::net::TcpStream::connect(addr)?;
    let mut poll = Poll::new()?;
    let mut events = Events::with_capacity(4);
    poll.registry()
        .register(&mut tcp, Token(0), Interest::READABLE | Interest::WRITABLE)?;
    // The nonblocking connect completes when the socket turns writable.
    poll.poll(&mut events, Some(Duration::from_secs(10)))?;

    let mut handshake = Handshake::connect(Arc::new(client_config), "localhost".try_into()?)?;
    for round in 1..=100 {
        let step = handshake.do_handshake(&mut tcp)?;
        println!("client: call {round}: {step:?}");
        if step == Step::Done {
            break;
        }
        // Like select(2): block until the socket is ready, at most 10 s.
        poll.poll(&mut events, Some(Duration::from_secs(10)))?;
        if events.is_empty() {
            return Err("no readiness within 10 s".into());
        }
    }
    if !handshake.is_done() {
        return Err("handshake did not finish in 100 calls".into());
    }
    println!(
        "server: {:?}",
        server.join().map_err(|_| "server thread panicked")??
    );
    let conn = handshake.into_connection();
    println!("negotiated {:?}", conn.protocol_version());
    Ok(())
}
