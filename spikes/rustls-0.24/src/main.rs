//! The rustls 0.24 spike: rustls 0.24.0-dev.2's caller-owned buffers against rustls 0.23
//! (this crate's engine today) and tokio-rustls, in one run, on identical configurations
//! (TLS 1.3, TLS13_AES_256_GCM_SHA384, X25519MLKEM768, one ECDSA P-256 certificate, no
//! session tickets). Each section prints a Markdown table of medians over interleaved
//! repetitions, each figure beside tokio-rustls' from the same run:
//!
//! 1. **Idle memory** (`--memory`): heap bytes per idle established client+server pair and
//!    per server, 2,000 pairs after a handshake and one byte each way.
//! 2. **Bulk** (`--bulk`): MB/s and CPU ns per byte, 16 KiB and 1 KiB writes, each way, on
//!    a current-thread runtime (both ends on one thread).
//! 3. **Handshakes** (`--handshakes`): one at a time, and 64 in flight on 2 workers.
//!
//! `cargo run --release -p spike-rustls-024` runs all three (`-- --quick` for a short run).
//! `-- --only-bulk released|kept|ours|tokio-rustls [--write-kib N] [--mib N]
//! [--server-to-client]` runs one transfer, for `valgrind --tool=callgrind`.

use std::error::Error;

use spike_rustls_024::{
    bulk::{self, Direction, Rate},
    contenders::{Contender, NextKept, NextReleased, Ours, TokioRustls},
    handshakes,
    memory::{self, Held},
    setup::{median, Setup},
};

struct Options {
    quick: bool,
    sections: Vec<String>,
}

fn main() -> Result<(), Box<dyn Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let setup = Setup::new()?;
    if let Some(at) = args.iter().position(|a| a == "--only-bulk") {
        return only_bulk(&setup, &args, at);
    }
    let options = Options {
        quick: args.iter().any(|a| a == "--quick"),
        sections: args
            .iter()
            .filter(|a| ["--memory", "--bulk", "--handshakes"].contains(&a.as_str()))
            .cloned()
            .collect(),
    };
    let wants = |section: &str| {
        options.sections.is_empty() || options.sections.iter().any(|s| s == section)
    };
    println!(
        "rustls 0.24.0-dev.2 spike, {}",
        if options.quick { "quick" } else { "full" }
    );
    let [next, old] = one_thread()?.block_on(spike_rustls_024::negotiated::negotiated(&setup))?;
    println!("negotiated: rustls 0.24 {next}; rustls 0.23 {old}");
    if wants("--memory") {
        memory_section(&setup, &options)?;
    }
    if wants("--bulk") {
        bulk_section(&setup, &options)?;
    }
    if wants("--handshakes") {
        handshake_section(&setup, &options)?;
    }
    Ok(())
}

fn workers() -> std::io::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
}

fn one_thread() -> std::io::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
}

/// The contenders' names, in table order (tokio-rustls last: the ratios' denominator).
const NAMES: [&str; 4] = [
    <NextReleased as Contender>::NAME,
    <NextKept as Contender>::NAME,
    <Ours as Contender>::NAME,
    <TokioRustls as Contender>::NAME,
];

/// The four contenders, in [`NAMES`] order.
struct Contenders {
    released: NextReleased,
    kept: NextKept,
    ours: Ours,
    tokio_rustls: TokioRustls,
}

impl Contenders {
    fn new(setup: &Setup) -> Self {
        Self {
            released: NextReleased::new(setup),
            kept: NextKept::new(setup),
            ours: Ours::new(setup),
            tokio_rustls: TokioRustls::new(setup),
        }
    }
}

/// `$body` evaluated with `$c` bound to each contender in turn: an array in [`NAMES`] order.
macro_rules! on_each {
    ($contenders:expr, |$c:ident| $body:expr) => {{
        let all = &$contenders;
        [
            {
                let $c = &all.released;
                $body
            },
            {
                let $c = &all.kept;
                $body
            },
            {
                let $c = &all.ours;
                $body
            },
            {
                let $c = &all.tokio_rustls;
                $body
            },
        ]
    }};
}

/// Medians of each contender's figures, `reps` repetitions interleaved.
fn medians(mut runs: Vec<[f64; 4]>) -> [f64; 4] {
    let mut out = [0.0; 4];
    for (i, slot) in out.iter_mut().enumerate() {
        let mut column: Vec<f64> = runs.iter_mut().map(|run| run[i]).collect();
        *slot = median(&mut column);
    }
    out
}

/// A figure to three significant digits or more.
fn figure(value: f64) -> String {
    match value {
        v if v >= 100.0 => format!("{v:.0}"),
        v if v >= 10.0 => format!("{v:.1}"),
        v => format!("{v:.3}"),
    }
}

/// One table row per contender: its figures and each one's ratio to tokio-rustls'.
fn table(title: &str, columns: &[&str], figures: &[[f64; 4]]) {
    println!(
        "\n| {title} | {} | {} |",
        columns.join(" | "),
        columns
            .iter()
            .map(|c| format!("{c} / tokio-rustls"))
            .collect::<Vec<_>>()
            .join(" | ")
    );
    println!("|---|{}", "---|".repeat(columns.len() * 2));
    for (i, name) in NAMES.iter().enumerate() {
        let values: Vec<String> = figures.iter().map(|f| figure(f[i])).collect();
        let ratios: Vec<String> = figures
            .iter()
            .map(|f| format!("{:.2}", f[i] / f[3]))
            .collect();
        println!(
            "| {name} | {} | {} |",
            values.join(" | "),
            ratios.join(" | ")
        );
    }
}

