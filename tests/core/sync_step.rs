//! The sync step in the man page's three BIO modes: blocking, nonblocking with a poll loop,
//! and a memory buffer pair.

use crate::support;

use std::{
    io::{Read, Write},
    net::{TcpListener, TcpStream},
    sync::mpsc,
    thread,
    time::Duration,
};

use mio::{Events, Interest, Poll, Token};
use support::{bio::MemoryBio, name, World};
use tokio_tls_handshake::{Handshake, HandshakeError, Step};

/// A server on a thread using the step on a blocking socket; echoes one 4-byte message.
/// It starts its handshake only once `gate` opens (or its sender is dropped), so a client can
/// be sure its first call finds nothing to read. Returns every step result it saw.
fn blocking_server(
    world: &World,
    gate: mpsc::Receiver<()>,
) -> (std::net::SocketAddr, thread::JoinHandle<Vec<Step>>) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr");
    let config = world.server().build();
    let server = thread::spawn(move || {
        let (mut tcp, _) = listener.accept().expect("accept");
        tcp.set_read_timeout(Some(support::LIMIT)).expect("timeout");
        let _ = gate.recv_timeout(support::LIMIT);
        let mut handshake = Handshake::accept(config).expect("server handshake");
        let step = handshake.do_handshake(&mut tcp).expect("server step");
        let mut conn = handshake.into_connection();
        let mut stream = rustls::Stream::new(&mut conn, &mut tcp);
        let mut buf = [0u8; 4];
        stream.read_exact(&mut buf).expect("server read");
        stream.write_all(&buf).expect("server write");
        vec![step]
    });
    (addr, server)
}

#[test]
fn blocking_socket_returns_only_done() {
    let world = World::new();
    let (open, gate) = mpsc::channel::<()>();
    drop(open); // no need to hold the server back
    let (addr, server) = blocking_server(&world, gate);
    let mut tcp = TcpStream::connect(addr).expect("connect");
    tcp.set_read_timeout(Some(support::LIMIT)).expect("timeout");
    let mut handshake =
        Handshake::connect(world.client().build(), name("localhost")).expect("client handshake");
    // One call does the whole handshake, as SSL_do_handshake on a blocking BIO.
    assert_eq!(
        handshake.do_handshake(&mut tcp).expect("client step"),
        Step::Done
    );
    assert!(handshake.is_done());
    assert_eq!(handshake.do_handshake(&mut tcp).expect("again"), Step::Done);
    let mut conn = handshake.into_connection();
    let mut stream = rustls::Stream::new(&mut conn, &mut tcp);
    stream.write_all(b"ping").expect("write");
    let mut buf = [0u8; 4];
    stream.read_exact(&mut buf).expect("read echo");
    assert_eq!(&buf, b"ping");
    assert_eq!(server.join().expect("server thread"), [Step::Done]);
}

