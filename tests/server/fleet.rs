//! A fleet as it runs: three processes of the fleet example, sharing a real Redis, behind a
//! real HAProxy (round robin), with Pebble validating TLS-ALPN-01 on HAProxy's front port.
//! Each name is ordered once, any instance answers the validation, every instance serves the
//! certificate; and an instance killed in the middle of its order is taken over.
#![cfg(all(feature = "acme", feature = "redis", feature = "proxy-protocol"))]

use crate::support;

use std::{net::SocketAddr, sync::Arc, time::Duration};

use rustls::{pki_types::CertificateDer, ClientConfig, RootCertStore};
use support::{
    bounded, examples::Running, haproxy::HaProxy, name, openssl::Files, pebble::Pebble,
    redis::Redis,
};
use tokio::net::TcpStream;
use tokio_tls_handshake::Connector;

/// Everything but the instances: Redis, HAProxy in front of three ports, Pebble validating
/// through HAProxy.
struct Ground {
    redis: Redis,
    pebble: Pebble,
    _balancer: HaProxy,
    ports: Vec<u16>,
    files: Files,
}

impl Ground {
    async fn new() -> Option<Self> {
        if !support::haproxy::available()
            || !support::pebble::available()
            || !support::redis::available()
        {
            return None;
        }
        let redis = Redis::start().await;
        // The instances' ports, chosen now: HAProxy needs them before Pebble, and the
        // instances need Pebble's directory.
        let ports: Vec<u16> = (0..3).map(|_| support::pebble::free_port()).collect();
        let backends: Vec<SocketAddr> = ports
            .iter()
            .map(|port| SocketAddr::from(([127, 0, 0, 1], *port)))
            .collect();
        // A dead instance is taken out of the rotation by the check, as in production.
        let balancer = HaProxy::start(&backends, "check inter 100ms fall 1 rise 1").await;
        let pebble = Pebble::start(balancer.addr.port(), &[]).await;
        let files = Files::new();
        files.write("pebble-https.pem", &pebble.http_root_pem);
        Some(Self {
            redis,
            pebble,
            _balancer: balancer,
            ports,
            files,
        })
    }

    /// Instance `i`, ordering `a.test` through the fleet.
    async fn instance(&self, i: usize, lease_secs: u64) -> Running {
        let addr = format!("127.0.0.1:{}", self.ports[i]);
        let cache = self.files.path(&format!("cache-{i}"));
        let roots = self.files.path("pebble-https.pem");
        let lease = lease_secs.to_string();
        let url = self.redis.url();
        let mut running = Running::start(
            "fleet",
            &[
                "--addr",
                &addr,
                "--acme",
                &self.pebble.directory,
                "--name",
                "a.test",
                "--cache",
                &cache,
                "--acme-roots",
                &roots,
                "--redis",
                &url,
                "--fleet-poll-ms",
                "200",
                "--order-lease-secs",
                &lease,
            ],
        );
        running.line_after("listening on ").await;
        running
    }

    /// The leaf instance `i` serves for `a.test`, once it serves one. Until then each try is
    /// refused (no certificate yet): tries are paced 100 ms apart, so that they neither load
    /// the machine nor fill the instance's output pipe (it logs each refusal).
    async fn served_by(&self, i: usize, roots: &RootCertStore) -> CertificateDer<'static> {
        let config = Arc::new(
            ClientConfig::builder_with_provider(support::provider())
                .with_safe_default_protocol_versions()
                .expect("versions")
                .with_root_certificates(roots.clone())
                .with_no_client_auth(),
        );
        let addr = SocketAddr::from(([127, 0, 0, 1], self.ports[i]));
        bounded(async {
            loop {
                let tcp = TcpStream::connect(addr).await.expect("connect");
                let connect = Connector::from(config.clone()).connect(name("a.test"), tcp);
                if let Ok(mut tls) = connect.await {
                    support::ping(&mut tls).await;
                    return tls.connection().peer_certificates().expect("a chain")[0].clone();
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        })
        .await
    }

    fn issued(&mut self) -> usize {
        self.pebble
            .log()
            .matches("Issued certificate serial")
            .count()
    }
}

#[tokio::test]
async fn three_processes_order_once_and_each_answers_and_serves() {
    let Some(mut ground) = Ground::new().await else {
        return;
    };
    let mut instances = Vec::new();
    for i in 0..3 {
        instances.push(ground.instance(i, 60).await);
    }
    let roots = ground.pebble.issuing_roots().await;
    let leaves = [
        ground.served_by(0, &roots).await,
        ground.served_by(1, &roots).await,
        ground.served_by(2, &roots).await,
    ];
    assert!(
        leaves[0] == leaves[1] && leaves[1] == leaves[2],
        "one certificate for all"
    );
    assert_eq!(ground.issued(), 1, "ordered once: {}", ground.pebble.log());
    // Pebble's validation connections went round robin: every instance answered one.
    for instance in &mut instances {
        instance.line_containing("answered by the server").await;
    }
}

#[tokio::test]
async fn an_instance_killed_mid_order_is_taken_over_after_its_lease() {
    let Some(mut ground) = Ground::new().await else {
        return;
    };
    let lease = 3;
    let first = ground.instance(0, lease).await;
    // Mid-order: its challenge is in Redis, the ACME server not yet told to validate.
    bounded(async {
        loop {
            let index = ground
                .redis
                .admin(&["GET", "tokio-tls-handshake:acme/challenges"])
                .await;
            if matches!(&index, redis::Value::BulkString(b) if b.starts_with(b"a.test ")) {
                return;
            }
            // Paced: each look is a connection of its own.
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await;
    drop(first);
    let killed = tokio::time::Instant::now();
    let _others = [
        ground.instance(1, lease).await,
        ground.instance(2, lease).await,
    ];
    let roots = ground.pebble.issuing_roots().await;
    let leaves = [
        ground.served_by(1, &roots).await,
        ground.served_by(2, &roots).await,
    ];
    assert_eq!(leaves[0], leaves[1]);
    assert!(
        killed.elapsed() >= Duration::from_secs(lease) / 2,
        "not before the dead instance's lease ran out: {:?}",
        killed.elapsed()
    );
    assert_eq!(
        ground.issued(),
        1,
        "the killed instance's order was never finalized"
    );
}
