//! A real HAProxy in front of our server, in TCP mode with `send-proxy` (v1) and
//! `send-proxy-v2`: a client connects through it, and the server reports the client's real
//! address and port, not HAProxy's.
#![cfg(feature = "proxy-protocol")]

use crate::support;

use support::{bounded, echo_ping, haproxy, listen, name, ping, World};
use tokio::net::TcpStream;
use tokio_tls_handshake::{
    listener::TlsListener,
    proxy::{ProxyProtocol, TrustedProxies},
    Acceptor, Connector,
};

#[tokio::test]
async fn through_haproxy_the_server_sees_the_real_client() {
    if !haproxy::available() {
        return;
    }
    let world = World::new();
    for options in ["send-proxy", "send-proxy-v2"] {
        let (tcp, backend) = listen().await;
        // HAProxy connects from loopback: the one trusted balancer.
        let balancer = TrustedProxies::parse(["127.0.0.1"]).expect("an address");
        let acceptor = Acceptor::from(world.server().build())
            .with_proxy_protocol(ProxyProtocol::Required, balancer);
        let mut listener = TlsListener::new(tcp, acceptor);
        let balancer = haproxy::HaProxy::start(&[backend], options).await;

        let (client_addr, client) = client_through(&balancer, &world).await;
        let (mut tls, peer) = bounded(listener.accept())
            .await
            .expect("an item")
            .expect("established behind haproxy");
        assert_eq!(
            peer, client_addr,
            "{options}: the client's address and port"
        );
        assert_ne!(
            tls.get_ref().0.peer_addr().expect("transport peer"),
            client_addr,
            "{options}: the transport's peer is HAProxy"
        );
        assert_eq!(tls.report().forwarded_for, Some(client_addr));
        echo_ping(&mut tls).await;
        bounded(client)
            .await
            .expect("client")
            .expect("handshake through haproxy");
    }
}

/// Our client through `balancer`: its own address, and the task that does one handshake and
/// one ping.
async fn client_through(
    balancer: &haproxy::HaProxy,
    world: &World,
) -> (
    std::net::SocketAddr,
    tokio::task::JoinHandle<Result<(), tokio_tls_handshake::HandshakeError>>,
) {
    let tcp = TcpStream::connect(balancer.addr)
        .await
        .expect("connect to haproxy");
    let client_addr = tcp.local_addr().expect("client address");
    let connector = Connector::from(world.client().build());
    let client = tokio::spawn(async move {
        let mut tls = connector.connect(name("localhost"), tcp).await?;
        ping(&mut tls).await;
        Ok(())
    });
    (client_addr, client)
}

/// HAProxy in front of a Unix socket, as is common: the listener's peer is the client's own
/// address and port from the header, not the unnamed Unix peer. A Unix peer has no IP
/// address, so only `TrustedProxies::any()` trusts it (the socket's permissions decide who
/// connects); a range refuses it.
#[tokio::test]
async fn through_haproxy_to_a_unix_socket_the_server_sees_the_real_client() {
    use tokio_tls_handshake::{
        listener::{ListenError, UnixPeer},
        proxy::ProxyHeaderError,
        HandshakeError,
    };
    if !haproxy::available() {
        return;
    }
    let world = World::new();
    for (trusted, established) in [
        (TrustedProxies::any(), true),
        (
            TrustedProxies::parse(["127.0.0.1"]).expect("an address"),
            false,
        ),
    ] {
        let dir = support::openssl::Files::new();
        let path = dir.dir.join("tls.sock");
        let unix = tokio::net::UnixListener::bind(&path).expect("bind");
        let acceptor = Acceptor::from(world.server().build())
            .with_proxy_protocol(ProxyProtocol::Required, trusted);
        let mut listener = TlsListener::from_unix(unix, acceptor);
        let backend = format!("unix@{}", path.display());
        let balancer = haproxy::HaProxy::start(&[backend], "send-proxy-v2").await;

        let (client_addr, client) = client_through(&balancer, &world).await;
        if established {
            let (mut tls, peer) = bounded(listener.accept())
                .await
                .expect("an item")
                .expect("established behind haproxy");
            assert!(
                matches!(peer, UnixPeer::Proxied(addr) if addr == client_addr),
                "{peer:?}"
            );
            assert_eq!(peer.to_string(), client_addr.to_string());
            assert_eq!(tls.forwarded_for(), Some(client_addr));
            echo_ping(&mut tls).await;
            bounded(client)
                .await
                .expect("client")
                .expect("client handshake");
            continue;
        }
        // Refused: HAProxy may try the backend again after the server closes on it, so the
        // listener keeps serving until the client has its answer; every attempt is refused.
        let refusals = bounded(async {
            let mut refusals = 0;
            let mut client = std::pin::pin!(client);
            loop {
                tokio::select! {
                    result = &mut client => {
                        result.expect("client task").expect_err("refused");
                        return refusals;
                    }
                    Some(item) = listener.accept() => match item {
                        Err(ListenError::Handshake { peer, error, io, .. }) => {
                            drop(io);
                            assert!(
                                matches!(
                                    error,
                                    HandshakeError::ProxyHeader(ProxyHeaderError::Untrusted)
                                ),
                                "{error:?}"
                            );
                            assert!(peer.as_socket().is_some(), "no header believed: {peer:?}");
                            refusals += 1;
                        }
                        other => panic!("expected a refusal, got {:?}", other.map(|(_, p)| p)),
                    },
                }
            }
        })
        .await;
        assert!(refusals >= 1, "the untrusted balancer was refused");
    }
}