fn memory_section(setup: &Setup, options: &Options) -> Result<(), Box<dyn Error>> {
    let pairs = if options.quick { 500 } else { 2000 };
    let rt = workers()?;
    let contenders = Contenders::new(setup);
    let held: [Held; 4] = on_each!(contenders, |c| rt.block_on(memory::idle(c, pairs))?);
    for h in &held {
        // A zero here would be an allocator that counts nothing, not a result.
        assert!(
            h.allocations > 0 && h.per_pair > 0.0 && h.per_server > 0.0,
            "nothing counted: {h:?}"
        );
    }
    let per_pair = held.map(|h| h.per_pair);
    let per_server = held.map(|h| h.per_server);
    table(
        &format!("idle established, {pairs} pairs (heap bytes)"),
        &["per client+server pair", "per server"],
        &[per_pair, per_server],
    );
    Ok(())
}

fn bulk_section(setup: &Setup, options: &Options) -> Result<(), Box<dyn Error>> {
    let (reps, mib) = if options.quick { (3, 16) } else { (5, 64) };
    let rt = one_thread()?;
    let contenders = Contenders::new(setup);
    for direction in [Direction::ClientToServer, Direction::ServerToClient] {
        for write_kib in [16, 1] {
            let mut runs: Vec<[Rate; 4]> = Vec::new();
            for _ in 0..reps {
                runs.push(on_each!(contenders, |c| rt.block_on(bulk::transfer(
                    c,
                    mib << 20,
                    write_kib << 10,
                    direction
                ))?));
            }
            let mb = medians(runs.iter().map(|r| r.map(|x| x.mb_per_s)).collect());
            let ns = medians(runs.iter().map(|r| r.map(|x| x.cpu_ns_per_byte)).collect());
            let way = match direction {
                Direction::ClientToServer => "client to server",
                Direction::ServerToClient => "server to client",
            };
            table(
                &format!("bulk {mib} MiB {way}, {write_kib} KiB writes ({reps} runs)"),
                &["MB/s", "CPU ns/byte"],
                &[mb, ns],
            );
        }
    }
    Ok(())
}

fn handshake_section(setup: &Setup, options: &Options) -> Result<(), Box<dyn Error>> {
    let (reps, sequential, concurrent) = if options.quick {
        (3, 100, 400)
    } else {
        (5, 500, 2000)
    };
    let rt = workers()?;
    let contenders = Contenders::new(setup);
    let mut one = Vec::new();
    let mut many = Vec::new();
    for _ in 0..reps {
        one.push(on_each!(contenders, |c| rt
            .block_on(handshakes::one_at_a_time(c, sequential))?));
        many.push(on_each!(contenders, |c| rt
            .block_on(handshakes::in_flight(c, concurrent, 64))?));
    }
    table(
        &format!("full handshakes a second ({reps} runs)"),
        &[
            &format!("one at a time ({sequential})"),
            &format!("64 in flight ({concurrent})"),
        ],
        &[medians(one), medians(many)],
    );
    Ok(())
}

/// One transfer of one contender, for a profiler: `--only-bulk WHO [--write-kib N] [--mib N]
/// [--server-to-client]`.
fn only_bulk(setup: &Setup, args: &[String], at: usize) -> Result<(), Box<dyn Error>> {
    let value = |flag: &str, default: usize| -> Result<usize, Box<dyn Error>> {
        match args.iter().position(|a| a == flag) {
            Some(i) => Ok(args
                .get(i + 1)
                .ok_or(format!("{flag} takes a number"))?
                .parse()?),
            None => Ok(default),
        }
    };
    let (write_kib, mib) = (value("--write-kib", 16)?, value("--mib", 16)?);
    let direction = if args.iter().any(|a| a == "--server-to-client") {
        Direction::ServerToClient
    } else {
        Direction::ClientToServer
    };
    let rt = one_thread()?;
    let contenders = Contenders::new(setup);
    let (total, write) = (mib << 20, write_kib << 10);
    let rate = match args.get(at + 1).map(String::as_str) {
        Some("released") => rt.block_on(bulk::transfer(
            &contenders.released,
            total,
            write,
            direction,
        ))?,
        Some("kept") => rt.block_on(bulk::transfer(&contenders.kept, total, write, direction))?,
        Some("ours") => rt.block_on(bulk::transfer(&contenders.ours, total, write, direction))?,
        Some("tokio-rustls") => rt.block_on(bulk::transfer(
            &contenders.tokio_rustls,
            total,
            write,
            direction,
        ))?,
        _ => return Err("--only-bulk released|kept|ours|tokio-rustls".into()),
    };
    println!(
        "{mib} MiB in {write_kib} KiB writes: {:.1} MB/s, {:.2} CPU ns/byte",
        rate.mb_per_s, rate.cpu_ns_per_byte
    );
    Ok(())
}
