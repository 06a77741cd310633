//! The `proxy-protocol` feature: a PROXY v1 or v2 header before the TLS bytes, its client
//! address reported as the peer (listener items, failures, reports), the modes, the TLS bytes
//! that come with the header, and hostile headers: each a typed error within the deadline.
#![cfg(feature = "proxy-protocol")]

use crate::support;

use std::{net::SocketAddr, time::Duration};

use support::{bounded, client_hello, echo_ping, memory_incoming, name, peer_addr, ping, World};
use tokio::io::{duplex, AsyncWriteExt, DuplexStream};
use tokio_tls_handshake::{
    listener::{ListenError, TlsListener},
    proxy::{ProxyHeaderError, ProxyProtocol, TrustedProxies},
    Acceptor, Connector, HandshakeError,
};

const CLIENT: &str = "198.51.100.7:41000";

fn v1_header() -> Vec<u8> {
    b"PROXY TCP4 198.51.100.7 203.0.113.1 41000 443\r\n".to_vec()
}

/// A v2 header for TCP over IPv4 from `CLIENT`, with a TLV of `tlv_len` bytes.
fn v2_header(tlv_len: usize) -> Vec<u8> {
    let mut header = b"\r\n\r\n\0\r\nQUIT\n".to_vec();
    let len = u16::try_from(12 + 3 + tlv_len).expect("fits");
    header.extend_from_slice(&[0x21, 0x11]);
    header.extend_from_slice(&len.to_be_bytes());
    header.extend_from_slice(&[198, 51, 100, 7, 203, 0, 113, 1]);
    header.extend_from_slice(&41000u16.to_be_bytes());
    header.extend_from_slice(&443u16.to_be_bytes());
    // A NOOP TLV (type 4), as balancers pad with.
    header.push(4);
    header.extend_from_slice(&u16::try_from(tlv_len).expect("fits").to_be_bytes());
    header.extend(std::iter::repeat_n(0, tlv_len));
    header
}

/// The balancers: the made-up transport peers of in-memory connections (192.0.2.0/24).
fn balancers() -> TrustedProxies {
    TrustedProxies::parse(["192.0.2.0/24"]).expect("a range")
}

fn client_addr() -> SocketAddr {
    CLIENT.parse().expect("address")
}

/// Our client over a pipe whose first bytes are `header`; the server side is returned.
fn client_behind(world: &World, header: Vec<u8>) -> (DuplexStream, tokio::task::JoinHandle<()>) {
    let (mut client, server) = duplex(64 * 1024);
    let connector = Connector::from(world.client().build());
    let task = tokio::spawn(async move {
        client.write_all(&header).await.expect("header");
        let mut tls = connector
            .connect(name("localhost"), client)
            .await
            .expect("client handshake");
        ping(&mut tls).await;
    });
    (server, task)
}

#[tokio::test]
async fn the_listener_reports_the_client_behind_the_header_v1_and_v2() {
    let world = World::new();
    let (connections, incoming) = memory_incoming();
    let acceptor = Acceptor::from(world.server().build())
        .with_proxy_protocol(ProxyProtocol::Required, balancers());
    let mut listener = TlsListener::from_stream(incoming, acceptor);
    for header in [v1_header(), v2_header(0), v2_header(300)] {
        let (server, client) = client_behind(&world, header);
        connections.send(Ok((server, peer_addr(1)))).expect("queue");
        let (mut tls, peer) = bounded(listener.accept())
            .await
            .expect("an item")
            .expect("established");
        assert_eq!(
            peer,
            client_addr(),
            "the balancer's client, not the transport's peer"
        );
        assert_eq!(tls.forwarded_for(), Some(client_addr()));
        assert_eq!(tls.report().forwarded_for, Some(client_addr()));
        assert!(tls
            .report()
            .to_string()
            .contains("forwarded_for=198.51.100.7:41000"));
        echo_ping(&mut tls).await;
        bounded(client).await.expect("client");
    }
}

