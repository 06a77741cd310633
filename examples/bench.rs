//! Side-by-side benchmark: this crate against tokio-rustls, in one process and one run, with
//! identical configurations (TLS 1.3, rustls' default groups with aws-lc-rs (X25519MLKEM768
//! preferred), one ECDSA P-256 leaf unless said otherwise). Seven sections, each printing a Markdown table of medians over interleaved repetitions:
//!
//! 1. **Handshakes and streams**, both crates as client and server over loopback:
//!    - full handshakes without session tickets, one at a time (also ours without the server
//!      deadline, and both with a server sending 2 TLS 1.3 tickets), resumed handshakes with
//!      TLS 1.3 tickets, 64 and 1024 in flight on a 2-worker runtime, p50/p99 latency;
//!    - the TCP-bound ceiling from **limit** (a rustls client and server pumping bytes in
//!      memory on one thread) and **tcp** (a bare Tokio connect / accept / close);
//!    - per handshake, both sides together: transport calls (counted by a `Counting`
//!      wrapper), wake-ups, heap allocations (also ours without the server deadline) and
//!      bytes; the heap held by 5,000 idle server handshakes;
//!    - established streams: the heap held by 5,000 idle client+server pairs after a
//!      handshake and one byte each way (per pair, per server, in all) and the stream's own
//!      size; bulk MB/s both ways with 64 KiB, 16 KiB and 1 KiB application writes
//!      (`-- --streams` runs these rows alone).
//! 2. **The server front door** (`-- --listener` alone): `TlsListener`, `Acceptor` + spawn
//!    and tokio-rustls + spawn serving 64 tokio-rustls clients, with ECDSA P-256, RSA-2048
//!    and RSA-4096 keys, with the cores each server used.
//! 3. **Behind a load balancer and across a fleet** (`-- --fleet` alone; the PROXY rows need
//!    `--features proxy-protocol`): the listener with and without a PROXY v2 header, and
//!    resumption across servers sharing `TicketKeys` against rustls' own.
//! 4. **Choosing among 10,000 certificates** (`-- --certificates` alone): handshakes one at a
//!    time against one certificate, a `CertificateStore` of 10,000 (as the resolver, and as
//!    the acceptor's chooser too) and rustls' `ResolvesServerCertUsingSni` of 10,000.
//! 5. **HTTPS clients** (`-- --https-client` alone; needs `--features hyper`): requests through
//!    hyper-util's `Client`, a new connection each, `HttpsConnector` against hyper-rustls'.
//! 6. **Key exchange** (`-- --key-exchange` alone): full handshakes one at a time and 64 in
//!    flight with X25519MLKEM768 preferred (the default) and with X25519 only, and the
//!    ClientHello's size for each.
//! 7. **Ticket cost** (`-- --ticket-cost` alone): nanoseconds per ticket `decrypt` for a
//!    ticket naming no key held, a forged one naming a key held, and a genuine one,
//!    `TicketKeys` beside rustls' own ticketer.
//!
//! Run with `cargo run --release --example bench --features proxy-protocol,hyper` (`-- --quick`
//! for a short run). `-- --only ours|ours-without-deadline|tokio-rustls [--tickets]` runs 1000
//! handshakes of one contender, `-- --only-bulk ours|tokio-rustls [--server-to-client]
//! [--write-kib N]` one 64 MB transfer,
//! `-- --only-https ours|hyper-rustls [--http2]` 300 HTTPS requests (feature `hyper`), and
//! `-- --serve listener|spawn|tokio-rustls [--key ...]` one server, for `strace -f -c`,
//! `valgrind --tool=callgrind` or `perf`. `-- --unbuffered-memory` measures what rustls
//! alone holds per idle connection through its buffered API and through `rustls::unbuffered`
//! (in memory, no sockets): the spike behind the memory model in the README.

mod common;

use std::{
    alloc::System,
    future::Future,
    io,
    pin::Pin,
    sync::{
        atomic::{AtomicU64, Ordering},
        Arc,
    },
    task::{Context, Waker},
    time::{Duration, Instant},
};

use rustls::{ClientConfig, HandshakeKind, ServerConfig};
use stats_alloc::{Region, StatsAlloc, INSTRUMENTED_SYSTEM};
use tokio::{
    io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt},
    net::{TcpListener, TcpStream},
};

#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Contender {
    /// This crate as a user gets it: the server has its default 10 s handshake deadline.
    Ours,
    /// This crate with the server deadline off, doing the same work as tokio-rustls.
    OursWithoutDeadline,
    TokioRustls,
}

#[derive(Clone)]
struct Setup {
    server: Arc<ServerConfig>,
    client: Arc<ClientConfig>,
    /// Resumed handshakes: the server writes one byte after the handshake and the client
    /// reads it, so that the tickets written with the handshake are stored before the next.
    resumed: bool,
    /// The name the client asks for.
    server_name: rustls::pki_types::ServerName<'static>,
    /// Our acceptor's chooser, if it has one.
    chooser: Option<tokio_tls_handshake::certificates::CertificateStore>,
}

impl Setup {
    /// A client asking for `localhost`; an acceptor without a chooser.
    fn new(server: Arc<ServerConfig>, client: Arc<ClientConfig>, resumed: bool) -> Self {
        Self {
            server,
            client,
            resumed,
            // Borrowed from a `&'static str`: cloning it per handshake allocates nothing.
            server_name: rustls::pki_types::ServerName::try_from("localhost").expect("a DNS name"),
            chooser: None,
        }
    }
}

/// What the handshakes of a run are.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// Full handshakes, the server sending no session tickets.
    Full,
    /// Full handshakes, the server sending rustls' default 2 TLS 1.3 tickets (the client
    /// does not resume): what the tickets cost.
    FullWithTickets,
    /// Resumed handshakes (the client's session cache is warmed by one full handshake first).
    Resumed,
}

fn configs(kind: Kind) -> Result<Setup, Box<dyn std::error::Error>> {
    let (mut server, mut client) = common::configs("bench CA")?;
    if kind == Kind::Full {
        server.send_tls13_tickets = 0;
    }
    if kind != Kind::Resumed {
        client.resumption = rustls::client::Resumption::disabled();
    }
    Ok(Setup::new(
        Arc::new(server),
        Arc::new(client),
        kind == Kind::Resumed,
    ))
}