/// The fleet example, as the README runs it: two instances sharing a certificate and ticket
/// keys behind HAProxy (round robin, `send-proxy-v2`). The first connection reaches one
/// instance and gets a ticket; the second reaches the other and resumes with it. Each logs
/// the client's real address.
#[tokio::test]
async fn two_fleet_instances_behind_haproxy_resume_each_others_tickets() {
    use support::examples::Running;
    if !haproxy::available() {
        return;
    }
    let files = support::openssl::Files::new();
    let dir = files.dir.join("demo");
    let dir = dir.to_string_lossy().into_owned();
    let mut init = Running::start("fleet", &["--init", &dir]);
    init.line_after("wrote ").await;
    assert!(init.exits().await, "--init exits 0");

    let (cert, key, keys) = (
        format!("{dir}/cert.pem"),
        format!("{dir}/key.pem"),
        format!("{dir}/ticket.keys"),
    );
    let instance = || {
        Running::start(
            "fleet",
            &[
                "--addr",
                "127.0.0.1:0",
                "--cert",
                &cert,
                "--key",
                &key,
                "--ticket-keys",
                &keys,
                "--proxy-protocol",
                "required",
            ],
        )
    };
    let (mut a, mut b) = (instance(), instance());
    let addr = |line: String| line.parse::<std::net::SocketAddr>().expect("address");
    let a_addr = addr(a.line_after("listening on ").await);
    let b_addr = addr(b.line_after("listening on ").await);
    let balancer = haproxy::HaProxy::start(&[a_addr, b_addr], "send-proxy-v2").await;

    let pem = std::fs::read(format!("{dir}/ca.pem")).expect("CA");
    let mut roots = rustls::RootCertStore::empty();
    use rustls::pki_types::{pem::PemObject, CertificateDer};
    roots
        .add(CertificateDer::from_pem_slice(&pem).expect("CA PEM"))
        .expect("root");
    let client = std::sync::Arc::new(
        rustls::ClientConfig::builder_with_provider(support::provider())
            .with_safe_default_protocol_versions()
            .expect("versions")
            .with_root_certificates(roots)
            .with_no_client_auth(),
    );
    let mut seen = Vec::new();
    for _ in 0..2 {
        let tcp = TcpStream::connect(balancer.addr).await.expect("connect");
        let local = tcp.local_addr().expect("address");
        let mut tls = bounded(Connector::from(client.clone()).connect(name("localhost"), tcp))
            .await
            .expect("handshake");
        ping(&mut tls).await;
        seen.push((local, tls.report().is_resumed()));
    }
    assert_eq!(
        seen.iter().map(|s| s.1).collect::<Vec<_>>(),
        [false, true],
        "full on one instance, resumed on the other"
    );
    // Round robin: the first went to A, the second to B; each logged the real client.
    let first = a.line_after("connection from ").await;
    assert!(first.starts_with(&format!("{}: ", seen[0].0)), "{first}");
    assert!(first.contains(" full "), "{first}");
    let second = b.line_after("connection from ").await;
    assert!(second.starts_with(&format!("{}: ", seen[1].0)), "{second}");
    assert!(second.contains(" resumed "), "{second}");

    // The README's two `openssl s_client` commands, as printed but for the port: the first
    // stores the session (`sleep 1 |` keeps s_client connected until the TLS 1.3 tickets
    // arrive; `echo |` would end it first), the second resumes it on the other instance.
    if !support::openssl::available() {
        return;
    }
    let port = balancer.addr.port();
    let store = format!(
        "sleep 1 | openssl s_client -connect 127.0.0.1:{port} -CAfile {dir}/ca.pem \
         -servername localhost -sess_out {dir}/s.pem"
    );
    let resume = format!(
        "openssl s_client -connect 127.0.0.1:{port} -CAfile {dir}/ca.pem -servername localhost \
         -sess_in {dir}/s.pem < /dev/null | grep Reused"
    );
    for command in [&store, &resume] {
        let output = bounded(
            tokio::process::Command::new("sh")
                .args(["-c", command])
                .stdin(std::process::Stdio::null())
                .output(),
        )
        .await
        .expect("sh");
        assert!(output.status.success(), "{command}: {output:?}");
    }
    assert!(std::path::Path::new(&format!("{dir}/s.pem")).exists());
    let third = a.line_after("connection from ").await;
    let fourth = b.line_after("connection from ").await;
    assert!(third.contains(" full "), "{third}");
    assert!(fourth.contains(" resumed "), "{fourth}");
}

