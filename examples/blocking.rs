//! `SSL_do_handshake` on a blocking BIO: the sync step over blocking `std::net::TcpStream`s.
//!
//! - a server thread and a client, each calling `Handshake::do_handshake` once;
//! - on a blocking socket the step returns only `Step::Done` or an error, never `Want*`;
//! - after the handshake, `rustls::Stream` carries the data.
//!
//! Run with `cargo run --example blocking`.

mod common;

use std::{
    error::Error,
    io::{Read, Write},
    net::{TcpListener, TcpStream},
    sync::Arc,
    thread,
};

use tokio_tls_handshake::{Handshake, Step};

fn main() -> Result<(), Box<dyn Error>> {
    let (server_config, client_config) = common::configs("blocking example CA")?;

    let listener = TcpListener::bind("127.0.0.1:0")?;
    let addr = listener.local_addr()?;
    let server = thread::spawn(move || -> Result<(), Box<dyn Error + Send + Sync>> {
        let (mut tcp, _) = listener.accept()?;
        let mut handshake = Handshake::accept(Arc::new(server_config))?;
        let step = handshake.do_handshake(&mut tcp)?;
        println!("server: do_handshake returned {step:?}");
        let mut conn = handshake.into_connection();
        let mut tls = rustls::Stream::new(&mut conn, &mut tcp);
        let mut line = [0u8; 5];
        tls.read_exact(&mut line)?;
        tls.write_all(&line)?;
        Ok(())
    });

    let mut tcp = TcpStream::connect(addr)?;
    let mut handshake = Handshake::connect(Arc::new(client_config), "localhost".try_into()?)?;
    let step = handshake.do_handshake(&mut tcp)?;
    println!("client: do_handshake returned {step:?}");
    assert_eq!(step, Step::Done, "a blocking socket never yields Want*");
    let mut conn = handshake.into_connection();
    let mut tls = rustls::Stream::new(&mut conn, &mut tcp);
    tls.write_all(b"hello")?;
    let mut echoed = [0u8; 5];
    tls.read_exact(&mut echoed)?;
    println!("client: echoed {:?}", String::from_utf8_lossy(&echoed));
    server
        .join()
        .map_err(|_| "server thread panicked")?
        .map_err(|e| e.to_string())?;
    Ok(())
}