/// IPv6 clients (v1 `TCP6` and v2 `AF_INET6`) become the peer; a v2 LOCAL header (the
/// balancer's own health check, which carries no addresses) keeps the transport's.
#[tokio::test]
async fn ipv6_clients_are_reported_and_a_local_header_keeps_the_transport_address() {
    let world = World::new();
    let (connections, incoming) = memory_incoming();
    let acceptor = Acceptor::from(world.server().build())
        .with_proxy_protocol(ProxyProtocol::Required, balancers());
    let mut listener = TlsListener::from_stream(incoming, acceptor);
    let v6: SocketAddr = "[2001:db8::7]:41000".parse().expect("address");
    let v1 = b"PROXY TCP6 2001:db8::7 2001:db8::1 41000 443\r\n".to_vec();
    let mut v2 = b"\r\n\r\n\0\r\nQUIT\n".to_vec();
    v2.extend_from_slice(&[0x21, 0x21, 0, 36]); // PROXY, TCP over IPv6, 36 bytes
    v2.extend_from_slice(
        &"2001:db8::7"
            .parse::<std::net::Ipv6Addr>()
            .expect("ip")
            .octets(),
    );
    v2.extend_from_slice(
        &"2001:db8::1"
            .parse::<std::net::Ipv6Addr>()
            .expect("ip")
            .octets(),
    );
    v2.extend_from_slice(&41000u16.to_be_bytes());
    v2.extend_from_slice(&443u16.to_be_bytes());
    let mut local = b"\r\n\r\n\0\r\nQUIT\n".to_vec();
    local.extend_from_slice(&[0x20, 0x00, 0, 0]); // LOCAL, unspecified, no addresses
    for (label, header, expected) in [
        ("v1 TCP6", v1, Some(v6)),
        ("v2 IPv6", v2, Some(v6)),
        ("v2 LOCAL", local, None),
    ] {
        let (server, client) = client_behind(&world, header);
        connections.send(Ok((server, peer_addr(2)))).expect("queue");
        let (mut tls, peer) = bounded(listener.accept())
            .await
            .expect("an item")
            .unwrap_or_else(|e| panic!("{label}: {e:?}"));
        assert_eq!(peer, expected.unwrap_or(peer_addr(2)), "{label}");
        assert_eq!(tls.forwarded_for(), expected, "{label}");
        assert_eq!(tls.report().forwarded_for, expected, "{label}");
        echo_ping(&mut tls).await;
        bounded(client).await.expect("client");
    }
}

/// The header and the ClientHello in one write, so the first read holds both: the header never
/// reaches rustls and the TLS bytes after it are not lost. `start` sees the source too.
#[tokio::test]
async fn tls_bytes_read_with_the_header_are_kept_and_start_sees_the_source() {
    let world = World::new();
    let acceptor = Acceptor::from(world.server().build())
        .with_proxy_protocol(ProxyProtocol::Required, balancers());
    for header in [v1_header(), v2_header(16)] {
        let mut segment = header;
        segment.extend_from_slice(&client_hello(&world));
        let (mut peer, io) = duplex(64 * 1024);
        peer.write_all(&segment).await.expect("send");
        let hello = bounded(acceptor.start_from(io, &peer_addr(1)))
            .await
            .expect("the hello came through");
        assert_eq!(hello.forwarded_for(), Some(client_addr()));
        assert_eq!(hello.client_hello().server_name(), Some("localhost"));
    }
}

#[tokio::test]
async fn required_without_a_header_is_a_typed_error_with_the_transport_back() {
    let world = World::new();
    let (connections, incoming) = memory_incoming();
    let acceptor = Acceptor::from(world.server().build())
        .with_proxy_protocol(ProxyProtocol::Required, balancers());
    let mut listener = TlsListener::from_stream(incoming, acceptor);
    let (server, _client) = client_behind(&world, Vec::new());
    connections.send(Ok((server, peer_addr(2)))).expect("queue");
    match bounded(listener.accept()).await.expect("an item") {
        Err(ListenError::Handshake {
            peer,
            error: HandshakeError::ProxyHeader(ProxyHeaderError::Missing),
            ..
        }) => assert_eq!(peer, peer_addr(2), "no header: the transport's peer"),
        other => panic!("expected a missing header, got {:?}", other.map(|(_, p)| p)),
    }
}

