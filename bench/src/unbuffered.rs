//! `-- --unbuffered-memory`: what rustls alone holds per idle connection through its buffered API and through `rustls::unbuffered`.

use std::alloc::System;

use stats_alloc::Region;

use crate::setup::*;

/// `-- --unbuffered-memory`: what rustls alone holds per idle established connection, in
/// memory (no sockets, no runtime), after a handshake and one byte each way: its buffered
/// `ClientConnection` / `ServerConnection` (what this crate and tokio-rustls hold), and its
/// `rustls::unbuffered` connections with the caller's buffers released once empty (what an
/// engine on that API would hold). 5,000 pairs; per pair, and per server (freed when the
/// servers are dropped).
pub(crate) fn unbuffered_memory() -> Result<(), Box<dyn std::error::Error>> {
    use rustls::{
        client::UnbufferedClientConnection, server::UnbufferedServerConnection, ClientConnection,
        ServerConnection,
    };
    const PAIRS: usize = 5000;
    let setup = configs(Kind::Full)?;
    let name = setup.server_name.clone();

    let mut clients: Vec<Box<ClientConnection>> = Vec::with_capacity(PAIRS);
    let mut servers: Vec<Box<ServerConnection>> = Vec::with_capacity(PAIRS);
    let region = Region::new(GLOBAL);
    for _ in 0..PAIRS {
        let mut client = Box::new(ClientConnection::new(setup.client.clone(), name.clone())?);
        let mut server = Box::new(ServerConnection::new(setup.server.clone())?);
        let mut wire = Vec::new();
        while client.is_handshaking() || server.is_handshaking() {
            pump(&mut **client, &mut **server, &mut wire)?;
            pump(&mut **server, &mut **client, &mut wire)?;
        }
        exchange_byte(&mut client, &mut server)?;
        clients.push(client);
        servers.push(server);
    }
    let (buffered_pair, buffered_server) = held_and_freed(region, &mut servers);
    drop(clients);

    let mut clients: Vec<Box<UnbufferedClientConnection>> = Vec::with_capacity(PAIRS);
    let mut servers: Vec<Box<UnbufferedServerConnection>> = Vec::with_capacity(PAIRS);
    let region = Region::new(GLOBAL);
    for _ in 0..PAIRS {
        let mut client = Box::new(UnbufferedClientConnection::new(
            setup.client.clone(),
            name.clone(),
        )?);
        let mut server = Box::new(UnbufferedServerConnection::new(setup.server.clone())?);
        drive::pair(&mut *client, &mut *server)?;
        clients.push(client);
        servers.push(server);
    }
    let (unbuffered_pair, unbuffered_server) = held_and_freed(region, &mut servers);
    drop(clients);

    println!("rustls alone, in memory, {PAIRS} idle established pairs (one byte each way):");
    println!();
    println!("| heap bytes held | buffered API | unbuffered API | unbuffered / buffered |");
    println!("|---|---|---|---|");
    for (label, buffered, unbuffered) in [
        ("per client+server pair", buffered_pair, unbuffered_pair),
        ("per server connection", buffered_server, unbuffered_server),
    ] {
        println!(
            "| {label} | {buffered:.0} | {unbuffered:.0} | {:.2} |",
            unbuffered / buffered
        );
    }
    Ok(())
}

/// Per pair, the net heap held since `region` began; per server, what dropping `servers`
/// gives back.
pub(crate) fn held_and_freed<T>(region: Region<'_, System>, servers: &mut Vec<T>) -> (f64, f64) {
    let count = servers.len() as f64;
    let held = region.change();
    let pair = held.bytes_allocated as f64 - held.bytes_deallocated as f64;
    let region = Region::new(GLOBAL);
    servers.clear();
    let freed = region.change();
    let server = freed.bytes_deallocated as f64 - freed.bytes_allocated as f64;
    (pair / count, server / count)
}

pub(crate) fn exchange_byte(
    client: &mut rustls::ClientConnection,
    server: &mut rustls::ServerConnection,
) -> Result<(), Box<dyn std::error::Error>> {
    use std::io::{Read, Write};
    let (mut byte, mut wire) = ([0u8; 1], Vec::new());
    client.writer().write_all(b"c")?;
    pump(client, server, &mut wire)?;
    server.reader().read_exact(&mut byte)?;
    server.writer().write_all(b"s")?;
    pump(server, client, &mut wire)?;
    client.reader().read_exact(&mut byte)?;
    Ok(())
}