#[test]
fn nonblocking_socket_with_a_poll_loop_sees_want_read() {
    let world = World::new();
    let (open, gate) = mpsc::channel();
    let (addr, server) = blocking_server(&world, gate);
    let mut tcp = mio::net::TcpStream::connect(addr).expect("connect");
    let mut poll = Poll::new().expect("poll");
    let mut events = Events::with_capacity(4);
    poll.registry()
        .register(&mut tcp, Token(0), Interest::READABLE | Interest::WRITABLE)
        .expect("register");
    // Wait for the nonblocking connect to finish.
    poll.poll(&mut events, Some(support::LIMIT))
        .expect("poll connect");

    let mut handshake =
        Handshake::connect(world.client().build(), name("localhost")).expect("client handshake");
    let mut steps = Vec::new();
    for _ in 0..100 {
        let step = handshake.do_handshake(&mut tcp).expect("client step");
        steps.push(step);
        // The server answers only after our first call, which therefore must want to read.
        let _ = open.send(());
        if step == Step::Done {
            break;
        }
        // WantRead / WantWrite: wait for readiness, as with select(2), then call again.
        poll.poll(&mut events, Some(support::LIMIT)).expect("poll");
        assert!(!events.is_empty(), "no readiness within the bound");
    }
    assert_eq!(steps.last(), Some(&Step::Done), "{steps:?}");
    assert!(steps.contains(&Step::WantRead), "{steps:?}");

    let mut conn = handshake.into_connection();
    conn.writer().write_all(b"ping").expect("queue");
    let mut echoed = Vec::new();
    for _ in 0..100 {
        while conn.wants_write() {
            conn.write_tls(&mut tcp).expect("write");
        }
        match conn.read_tls(&mut tcp) {
            Ok(0) => break,
            Ok(_) => {
                conn.process_new_packets().expect("process");
                let _ = conn.reader().read_to_end(&mut echoed);
                if echoed.len() >= 4 {
                    break;
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                poll.poll(&mut events, Some(Duration::from_secs(5)))
                    .expect("poll");
            }
            Err(e) => panic!("read: {e}"),
        }
    }
    assert_eq!(echoed, b"ping");
    assert_eq!(server.join().expect("server thread"), [Step::Done]);
}

/// Drives a client and a server over a BIO pair whose outboxes hold `capacity` bytes.
/// Returns the steps each side reported, or the first error.
fn memory_pair(world: &World, capacity: usize) -> Result<(Vec<Step>, Vec<Step>), HandshakeError> {
    let mut client = Handshake::connect(world.client().build(), name("localhost"))?;
    let mut server = Handshake::accept(world.server().build())?;
    let (mut client_bio, mut server_bio) = (MemoryBio::new(capacity), MemoryBio::new(capacity));
    let (mut client_steps, mut server_steps) = (Vec::new(), Vec::new());
    for _ in 0..10_000 {
        if !client.is_done() {
            client_steps.push(client.do_handshake(&mut client_bio)?);
        }
        if !server.is_done() {
            server_steps.push(server.do_handshake(&mut server_bio)?);
        }
        let moved = client_bio.drain_into(&mut server_bio) + server_bio.drain_into(&mut client_bio);
        if client.is_done() && server.is_done() {
            return Ok((client_steps, server_steps));
        }
        assert!(
            moved > 0 || !client_bio.inbox.is_empty() || !server_bio.inbox.is_empty(),
            "stalled: neither side can progress"
        );
    }
    panic!("handshake did not finish within the bound");
}

#[test]
fn memory_pair_want_read_means_feed_more_bytes() {
    let world = World::new();
    let (client, server) = memory_pair(&world, 64 * 1024).expect("handshake");
    assert_eq!(
        client.first(),
        Some(&Step::WantRead),
        "client sent its hello, waits"
    );
    assert_eq!(
        server.first(),
        Some(&Step::WantRead),
        "server has nothing yet"
    );
    assert!(!client.contains(&Step::WantWrite) && !server.contains(&Step::WantWrite));
    assert_eq!(client.last(), Some(&Step::Done));
    assert_eq!(server.last(), Some(&Step::Done));
}

#[test]
fn memory_pair_want_write_means_drain_output() {
    let world = World::new();
    let (client, server) = memory_pair(&world, 100).expect("handshake");
    assert!(client.contains(&Step::WantWrite), "{client:?}");
    assert!(server.contains(&Step::WantWrite), "{server:?}");
    assert_eq!(client.last(), Some(&Step::Done));
    assert_eq!(server.last(), Some(&Step::Done));
}

/// As `SSL_do_handshake` keeps failing after a fatal error: the same error again (misuse is
/// not a transport failure), and nothing read or written.
#[test]
fn calling_again_after_an_error_returns_the_same_error_and_does_nothing() {
    let world = World::new();
    let mut server = Handshake::accept(world.server().build()).expect("server");
    let mut bio = MemoryBio::new(1024);
    bio.inbox.extend_from_slice(b"GET / HTTP/1.1\r\n\r\n");
    let first = server.do_handshake(&mut bio).expect_err("not tls");
    assert!(matches!(first, HandshakeError::NotTls { .. }), "{first:?}");
    assert!(bio.outbox.is_empty(), "no alert for a plaintext peer");
    bio.inbox.extend_from_slice(b"more");
    let again = server.do_handshake(&mut bio).expect_err("failed before");
    assert_eq!(format!("{again:?}"), format!("{first:?}"));
    assert_eq!(bio.inbox, b"more", "nothing read");
    assert!(bio.outbox.is_empty(), "nothing written");
}

#[test]
fn an_alert_that_would_block_is_sent_later() {
    let world = World::new();
    let mut server = Handshake::accept(world.server().build()).expect("server");
    let mut bio = MemoryBio::new(0); // nothing can be written yet
    bio.inbox
        .extend_from_slice(&[22, 3, 1, 0, 5, 0xff, 0, 0, 1, 0]);
    let error = server.do_handshake(&mut bio).expect_err("garbage");
    assert_eq!(error.alert_sent(), None, "not written yet");
    let pending = server.pending_alert().expect("alert pending");
    assert_eq!(server.send_alert(&mut bio).expect("send"), Step::WantWrite);
    bio.capacity = 64;
    assert_eq!(server.send_alert(&mut bio).expect("send"), Step::Done);
    assert_eq!(bio.outbox.len(), 7);
    assert_eq!(rustls::AlertDescription::from(bio.outbox[6]), pending);
}

#[test]
fn close_notify_with_the_final_flight_completes_the_handshake_then_reads_as_eof() {
    let world = World::new();
    let mut server = Handshake::accept(world.server().build()).expect("server");
    let mut bio = MemoryBio::new(64 * 1024);
    // A plain rustls client, so its Finished and close_notify can share one flight.
    let mut client =
        rustls::ClientConnection::new(world.client().build(), name("localhost")).expect("client");
    let mut to_server = Vec::new();
    for _ in 0..10 {
        while client.wants_write() {
            client.write_tls(&mut to_server).expect("write to a Vec");
        }
        if !client.is_handshaking() {
            break;
        }
        bio.inbox.append(&mut to_server);
        assert_eq!(
            server.do_handshake(&mut bio).expect("server step"),
            Step::WantRead
        );
        let mut from_server = &bio.outbox[..];
        while !from_server.is_empty() {
            client.read_tls(&mut from_server).expect("read");
            client.process_new_packets().expect("process");
        }
        bio.outbox.clear();
        if !client.is_handshaking() {
            client.send_close_notify(); // queued right behind the Finished
        }
    }
    bio.inbox.append(&mut to_server);
    assert_eq!(
        server.do_handshake(&mut bio).expect("not PeerClosed"),
        Step::Done
    );
    let mut conn = server.into_connection();
    let mut buf = [0u8; 8];
    assert_eq!(conn.reader().read(&mut buf).expect("clean EOF"), 0);
}

/// A transport in memory with a script: reads give `input`, then `after` (an error, or
/// `WouldBlock`); writes go to `output`, or would block when `blocked`.
struct Scripted {
    input: Vec<u8>,
    after: std::io::ErrorKind,
    output: Vec<u8>,
    blocked: bool,
}

impl Scripted {
    fn new(input: Vec<u8>) -> Self {
        Self {
            input,
            after: std::io::ErrorKind::WouldBlock,
            output: Vec::new(),
            blocked: false,
        }
    }
}

impl Read for Scripted {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.input.is_empty() {
            return Err(self.after.into());
        }
        let n = buf.len().min(self.input.len());
        buf[..n].copy_from_slice(&self.input[..n]);
        self.input.drain(..n);
        Ok(n)
    }
}

