//! `SSL_do_handshake` on a blocking BIO: the sync step over blocking `std::net::TcpStream`s.
//!
//! - a server thread and a client, each calling `Handshake::do_handshake` once;
//! - on a blocking socket the step returns only `Step::Done` or an error, never `Want*`;
//! - the server bounds its handshake with one deadline: each read and write may wait only for
//!   what is left of it, so a peer that connects and says nothing (or drips a byte at a time)
//!   cannot hold the thread for ever;
//! - after the handshake, `rustls::Stream` carries the data.
//!
//! Run with `cargo run --example blocking`.

mod common;

use std::{
    error::Error,
    io::{self, Read, Write},
    net::{TcpListener, TcpStream},
    sync::Arc,
    thread,
    time::{Duration, Instant},
};

use tokio_tls_handshake::{Handshake, Step};

/// How long the server gives a client to complete its handshake.
const HANDSHAKE_DEADLINE: Duration = Duration::from_secs(10);

/// A blocking socket under one deadline: every read and write waits at most for what is left
/// of it, and fails with `TimedOut` once it has passed.
struct Deadlined<'a> {
    tcp: &'a mut TcpStream,
    deadline: Instant,
}

impl Deadlined<'_> {
    fn left(&self) -> io::Result<Duration> {
        let left = self.deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(io::ErrorKind::TimedOut.into());
        }
        Ok(left)
    }
}

impl Read for Deadlined<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.tcp.set_read_timeout(Some(self.left()?))?;
        self.tcp.read(buf)
    }
}

impl Write for Deadlined<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.tcp.set_write_timeout(Some(self.left()?))?;
        self.tcp.write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.tcp.flush()
    }
}

fn main() -> Result<(), Box<dyn Error>> {
    let (server_config, client_config) = common::configs("blocking example CA")?;

    let listener = TcpListener::bind("127.0.0.1:0")?;
    let addr = listener.local_addr()?;
    let server = thread::spawn(move || -> Result<(), Box<dyn Error + Send + Sync>> {
        let (mut tcp, _) = listener.accept()?;
        let mut handshake = Handshake::accept(Arc::new(server_config))?;
        let deadline = Instant::now() + HANDSHAKE_DEADLINE;
        let mut bounded = Deadlined {
            tcp: &mut tcp,
            deadline,
        };
        // On a blocking socket a `Want*` comes only from a timed-out read or write.
        let step = handshake.do_handshake(&mut bounded)?;
        println!("server: do_handshake returned {step:?}");
        if step != Step::Done {
            return Err("the client did not complete its handshake in time".into());
        }
        let mut conn = handshake.into_connection();
        tcp.set_read_timeout(Some(HANDSHAKE_DEADLINE))?;
        let mut tls = rustls::Stream::new(&mut conn, &mut tcp);
        let mut line = [0u8; 5];
        tls.read_exact(&mut line)?;
        tls.write_all(&line)?;
        Ok(())
    });

    let mut tcp = TcpStream::connect(addr)?;
    tcp.set_read_timeout(Some(HANDSHAKE_DEADLINE))?;
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
