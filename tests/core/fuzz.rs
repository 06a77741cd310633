//! Property tests over hostile input: random bytes and mutations of real recorded flights
//! (a ClientHello, a server's first flight), fed to both roles through the sync step and
//! through the future. Nothing panics, everything ends, nothing reads more than it was given.
//!
//! A longer campaign: `PROPTEST_CASES=100000 cargo test --release --test fuzz`.

use crate::support;

use std::sync::{Arc, LazyLock};

use proptest::{prelude::*, sample::Index, test_runner::TestCaseError};
use rustls::{ClientConfig, ServerConfig};
use support::{bio::MemoryBio, name, World};
use tokio::io::AsyncWriteExt;
use tokio_tls_handshake::{Acceptor, Connector, Handshake, HandshakeError, Step, TlsConnection};

struct Fixture {
    server: Arc<ServerConfig>,
    client: Arc<ClientConfig>,
    client_hello: Vec<u8>,
    server_flight: Vec<u8>,
    runtime: tokio::runtime::Runtime,
}

static FIXTURE: LazyLock<Fixture> = LazyLock::new(|| {
    let world = World::new();
    let (server, client) = (world.server().build(), world.client().build());
    // Record a real exchange through a memory pair.
    let mut c = Handshake::connect(client.clone(), name("localhost")).expect("client");
    let mut s = Handshake::accept(server.clone()).expect("server");
    let (mut cb, mut sb) = (MemoryBio::new(1 << 20), MemoryBio::new(1 << 20));
    assert_eq!(c.do_handshake(&mut cb).expect("hello"), Step::WantRead);
    let client_hello = cb.outbox.clone();
    cb.drain_into(&mut sb);
    assert_eq!(s.do_handshake(&mut sb).expect("flight"), Step::WantRead);
    let server_flight = sb.outbox.clone();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .start_paused(true)
        .build()
        .expect("runtime");
    Fixture {
        server,
        client,
        client_hello,
        server_flight,
        runtime,
    }
});

/// Steps `handshake` over `input` (then nothing more) until it needs bytes that will never
/// come, finishes, or fails. Returns how many calls it took.
fn sync_steps<C: TlsConnection>(mut handshake: Handshake<C>, input: &[u8]) -> usize {
    let mut bio = MemoryBio::new(64 * 1024);
    // A client first sends its hello, before any peer byte arrives.
    let _ = handshake.do_handshake(&mut bio);
    bio.outbox.clear();
    bio.inbox.extend_from_slice(input);
    for calls in 1..=64 {
        match handshake.do_handshake(&mut bio) {
            Ok(Step::WantRead) if bio.inbox.is_empty() => return calls,
            Ok(Step::WantRead) => {}
            Ok(Step::WantWrite) => bio.outbox.clear(),
            Ok(Step::Done) | Err(_) => return calls,
        }
        assert!(handshake.stats().bytes_read <= input.len() as u64);
    }
    panic!("no verdict after 64 calls over {} bytes", input.len());
}

/// The size of the pieces the peer sends its input in: not a record's or a flight's.
const PIECE: usize = 97;

/// The future over a pipe that receives `input` and then EOF, on a paused clock with a 10 s
/// deadline. Since the input always ends, the verdict must come at once (no time passes) and
/// never be `TimedOut` (a lost wake-up would end that way); an alert goes out only for a local
/// protocol error, never for a peer that left, a plaintext peer or the peer's own alert.
fn async_ends(server: bool, input: &[u8]) -> Result<(), TestCaseError> {
    let f = &*FIXTURE;
    let (error, elapsed) = f.runtime.block_on(async {
        let (ours, mut theirs) = tokio::io::duplex(128 * 1024);
        // The input arrives in pieces from another task, so the handshake waits between them
        // and must be woken: a lost wake-up would leave it to the deadline.
        let input = input.to_vec();
        let peer = tokio::spawn(async move {
            // Our side may give its verdict, and close, before the input is all sent.
            for piece in input.chunks(PIECE) {
                if theirs.write_all(piece).await.is_err() {
                    return theirs;
                }
                tokio::task::yield_now().await;
            }
            let _ = theirs.shutdown().await;
            theirs
        });
        let started = tokio::time::Instant::now();
        let result = if server {
            Acceptor::from(f.server.clone())
                .accept(ours)
                .await
                .map(drop)
        } else {
            Connector::from(f.client.clone())
                .with_timeout(std::time::Duration::from_secs(10))
                .connect(name("localhost"), ours)
                .await
                .map(drop)
        };
        let elapsed = started.elapsed();
        drop(peer.await.expect("peer task"));
        (
            result.expect_err("hostile input never completes a handshake"),
            elapsed,
        )
    });
    prop_assert_eq!(elapsed, std::time::Duration::ZERO, "{:?}", error);
    match &error {
        HandshakeError::Protocol {
            alert_received: None,
            ..
        } => {}
        HandshakeError::PeerClosed { .. }
        | HandshakeError::NotTls { .. }
        | HandshakeError::Protocol { .. } => {
            prop_assert_eq!(error.alert_sent(), None, "no alert is due: {:?}", error)
        }
        other => prop_assert!(false, "not a verdict for input that ended: {:?}", other),
    }
    Ok(())
}

fn mutate(flight: &[u8], flips: &[(Index, u8)], cut: Index) -> Vec<u8> {
    let mut bytes = flight.to_vec();
    for (at, value) in flips {
        let i = at.index(bytes.len());
        bytes[i] = *value;
    }
    bytes.truncate(cut.index(bytes.len() + 1).max(1));
    bytes
}

proptest! {
    #[test]
    fn random_bytes_to_a_server(input in prop::collection::vec(any::<u8>(), 0..4096)) {
        sync_steps(Handshake::accept(FIXTURE.server.clone()).expect("server"), &input);
        async_ends(true, &input)?;
    }

    #[test]
    fn random_bytes_to_a_client(input in prop::collection::vec(any::<u8>(), 0..4096)) {
        sync_steps(Handshake::connect(FIXTURE.client.clone(), name("localhost")).expect("client"), &input);
        async_ends(false, &input)?;
    }

    #[test]
    fn mutated_client_hellos(flips in prop::collection::vec((any::<Index>(), any::<u8>()), 1..6), cut in any::<Index>()) {
        let input = mutate(&FIXTURE.client_hello, &flips, cut);
        sync_steps(Handshake::accept(FIXTURE.server.clone()).expect("server"), &input);
        async_ends(true, &input)?;
    }

    #[test]
    fn mutated_server_flights(flips in prop::collection::vec((any::<Index>(), any::<u8>()), 1..6), cut in any::<Index>()) {
        let input = mutate(&FIXTURE.server_flight, &flips, cut);
        sync_steps(Handshake::connect(FIXTURE.client.clone(), name("localhost")).expect("client"), &input);
        async_ends(false, &input)?;
    }
}