impl Write for Scripted {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if self.blocked {
            return Err(std::io::ErrorKind::WouldBlock.into());
        }
        self.output.extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// A TLS 1.3 client and server stepped in memory up to the point where the client has the
/// server's whole flight to read: (client, server, that flight).
fn to_the_servers_flight(
    world: &World,
) -> (
    Handshake<rustls::ClientConnection>,
    Handshake<rustls::ServerConnection>,
    Vec<u8>,
) {
    let mut client = Handshake::connect(
        world.client().version(support::Version::Tls13).build(),
        name("localhost"),
    )
    .expect("client");
    let mut server = Handshake::accept(world.server().build()).expect("server");
    let mut to_server = Scripted::new(Vec::new());
    assert_eq!(
        client.do_handshake(&mut to_server).expect("hello"),
        Step::WantRead
    );
    let mut to_client = Scripted::new(to_server.output);
    assert_eq!(
        server.do_handshake(&mut to_client).expect("flight"),
        Step::WantRead
    );
    (client, server, to_client.output)
}

/// Errors are never dropped on the step's read-while-a-write-blocks path: a client whose
/// Finished cannot be written reads meanwhile, and the transport's read error ends its
/// handshake; a TLS 1.3 server whose tickets cannot be written completes, and hands the read
/// error on (`take_deferred_error`, the stream's first read). Called again, a failed step
/// returns the same error, not a made-up transport error.
#[test]
fn a_read_error_while_the_last_writes_wait_is_not_dropped() {
    use std::io::ErrorKind;
    let world = World::new();

    let (mut client, _, flight) = to_the_servers_flight(&world);
    let mut io = Scripted::new(flight);
    io.after = ErrorKind::ConnectionReset;
    io.blocked = true;
    match client.do_handshake(&mut io) {
        Err(HandshakeError::Transport(e)) => assert_eq!(e.kind(), ErrorKind::ConnectionReset),
        other => panic!("expected the reset, got {other:?}"),
    }
    match client.do_handshake(&mut io) {
        Err(HandshakeError::Transport(e)) => assert_eq!(e.kind(), ErrorKind::ConnectionReset),
        other => panic!("the same error again, got {other:?}"),
    }

    let (mut client, mut server, flight) = to_the_servers_flight(&world);
    let mut io = Scripted::new(flight);
    assert_eq!(
        client.do_handshake(&mut io).expect("client done"),
        Step::Done
    );
    let mut to_server = Scripted::new(io.output);
    to_server.after = ErrorKind::ConnectionReset;
    to_server.blocked = true;
    assert_eq!(
        server.do_handshake(&mut to_server).expect("complete"),
        Step::Done
    );
    let deferred = server
        .take_deferred_error()
        .expect("the read error is kept");
    assert_eq!(deferred.kind(), ErrorKind::ConnectionReset);
    assert!(server.take_deferred_error().is_none(), "taken once");
}