#[tokio::test]
async fn optional_goes_straight_to_tls_without_a_header_and_reads_one_when_there() {
    let world = World::new();
    let (connections, incoming) = memory_incoming();
    let acceptor = Acceptor::from(world.server().build())
        .with_proxy_protocol(ProxyProtocol::Optional, balancers());
    let mut listener = TlsListener::from_stream(incoming, acceptor);
    for (header, expected) in [(Vec::new(), peer_addr(3)), (v1_header(), client_addr())] {
        let (server, client) = client_behind(&world, header);
        connections.send(Ok((server, peer_addr(3)))).expect("queue");
        let (mut tls, peer) = bounded(listener.accept())
            .await
            .expect("an item")
            .expect("established");
        assert_eq!(peer, expected);
        echo_ping(&mut tls).await;
        bounded(client).await.expect("client");
    }
}

/// A failure after the header is reported with the client's address too.
#[tokio::test]
async fn a_failure_after_the_header_names_the_client() {
    let world = World::new();
    let (connections, incoming) = memory_incoming();
    let acceptor = Acceptor::from(world.server().build())
        .with_proxy_protocol(ProxyProtocol::Required, balancers());
    let mut listener = TlsListener::from_stream(incoming, acceptor);
    let (mut peer, server) = duplex(4096);
    let mut bytes = v1_header();
    bytes.extend_from_slice(b"GET / HTTP/1.1\r\n\r\n");
    peer.write_all(&bytes).await.expect("send");
    connections.send(Ok((server, peer_addr(4)))).expect("queue");
    match bounded(listener.accept()).await.expect("an item") {
        Err(ListenError::Handshake {
            peer,
            error: HandshakeError::NotTls { prefix },
            report,
            ..
        }) => {
            assert_eq!(peer, client_addr());
            assert_eq!(report.forwarded_for, Some(client_addr()));
            assert!(prefix.starts_with(b"GET /"), "the header is not part of it");
        }
        other => panic!("expected NotTls, got {:?}", other.map(|(_, p)| p)),
    }
}

/// Only trusted balancers may send a header. Under `Required` a connection from anyone else
/// is refused before a byte is read; under `Optional` it may speak TLS, but a header from it
/// is refused. `accept` without the transport's address trusts no range.
#[tokio::test]
async fn a_header_from_a_peer_that_is_not_a_trusted_balancer_is_refused() {
    let world = World::new();
    let stranger = SocketAddr::from(([203, 0, 113, 9], 5000));
    let untrusted = |error: &HandshakeError| {
        matches!(
            error,
            HandshakeError::ProxyHeader(ProxyHeaderError::Untrusted)
        )
    };
    for mode in [ProxyProtocol::Required, ProxyProtocol::Optional] {
        let (connections, incoming) = memory_incoming();
        let acceptor =
            Acceptor::from(world.server().build()).with_proxy_protocol(mode, balancers());
        let mut listener = TlsListener::from_stream(incoming, acceptor);
        let (server, _client) = client_behind(&world, v1_header());
        connections.send(Ok((server, stranger))).expect("queue");
        match bounded(listener.accept()).await.expect("an item") {
            Err(ListenError::Handshake {
                peer,
                error,
                report,
                ..
            }) => {
                assert!(untrusted(&error), "{mode:?}: {error:?}");
                assert_eq!(peer, stranger, "{mode:?}: the claim is not believed");
                assert_eq!(report.forwarded_for, None, "{mode:?}");
            }
            other => panic!(
                "{mode:?}: expected Untrusted, got {:?}",
                other.map(|(_, p)| p)
            ),
        }
    }

    // Required: refused before reading, so nothing the stranger sends is read.
    let (mut peer, io) = duplex(64 * 1024);
    peer.write_all(&v1_header()).await.expect("send");
    let acceptor = Acceptor::from(world.server().build())
        .with_proxy_protocol(ProxyProtocol::Required, balancers());
    let probe = support::transports::Probe::new();
    let io = support::transports::Audited::new(io, &probe);
    let failed = bounded(acceptor.accept_from(io, &stranger).recoverable())
        .await
        .map(drop)
        .expect_err("refused");
    assert!(untrusted(&failed.error), "{:?}", failed.error);
    assert_eq!(probe.bytes_read(), 0, "nothing read from an untrusted peer");

    // `accept` does not know the transport's address: a range trusts nobody there.
    let (mut peer, io) = duplex(64 * 1024);
    peer.write_all(&v1_header()).await.expect("send");
    let error = bounded(acceptor.accept(io))
        .await
        .map(drop)
        .expect_err("refused");
    assert!(untrusted(&error), "{error:?}");

    // Optional: a stranger without a header is an ordinary TLS client.
    let (connections, incoming) = memory_incoming();
    let acceptor = Acceptor::from(world.server().build())
        .with_proxy_protocol(ProxyProtocol::Optional, balancers());
    let mut listener = TlsListener::from_stream(incoming, acceptor);
    let (server, client) = client_behind(&world, Vec::new());
    connections.send(Ok((server, stranger))).expect("queue");
    let (mut tls, peer) = bounded(listener.accept())
        .await
        .expect("an item")
        .expect("established");
    assert_eq!((peer, tls.forwarded_for()), (stranger, None));
    echo_ping(&mut tls).await;
    bounded(client).await.expect("client");
}

