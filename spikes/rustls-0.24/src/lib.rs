//! A spike, not a port: rustls 0.24.0-dev.2's caller-owned buffers under Tokio, measured
//! beside this crate today (its engine on rustls 0.23's buffered connection) and
//! tokio-rustls, in one process and one run. `src/main.rs` says what it prints and how to
//! run it; ARCHITECTURE.md holds the port plan that its figures decide.
//!
//! Outside the published crate (a workspace member with `publish = false`): nothing here
//! reaches tokio-tls-handshake's users.

#![forbid(unsafe_code)]

pub mod bulk;
pub mod contenders;
pub mod handshakes;
pub mod input;
pub mod memory;
pub mod negotiated;
pub mod next_stream;
pub mod setup;

#[cfg(test)]
mod tests {
    use super::{
        bulk::{pattern, receive, send},
        contenders::{Contender, NextKept, NextReleased, Ours, TokioRustls},
        memory, negotiated, setup,
    };

    /// The allocator counts every thread: the tests take turns.
    static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

    /// Moves bytes both ways on `contender`, in 1 KiB and 16 KiB writes, each byte checked,
    /// and negotiates the same suite everywhere.
    async fn moves_bytes_intact<C: Contender>(contender: C) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let (client, server) = setup::tcp_pair(&listener).await.expect("pair");
        let (client, server) = tokio::join!(contender.connect(client), contender.accept(server));
        let (mut client, mut server) = (client.expect("client"), server.expect("server"));
        for write in [1024, 16 * 1024] {
            let data = pattern(write);
            let total = 256 * 1024 + 7;
            let (sent, received) = tokio::join!(
                send(&mut client, total, &data),
                receive(&mut server, total, Some(write))
            );
            sent.expect("sent");
            received.unwrap_or_else(|e| panic!("{}: {e}", C::NAME));
            let (sent, received) = tokio::join!(
                send(&mut server, total, &data),
                receive(&mut client, total, Some(write))
            );
            sent.expect("sent");
            received.unwrap_or_else(|e| panic!("{}: {e}", C::NAME));
        }
    }

    #[tokio::test]
    async fn both_rustls_versions_negotiate_the_same() {
        let setup = setup::Setup::new().expect("setup");
        let [next, old] = negotiated::negotiated(&setup).await.expect("handshakes");
        assert_eq!(next, old);
        assert!(
            next.contains("TLS13_AES_256_GCM_SHA384") && next.contains("X25519MLKEM768"),
            "{next}"
        );
    }

    #[tokio::test]
    async fn every_contender_moves_bytes_intact() {
        let _turn = ONE_AT_A_TIME.lock().await;
        let setup = setup::Setup::new().expect("setup");
        moves_bytes_intact(NextReleased::new(&setup)).await;
        moves_bytes_intact(NextKept::new(&setup)).await;
        moves_bytes_intact(Ours::new(&setup)).await;
        moves_bytes_intact(TokioRustls::new(&setup)).await;
    }

    /// The memory figures come from an allocator that counts: every contender's idle pairs
    /// hold something, and releasing the buffers holds less than keeping them.
    #[tokio::test]
    async fn the_allocator_counts_and_released_buffers_hold_less() {
        let _turn = ONE_AT_A_TIME.lock().await;
        let setup = setup::Setup::new().expect("setup");
        let released = memory::idle(&NextReleased::new(&setup), 100)
            .await
            .expect("idle");
        let kept = memory::idle(&NextKept::new(&setup), 100)
            .await
            .expect("idle");
        let tokio_rustls = memory::idle(&TokioRustls::new(&setup), 100)
            .await
            .expect("idle");
        for held in [released, kept, tokio_rustls] {
            assert!(held.allocations > 0 && held.per_pair > 0.0, "{held:?}");
            assert!(held.per_server > 0.0, "{held:?}");
        }
        // A kept `VecInput` holds 4 KiB on each end; what else a stream holds moves by a few
        // hundred bytes between runs (the runtime's own allocations are counted too).
        assert!(
            released.per_server + 3072.0 <= kept.per_server
                && released.per_pair + 6144.0 <= kept.per_pair,
            "a kept VecInput holds about 4 KiB more on each end: {released:?} {kept:?}"
        );
    }
}
