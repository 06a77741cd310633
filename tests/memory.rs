//! Memory held by a server handshake still waiting for the ClientHello and by an established
//! stream gone idle after a burst of data, and allocated while trading small messages, against
//! tokio-rustls. Counted by a global allocator
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
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, DuplexStream};

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
    let runtime = current_thread();
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

fn current_thread() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
}

/// This crate's client and server, established over a memory pipe of `pipe` bytes.
async fn ours_pair(
    world: &World,
    pipe: usize,
) -> (
    tokio_tls_handshake::ClientTlsStream<DuplexStream>,
    tokio_tls_handshake::ServerTlsStream<DuplexStream>,
) {
    let (client_io, server_io) = tokio::io::duplex(pipe);
    support::established(world, client_io, server_io).await
}

/// A tokio-rustls client and server, established over a memory pipe of `pipe` bytes.
async fn tokio_rustls_pair(
    world: &World,
    pipe: usize,
) -> (
    tokio_rustls::client::TlsStream<DuplexStream>,
    tokio_rustls::server::TlsStream<DuplexStream>,
) {
    let (client_io, server_io) = tokio::io::duplex(pipe);
    let connector = tokio_rustls::TlsConnector::from(world.client().build());
    let acceptor = tokio_rustls::TlsAcceptor::from(world.server().build());
    let (client, server) = tokio::join!(
        connector.connect(name("localhost"), client_io),
        acceptor.accept(server_io)
    );
    (client.expect("client"), server.expect("server"))
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

/// A burst of 16 KiB records grows rustls' receive buffer; once the stream is idle it must
/// hold no more than tokio-rustls' stream holds after the same burst (no buffer of its own
/// kept, none of rustls' kept grown).
#[test]
fn after_a_burst_an_idle_stream_holds_no_more_than_tokio_rustls() {
    let _turn = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let world = World::new();
    let runtime = current_thread();
    let burst = 512 * 1024;
    let ours = runtime.block_on(async {
        let (client, server) = ours_pair(&world, 1024 * 1024).await;
        held_after_burst(client, server, burst).await
    });
    let theirs = runtime.block_on(async {
        let (client, server) = tokio_rustls_pair(&world, 1024 * 1024).await;
        held_after_burst(client, server, burst).await
    });
    eprintln!("idle server stream after a {burst}-byte burst: ours {ours} bytes, tokio-rustls {theirs} bytes");
    assert!(ours > 0 && theirs > 0);
    assert!(
        ours <= theirs,
        "ours {ours} bytes, tokio-rustls {theirs} bytes"
    );
}

/// Heap bytes allocated (not held) while `client` and `server` trade `rounds` small messages,
/// each answered before the next is sent.
async fn allocated_trading_small_messages<C, S>(mut client: C, mut server: S, rounds: usize) -> u64
where
    C: AsyncRead + AsyncWrite + Unpin,
    S: AsyncRead + AsyncWrite + Unpin,
{
    let message = [7u8; 100];
    let mut got = [0u8; 100];
    let region = Region::new(GLOBAL);
    for _ in 0..rounds {
        client.write_all(&message).await.expect("client write");
        client.flush().await.expect("client flush");
        server.read_exact(&mut got).await.expect("server read");
        server.write_all(&got).await.expect("server write");
        server.flush().await.expect("server flush");
        client.read_exact(&mut got).await.expect("client read");
    }
    region.change().bytes_allocated as u64
}

/// A connection trading small messages reads straight into rustls' buffer, as tokio-rustls
/// does, and allocates no more than it. (A read buffer of the stream's own, taken per message,
/// shows here: a 64 KiB read-ahead tried for issue 19 allocated 6.6 MB over these 50 rounds
/// where tokio-rustls allocates 25 KB.)
#[test]
fn trading_small_messages_allocates_no_more_than_tokio_rustls() {
    let _turn = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let world = World::new();
    let runtime = current_thread();
    let rounds = 50;
    let ours = runtime.block_on(async {
        let (client, server) = ours_pair(&world, 64 * 1024).await;
        allocated_trading_small_messages(client, server, rounds).await
    });
    let theirs = runtime.block_on(async {
        let (client, server) = tokio_rustls_pair(&world, 64 * 1024).await;
        allocated_trading_small_messages(client, server, rounds).await
    });
    eprintln!("{rounds} rounds of 100-byte messages allocated: ours {ours} bytes, tokio-rustls {theirs} bytes");
    assert!(ours > 0 && theirs > 0);
    assert!(
        ours <= theirs + theirs / 10,
        "ours {ours} bytes, tokio-rustls {theirs} bytes"
    );
}