/// A copy of `setup` whose client has a session cache of its own.
fn fresh_client(setup: &Setup) -> Setup {
    let mut client = (*setup.client).clone();
    client.resumption = rustls::client::Resumption::in_memory_sessions(256);
    Setup {
        client: Arc::new(client),
        ..setup.clone()
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    if let Some(who) = args
        .iter()
        .position(|a| a == "--only")
        .and_then(|i| args.get(i + 1))
    {
        let tickets = args.iter().any(|a| a == "--tickets");
        return only(who, tickets);
    }
    if let Some(who) = args
        .iter()
        .position(|a| a == "--only-bulk")
        .and_then(|i| args.get(i + 1))
    {
        let write_kib = args
            .iter()
            .position(|a| a == "--write-kib")
            .and_then(|i| args.get(i + 1))
            .map(|v| v.parse::<usize>())
            .transpose()?
            .unwrap_or(64);
        let direction = match args.iter().any(|a| a == "--server-to-client") {
            true => Direction::ServerToClient,
            false => Direction::ClientToServer,
        };
        return only_bulk(who, direction, write_kib * 1024);
    }
    #[cfg(feature = "hyper")]
    if let Some(who) = args
        .iter()
        .position(|a| a == "--only-https")
        .and_then(|i| args.get(i + 1))
    {
        return only_https(who, args.iter().any(|a| a == "--http2"));
    }
    let quick = args.iter().any(|a| a == "--quick");
    if args.iter().any(|a| a == "--listener") {
        return listener_section(quick);
    }
    if args.iter().any(|a| a == "--fleet") {
        return fleet_section(quick);
    }
    if args.iter().any(|a| a == "--ticket-cost") {
        return ticket_cost();
    }
    if args.iter().any(|a| a == "--key-exchange") {
        return key_exchange_section(quick);
    }
    if args.iter().any(|a| a == "--streams") {
        return streams_section(quick);
    }
    if args.iter().any(|a| a == "--unbuffered-memory") {
        return unbuffered_memory();
    }
    if args.iter().any(|a| a == "--certificates") {
        return certificates_section(quick);
    }
    if args.iter().any(|a| a == "--https-client") {
        return https_client_section(quick);
    }
    let value = |flag: &str| {
        args.iter()
            .position(|a| a == flag)
            .and_then(|i| args.get(i + 1))
    };
    if let Some(how) = value("--serve") {
        return serve_only(how, value("--key").map_or("ecdsa", String::as_str));
    }
    let (reps, sequential, concurrent) = if quick { (5, 100, 400) } else { (7, 500, 2000) };
    let (idle_count, bulk_megabytes) = if quick { (1000, 64) } else { (5000, 256) };
    let setup = configs(Kind::Full)?;
    let with_tickets = configs(Kind::FullWithTickets)?;
    let resumable = configs(Kind::Resumed)?;
    println!(
        "bench: {reps} repetitions; {sequential} handshakes one at a time, {concurrent} with 64 and 1024 in flight"
    );

    let mut limit = Vec::new();
    let mut tcp = Vec::new();
    let mut seq = [Vec::new(), Vec::new()];
    let mut seq_tickets = [Vec::new(), Vec::new()];
    let mut seq_no_deadline = Vec::new();
    let mut resumed = [Vec::new(), Vec::new()];
    let mut conc = [Vec::new(), Vec::new()];
    let mut wide = [Vec::new(), Vec::new()];
    let mut latency = [Vec::new(), Vec::new()];
    let current = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let workers = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    for rep in 1..=reps {
        limit.push(in_memory(&setup, sequential)?);
        let who = Contender::OursWithoutDeadline;
        seq_no_deadline.push(current.block_on(one_at_a_time(&setup, who, sequential))?);
        tcp.push(current.block_on(bare_tcp(sequential))?);
        for (i, who) in [Contender::Ours, Contender::TokioRustls]
            .into_iter()
            .enumerate()
        {
            seq[i].push(current.block_on(one_at_a_time(&setup, who, sequential))?);
            seq_tickets[i].push(current.block_on(one_at_a_time(&with_tickets, who, sequential))?);
            let own_cache = fresh_client(&resumable);
            resumed[i].push(current.block_on(one_at_a_time(&own_cache, who, sequential))?);
            let (rate, lat) = workers.block_on(in_flight(&setup, who, concurrent, 64))?;
            conc[i].push(rate);
            latency[i].push(lat);
            wide[i].push(
                workers
                    .block_on(in_flight(&setup, who, concurrent, 1024))?
                    .0,
            );
        }
        eprintln!("  repetition {rep}/{reps} done");
    }

    let (limit, tcp) = (median(&mut limit), median(&mut tcp));
    let ceiling = 1.0 / (1.0 / limit + 1.0 / tcp);
    println!();
    println!("| figure | ours | tokio-rustls | ours / tokio-rustls |");
    println!("|---|---|---|---|");
    let s = [median(&mut seq[0]), median(&mut seq[1])];
    let r = [median(&mut resumed[0]), median(&mut resumed[1])];
    let c = [median(&mut conc[0]), median(&mut conc[1])];
    let w = [median(&mut wide[0]), median(&mut wide[1])];
    row("handshakes/s, one at a time", s[0], s[1]);
    let no_deadline = median(&mut seq_no_deadline);
    row(
        "handshakes/s, one at a time, ours without the server deadline",
        no_deadline,
        s[1],
    );
    let t = [median(&mut seq_tickets[0]), median(&mut seq_tickets[1])];
    row(
        "handshakes/s, one at a time, the server sending 2 TLS 1.3 tickets",
        t[0],
        t[1],
    );
    row(
        "handshakes/s, resumed (TLS 1.3 tickets), one at a time",
        r[0],
        r[1],
    );
    row("handshakes/s, 64 in flight (2 workers)", c[0], c[1]);
    row("handshakes/s, 1024 in flight (2 workers)", w[0], w[1]);
    let lat = [
        median_latency(&mut latency[0]),
        median_latency(&mut latency[1]),
    ];
    row("p50 latency ms, 64 in flight", lat[0].0, lat[1].0);
    row("p99 latency ms, 64 in flight", lat[0].1, lat[1].1);
    println!(
        "| one at a time / TCP-bound ceiling ({ceiling:.0}/s) | {:.2} | {:.2} | |",
        s[0] / ceiling,
        s[1] / ceiling
    );
    let cost = [
        current.block_on(cost_per_handshake(&setup, Contender::Ours, 200))?,
        current.block_on(cost_per_handshake(&setup, Contender::TokioRustls, 200))?,
    ];
    row(
        "transport calls per handshake (both sides)",
        cost[0].calls,
        cost[1].calls,
    );
    row(
        "wake-ups per handshake (both sides)",
        cost[0].wakeups,
        cost[1].wakeups,
    );
    row(
        "heap allocations per handshake (both sides)",
        cost[0].allocations,
        cost[1].allocations,
    );
    row(
        "heap bytes allocated per handshake",
        cost[0].bytes,
        cost[1].bytes,
    );
    // What the server deadline costs in allocations: the same count without it.
    let no_deadline_cost = current.block_on(cost_per_handshake(
        &setup,
        Contender::OursWithoutDeadline,
        200,
    ))?;
    row(
        "heap allocations per handshake, ours without the server deadline",
        no_deadline_cost.allocations,
        cost[1].allocations,
    );
    let idle = [
        current.block_on(idle_memory(&setup, Contender::Ours, idle_count))?,
        current.block_on(idle_memory(&setup, Contender::TokioRustls, idle_count))?,
    ];
    row(
        &format!("heap bytes held per server handshake waiting for a ClientHello ({idle_count} idle connections)"),
        idle[0],
        idle[1],
    );
    established_rows(&current, &setup, idle_count)?;
    print_bulk_rows(&workers, &setup, reps, bulk_megabytes)?;
    println!();
    println!(
        "limit (in-memory rustls pair): {limit:.0}/s; bare TCP connect/accept/close: {tcp:.0}/s"
    );
    println!();
    listener_section(quick)?;
    println!();
    fleet_section(quick)?;
    println!();
    certificates_section(quick)?;
    println!();
    https_client_section(quick)?;
    println!();
    key_exchange_section(quick)?;
    println!();
    ticket_cost()
}

/// `-- --streams`: the established-stream rows alone (idle memory, bulk both ways at three
/// write sizes), for a quicker look at the stream than the whole main table.
fn streams_section(quick: bool) -> Result<(), Box<dyn std::error::Error>> {
    let (reps, idle_count, megabytes) = if quick { (3, 1000, 64) } else { (7, 5000, 256) };
    let setup = configs(Kind::Full)?;
    let current = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let workers = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    println!("streams: {reps} repetitions");
    println!();
    println!("| figure | ours | tokio-rustls | ours / tokio-rustls |");
    println!("|---|---|---|---|");
    established_rows(&current, &setup, idle_count)?;
    print_bulk_rows(&workers, &setup, reps, megabytes)?;
    Ok(())
}

/// The idle established rows: heap per client+server pair, per server, and for all servers.
/// One unmeasured round first: the runtime keeps the I/O registrations it grew for `count`
/// connections, and whichever contender went first would pay for them.
fn established_rows(
    current: &tokio::runtime::Runtime,
    setup: &Setup,
    idle_count: usize,
) -> io::Result<()> {
    current.block_on(idle_established(setup, Contender::TokioRustls, idle_count))?;
    let established = [
        current.block_on(idle_established(setup, Contender::Ours, idle_count))?,
        current.block_on(idle_established(setup, Contender::TokioRustls, idle_count))?,
    ];
    row(
        &format!("heap bytes held per idle established client+server pair ({idle_count} pairs, one byte each way)"),
        established[0].0,
        established[1].0,
    );
    row(
        &format!("heap bytes held per idle established server connection (of {idle_count})"),
        established[0].1,
        established[1].1,
    );
    row(
        &format!("heap MB held by {idle_count} idle established server connections"),
        established[0].1 * idle_count as f64 / 1e6,
        established[1].1 * idle_count as f64 / 1e6,
    );
    row(
        "bytes of a server stream over TCP itself (size_of, part of the heap figures)",
        std::mem::size_of::<tokio_tls_handshake::TlsStream<TcpStream, rustls::ServerConnection>>()
            as f64,
        std::mem::size_of::<tokio_rustls::server::TlsStream<TcpStream>>() as f64,
    );
    Ok(())
}

/// `-- --unbuffered-memory`: what rustls alone holds per idle established connection, in
/// memory (no sockets, no runtime), after a handshake and one byte each way: its buffered
/// `ClientConnection` / `ServerConnection` (what this crate and tokio-rustls hold), and its
/// `rustls::unbuffered` connections with the caller's buffers released once empty (what an
/// engine on that API would hold). 5,000 pairs; per pair, and per server (freed when the
/// servers are dropped).
fn unbuffered_memory() -> Result<(), Box<dyn std::error::Error>> {
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
        unbuffered::pair(&mut *client, &mut *server)?;
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
fn held_and_freed<T>(region: Region<'_, System>, servers: &mut Vec<T>) -> (f64, f64) {
    let count = servers.len() as f64;
    let held = region.change();
    let pair = held.bytes_allocated as f64 - held.bytes_deallocated as f64;
    let region = Region::new(GLOBAL);
    servers.clear();
    let freed = region.change();
    let server = freed.bytes_deallocated as f64 - freed.bytes_allocated as f64;
    (pair / count, server / count)
}

fn exchange_byte(
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
mod unbuffered {
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

/// The bulk rows: client to server and back, with 64 KiB, 16 KiB and 1 KiB application
/// writes (fewer megabytes for 1 KiB writes, whose every write is a record and a syscall).
fn print_bulk_rows(
    workers: &tokio::runtime::Runtime,
    setup: &Setup,
    reps: usize,
    megabytes: usize,
) -> io::Result<()> {
    for (write, megabytes) in [
        (64 * 1024, megabytes),
        (16 * 1024, megabytes),
        (1024, megabytes / 8),
    ] {
        for direction in [Direction::ClientToServer, Direction::ServerToClient] {
            let mut mbps = [Vec::new(), Vec::new()];
            for _ in 0..reps {
                for (i, who) in [Contender::Ours, Contender::TokioRustls]
                    .into_iter()
                    .enumerate()
                {
                    mbps[i].push(workers.block_on(bulk(setup, who, megabytes, direction, write))?);
                }
            }
            let way = match direction {
                Direction::ClientToServer => "client to server",
                Direction::ServerToClient => "server to client",
            };
            row(
                &format!(
                    "bulk MB/s, {megabytes} MB {way}, {} KiB writes",
                    write / 1024
                ),
                median(&mut mbps[0]),
                median(&mut mbps[1]),
            );
        }
    }
    Ok(())
}

/// `--only ours|ours-without-deadline|tokio-rustls [--tickets]`: 1000 full handshakes one at
/// a time and nothing else (with `--tickets`, the server sends its 2 TLS 1.3 tickets), for
/// `strace -f -c` (divide its counts by 1000).
fn only(who: &str, tickets: bool) -> Result<(), Box<dyn std::error::Error>> {
    let who = match who {
        "ours" => Contender::Ours,
        "ours-without-deadline" => Contender::OursWithoutDeadline,
        "tokio-rustls" => Contender::TokioRustls,
        other => {
            let expected = "ours, ours-without-deadline or tokio-rustls";
            return Err(format!("--only takes {expected}, not {other}").into());
        }
    };
    let setup = configs(if tickets {
        Kind::FullWithTickets
    } else {
        Kind::Full
    })?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let rate = runtime.block_on(one_at_a_time(&setup, who, 1000))?;
    println!("{who:?}: 1000 handshakes one at a time, {rate:.0}/s");
    Ok(())
}

/// `--only-bulk ours|tokio-rustls [--server-to-client] [--write-kib N]`: one 64 MB transfer
/// of one contender (client to server in 64 KiB writes unless told), for `valgrind
/// --tool=callgrind` (instructions, not seconds), `strace -c` or `perf`.
fn only_bulk(
    who: &str,
    direction: Direction,
    write: usize,
) -> Result<(), Box<dyn std::error::Error>> {
    let who = match who {
        "ours" => Contender::Ours,
        "tokio-rustls" => Contender::TokioRustls,
        other => return Err(format!("--only-bulk takes ours or tokio-rustls, not {other}").into()),
    };
    let setup = configs(Kind::Full)?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let rate = runtime.block_on(bulk(&setup, who, 64, direction, write))?;
    println!(
        "{who:?}: 64 MB {direction:?}, {} KiB writes, {rate:.0} MB/s",
        write / 1024
    );
    Ok(())
}

fn row(name: &str, ours: f64, theirs: f64) {
    println!(
        "| {name} | {ours:.1} | {theirs:.1} | {:.2} |",
        ours / theirs
    );
}

fn median(values: &mut [f64]) -> f64 {
    values.sort_by(|a, b| a.total_cmp(b));
    values[values.len() / 2]
}

/// Medians over repetitions of each repetition's (p50, p99).
fn median_latency(reps: &mut [(f64, f64)]) -> (f64, f64) {
    let mut p50: Vec<f64> = reps.iter().map(|r| r.0).collect();
    let mut p99: Vec<f64> = reps.iter().map(|r| r.1).collect();
    (median(&mut p50), median(&mut p99))
}

fn percentile(sorted_ms: &[f64], p: f64) -> f64 {
    let index = ((sorted_ms.len() - 1) as f64 * p).round() as usize;
    sorted_ms[index]
}

fn rate(count: usize, elapsed: Duration) -> f64 {
    count as f64 / elapsed.as_secs_f64()
}

/// The crypto-bound limit: both sides of the handshake in memory on one thread.
fn in_memory(setup: &Setup, count: usize) -> io::Result<f64> {
    let start = Instant::now();
    for _ in 0..count {
        let name = "localhost".try_into().map_err(io::Error::other)?;
        let mut client =
            rustls::ClientConnection::new(setup.client.clone(), name).map_err(io::Error::other)?;
        let mut server =
            rustls::ServerConnection::new(setup.server.clone()).map_err(io::Error::other)?;
        let mut buf = Vec::with_capacity(4096);
        for _ in 0..10 {
            if !client.is_handshaking() && !server.is_handshaking() {
                break;
            }
            pump(&mut *client, &mut *server, &mut buf)?;
            pump(&mut *server, &mut *client, &mut buf)?;
        }
    }
    Ok(rate(count, start.elapsed()))
}

fn pump<A, B>(
    from: &mut rustls::ConnectionCommon<A>,
    to: &mut rustls::ConnectionCommon<B>,
    buf: &mut Vec<u8>,
) -> io::Result<()> {
    buf.clear();
    while from.wants_write() {
        from.write_tls(buf)?;
    }
    let mut slice = buf.as_slice();
    while !slice.is_empty() {
        to.read_tls(&mut slice)?;
        to.process_new_packets().map_err(io::Error::other)?;
    }
    Ok(())
}

async fn bare_tcp(count: usize) -> io::Result<f64> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let start = Instant::now();
    for _ in 0..count {
        let (client, server) = tokio::join!(TcpStream::connect(addr), listener.accept());
        drop((client?, server?));
    }
    Ok(rate(count, start.elapsed()))
}

/// One handshake between a client and a server of `who`, over `client_io` / `server_io`.
/// Returns whether it was a resumed handshake.
async fn handshake<IO>(
    setup: &Setup,
    who: Contender,
    client_io: IO,
    server_io: IO,
) -> io::Result<bool>
where
    IO: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let name = setup.server_name.clone();
    match who {
        Contender::Ours | Contender::OursWithoutDeadline => {
            let connector = tokio_tls_handshake::Connector::from(setup.client.clone());
            let mut acceptor = tokio_tls_handshake::Acceptor::from(setup.server.clone());
            if who == Contender::OursWithoutDeadline {
                acceptor = acceptor.without_timeout();
            }
            if let Some(store) = &setup.chooser {
                acceptor = acceptor.with_chooser(store.clone());
            }
            let (c, s) = tokio::join!(
                counted(connector.connect(name, client_io)),
                counted(acceptor.accept(server_io))
            );
            let (mut c, mut s) = (c?, s?);
            let resumed = c.connection().handshake_kind() == Some(HandshakeKind::Resumed);
            deliver_tickets(setup, &mut c, &mut s).await?;
            Ok(resumed)
        }
        Contender::TokioRustls => {
            let connector = tokio_rustls::TlsConnector::from(setup.client.clone());
            let acceptor = tokio_rustls::TlsAcceptor::from(setup.server.clone());
            let (c, s) = tokio::join!(
                counted(connector.connect(name, client_io)),
                counted(acceptor.accept(server_io))
            );
            let (mut c, mut s) = (c?, s?);
            let resumed = c.get_ref().1.handshake_kind() == Some(HandshakeKind::Resumed);
            deliver_tickets(setup, &mut c, &mut s).await?;
            Ok(resumed)
        }
    }
}

/// Polls of handshake futures, both contenders, both sides: each poll after a future's first
/// is a wake-up.
static POLLS: AtomicU64 = AtomicU64::new(0);

async fn counted<F: Future>(handshake: F) -> F::Output {
    let mut handshake = std::pin::pin!(handshake);
    std::future::poll_fn(|cx| {
        POLLS.fetch_add(1, Ordering::Relaxed);
        handshake.as_mut().poll(cx)
    })
    .await
}

async fn deliver_tickets<C, S>(setup: &Setup, client: &mut C, server: &mut S) -> io::Result<()>
where
    C: AsyncRead + Unpin,
    S: AsyncWrite + Unpin,
{
    if setup.resumed {
        server.write_all(b"x").await?;
        server.flush().await?;
        let mut byte = [0u8; 1];
        client.read_exact(&mut byte).await?;
    }
    Ok(())
}

async fn tcp_pair(listener: &TcpListener) -> io::Result<(TcpStream, TcpStream)> {
    let addr = listener.local_addr()?;
    let (client, server) = tokio::join!(TcpStream::connect(addr), listener.accept());
    let (client, server) = (client?, server?.0);
    client.set_nodelay(true)?;
    server.set_nodelay(true)?;
    Ok((client, server))
}

/// Handshakes one after another. With tickets on, every handshake after the first must
/// resume, or the run fails.
async fn one_at_a_time(setup: &Setup, who: Contender, count: usize) -> io::Result<f64> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    if setup.resumed {
        let (client, server) = tcp_pair(&listener).await?;
        handshake(setup, who, client, server).await?; // warms the session cache
    }
    let start = Instant::now();
    for _ in 0..count {
        let (client, server) = tcp_pair(&listener).await?;
        let resumed = handshake(setup, who, client, server).await?;
        if resumed != setup.resumed {
            return Err(io::Error::other(format!("{who:?}: resumed = {resumed}")));
        }
    }
    Ok(rate(count, start.elapsed()))
}

/// `count` handshakes, `width` at a time; returns handshakes/s and (p50, p99) latency in ms.
async fn in_flight(
    setup: &Setup,
    who: Contender,
    count: usize,
    width: usize,
) -> io::Result<(f64, (f64, f64))> {
    // A listener per lane: connections never cross lanes, and no listen backlog sees a burst.
    // (One shared listener under a 1024-connect burst lost an occasional final ACK, leaving a
    // lane waiting on accept for a minute.)
    let mut listeners = Vec::with_capacity(width);
    for _ in 0..width {
        listeners.push(TcpListener::bind("127.0.0.1:0").await?);
    }
    let setup = Arc::new(setup.clone());
    let start = Instant::now();
    let mut tasks = Vec::with_capacity(width);
    for (lane, listener) in listeners.into_iter().enumerate() {
        let setup = setup.clone();
        let share = count / width + usize::from(lane < count % width);
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::with_capacity(share);
            for _ in 0..share {
                let began = Instant::now();
                let (client, server) = tcp_pair(&listener).await?;
                handshake(&setup, who, client, server).await?;
                latencies.push(began.elapsed().as_secs_f64() * 1000.0);
            }
            Ok::<_, io::Error>(latencies)
        }));
    }
    let mut latencies = Vec::with_capacity(count);
    for task in tasks {
        latencies.extend(task.await.map_err(io::Error::other)??);
    }
    let elapsed = start.elapsed();
    latencies.sort_by(|a, b| a.total_cmp(b));
    let spread = (percentile(&latencies, 0.50), percentile(&latencies, 0.99));
    Ok((rate(count, elapsed), spread))
}

