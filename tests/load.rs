//! Load: 10,000 handshakes, 1,000 in flight, this crate's client against its server over
//! loopback. Zero failures allowed on either side, every echo served, the whole run bounded
//! in time; the peak heap per in-flight handshake pair is reported. Speed is the bench's
//! business (`cargo run --release -p bench`), not this test's.
//!
//! Needs about 2,100 file descriptors (`.ci/run` raises the limit). `LOAD_HANDSHAKES` and
//! `LOAD_IN_FLIGHT` change the size for a longer run.

mod support;

use std::{
    alloc::System,
    sync::{
        atomic::{AtomicBool, Ordering},
        Arc,
    },
    time::Duration,
};

use stats_alloc::{StatsAlloc, INSTRUMENTED_SYSTEM};
use support::{name, World};
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::{TcpSocket, TcpStream},
    task::JoinSet,
};
use tokio_tls_handshake::{Acceptor, Connector};

#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

fn heap_in_use() -> isize {
    let stats = GLOBAL.stats();
    stats.bytes_allocated as isize - stats.bytes_deallocated as isize
}

/// A bound on the whole run: about 4 s in a debug build on a 2-core machine, so a hang fails
/// the test long before it stalls CI.
const LOAD_LIMIT: Duration = Duration::from_secs(180);

fn setting(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

#[test]
fn ten_thousand_handshakes_with_a_thousand_in_flight() {
    let total = setting("LOAD_HANDSHAKES", 10_000);
    let in_flight = setting("LOAD_IN_FLIGHT", 1_000);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let world = World::new();
    let acceptor = Acceptor::from(world.server().build());
    let connector = Connector::from(world.client().build());

    // Sample the heap from a plain thread while the load runs (a measurement, not a
    // synchronisation: nothing waits on it).
    let baseline = heap_in_use();
    let running = Arc::new(AtomicBool::new(true));
    let sampler = {
        let running = running.clone();
        std::thread::spawn(move || {
            let mut peak = 0isize;
            while running.load(Ordering::Relaxed) {
                peak = peak.max(heap_in_use());
                std::thread::sleep(Duration::from_millis(1));
            }
            peak
        })
    };

    let (served, failed) = runtime.block_on(async {
        tokio::time::timeout(LOAD_LIMIT, load(total, in_flight, acceptor, connector))
            .await
            .expect("the load run exceeded its time bound")
    });
    running.store(false, Ordering::Relaxed);
    let peak = sampler.join().expect("sampler") - baseline;
    let per_pair = peak / in_flight as isize;
    eprintln!(
        "\nload: {total} handshakes, {in_flight} in flight, {failed} failed, {served} served, peak heap {} KiB, {} bytes per in-flight client+server pair",
        peak / 1024,
        per_pair
    );
    assert_eq!(failed, 0, "client failures");
    assert_eq!(served, total, "every server-side echo, after its handshake");
    // rustls and both Tokio sockets included, a pair stays far below this.
    assert!(per_pair < 128 * 1024, "{per_pair} bytes per pair");
}

/// `total` handshakes, `in_flight` at once, each with a one-byte echo. The server's tasks are
/// owned and awaited, so a failure or panic on either side fails the run. Returns the echoes
/// the server completed and the clients that failed.
async fn load(
    total: usize,
    in_flight: usize,
    acceptor: Acceptor,
    connector: Connector,
) -> (usize, usize) {
    let socket = TcpSocket::new_v4().expect("socket");
    socket
        .bind("127.0.0.1:0".parse().expect("addr"))
        .expect("bind");
    let addr = socket.local_addr().expect("local addr");
    let listener = socket.listen(4096).expect("listen");
    let server = tokio::spawn(async move {
        let mut connections = JoinSet::new();
        for _ in 0..total {
            let (tcp, _) = listener.accept().await?;
            let acceptor = acceptor.clone();
            connections.spawn(async move {
                let mut tls = acceptor.accept(tcp).await?;
                let mut byte = [0u8; 1];
                tls.read_exact(&mut byte).await?;
                tls.write_all(&byte).await?;
                Ok::<_, std::io::Error>(())
            });
        }
        let mut served = 0;
        while let Some(joined) = connections.join_next().await {
            match joined.expect("a server task panicked") {
                Ok(()) => served += 1,
                Err(e) => eprintln!("load: server failed: {e}"),
            }
        }
        Ok::<_, std::io::Error>(served)
    });
    let mut lanes = JoinSet::new();
    for lane in 0..in_flight {
        let share = total / in_flight + usize::from(lane < total % in_flight);
        let connector = connector.clone();
        lanes.spawn(async move {
            let mut failed = 0;
            for _ in 0..share {
                let echo = async {
                    let tcp = TcpStream::connect(addr).await?;
                    let mut tls = connector.connect(name("localhost"), tcp).await?;
                    tls.write_all(b"x").await?;
                    let mut byte = [0u8; 1];
                    tls.read_exact(&mut byte).await?;
                    Ok::<_, std::io::Error>(())
                };
                if let Err(e) = echo.await {
                    eprintln!("load: client failed: {e}");
                    failed += 1;
                }
            }
            failed
        });
    }
    let mut failed = 0;
    while let Some(lane) = lanes.join_next().await {
        failed += lane.expect("a client lane panicked");
    }
    let served = server
        .await
        .expect("the accept loop panicked")
        .expect("accept");
    (served, failed)
}