/// The sync step, on blocking sockets: the header is read by its own layer in front of TLS
/// (`ProxyHeaderReader`), and the TLS bytes that came with it go to the handshake
/// (`Handshake::with_received`).
#[test]
fn the_sync_step_reads_the_header_in_front_of_tls_on_blocking_sockets() {
    use std::io::Write;
    use tokio_tls_handshake::{proxy::ProxyHeaderReader, Handshake, Step};
    let world = World::new();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("address");
    let client_config = world.client().build();
    let client = std::thread::spawn(move || {
        let mut tcp = std::net::TcpStream::connect(addr).expect("connect");
        tcp.set_read_timeout(Some(support::LIMIT)).expect("timeout");
        tcp.write_all(&v1_header()).expect("header");
        let mut handshake = Handshake::connect(client_config, name("localhost")).expect("client");
        handshake.do_handshake(&mut tcp).expect("client handshake")
    });
    let (mut tcp, peer) = listener.accept().expect("accept");
    tcp.set_read_timeout(Some(support::LIMIT)).expect("timeout");
    let loopback = TrustedProxies::parse(["127.0.0.1"]).expect("an address");
    let mut reader = ProxyHeaderReader::new(ProxyProtocol::Required, &loopback, Some(peer.ip()));
    let header = reader
        .read(&mut tcp)
        .expect("a header")
        .expect("a blocking socket never would block");
    assert_eq!(header.source, Some(client_addr()));
    let mut handshake = Handshake::accept(world.server().build())
        .expect("server")
        .with_received(header.received);
    assert_eq!(
        handshake.do_handshake(&mut tcp).expect("server handshake"),
        Step::Done
    );
    assert_eq!(client.join().expect("client thread"), Step::Done);

    // From a peer outside the set, the same reader refuses without reading.
    let stranger = Some(std::net::IpAddr::from([203, 0, 113, 9]));
    let mut reader = ProxyHeaderReader::new(ProxyProtocol::Required, &loopback, stranger);
    let error = reader.read(&mut tcp).expect_err("refused");
    assert!(
        matches!(
            error,
            HandshakeError::ProxyHeader(ProxyHeaderError::Untrusted)
        ),
        "{error:?}"
    );
}