/// A transport that counts every poll call made on it (reads, writes, flushes, shutdowns)
/// into a shared counter.
struct Counting<IO> {
    io: IO,
    calls: Arc<AtomicU64>,
}

impl<IO> Counting<IO> {
    fn new(io: IO, calls: &Arc<AtomicU64>) -> Self {
        Self {
            io,
            calls: calls.clone(),
        }
    }

    fn count(&self) {
        self.calls.fetch_add(1, Ordering::Relaxed);
    }
}

impl<IO: AsyncRead + Unpin> AsyncRead for Counting<IO> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> std::task::Poll<io::Result<()>> {
        self.count();
        Pin::new(&mut self.io).poll_read(cx, buf)
    }
}

impl<IO: AsyncWrite + Unpin> AsyncWrite for Counting<IO> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> std::task::Poll<io::Result<usize>> {
        self.count();
        Pin::new(&mut self.io).poll_write(cx, buf)
    }
    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> std::task::Poll<io::Result<usize>> {
        self.count();
        Pin::new(&mut self.io).poll_write_vectored(cx, bufs)
    }
    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }
    fn poll_flush(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> std::task::Poll<io::Result<()>> {
        self.count();
        Pin::new(&mut self.io).poll_flush(cx)
    }
    fn poll_shutdown(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> std::task::Poll<io::Result<()>> {
        self.count();
        Pin::new(&mut self.io).poll_shutdown(cx)
    }
}

/// Transport calls, allocations and allocated bytes per handshake (both sides).
async fn cost_per_handshake(setup: &Setup, who: Contender, count: usize) -> io::Result<Cost> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let (mut calls, mut allocs, mut bytes) = (0u64, 0u64, 0u64);
    let polls_before = POLLS.load(Ordering::Relaxed);
    for _ in 0..count {
        let (client, server) = tcp_pair(&listener).await?;
        let probe = Arc::new(AtomicU64::new(0));
        let (client, server) = (Counting::new(client, &probe), Counting::new(server, &probe));
        let region = Region::new(GLOBAL);
        handshake(setup, who, client, server).await?;
        let stats = region.change();
        calls += probe.load(Ordering::Relaxed);
        allocs += stats.allocations as u64;
        bytes += stats.bytes_allocated as u64;
    }
    let n = count as f64;
    let polls = POLLS.load(Ordering::Relaxed) - polls_before;
    Ok(Cost {
        calls: calls as f64 / n,
        wakeups: polls as f64 / n - 2.0,
        allocations: allocs as f64 / n,
        bytes: bytes as f64 / n,
    })
}