/// The fleet example with `--redis`: three instances (separate processes) share their ticket
/// keys through a real Redis server, behind HAProxy round robin. The first connection is a
/// full handshake on one instance; the next two resume on the other two.
#[cfg(feature = "redis")]
#[tokio::test]
async fn three_fleet_instances_share_ticket_keys_through_redis() {
    use support::{examples::Running, redis::Redis};
    if !haproxy::available() || !support::redis::available() {
        return;
    }
    let redis = Redis::start().await;
    let files = support::openssl::Files::new();
    let dir = files.dir.join("demo");
    let dir = dir.to_string_lossy().into_owned();
    let mut init = Running::start("fleet", &["--init", &dir]);
    init.line_after("wrote ").await;
    assert!(init.exits().await, "--init exits 0");
    let (cert, key, url) = (
        format!("{dir}/cert.pem"),
        format!("{dir}/key.pem"),
        redis.url(),
    );
    let args = [
        "--addr",
        "127.0.0.1:0",
        "--cert",
        &cert,
        "--key",
        &key,
        "--redis",
        &url,
        "--proxy-protocol",
        "required",
    ];
    let mut instances = vec![
        Running::start("fleet", &args),
        Running::start("fleet", &args),
        Running::start("fleet", &args),
    ];
    let mut addrs = Vec::new();
    for instance in &mut instances {
        let keys = instance.line_after("ticket keys: ").await;
        assert!(keys.starts_with("the fleet's, from redis"), "{keys}");
        let line = instance.line_after("listening on ").await;
        addrs.push(line.parse::<std::net::SocketAddr>().expect("address"));
    }
    let balancer = haproxy::HaProxy::start(&addrs, "send-proxy-v2").await;

    let pem = std::fs::read(format!("{dir}/ca.pem")).expect("CA");
    let mut roots = rustls::RootCertStore::empty();
    use rustls::pki_types::{pem::PemObject, CertificateDer};
    roots
        .add(CertificateDer::from_pem_slice(&pem).expect("CA PEM"))
        .expect("root");
    let client = std::sync::Arc::new(
        rustls::ClientConfig::builder_with_provider(support::provider())
            .with_safe_default_protocol_versions()
            .expect("versions")
            .with_root_certificates(roots)
            .with_no_client_auth(),
    );
    let mut resumed = Vec::new();
    for _ in 0..3 {
        let tcp = TcpStream::connect(balancer.addr).await.expect("connect");
        let mut tls = bounded(Connector::from(client.clone()).connect(name("localhost"), tcp))
            .await
            .expect("handshake");
        ping(&mut tls).await;
        resumed.push(tls.report().is_resumed());
    }
    assert_eq!(
        resumed,
        [false, true, true],
        "full on one instance, resumed on the other two"
    );
    // Round robin: each instance served one connection, and logged how.
    let mut kinds = Vec::new();
    for instance in &mut instances {
        let line = instance.line_after("connection from ").await;
        kinds.push(if line.contains(" resumed ") {
            "resumed"
        } else {
            "full"
        });
    }
    kinds.sort_unstable();
    assert_eq!(kinds, ["full", "resumed", "resumed"]);
    let stored = redis
        .admin(&["EXISTS", "tokio-tls-handshake:tickets/keys"])
        .await;
    assert_eq!(stored, redis::Value::Int(1), "the key set is in Redis");
}