/// A handshake and one byte each way over `rustls::unbuffered`, with buffers owned here and
/// dropped once empty.
pub(crate) mod drive {
    use rustls::unbuffered::{ConnectionState, UnbufferedStatus};

    type Error = Box<dyn std::error::Error>;

    /// One side of the pair: its state machine over what it has received.
    pub(super) trait Side {
        type Data;
        fn step<'c, 'i>(
            &'c mut self,
            incoming: &'i mut [u8],
        ) -> UnbufferedStatus<'c, 'i, Self::Data>;
    }

    impl Side for rustls::client::UnbufferedClientConnection {
        type Data = rustls::client::ClientConnectionData;
        fn step<'c, 'i>(
            &'c mut self,
            incoming: &'i mut [u8],
        ) -> UnbufferedStatus<'c, 'i, Self::Data> {
            self.process_tls_records(incoming)
        }
    }

    impl Side for rustls::server::UnbufferedServerConnection {
        type Data = rustls::server::ServerConnectionData;
        fn step<'c, 'i>(
            &'c mut self,
            incoming: &'i mut [u8],
        ) -> UnbufferedStatus<'c, 'i, Self::Data> {
            self.process_tls_records(incoming)
        }
    }

    /// What one run of a side's state machine did.
    #[derive(Default)]
    struct Ran {
        /// Bytes for the peer.
        sent: Vec<u8>,
        /// Application data received.
        received: Vec<u8>,
        /// The handshake is over: application data may be written.
        established: bool,
    }

    /// Runs `side` over `incoming` until it needs more input, writing `data` once it may.
    fn run<S: Side>(side: &mut S, incoming: &mut Vec<u8>, mut data: &[u8]) -> Result<Ran, Error> {
        let mut ran = Ran::default();
        let mut outgoing = vec![0u8; 16 * 1024 + 1024];
        let mut queued = 0;
        loop {
            let status = side.step(incoming);
            let discard = status.discard;
            let mut done = false;
            match status.state? {
                ConnectionState::EncodeTlsData(mut encode) => {
                    queued += encode.encode(&mut outgoing[queued..])?;
                }
                ConnectionState::TransmitTlsData(transmit) => {
                    ran.sent.extend_from_slice(&outgoing[..queued]);
                    queued = 0;
                    transmit.done();
                }
                ConnectionState::ReadTraffic(mut traffic) => {
                    while let Some(record) = traffic.next_record() {
                        ran.received.extend_from_slice(record?.payload);
                    }
                }
                ConnectionState::WriteTraffic(mut write) => {
                    ran.established = true;
                    if !data.is_empty() {
                        let n = write.encrypt(data, &mut outgoing)?;
                        ran.sent.extend_from_slice(&outgoing[..n]);
                        data = &[];
                    }
                    done = true;
                }
                ConnectionState::BlockedHandshake => done = true,
                _ => done = true,
            }
            incoming.drain(..discard);
            if done {
                return Ok(ran);
            }
        }
    }

    /// The handshake, then one byte each way; every buffer is dropped at the end.
    pub(super) fn pair<C: Side, S: Side>(client: &mut C, server: &mut S) -> Result<(), Error> {
        let (mut to_server, mut to_client) = (Vec::new(), Vec::new());
        let (mut client_sent, mut server_sent) = (false, false);
        let (mut client_got, mut server_got) = (Vec::new(), Vec::new());
        for _ in 0..16 {
            let data: &[u8] = if client_sent { &[] } else { b"c" };
            let ran = run(client, &mut to_client, data)?;
            client_sent |= ran.established;
            client_got.extend(ran.received);
            to_server.extend(ran.sent);
            let data: &[u8] = if server_sent { &[] } else { b"s" };
            let ran = run(server, &mut to_server, data)?;
            server_sent |= ran.established;
            server_got.extend(ran.received);
            to_client.extend(ran.sent);
            if client_got == b"s"
                && server_got == b"c"
                && to_server.is_empty()
                && to_client.is_empty()
            {
                return Ok(());
            }
        }
        Err("the unbuffered pair did not exchange a byte each way".into())
    }
}