/// Per handshake, both sides together.
struct Cost {
    calls: f64,
    /// Polls of the two handshake futures beyond their first.
    wakeups: f64,
    allocations: f64,
    bytes: f64,
}

/// Net heap bytes held per server handshake that has been polled once and waits for a
/// ClientHello, over `count` real loopback connections whose clients stay silent.
async fn idle_memory(setup: &Setup, who: Contender, count: usize) -> io::Result<f64> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let mut pairs = Vec::with_capacity(count);
    for _ in 0..count {
        pairs.push(tcp_pair(&listener).await?);
    }
    let (silent_clients, servers): (Vec<_>, Vec<_>) = pairs.into_iter().unzip();
    let held = match who {
        Contender::TokioRustls => {
            let acceptor = tokio_rustls::TlsAcceptor::from(setup.server.clone());
            held_while_waiting(servers, |tcp| acceptor.accept(tcp))?
        }
        _ => {
            let acceptor = tokio_tls_handshake::Acceptor::from(setup.server.clone());
            held_while_waiting(servers, |tcp| acceptor.accept(tcp))?
        }
    };
    drop(silent_clients);
    Ok(held / count as f64)
}

/// Starts a handshake on each server socket (boxed, as a spawned task holds it), polls each
/// once, and returns the net heap bytes they hold together.
fn held_while_waiting<F: Future>(
    servers: Vec<TcpStream>,
    start: impl Fn(TcpStream) -> F,
) -> io::Result<f64> {
    let mut waiting: Vec<Pin<Box<F>>> = Vec::with_capacity(servers.len());
    let mut cx = Context::from_waker(Waker::noop());
    let region = Region::new(GLOBAL);
    for server in servers {
        let mut handshake = Box::pin(start(server));
        if handshake.as_mut().poll(&mut cx).is_ready() {
            return Err(io::Error::other("a silent client's handshake finished"));
        }
        waiting.push(handshake);
    }
    let stats = region.change();
    drop(waiting);
    Ok(stats.bytes_allocated as f64 - stats.bytes_deallocated as f64)
}

/// Which way a bulk transfer goes.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Direction {
    ClientToServer,
    ServerToClient,
}

/// MB/s of application data over an established stream, `write` bytes per application write.
async fn bulk(
    setup: &Setup,
    who: Contender,
    megabytes: usize,
    direction: Direction,
    write: usize,
) -> io::Result<f64> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let (client, server) = tcp_pair(&listener).await?;
    let name = setup.server_name.clone();
    let to_server = direction == Direction::ClientToServer;
    match who {
        Contender::TokioRustls => {
            let connector = tokio_rustls::TlsConnector::from(setup.client.clone());
            let acceptor = tokio_rustls::TlsAcceptor::from(setup.server.clone());
            let (c, s) = tokio::join!(connector.connect(name, client), acceptor.accept(server));
            let (c, s) = (c?, s?);
            match to_server {
                true => transfer(c, s, megabytes, write).await,
                false => transfer(s, c, megabytes, write).await,
            }
        }
        _ => {
            let connector = tokio_tls_handshake::Connector::from(setup.client.clone());
            let acceptor = tokio_tls_handshake::Acceptor::from(setup.server.clone());
            let (c, s) = tokio::join!(connector.connect(name, client), acceptor.accept(server));
            let (c, s) = (c?, s?);
            match to_server {
                true => transfer(c, s, megabytes, write).await,
                false => transfer(s, c, megabytes, write).await,
            }
        }
    }
}

async fn transfer<W, R>(
    mut writer: W,
    mut reader: R,
    megabytes: usize,
    write: usize,
) -> io::Result<f64>
where
    W: AsyncWrite + Unpin,
    R: AsyncRead + Unpin,
{
    let chunk = vec![7u8; write];
    let total = megabytes * 1024 * 1024;
    let start = Instant::now();
    let send = async {
        for _ in 0..total / chunk.len() {
            writer.write_all(&chunk).await?;
        }
        writer.flush().await
    };
    let receive = async {
        let mut buf = vec![0u8; 64 * 1024];
        let mut got = 0;
        while got < total {
            match reader.read(&mut buf).await? {
                0 => return Err(io::Error::from(io::ErrorKind::UnexpectedEof)),
                n => got += n,
            }
        }
        Ok(())
    };
    let (sent, received) = tokio::join!(send, receive);
    sent?;
    received?;
    Ok(megabytes as f64 / start.elapsed().as_secs_f64())
}

/// The heap held by `count` idle established connections over loopback, each after a
/// handshake and one byte each way: per client+server pair (both streams, boxed as a task
/// would hold them, their TCP sockets included), and per server connection (what dropping
/// only the server streams gives back).
async fn idle_established(setup: &Setup, who: Contender, count: usize) -> io::Result<(f64, f64)> {
    let name = setup.server_name.clone();
    match who {
        Contender::TokioRustls => {
            let connector = tokio_rustls::TlsConnector::from(setup.client.clone());
            let acceptor = tokio_rustls::TlsAcceptor::from(setup.server.clone());
            idle_pairs(count, |c, s| {
                let (connector, acceptor, name) = (&connector, &acceptor, name.clone());
                async move {
                    let (c, s) = tokio::join!(connector.connect(name, c), acceptor.accept(s));
                    Ok((c?, s?))
                }
            })
            .await
        }
        _ => {
            let connector = tokio_tls_handshake::Connector::from(setup.client.clone());
            let acceptor = tokio_tls_handshake::Acceptor::from(setup.server.clone());
            idle_pairs(count, |c, s| {
                let (connector, acceptor, name) = (&connector, &acceptor, name.clone());
                async move {
                    let (c, s) = tokio::join!(connector.connect(name, c), acceptor.accept(s));
                    Ok((c?, s?))
                }
            })
            .await
        }
    }
}