/// An instance of the fleet example started while Redis is down says so and serves (full
/// handshakes, no tickets); once Redis is up, it picks the fleet's keys up by itself, and a
/// session from it resumes on another instance.
#[cfg(feature = "redis")]
#[tokio::test]
async fn a_fleet_instance_started_while_redis_is_down_serves_and_picks_the_keys_up() {
    use support::{examples::Running, redis::Redis};
    if !support::redis::available() {
        return;
    }
    let mut redis = Redis::start().await;
    redis.stop().await;
    let files = support::openssl::Files::new();
    let dir = files.dir.join("demo");
    let dir = dir.to_string_lossy().into_owned();
    let mut init = Running::start("fleet", &["--init", &dir]);
    init.line_after("wrote ").await;
    assert!(init.exits().await, "--init exits 0");
    let (cert, key, url) = (
        format!("{dir}/cert.pem"),
        format!("{dir}/key.pem"),
        redis.url(),
    );
    let args = [
        "--addr",
        "127.0.0.1:0",
        "--cert",
        &cert,
        "--key",
        &key,
        "--redis",
        &url,
    ];
    let mut a = Running::start("fleet", &args);
    let said = a.line_after("ticket keys: ").await;
    assert!(said.starts_with("redis unavailable"), "{said}");
    let a_addr: std::net::SocketAddr = a
        .line_after("listening on ")
        .await
        .parse()
        .expect("address");

    let pem = std::fs::read(format!("{dir}/ca.pem")).expect("CA");
    let mut roots = rustls::RootCertStore::empty();
    use rustls::pki_types::{pem::PemObject, CertificateDer};
    roots
        .add(CertificateDer::from_pem_slice(&pem).expect("CA PEM"))
        .expect("root");
    let client = || {
        std::sync::Arc::new(
            rustls::ClientConfig::builder_with_provider(support::provider())
                .with_safe_default_protocol_versions()
                .expect("versions")
                .with_root_certificates(roots.clone())
                .with_no_client_auth(),
        )
    };
    let visit = |client: std::sync::Arc<rustls::ClientConfig>, addr| async move {
        let tcp = TcpStream::connect(addr).await.expect("connect");
        let mut tls = bounded(Connector::from(client).connect(name("localhost"), tcp))
            .await
            .expect("handshake");
        ping(&mut tls).await;
        tls.report().is_resumed()
    };
    assert!(!visit(client(), a_addr).await, "served while Redis is down");

    redis.restart().await;
    let mut b = Running::start("fleet", &args);
    let said = b.line_after("ticket keys: ").await;
    assert!(said.starts_with("the fleet's, from redis"), "{said}");
    let b_addr: std::net::SocketAddr = b
        .line_after("listening on ")
        .await
        .parse()
        .expect("address");
    // A retries every second while it has no keys: a session from A resumes on B once it has
    // them. Each attempt is a new client, so only the shared keys can resume it.
    bounded(async {
        loop {
            let fresh = client();
            visit(fresh.clone(), a_addr).await;
            if visit(fresh, b_addr).await {
                return;
            }
            tokio::task::yield_now().await;
        }
    })
    .await;
}
