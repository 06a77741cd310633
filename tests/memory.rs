//! Memory held by a server handshake still waiting for the ClientHello, against
//! tokio-rustls. Counted by a global allocator (deterministic, not timed): one test in its own
//! binary, so nothing else allocates meanwhile.

mod support;

use std::{
    alloc::System,
    future::Future,
    pin::Pin,
    task::{Context, Waker},
};

use stats_alloc::{Region, StatsAlloc, INSTRUMENTED_SYSTEM};
use support::World;

#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

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
