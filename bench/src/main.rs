//! Side-by-side benchmark: this crate against tokio-rustls, in one process and one run, with
//! identical configurations (TLS 1.3, rustls' default groups with aws-lc-rs (X25519MLKEM768
//! preferred), one ECDSA P-256 leaf unless said otherwise). Eight sections, each printing a Markdown table of medians over interleaved repetitions:
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
//!    the `proxy-protocol` feature, on by default): the listener with and without a PROXY v2 header, and
//!    resumption across servers sharing `TicketKeys` against rustls' own.
//! 4. **Choosing among 10,000 certificates** (`-- --certificates` alone): handshakes one at a
//!    time against one certificate, a `CertificateStore` of 10,000 (as the resolver, and as
//!    the acceptor's chooser too) and rustls' `ResolvesServerCertUsingSni` of 10,000.
//! 5. **HTTPS clients** (`-- --https-client` alone; the `hyper` feature, on by default): requests through
//!    hyper-util's `Client`, a new connection each, `HttpsConnector` against hyper-rustls'.
//! 6. **Key exchange** (`-- --key-exchange` alone): full handshakes one at a time and 64 in
//!    flight with X25519MLKEM768 preferred (the default) and with X25519 only, and the
//!    ClientHello's size for each.
//! 7. **Ticket cost** (`-- --ticket-cost` alone): nanoseconds per ticket `decrypt` for a
//!    ticket naming no key held, a forged one naming a key held, and a genuine one,
//!    `TicketKeys` beside rustls' own ticketer.
//! 8. **Fleet storage** (`-- --storage` alone; the `redis` feature, on by default, and
//!    `redis-server` on PATH for its Redis rows): resumed handshakes across two acceptors
//!    with `FleetTicketKeys` on a `FileStorage` and on Redis against local `TicketKeys`, and
//!    one instance's idle load on Redis (commands per refresh round, from `INFO
//!    commandstats`, and per second at the default reload interval).
//!
//! Run with `cargo run --release -p bench` (`-- --quick`
//! for a short run). `-- --only ours|ours-without-deadline|tokio-rustls [--tickets]` runs 1000
//! handshakes of one contender, `-- --only-bulk ours|tokio-rustls [--server-to-client]
//! [--write-kib N]` one 64 MB transfer,
//! `-- --only-https ours|hyper-rustls [--http2]` 300 HTTPS requests (feature `hyper`), and
//! `-- --serve listener|spawn|tokio-rustls [--key ...]` one server, for `strace -f -c`,
//! `valgrind --tool=callgrind` or `perf`. `-- --unbuffered-memory` measures what rustls
//! alone holds per idle connection through its buffered API and through `rustls::unbuffered`
//! (in memory, no sockets): the spike behind the memory model in BENCHMARKS.md.
//!
//! A crate of its own in the workspace, one module per section, so that the library's demo
//! and tests never compile its peers (tokio-rustls' and hyper-rustls' benchmark setups).

mod certificates;
#[path = "../../examples/common/mod.rs"]
mod common;
mod fleet;
mod https;
mod key_exchange;
mod listener;
mod setup;
#[cfg(feature = "redis")]
mod storage;
mod streams;
mod tickets;
mod unbuffered;

use certificates::*;
use fleet::*;
use https::*;
use key_exchange::*;
use listener::*;
use setup::*;
#[cfg(feature = "redis")]
use storage::*;
use streams::*;
use tickets::*;
use unbuffered::*;

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
    #[cfg(feature = "redis")]
    if args.iter().any(|a| a == "--storage") {
        return storage_section(quick);
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
    ticket_cost()?;
    #[cfg(feature = "redis")]
    {
        println!();
        storage_section(quick)?;
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