async fn idle_pairs<C, S, F, Fut>(count: usize, establish: F) -> io::Result<(f64, f64)>
where
    C: AsyncRead + AsyncWrite + Unpin,
    S: AsyncRead + AsyncWrite + Unpin,
    F: Fn(TcpStream, TcpStream) -> Fut,
    Fut: Future<Output = io::Result<(C, S)>>,
{
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let mut clients: Vec<Box<C>> = Vec::with_capacity(count);
    let mut servers: Vec<Box<S>> = Vec::with_capacity(count);
    let region = Region::new(GLOBAL);
    for _ in 0..count {
        let (client, server) = tcp_pair(&listener).await?;
        let (mut client, mut server) = establish(client, server).await?;
        let mut byte = [0u8; 1];
        client.write_all(b"c").await?;
        client.flush().await?;
        server.read_exact(&mut byte).await?;
        server.write_all(b"s").await?;
        server.flush().await?;
        client.read_exact(&mut byte).await?;
        clients.push(Box::new(client));
        servers.push(Box::new(server));
    }
    let held = region.change();
    let pairs = held.bytes_allocated as f64 - held.bytes_deallocated as f64;
    let region = Region::new(GLOBAL);
    drop(servers);
    let freed = region.change();
    let server = freed.bytes_deallocated as f64 - freed.bytes_allocated as f64;
    drop(clients);
    Ok((pairs / count as f64, server / count as f64))
}

/// How a server accepts and completes handshakes, in the listener section.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Server {
    /// `TlsListener`: a task per handshake, results handed to the accept loop.
    Listener,
    /// `Acceptor::accept` inside a task spawned per connection.
    AcceptorSpawn,
    /// tokio-rustls' `TlsAcceptor::accept` inside a task spawned per connection.
    TokioRustlsSpawn,
    /// `TlsListener` reading a PROXY v2 header before each handshake.
    ListenerBehindProxy,
}

/// A PROXY v2 header for TCP over IPv4 from 198.51.100.7:41000, as HAProxy sends it.
const PROXY_V2_HEADER: &[u8] = &[
    b'\r', b'\n', b'\r', b'\n', 0, b'\r', b'\n', b'Q', b'U', b'I', b'T', b'\n', 0x21, 0x11, 0, 12,
    198, 51, 100, 7, 203, 0, 113, 1, 0xa0, 0x28, 0x01, 0xbb,
];

const SERVERS: [Server; 3] = [
    Server::Listener,
    Server::AcceptorSpawn,
    Server::TokioRustlsSpawn,
];

/// Server threads are named this, so their CPU time can be read apart from the clients'.
const SERVER_THREAD: &str = "bench-server";

/// The listener section: each way of serving, with ECDSA P-256, RSA-2048 and RSA-4096 server
/// keys (made at start-up), the server on a 2-worker runtime and the clients on a thread of
/// their own (64 handshakes in flight), so that the server side is what is measured. Each
/// connection is served the same way after its handshake: read one byte, write one back.
fn listener_section(quick: bool) -> Result<(), Box<dyn std::error::Error>> {
    use common::pki::ServerKey;
    let reps = if quick { 3 } else { 5 };
    println!(
        "listener: {reps} repetitions; 64 in flight; server on 2 workers, clients on their own thread"
    );
    println!();
    println!("| server key | TlsListener hs/s (cores) | Acceptor + spawn hs/s (cores) | tokio-rustls + spawn hs/s (cores) | listener / spawn | listener / tokio-rustls |");
    println!("|---|---|---|---|---|---|");
    let server_runtime = server_runtime()?;
    for (key, label, count) in [
        (ServerKey::EcdsaP256, "ECDSA P-256", 6000),
        (ServerKey::Rsa2048, "RSA-2048", 3000),
        (ServerKey::Rsa4096, "RSA-4096", 1200),
    ] {
        let count = if quick { count / 4 } else { count };
        let (server, client) = full_handshake_configs(key)?;
        let mut rates = [Vec::new(), Vec::new(), Vec::new()];
        let mut cores = [Vec::new(), Vec::new(), Vec::new()];
        for rep in 1..=reps {
            for (i, how) in SERVERS.into_iter().enumerate() {
                let (rate, used) =
                    serve_and_measure(&server_runtime, how, &server, &client, count)?;
                rates[i].push(rate);
                cores[i].push(used);
            }
            eprintln!("  {label}: repetition {rep}/{reps} done");
        }
        let r = rates.each_mut().map(|r| median(r));
        let c = cores.each_mut().map(|c| median(c));
        println!(
            "| {label} | {:.0} ({:.2}) | {:.0} ({:.2}) | {:.0} ({:.2}) | {:.2} | {:.2} |",
            r[0],
            c[0],
            r[1],
            c[1],
            r[2],
            c[2],
            r[0] / r[1],
            r[0] / r[2]
        );
    }
    println!();
    println!("cores: CPU time of the server runtime's threads / wall time (from /proc/self/task; NaN elsewhere than Linux)");
    Ok(())
}

/// `--serve listener|spawn|tokio-rustls [--key ecdsa|rsa2048|rsa4096]`: 10,000 handshakes
/// against one way of serving and nothing else, for `perf record` or `strace -f -c`.
fn serve_only(how: &str, key: &str) -> Result<(), Box<dyn std::error::Error>> {
    use common::pki::ServerKey;
    let how = match how {
        "listener" => Server::Listener,
        "spawn" => Server::AcceptorSpawn,
        "tokio-rustls" => Server::TokioRustlsSpawn,
        other => {
            return Err(
                format!("--serve takes listener, spawn or tokio-rustls, not {other}").into(),
            )
        }
    };
    let key = match key {
        "ecdsa" => ServerKey::EcdsaP256,
        "rsa2048" => ServerKey::Rsa2048,
        "rsa4096" => ServerKey::Rsa4096,
        other => return Err(format!("--key takes ecdsa, rsa2048 or rsa4096, not {other}").into()),
    };
    let (server, client) = full_handshake_configs(key)?;
    let runtime = server_runtime()?;
    let (rate, cores) = serve_and_measure(&runtime, how, &server, &client, 10_000)?;
    println!("{how:?}: {rate:.0} handshakes/s, server {cores:.2} cores");
    Ok(())
}

/// The server side's runtime: 2 workers, named so that their CPU time can be read.
fn server_runtime() -> io::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name(SERVER_THREAD)
        .enable_all()
        .build()
}

/// Configurations for full handshakes (no tickets) with a server key of type `key`.
fn full_handshake_configs(
    key: common::pki::ServerKey,
) -> Result<(Arc<ServerConfig>, Arc<ClientConfig>), Box<dyn std::error::Error>> {
    let (mut server, client) = common::configs_with("bench CA", key)?;
    server.send_tls13_tickets = 0;
    Ok((Arc::new(server), Arc::new(client)))
}

/// Runs a server of kind `how` on `runtime`, drives `count` handshakes at it from a client
/// thread, and returns handshakes/s and the server threads' cores in use.
fn serve_and_measure(
    runtime: &tokio::runtime::Runtime,
    how: Server,
    server: &Arc<ServerConfig>,
    client: &Arc<ClientConfig>,
    count: usize,
) -> Result<(f64, f64), Box<dyn std::error::Error>> {
    let tcp = runtime.block_on(TcpListener::bind("127.0.0.1:0"))?;
    let addr = tcp.local_addr()?;
    let proxy_header = (how == Server::ListenerBehindProxy).then_some(PROXY_V2_HEADER);
    let serving = runtime.spawn(serve(how, tcp, server.clone()));
    let client = client.clone();
    let cpu_before = server_cpu_seconds();
    let start = Instant::now();
    let clients = std::thread::spawn(move || -> io::Result<()> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        runtime.block_on(drive_clients(addr, client, count, 64, proxy_header))
    });
    let driven = clients
        .join()
        .map_err(|_| io::Error::other("client thread panicked"))?;
    let elapsed = start.elapsed();
    let cpu = server_cpu_seconds() - cpu_before;
    serving.abort();
    driven?;
    Ok((rate(count, elapsed), cpu / elapsed.as_secs_f64()))
}

