//! Load: 10,000 handshakes, 1,000 in flight, this crate's client against its server over
//! loopback. Zero failures allowed; the peak heap per in-flight handshake pair is reported.
//!
//! Needs about 2,100 file descriptors (`.ci/run` raises the limit). `LOAD_HANDSHAKES` and
//! `LOAD_IN_FLIGHT` change the size for a longer run.

mod support;

use std::{
    alloc::System,
    sync::{
        atomic::{AtomicBool, AtomicUsize, Ordering},
        Arc,
    },
    time::Duration,
};

use stats_alloc::{StatsAlloc, INSTRUMENTED_SYSTEM};
use support::{name, World};
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::{TcpSocket, TcpStream},
};
use tokio_tls_handshake::{Acceptor, Connector};

#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

fn heap_in_use() -> isize {
    let stats = GLOBAL.stats();
    stats.bytes_allocated as isize - stats.bytes_deallocated as isize
}

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

    let started = std::time::Instant::now();
    let (served, failed) = runtime.block_on(async {
        let socket = TcpSocket::new_v4().expect("socket");
        socket
            .bind("127.0.0.1:0".parse().expect("addr"))
            .expect("bind");
        let addr = socket.local_addr().expect("local addr");
        let listener = socket.listen(4096).expect("listen");
        let served = Arc::new(AtomicUsize::new(0));
        let server = {
            let served = served.clone();
            tokio::spawn(async move {
                for _ in 0..total {
                    let (tcp, _) = listener.accept().await.expect("accept");
                    let (acceptor, served) = (acceptor.clone(), served.clone());
                    tokio::spawn(async move {
                        let mut tls = acceptor.accept(tcp).await.expect("server handshake");
                        let mut byte = [0u8; 1];
                        tls.read_exact(&mut byte).await.expect("server read");
                        tls.write_all(&byte).await.expect("server write");
                        served.fetch_add(1, Ordering::Relaxed);
                    });
                }
            })
        };
        let failed = Arc::new(AtomicUsize::new(0));
        let mut lanes = Vec::with_capacity(in_flight);
        for lane in 0..in_flight {
            let share = total / in_flight + usize::from(lane < total % in_flight);
            let (connector, failed) = (connector.clone(), failed.clone());
            lanes.push(tokio::spawn(async move {
                for _ in 0..share {
                    let ok = async {
                        let tcp = TcpStream::connect(addr).await?;
                        let mut tls = connector.connect(name("localhost"), tcp).await?;
                        tls.write_all(b"x").await?;
                        let mut byte = [0u8; 1];
                        tls.read_exact(&mut byte).await?;
                        Ok::<_, std::io::Error>(())
                    };
                    if let Err(e) = ok.await {
                        eprintln!("load: client failed: {e}");
                        failed.fetch_add(1, Ordering::Relaxed);
                    }
                }
            }));
        }
        for lane in lanes {
            lane.await.expect("lane");
        }
        server.await.expect("accept loop");
        (served, failed.load(Ordering::Relaxed))
    });
    let elapsed = started.elapsed();
    running.store(false, Ordering::Relaxed);
    let peak = sampler.join().expect("sampler") - baseline;
    let per_pair = peak / in_flight as isize;
    eprintln!(
        "\nload: {total} handshakes, {in_flight} in flight, {failed} failed, {:.0} handshakes/s (debug build), peak heap {} KiB, {} bytes per in-flight client+server pair",
        total as f64 / elapsed.as_secs_f64(),
        peak / 1024,
        per_pair
    );
    assert_eq!(failed, 0);
    // Every server-side echo was counted, after its handshake.
    let served = served.load(Ordering::Relaxed);
    assert!(served + in_flight >= total, "served {served}");
    // rustls and both Tokio sockets included, a pair stays far below this.
    assert!(per_pair < 128 * 1024, "{per_pair} bytes per pair");
}