/// `Acceptor::start` reads the header under the handshake's one deadline: a header that stops
/// halfway times out at the deadline, not later, and not per read.
#[tokio::test(start_paused = true)]
async fn start_reads_the_header_under_the_one_deadline() {
    let world = World::new();
    let acceptor = Acceptor::from(world.server().build())
        .with_proxy_protocol(ProxyProtocol::Required, balancers())
        .with_timeout(Duration::from_secs(5));
    let (mut peer, io) = duplex(64 * 1024);
    let header = v1_header();
    let started = tokio::time::Instant::now();
    let start = tokio::spawn(acceptor.start_from(io, &peer_addr(1)));
    for byte in &header[..20] {
        peer.write_all(&[*byte]).await.expect("byte");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let failed = bounded(start)
        .await
        .expect("task")
        .map(drop)
        .expect_err("timed out");
    assert!(
        matches!(failed.error, HandshakeError::TimedOut),
        "{:?}",
        failed.error
    );
    assert_eq!(started.elapsed(), Duration::from_secs(5), "one deadline");
}

/// Every failure names the same kind of peer: a handshake shed by a full listener, or cut off
/// by a drain, after its header was read is reported with the client's address from the
/// header, as an ordinary failure is, not with the transport's.
#[tokio::test]
async fn evicted_and_drained_handshakes_name_the_client_behind_the_header() {
    let world = World::new();
    let silent_client: SocketAddr = "198.51.100.8:42000".parse().expect("address");
    let silent_header = b"PROXY TCP4 198.51.100.8 203.0.113.1 42000 443\r\n".to_vec();
    let acceptor = Acceptor::from(world.server().build())
        .with_proxy_protocol(ProxyProtocol::Required, balancers());

    // Evicted: with room for one handshake, a client that sent its header and then nothing
    // is shed for a newcomer once it waits on its peer.
    let (connections, incoming) = memory_incoming();
    let mut listener = TlsListener::from_stream(incoming, acceptor.clone()).with_max_in_flight(1);
    let (mut silent, server) = duplex(4096);
    silent.write_all(&silent_header).await.expect("send");
    connections.send(Ok((server, peer_addr(5)))).expect("queue");
    let (server, client) = client_behind(&world, v1_header());
    connections.send(Ok((server, peer_addr(6)))).expect("queue");
    match bounded(listener.accept()).await.expect("an item") {
        Err(ListenError::Evicted { peer }) => {
            assert_eq!(peer, silent_client, "evicted: the client behind the header")
        }
        other => panic!("expected an eviction, got {:?}", other.map(|(_, p)| p)),
    }
    let (mut tls, peer) = bounded(listener.accept())
        .await
        .expect("an item")
        .expect("the newcomer");
    assert_eq!(peer, client_addr());
    echo_ping(&mut tls).await;
    bounded(client).await.expect("client");

    // Drained: the silent client is accepted before one that completes (a current-thread
    // runtime polls tasks in order, so its header is read by then); a drain then cuts it off.
    let (connections, incoming) = memory_incoming();
    let mut listener = TlsListener::from_stream(incoming, acceptor);
    let handle = listener.handle();
    let (mut silent, server) = duplex(4096);
    silent.write_all(&silent_header).await.expect("send");
    connections.send(Ok((server, peer_addr(7)))).expect("queue");
    let (server, client) = client_behind(&world, v1_header());
    connections.send(Ok((server, peer_addr(8)))).expect("queue");
    let (mut tls, _) = bounded(listener.accept())
        .await
        .expect("an item")
        .expect("established");
    echo_ping(&mut tls).await;
    bounded(client).await.expect("client");
    handle.drain(Duration::ZERO);
    match bounded(listener.accept()).await.expect("an item") {
        Err(ListenError::Drained { peer }) => {
            assert_eq!(peer, silent_client, "drained: the client behind the header")
        }
        other => panic!("expected a cut-off, got {:?}", other.map(|(_, p)| p)),
    }
    assert!(bounded(listener.accept()).await.is_none(), "drained");
    let report = bounded(handle.drained()).await;
    assert_eq!(
        report.cut_off,
        [silent_client],
        "the drain report names the same peer"
    );
}

/// Without the PROXY protocol configured, a header is what it looks like to TLS: not TLS.
#[tokio::test]
async fn a_header_on_a_listener_not_configured_for_it_is_not_tls() {
    let world = World::new();
    let (mut peer, io) = duplex(4096);
    peer.write_all(&v2_header(0)).await.expect("send");
    let error = bounded(Acceptor::from(world.server().build()).accept(io))
        .await
        .map(drop)
        .expect_err("refused");
    assert!(matches!(error, HandshakeError::NotTls { .. }), "{error:?}");
}

/// Hostile headers: each ends in a typed error within the deadline, never a panic; one split
/// into 1-byte reads is read whole.
#[tokio::test(start_paused = true)]
async fn hostile_headers_end_in_typed_errors_within_the_deadline() {
    let world = World::new();
    let acceptor = Acceptor::from(world.server().build())
        .with_proxy_protocol(ProxyProtocol::Required, TrustedProxies::any())
        .with_timeout(Duration::from_secs(5));
    let v1 = v1_header();
    let mut v2_bogus_length = v2_header(0);
    v2_bogus_length[14..16].copy_from_slice(&[0xff, 0xff]);
    let mut v2_short_addresses = v2_header(0);
    v2_short_addresses[14..16].copy_from_slice(&[0, 4]);
    let mut wrong_signature = v2_header(0);
    wrong_signature[5] = b'X';
    let oversized_v1 = [b"PROXY TCP4 ".as_slice(), &[b'1'; 300]].concat();
    type Expected = fn(&HandshakeError) -> bool;
    let cases: Vec<(&str, Vec<u8>, bool, Expected)> = vec![
        ("truncated, then FIN", v1[..20].to_vec(), true, |e| {
            matches!(e, HandshakeError::PeerClosed { received: 20, .. })
        }),
        ("truncated, then silence", v1[..20].to_vec(), false, |e| {
            matches!(e, HandshakeError::TimedOut)
        }),
        ("oversized v1", oversized_v1, false, |e| {
            matches!(
                e,
                HandshakeError::ProxyHeader(ProxyHeaderError::TooLong { .. })
            )
        }),
        ("v2 with a bogus length", v2_bogus_length, false, |e| {
            matches!(
                e,
                HandshakeError::ProxyHeader(ProxyHeaderError::TooLong { len: 65551 })
            )
        }),
        (
            "v2 with too short addresses",
            v2_short_addresses,
            false,
            |e| matches!(e, HandshakeError::ProxyHeader(ProxyHeaderError::Malformed)),
        ),
        ("wrong signature", wrong_signature, false, |e| {
            matches!(e, HandshakeError::ProxyHeader(ProxyHeaderError::Missing))
        }),
    ];
    for (label, bytes, fin, expected) in cases {
        let (mut peer, io) = duplex(64 * 1024);
        peer.write_all(&bytes).await.expect("send");
        if fin {
            peer.shutdown().await.expect("FIN");
        }
        let started = tokio::time::Instant::now();
        let failed = acceptor
            .accept(io)
            .recoverable()
            .await
            .map(drop)
            .expect_err(label);
        assert!(expected(&failed.error), "{label}: {:?}", failed.error);
        assert!(started.elapsed() <= Duration::from_secs(5), "{label}");
        assert_eq!(failed.error.alert_sent(), None, "{label}: nothing sent");
    }

    // Split into 1-byte writes, read as they come: the header arrives whole.
    let (mut peer, io) = duplex(1);
    let handshake = tokio::spawn(acceptor.accept(io).recoverable());
    let header = v2_header(40);
    for byte in header {
        peer.write_all(&[byte]).await.expect("byte");
    }
    drop(peer);
    let failed = bounded(handshake)
        .await
        .expect("task")
        .map(drop)
        .expect_err("no TLS followed");
    assert!(
        matches!(failed.error, HandshakeError::PeerClosed { .. }),
        "{:?}",
        failed.error
    );
    assert_eq!(failed.report.forwarded_for, Some(client_addr()));
}

/// The attacks an unauthenticated peer tries on a PROXY server, over loopback TCP, each
/// header followed by a flood of junk (bounded: 3 s or 256 MiB): a v1 line that ends past the
/// 107-byte limit, a v1 signature with no line end, and a v2 header announcing 65,535 bytes.
/// Each is refused within a second of arriving, long before the 10 s deadline, having read no
/// more than a few KiB, whatever keeps coming.
#[tokio::test]
async fn a_flood_behind_a_hostile_header_is_refused_at_once_having_read_a_few_kib() {
    use std::time::Instant;
    use support::transports::{Audited, Probe};
    const FLOOD_TIME: Duration = Duration::from_secs(3);
    const FLOOD_BYTES: usize = 256 << 20;
    let world = World::new();
    let loopback = TrustedProxies::parse(["127.0.0.1"]).expect("an address");
    let acceptor = Acceptor::from(world.server().build())
        .with_proxy_protocol(ProxyProtocol::Required, loopback);
    let v1_late_line_end = [b"PROXY ".as_slice(), &[b'x'; 200], b"\n"].concat();
    let mut v2_huge = b"\r\n\r\n\0\r\nQUIT\n".to_vec();
    v2_huge.extend_from_slice(&[0x21, 0x11, 0xff, 0xff]);
    type Verdict = fn(&HandshakeError) -> bool;
    // The junk that follows: with line ends every 100 bytes, so that a reader waiting for one
    // finds them, or none at all.
    let lines: Vec<u8> = (0..64 * 1024)
        .map(|i| if i % 100 == 99 { b'\n' } else { b'x' })
        .collect();
    let no_line_end = vec![b'x'; 64 * 1024];
    let shapes: [(&str, Vec<u8>, Vec<u8>, Verdict); 3] = [
        (
            "a v1 line ending past the limit",
            v1_late_line_end,
            lines.clone(),
            |e| {
                matches!(
                    e,
                    HandshakeError::ProxyHeader(ProxyHeaderError::TooLong { .. })
                )
            },
        ),
        (
            "a v1 signature with no line end",
            b"PROXY ".to_vec(),
            no_line_end,
            |e| {
                matches!(
                    e,
                    HandshakeError::ProxyHeader(ProxyHeaderError::TooLong { .. })
                )
            },
        ),
        ("a v2 header announcing 65,535 bytes", v2_huge, lines, |e| {
            matches!(
                e,
                HandshakeError::ProxyHeader(ProxyHeaderError::TooLong { len: 65551 })
            )
        }),
    ];
    for (label, header, junk, verdict) in shapes {
        let (mut attacker, server) = support::tcp_pair().await;
        let peer = server.peer_addr().expect("the attacker's address");
        let flood = tokio::spawn(async move {
            let until = Instant::now() + FLOOD_TIME;
            let mut sent = 0;
            if attacker.write_all(&header).await.is_err() {
                return sent;
            }
            while sent < FLOOD_BYTES && Instant::now() < until {
                let left = until.saturating_duration_since(Instant::now());
                match tokio::time::timeout(left, attacker.write_all(&junk)).await {
                    Ok(Ok(())) => sent += junk.len(),
                    _ => break,
                }
            }
            sent
        });
        let probe = Probe::new();
        let started = Instant::now();
        let failed = bounded(
            acceptor
                .accept_from(Audited::new(server, &probe), &peer)
                .recoverable(),
        )
        .await
        .map(drop)
        .expect_err(label);
        let elapsed = started.elapsed();
        drop(failed.io);
        let read = probe.bytes_read();
        assert!(verdict(&failed.error), "{label}: {:?}", failed.error);
        assert!(
            elapsed < Duration::from_secs(1),
            "{label}: the verdict took {elapsed:?}"
        );
        assert!(read <= 4 * 1024, "{label}: the server read {read} bytes");
        bounded(flood).await.expect("the flood ends");
    }
}

mod fuzz {
    use super::*;
    use proptest::prelude::*;
    use std::io::{self, Read};
    use tokio_tls_handshake::proxy::{ProxyHeaderReader, MAX_PROXY_V2_LEN};

    /// Bytes given out in the chunks of a script, each followed by "would block", then EOF.
    struct Chunks {
        chunks: Vec<Vec<u8>>,
        blocked: bool,
        taken: usize,
    }

    impl Read for Chunks {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            if std::mem::take(&mut self.blocked) {
                return Err(io::ErrorKind::WouldBlock.into());
            }
            let Some(chunk) = self.chunks.first_mut() else {
                return Ok(0);
            };
            let n = buf.len().min(chunk.len());
            buf[..n].copy_from_slice(&chunk[..n]);
            chunk.drain(..n);
            if chunk.is_empty() {
                self.chunks.remove(0);
                self.blocked = true;
            }
            self.taken += n;
            Ok(n)
        }
    }

    fn signature(v2: bool) -> Vec<u8> {
        if v2 {
            b"\r\n\r\n\0\r\nQUIT\n".to_vec()
        } else {
            b"PROXY ".to_vec()
        }
    }

    proptest! {
        /// Any bytes after a PROXY signature, in any split: the reader reads no more than the
        /// longest header plus one read, and every input that ends gets a typed verdict (a
        /// header, or a `ProxyHeader` / `PeerClosed` error), never a panic or a wait.
        #[test]
        fn the_reader_gives_a_bounded_typed_verdict(
            v2 in any::<bool>(),
            tail in proptest::collection::vec(any::<u8>(), 0..6000),
            cuts in proptest::collection::vec(1usize..700, 0..12),
        ) {
            let mut bytes = signature(v2);
            bytes.extend_from_slice(&tail);
            let mut chunks = Vec::new();
            let mut rest = &bytes[..];
            for cut in cuts {
                let (head, tail) = rest.split_at(cut.min(rest.len()));
                if !head.is_empty() {
                    chunks.push(head.to_vec());
                }
                rest = tail;
            }
            if !rest.is_empty() {
                chunks.push(rest.to_vec());
            }
            let mut io = Chunks { chunks, blocked: false, taken: 0 };
            let mut reader =
                ProxyHeaderReader::new(ProxyProtocol::Required, &TrustedProxies::any(), None);
            let verdict = loop {
                match reader.read(&mut io) {
                    Ok(None) => continue, // would block: the next chunk comes
                    other => break other,
                }
            };
            prop_assert!(io.taken <= MAX_PROXY_V2_LEN + 1024, "read {} bytes", io.taken);
            match verdict {
                Ok(Some(header)) => prop_assert!(header.received.len() <= 1024),
                Err(HandshakeError::ProxyHeader(_) | HandshakeError::PeerClosed { .. }) => {}
                other => prop_assert!(false, "not a verdict: {other:?}"),
            }
        }

        /// Through the acceptor on a paused clock: random bytes after a signature, sent in
        /// pieces, then EOF.
        /// The verdict comes at once (no time passes), it is a PROXY header error or a closed
        /// peer (a header that parsed, then EOF before TLS), never a timeout, and nothing is
        /// sent back.
        #[test]
        fn random_headers_end_in_a_verdict_at_once(v2 in any::<bool>(), tail in proptest::collection::vec(any::<u8>(), 0..300)) {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .start_paused(true)
                .build()
                .expect("runtime");
            let world = World::new();
            let (error, elapsed, alert) = runtime.block_on(async {
                let mut bytes = signature(v2);
                bytes.extend_from_slice(&tail);
                let (mut peer, io) = duplex(64 * 1024);
                // In pieces from another task, so the reader waits between them and must be
                // woken: a lost wake-up would leave it to the deadline.
                let peer = tokio::spawn(async move {
                    for piece in bytes.chunks(7) {
                        if peer.write_all(piece).await.is_err() {
                            return;
                        }
                        tokio::task::yield_now().await;
                    }
                });
                let acceptor = Acceptor::from(world.server().build())
                    .with_proxy_protocol(ProxyProtocol::Required, TrustedProxies::any())
                    .with_timeout(Duration::from_secs(5));
                let started = tokio::time::Instant::now();
                let error = acceptor.accept(io).await.map(drop).expect_err("no TLS follows");
                let elapsed = started.elapsed();
                peer.await.expect("peer task");
                let alert = error.alert_sent();
                (error, elapsed, alert)
            });
            prop_assert!(
                matches!(
                    error,
                    HandshakeError::ProxyHeader(_) | HandshakeError::PeerClosed { .. }
                ),
                "{error:?}"
            );
            prop_assert_eq!(elapsed, Duration::ZERO);
            prop_assert_eq!(alert, None);
        }
    }
}
