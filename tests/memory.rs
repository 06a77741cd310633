//! Memory held by a server handshake still waiting for the ClientHello, and by an established
//! stream gone idle after a burst of data, against tokio-rustls. Counted by a global allocator
//! (deterministic, not timed) in a binary of its own; the tests take turns (`ONE_AT_A_TIME`),
//! so nothing else allocates while one counts.

mod support;

use std::{
    alloc::System,
    future::Future,
    pin::Pin,
    task::{Context, Waker},
};

use stats_alloc::{Region, StatsAlloc, INSTRUMENTED_SYSTEM};
use support::{name, World};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

/// The tests count every allocation of the process: one at a time.
static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// Net heap bytes held after `start` built a handshake future (boxed, as a spawned task
/// would hold it) and polled it once against a silent peer.
fn held<F, O>(start: impl FnOnce(tokio::io::DuplexStream) -> F) -> isize
where
    F: Future<Output = O>,
{
    let (_silent_peer, server_io) = tokio::io::duplex(64 * 1024);
    let region = Region::new(GLOBAL);
    let mut handshake: Pin<Box<F>> = Box::pin(start(server_io));
    let mut cx = Context::from_waker(Waker::noop());
    assert!(
        handshake.as_mut().poll(&mut cx).is_pending(),
        "nothing to read yet"
    );
    let stats = region.change();
    drop(handshake);
    stats.bytes_allocated as isize - stats.bytes_deallocated as isize
}

#[test]
fn an_idle_server_handshake_holds_at_most_half_of_tokio_rustls() {
    let _turn = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let world = World::new();
    let config = world.server().build();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let _entered = runtime.enter();
    let ours_acceptor = tokio_tls_handshake::Acceptor::from(config.clone());
    let theirs_acceptor = tokio_rustls::TlsAcceptor::from(config);
    // Warm up lazily allocated runtime and rustls state once for each.
    held(|io| ours_acceptor.accept(io));
    held(|io| theirs_acceptor.accept(io));
    let ours = held(|io| ours_acceptor.accept(io));
    let theirs = held(|io| theirs_acceptor.accept(io));
    eprintln!("idle server handshake: ours {ours} bytes, tokio-rustls {theirs} bytes");
    assert!(ours > 0 && theirs > 0);
    assert!(
        ours * 2 <= theirs,
        "ours {ours} bytes, tokio-rustls {theirs} bytes"
    );
}

/// What dropping `server` gives back, after it received `burst` bytes in 16 KiB records from
/// `client` and was then polled once more with nothing to read (idle).
async fn held_after_burst<C, S>(mut client: C, mut server: S, burst: usize) -> isize
where
    C: AsyncWrite + Unpin,
    S: AsyncRead + Unpin,
{
    let data = vec![7u8; burst];
    let mut received = vec![0u8; burst];
    let (sent, read) = tokio::join!(
        async {
            for chunk in data.chunks(16 * 1024) {
                client.write_all(chunk).await?;
            }
            client.flush().await
        },
        server.read_exact(&mut received)
    );
    sent.expect("sent");
    read.expect("received");
    assert_eq!(received, data);
    // Idle: nothing more to read.
    let mut one = [0u8; 1];
    {
        let mut idle = std::pin::pin!(server.read(&mut one));
        let mut cx = Context::from_waker(Waker::noop());
        assert!(
            idle.as_mut().poll(&mut cx).is_pending(),
            "nothing more was sent"
        );
    }
    let region = Region::new(GLOBAL);
    drop(server);
    let stats = region.change();
    drop(client);
    stats.bytes_deallocated as isize - stats.bytes_allocated as isize
}

/// A stream reads a burst through a read-ahead buffer of its own, larger than rustls' reads;
/// once idle it must hold neither that buffer nor the receive buffer rustls grew for the
/// burst's large records: no more than tokio-rustls' stream holds after the same burst.
#[test]
fn after_a_burst_an_idle_stream_holds_no_more_than_tokio_rustls() {
    let _turn = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let world = World::new();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let burst = 512 * 1024;
    let ours = runtime.block_on(async {
        let (client_io, server_io) = tokio::io::duplex(1024 * 1024);
        let (client, server) = support::established(&world, client_io, server_io).await;
        held_after_burst(client, server, burst).await
    });
    let theirs = runtime.block_on(async {
        let (client_io, server_io) = tokio::io::duplex(1024 * 1024);
        let connector = tokio_rustls::TlsConnector::from(world.client().build());
        let acceptor = tokio_rustls::TlsAcceptor::from(world.server().build());
        let (client, server) = tokio::join!(
            connector.connect(name("localhost"), client_io),
            acceptor.accept(server_io)
        );
        held_after_burst(client.expect("client"), server.expect("server"), burst).await
    });
    eprintln!("idle server stream after a {burst}-byte burst: ours {ours} bytes, tokio-rustls {theirs} bytes");
    assert!(ours > 0 && theirs > 0);
    assert!(
        ours <= theirs,
        "ours {ours} bytes, tokio-rustls {theirs} bytes"
    );
}