/// The server: accepts forever, serving each established connection with a one-byte echo.
async fn serve(how: Server, tcp: TcpListener, config: Arc<ServerConfig>) {
    async fn echo_one<S: AsyncRead + AsyncWrite + Unpin>(mut tls: S) {
        let mut byte = [0u8; 1];
        if tls.read_exact(&mut byte).await.is_ok() {
            let _ = tls.write_all(&byte).await;
            let _ = tls.flush().await;
        }
    }
    match how {
        Server::Listener | Server::ListenerBehindProxy => {
            let acceptor = tokio_tls_handshake::Acceptor::from(config);
            #[cfg(feature = "proxy-protocol")]
            let acceptor = if how == Server::ListenerBehindProxy {
                acceptor.with_proxy_protocol(
                    tokio_tls_handshake::proxy::ProxyProtocol::Required,
                    // The clients connect from loopback, so they are the trusted balancer.
                    tokio_tls_handshake::proxy::TrustedProxies::parse(["127.0.0.1"])
                        .expect("an address"),
                )
            } else {
                acceptor
            };
            let mut listener = tokio_tls_handshake::listener::TlsListener::new(tcp, acceptor);
            while let Some(next) = listener.accept().await {
                if let Ok((tls, _)) = next {
                    let _ = tls.get_ref().0.set_nodelay(true);
                    tokio::spawn(echo_one(tls));
                }
            }
        }
        Server::AcceptorSpawn => {
            let acceptor = tokio_tls_handshake::Acceptor::from(config);
            while let Ok((tcp, _)) = tcp.accept().await {
                let acceptor = acceptor.clone();
                tokio::spawn(async move {
                    if let Ok(tls) = acceptor.accept(tcp).await {
                        let _ = tls.get_ref().0.set_nodelay(true);
                        echo_one(tls).await;
                    }
                });
            }
        }
        Server::TokioRustlsSpawn => {
            let acceptor = tokio_rustls::TlsAcceptor::from(config);
            while let Ok((tcp, _)) = tcp.accept().await {
                let acceptor = acceptor.clone();
                tokio::spawn(async move {
                    if let Ok(tls) = acceptor.accept(tcp).await {
                        let _ = tls.get_ref().0.set_nodelay(true);
                        echo_one(tls).await;
                    }
                });
            }
        }
    }
}

/// `count` clients, `width` at a time: connect, handshake (tokio-rustls, the same client for
/// every server), send a byte, read it back.
async fn drive_clients(
    addr: std::net::SocketAddr,
    config: Arc<ClientConfig>,
    count: usize,
    width: usize,
    proxy_header: Option<&'static [u8]>,
) -> io::Result<()> {
    let connector = tokio_rustls::TlsConnector::from(config);
    let mut lanes = Vec::with_capacity(width);
    for lane in 0..width {
        let share = count / width + usize::from(lane < count % width);
        let connector = connector.clone();
        lanes.push(tokio::spawn(async move {
            for _ in 0..share {
                let tcp = TcpStream::connect(addr).await?;
                tcp.set_nodelay(true)?;
                // With a PROXY header, it goes in the same write as the ClientHello, so that
                // the client thread pays no extra syscall for it: the server's cost is measured.
                let tcp = HeaderFirst {
                    io: tcp,
                    header: proxy_header.unwrap_or_default(),
                };
                let name = "localhost".try_into().map_err(io::Error::other)?;
                let mut tls = connector.connect(name, tcp).await?;
                tls.write_all(b"x").await?;
                tls.flush().await?;
                let mut byte = [0u8; 1];
                tls.read_exact(&mut byte).await?;
            }
            Ok::<_, io::Error>(())
        }));
    }
    for lane in lanes {
        lane.await.map_err(io::Error::other)??;
    }
    Ok(())
}

/// CPU seconds (user + system) used so far by the server runtime's threads, from
/// `/proc/self/task/*/stat` (Linux; clock ticks of 1/100 s). NaN where that is not readable.
fn server_cpu_seconds() -> f64 {
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else {
        return f64::NAN;
    };
    let mut ticks = 0u64;
    for task in tasks.flatten() {
        let Ok(stat) = std::fs::read_to_string(task.path().join("stat")) else {
            continue;
        };
        // "tid (comm) state ppid ...": the name may hold spaces, so split at the last ')'.
        let Some((head, rest)) = stat.rsplit_once(')') else {
            continue;
        };
        if !head.contains(SERVER_THREAD) {
            continue;
        }
        // After the name: state is field 3, utime field 14, stime field 15.
        let fields: Vec<&str> = rest.split_whitespace().collect();
        let field = |n: usize| fields.get(n - 3).and_then(|f| f.parse::<u64>().ok());
        ticks += field(14).unwrap_or(0) + field(15).unwrap_or(0);
    }
    ticks as f64 / 100.0
}

/// The fleet section: the PROXY protocol's cost in the listener (ECDSA P-256 and RSA-2048
/// server keys, as the listener section measures), and resumption across two acceptors that
/// share ticket keys against resumption on one.
/// Full handshakes (no tickets) with both sides on one group set: X25519MLKEM768 preferred
/// (the default with aws-lc-rs, as rustls' own defaults) or X25519 only; the ClientHello's
/// size for each. Both contenders run on the same configurations.
fn key_exchange_setup(x25519_only: bool) -> Result<Setup, Box<dyn std::error::Error>> {
    let mut provider = rustls::crypto::aws_lc_rs::default_provider();
    if x25519_only {
        provider.kx_groups = vec![rustls::crypto::aws_lc_rs::kx_group::X25519];
    }
    let provider = Arc::new(provider);
    let ca = common::pki::Ca::new("bench CA")?;
    let leaf = ca.issue_with(&["localhost"], common::pki::ServerKey::EcdsaP256)?;
    let mut server = ServerConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_single_cert(leaf.chain, leaf.key)?;
    server.send_tls13_tickets = 0;
    let mut client = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_root_certificates(ca.roots()?)
        .with_no_client_auth();
    client.resumption = rustls::client::Resumption::disabled();
    Ok(Setup::new(Arc::new(server), Arc::new(client), false))
}

fn key_exchange_section(quick: bool) -> Result<(), Box<dyn std::error::Error>> {
    let (reps, sequential, concurrent) = if quick { (3, 100, 400) } else { (5, 500, 2000) };
    println!(
        "key exchange: {reps} repetitions; {sequential} handshakes one at a time, {concurrent} with 64 in flight"
    );
    println!();
    println!("| groups | ClientHello bytes | one at a time: ours hs/s | tokio-rustls | ours / tokio-rustls | 64 in flight: ours hs/s | tokio-rustls | ours / tokio-rustls |");
    println!("|---|---|---|---|---|---|---|---|");
    let current = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let workers = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    for (label, x25519_only) in [
        ("X25519MLKEM768, X25519 (default)", false),
        ("X25519 only", true),
    ] {
        let setup = key_exchange_setup(x25519_only)?;
        let mut hello = Vec::new();
        let mut client =
            rustls::ClientConnection::new(setup.client.clone(), setup.server_name.clone())?;
        while client.wants_write() {
            client.write_tls(&mut hello)?;
        }
        let (mut seq, mut conc) = ([Vec::new(), Vec::new()], [Vec::new(), Vec::new()]);
        for _ in 0..reps {
            for (i, who) in [Contender::Ours, Contender::TokioRustls]
                .into_iter()
                .enumerate()
            {
                seq[i].push(current.block_on(one_at_a_time(&setup, who, sequential))?);
                conc[i].push(workers.block_on(in_flight(&setup, who, concurrent, 64))?.0);
            }
        }
        let s = [median(&mut seq[0]), median(&mut seq[1])];
        let c = [median(&mut conc[0]), median(&mut conc[1])];
        println!(
            "| {label} | {} | {:.0} | {:.0} | {:.2} | {:.0} | {:.0} | {:.2} |",
            hello.len(),
            s[0],
            s[1],
            s[0] / s[1],
            c[0],
            c[1],
            c[0] / c[1]
        );
    }
    Ok(())
}

/// The work one PSK identity in a ClientHello can cost a server's ticketer (rustls tries
/// every identity offered): nanoseconds per `decrypt` of a ticket that names no key held, of
/// a forged one naming a key held (its tag fails), and of a genuine one, for `TicketKeys`
/// (a key file, and `from_secret`) beside rustls' own ticketer, in one run.
fn ticket_cost() -> Result<(), Box<dyn std::error::Error>> {
    use rustls::server::ProducesTickets;
    const ROUNDS: u32 = 20_000;
    let provider = rustls::crypto::aws_lc_rs::default_provider();
    let ticketers: [(&str, Arc<dyn ProducesTickets>); 3] = [
        (
            "rustls' own (aws-lc-rs Ticketer)",
            rustls::crypto::aws_lc_rs::Ticketer::new()?,
        ),
        (
            "TicketKeys, a key file",
            tokio_tls_handshake::tickets::TicketKeys::new([7; 32], [[8; 32]])
                .ticketer(&provider)?,
        ),
        (
            "TicketKeys::from_secret",
            tokio_tls_handshake::tickets::TicketKeys::from_secret(
                [7; 32],
                Duration::from_secs(3600),
            )
            .ticketer(&provider)?,
        ),
    ];
    println!("ticket cost: ns per decrypt, median of 5 x {ROUNDS}");
    println!();
    println!("| ticketer | no key held | a key held, forged | genuine |");
    println!("|---|---|---|---|");
    for (label, ticketer) in ticketers {
        let genuine = ticketer.encrypt(&[0x5a; 100]).ok_or("no ticket")?;
        let mut forged = genuine.clone();
        if let Some(last) = forged.last_mut() {
            *last ^= 1;
        }
        let unknown = vec![0xee; genuine.len()];
        let mut row = Vec::new();
        for (ticket, opens) in [(&unknown, false), (&forged, false), (&genuine, true)] {
            let mut samples = Vec::new();
            for _ in 0..5 {
                let start = Instant::now();
                for _ in 0..ROUNDS {
                    let opened = ticketer.decrypt(std::hint::black_box(ticket));
                    if opened.is_some() != opens {
                        return Err(format!("{label}: unexpected outcome").into());
                    }
                }
                samples.push(start.elapsed().as_nanos() as f64 / f64::from(ROUNDS));
            }
            row.push(median(&mut samples));
        }
        println!(
            "| {label} | {:.0} | {:.0} | {:.0} |",
            row[0], row[1], row[2]
        );
    }
    Ok(())
}

fn fleet_section(quick: bool) -> Result<(), Box<dyn std::error::Error>> {
    use common::pki::ServerKey;
    let reps = if quick { 3 } else { 5 };
    println!("fleet: {reps} repetitions");
    println!();
    if cfg!(feature = "proxy-protocol") {
        println!(
            "| server key | TlsListener hs/s | TlsListener + PROXY v2 hs/s | with / without |"
        );
        println!("|---|---|---|---|");
        let server_runtime = server_runtime()?;
        for (key, label, count) in [
            (ServerKey::EcdsaP256, "ECDSA P-256", 6000),
            (ServerKey::Rsa2048, "RSA-2048", 3000),
        ] {
            let count = if quick { count / 4 } else { count };
            let (server, client) = full_handshake_configs(key)?;
            let (mut plain, mut proxied) = (Vec::new(), Vec::new());
            for _ in 0..reps {
                let how = Server::Listener;
                plain.push(serve_and_measure(&server_runtime, how, &server, &client, count)?.0);
                let how = Server::ListenerBehindProxy;
                proxied.push(serve_and_measure(&server_runtime, how, &server, &client, count)?.0);
            }
            let (p, x) = (median(&mut plain), median(&mut proxied));
            println!("| {label} | {p:.0} | {x:.0} | {:.2} |", x / p);
        }
        println!();
    } else {
        println!("(the PROXY protocol rows need `--features proxy-protocol`)");
        println!();
    }

    // Resumed handshakes one at a time, on one acceptor with rustls' own resumption (its
    // in-memory session cache; its own ticketer), and with shared ticket keys: every
    // handshake on one acceptor, or alternating between two (each with its own session
    // state, the same keys).
    let count = if quick { 200 } else { 1000 };
    let keys = tokio_tls_handshake::tickets::TicketKeys::new([7; 32], []);
    let setup = |resumption: Resumption,
                 client: Option<&Arc<ClientConfig>>|
     -> Result<Setup, Box<dyn std::error::Error>> {
        let (mut server, mut fresh) = common::configs("bench CA")?;
        match resumption {
            Resumption::SessionCache => {}
            Resumption::RustlsTicketer => {
                server.ticketer = rustls::crypto::aws_lc_rs::Ticketer::new()?;
            }
            Resumption::TicketKeys => keys.install(&mut server)?,
        }
        fresh.resumption = rustls::client::Resumption::in_memory_sessions(256);
        Ok(Setup::new(
            Arc::new(server),
            client.cloned().unwrap_or_else(|| Arc::new(fresh)),
            true,
        ))
    };
    let current = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let mut rates = [Vec::new(), Vec::new(), Vec::new(), Vec::new()];
    for _ in 0..reps {
        let one_acceptor = [
            Resumption::SessionCache,
            Resumption::RustlsTicketer,
            Resumption::TicketKeys,
        ];
        for (rates, resumption) in rates.iter_mut().zip(one_acceptor) {
            let a = setup(resumption, None)?;
            rates.push(current.block_on(resumed_across(&[&a], count))?);
        }
        let a = setup(Resumption::TicketKeys, None)?;
        let b = setup(Resumption::TicketKeys, Some(&a.client))?;
        rates[3].push(current.block_on(resumed_across(&[&a, &b], count))?);
    }
    let [cache, ticketer, one, two] = rates.map(|mut r| median(&mut r));
    println!(
        "| resumed TLS 1.3 handshakes/s, one at a time, ECDSA P-256 | hs/s | / rustls' ticketer |"
    );
    println!("|---|---|---|");
    for (label, rate) in [
        ("one acceptor, rustls' session cache (its default)", cache),
        ("one acceptor, rustls' own ticketer", ticketer),
        ("one acceptor, `TicketKeys`", one),
        ("two acceptors sharing `TicketKeys`, alternating", two),
    ] {
        println!("| {label} | {rate:.0} | {:.2} |", rate / ticketer);
    }
    Ok(())
}

/// `-- --certificates`: what choosing a certificate by name costs. Full handshakes one at a
/// time (ECDSA P-256, no tickets), this crate's acceptor, the server holding one certificate
/// or choosing among 10,000 by SNI: a `CertificateStore` loaded from 10,000 files, as the
/// configuration's resolver and also as the acceptor's chooser (the ClientHello read
/// first), and rustls' own `ResolvesServerCertUsingSni` holding the same 10,000.
fn certificates_section(quick: bool) -> Result<(), Box<dyn std::error::Error>> {
    use rustls::{server::ResolvesServerCertUsingSni, sign::CertifiedKey};
    use tokio_tls_handshake::certificates::CertificateStore;

    const CERTIFICATES: usize = 10_000;
    let (reps, count) = if quick { (3, 200) } else { (7, 1000) };
    let ca = common::pki::Ca::new("bench CA")?;
    let dir = std::env::temp_dir().join(format!("bench-certificates-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let provider = rustls::crypto::CryptoProvider::get_default()
        .cloned()
        .unwrap_or_else(|| Arc::new(rustls::crypto::aws_lc_rs::default_provider()));
    let mut by_sni = ResolvesServerCertUsingSni::new();
    let target = "host7777.bench.test";
    let mut single = None;
    for i in 0..CERTIFICATES {
        let name = format!("host{i}.bench.test");
        let leaf = ca.issue(&[&name])?;
        let file = format!("{}{}", leaf.cert_pem(), leaf.key_pem());
        std::fs::write(dir.join(format!("{name}.pem")), file)?;
        let certified =
            CertifiedKey::from_der(leaf.chain.clone(), leaf.key.clone_key(), &provider)?;
        by_sni.add(&name, certified)?;
        if name == target {
            single = Some(leaf);
        }
    }
    let loading = Instant::now();
    let store = CertificateStore::from_dir(&dir)?;
    let loaded = loading.elapsed();
    std::fs::remove_dir_all(&dir)?;
    let single = single.ok_or("the target certificate")?;
    let server = |resolver: Option<Arc<dyn rustls::server::ResolvesServerCert>>| {
        let builder = ServerConfig::builder().with_no_client_auth();
        let mut config = match resolver {
            Some(resolver) => builder.with_cert_resolver(resolver),
            None => builder.with_single_cert(single.chain.clone(), single.key.clone_key())?,
        };
        config.send_tls13_tickets = 0;
        Ok::<_, rustls::Error>(Arc::new(config))
    };
    let mut client = ClientConfig::builder()
        .with_root_certificates(ca.roots()?)
        .with_no_client_auth();
    client.resumption = rustls::client::Resumption::disabled();
    let mut one = Setup::new(server(None)?, Arc::new(client), false);
    one.server_name = target.try_into()?;
    let resolver = Setup {
        server: server(Some(Arc::new(store.clone())))?,
        ..one.clone()
    };
    let chooser = Setup {
        chooser: Some(store.clone()),
        ..resolver.clone()
    };
    let rustls_sni = Setup {
        server: server(Some(Arc::new(by_sni)))?,
        ..one.clone()
    };
    let current = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let setups = [&one, &resolver, &chooser, &rustls_sni];
    let mut rates = [Vec::new(), Vec::new(), Vec::new(), Vec::new()];
    for _ in 0..reps {
        for (rates, setup) in rates.iter_mut().zip(setups) {
            rates.push(current.block_on(one_at_a_time(setup, Contender::Ours, count))?);
        }
    }
    let [one, resolver, chooser, rustls_sni] = rates.map(|mut r| median(&mut r));
    println!(
        "certificates: {reps} repetitions of {count} handshakes one at a time; {CERTIFICATES} certificates loaded from files in {:.2} s",
        loaded.as_secs_f64()
    );
    println!();
    println!("| the server's certificates | hs/s | / one certificate |");
    println!("|---|---|---|");
    for (label, rate) in [
        ("one certificate (`with_single_cert`)", one),
        ("`CertificateStore` of 10,000, as the resolver", resolver),
        (
            "`CertificateStore` of 10,000, resolver and `with_chooser`",
            chooser,
        ),
        ("rustls' `ResolvesServerCertUsingSni` of 10,000", rustls_sni),
    ] {
        println!("| {label} | {rate:.0} | {:.3} |", rate / one);
    }
    Ok(())
}

/// `-- --https-client`: HTTPS requests through hyper-util's `Client`, each on a new
/// connection (so a full handshake and one GET each), with this crate's `HttpsConnector`
/// and with hyper-rustls', in the same run, over HTTP/1.1 and HTTP/2 by ALPN. The server is
/// hyper over a `TlsListener` on its own 2-worker runtime, the same for both; the clients run
/// on one thread, one request at a time. Needs `--features hyper`.
#[cfg(not(feature = "hyper"))]
fn https_client_section(_quick: bool) -> Result<(), Box<dyn std::error::Error>> {
    println!("(the HTTPS client rows need `--features hyper`)");
    Ok(())
}

/// The HTTPS client section's server (on its own runtime, kept running by the caller), its
/// URI, and the clients' TLS configuration.
#[cfg(feature = "hyper")]
struct HttpsBench {
    _server: tokio::runtime::Runtime,
    uri: hyper::Uri,
    client: Arc<ClientConfig>,
}

#[cfg(feature = "hyper")]
impl HttpsBench {
    fn start() -> Result<Self, Box<dyn std::error::Error>> {
        let ca = common::pki::Ca::new("bench CA")?;
        let leaf = ca.issue(&["127.0.0.1"])?;
        let mut server = ServerConfig::builder()
            .with_no_client_auth()
            .with_single_cert(leaf.chain, leaf.key)?;
        server.send_tls13_tickets = 0;
        server.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
        let mut client = ClientConfig::builder()
            .with_root_certificates(ca.roots()?)
            .with_no_client_auth();
        client.resumption = rustls::client::Resumption::disabled();
        let runtime = server_runtime()?;
        let tcp = runtime.block_on(TcpListener::bind("127.0.0.1:0"))?;
        let uri = format!("https://{}/", tcp.local_addr()?).parse()?;
        runtime.spawn(serve_http(tcp, Arc::new(server)));
        Ok(Self {
            _server: runtime,
            uri,
            client: Arc::new(client),
        })
    }

    /// `count` requests/s through `who`'s connector (`ours` or `hyper-rustls`), a new
    /// connection each.
    async fn requests(
        &self,
        who: &str,
        http2: bool,
        count: usize,
    ) -> Result<f64, Box<dyn std::error::Error>> {
        use hyper_util::{client::legacy::Client, rt::TokioExecutor};
        let builder = || {
            let mut builder = Client::builder(TokioExecutor::new());
            builder.pool_max_idle_per_host(0);
            builder
        };
        if who == "ours" {
            let mut ours = tokio_tls_handshake::https::HttpsConnector::builder(self.client.clone());
            if http2 {
                ours = ours.enable_http2();
            }
            return requests(&builder().build(ours.build()), &self.uri, count).await;
        }
        let theirs = hyper_rustls::HttpsConnectorBuilder::new()
            .with_tls_config(ClientConfig::clone(&self.client))
            .https_only();
        // The inner connector ours builds: hyper-rustls' `build()` leaves Nagle on, and a
        // handshake then waits 40 ms for a delayed ACK (23 requests/s here).
        let mut http = hyper_util::client::legacy::connect::HttpConnector::new();
        http.enforce_http(false);
        http.set_nodelay(true);
        let theirs = if http2 {
            theirs.enable_all_versions().wrap_connector(http)
        } else {
            theirs.enable_http1().wrap_connector(http)
        };
        requests(&builder().build(theirs), &self.uri, count).await
    }
}

#[cfg(feature = "hyper")]
fn https_client_section(quick: bool) -> Result<(), Box<dyn std::error::Error>> {
    let (reps, count) = if quick { (3, 200) } else { (7, 1000) };
    let bench = HttpsBench::start()?;
    let current = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    // [HTTP/1.1, HTTP/2] × [ours, hyper-rustls]
    let mut rates = [[Vec::new(), Vec::new()], [Vec::new(), Vec::new()]];
    for _ in 0..reps {
        for (http2, rates) in [false, true].into_iter().zip(rates.iter_mut()) {
            for (who, rates) in ["ours", "hyper-rustls"].into_iter().zip(rates.iter_mut()) {
                rates.push(current.block_on(bench.requests(who, http2, count))?);
            }
        }
    }
    println!("https client: {reps} repetitions of {count} requests, a new connection each");
    println!();
    println!(
        "| requests/s through hyper-util's `Client` | ours | hyper-rustls | ours / hyper-rustls |"
    );
    println!("|---|---|---|---|");
    for (label, rates) in ["HTTP/1.1", "HTTP/2"].into_iter().zip(rates.iter_mut()) {
        let [ours, theirs] = [median(&mut rates[0]), median(&mut rates[1])];
        println!(
            "| {label}, a handshake and one GET each | {ours:.0} | {theirs:.0} | {:.2} |",
            ours / theirs
        );
    }
    Ok(())
}

/// `--only-https ours|hyper-rustls [--http2]`: 300 requests, a new connection each, through
/// one contender's connector, for `valgrind --tool=callgrind` (the server's instructions,
/// the same for both, are counted too).
#[cfg(feature = "hyper")]
fn only_https(who: &str, http2: bool) -> Result<(), Box<dyn std::error::Error>> {
    if who != "ours" && who != "hyper-rustls" {
        return Err(format!("--only-https takes ours or hyper-rustls, not {who}").into());
    }
    let bench = HttpsBench::start()?;
    let current = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let rate = current.block_on(bench.requests(who, http2, 300))?;
    println!("{who}: 300 requests, {rate:.0}/s");
    Ok(())
}

/// `count` GETs of `uri`, one after another; requests/s.
#[cfg(feature = "hyper")]
async fn requests<C>(
    client: &hyper_util::client::legacy::Client<C, http_body_util::Empty<hyper::body::Bytes>>,
    uri: &hyper::Uri,
    count: usize,
) -> Result<f64, Box<dyn std::error::Error>>
where
    C: hyper_util::client::legacy::connect::Connect + Clone + Send + Sync + 'static,
{
    use http_body_util::BodyExt;
    let start = Instant::now();
    for _ in 0..count {
        let response = client.get(uri.clone()).await?;
        if !response.status().is_success() {
            return Err(format!("status {}", response.status()).into());
        }
        response.into_body().collect().await?;
    }
    Ok(rate(count, start.elapsed()))
}

/// hyper (HTTP/1.1 and HTTP/2 by ALPN) over a `TlsListener`, answering every request.
#[cfg(feature = "hyper")]
async fn serve_http(tcp: TcpListener, config: Arc<ServerConfig>) {
    use hyper_util::{rt::TokioIo, server::conn::auto};
    let mut listener = tokio_tls_handshake::listener::TlsListener::new(
        tcp,
        tokio_tls_handshake::Acceptor::from(config),
    );
    while let Some(next) = listener.accept().await {
        let Ok((tls, _)) = next else { continue };
        // Without it, an HTTP/2 response written in two pieces can wait 40 ms for the
        // client's delayed ACK (Nagle), in 1 to 3 % of requests, for either client.
        let _ = tls.get_ref().0.set_nodelay(true);
        tokio::spawn(async move {
            let hello = hyper::service::service_fn(|_| async {
                Ok::<_, std::convert::Infallible>(hyper::Response::new(http_body_util::Full::new(
                    hyper::body::Bytes::from_static(b"hello"),
                )))
            });
            let _ = auto::Builder::new(hyper_util::rt::TokioExecutor::new())
                .serve_connection(TokioIo::new(tls), hello)
                .await;
        });
    }
}

/// How a fleet section server resumes sessions.
#[derive(Clone, Copy)]
enum Resumption {
    SessionCache,
    RustlsTicketer,
    TicketKeys,
}

/// `count` resumed handshakes one at a time, the i-th against `servers[i % len]` (each with a
/// listener of its own), every one of them required to resume.
async fn resumed_across(servers: &[&Setup], count: usize) -> io::Result<f64> {
    let mut listeners = Vec::new();
    for _ in servers {
        listeners.push(TcpListener::bind("127.0.0.1:0").await?);
    }
    // A first, full handshake gives the client its tickets.
    let (client, server) = tcp_pair(&listeners[0]).await?;
    handshake(servers[0], Contender::Ours, client, server).await?;
    let start = Instant::now();
    for i in 0..count {
        let which = i % servers.len();
        let (client, server) = tcp_pair(&listeners[which]).await?;
        if !handshake(servers[which], Contender::Ours, client, server).await? {
            return Err(io::Error::other(format!("handshake {i} did not resume")));
        }
    }
    Ok(rate(count, start.elapsed()))
}

/// A client transport whose first write begins with `header` (a PROXY header, as a load
/// balancer puts it in front of the client's bytes).
struct HeaderFirst<IO> {
    io: IO,
    header: &'static [u8],
}

impl<IO: AsyncRead + Unpin> AsyncRead for HeaderFirst<IO> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> std::task::Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_read(cx, buf)
    }
}

impl<IO: AsyncWrite + Unpin> AsyncWrite for HeaderFirst<IO> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> std::task::Poll<io::Result<usize>> {
        let me = &mut *self;
        while !me.header.is_empty() {
            let parts = [io::IoSlice::new(me.header), io::IoSlice::new(buf)];
            let n = std::task::ready!(Pin::new(&mut me.io).poll_write_vectored(cx, &parts))?;
            if n == 0 {
                return std::task::Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
            }
            if n >= me.header.len() {
                let data = n - me.header.len();
                me.header = &[];
                if data > 0 {
                    return std::task::Poll::Ready(Ok(data));
                }
            } else {
                me.header = &me.header[n..];
            }
        }
        Pin::new(&mut me.io).poll_write(cx, buf)
    }
    fn poll_flush(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> std::task::Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_flush(cx)
    }
    fn poll_shutdown(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> std::task::Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_shutdown(cx)
    }
}
