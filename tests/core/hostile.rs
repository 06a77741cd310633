//! Hostile bytes: whatever a peer sends ends in success or a typed error, within a bound of
//! polls and time, with bounded buffering, the transport handed back, and the right alert
//! (or none).

use crate::support;

use std::time::Duration;

use rustls::{AlertDescription, Error as TlsError, InvalidMessage, PeerMisbehaved};
use support::{
    name,
    transports::{audit, Audit, Audited, Probe},
    World,
};
use tokio::io::{duplex, AsyncReadExt, AsyncWriteExt, DuplexStream};
use tokio::time::Instant;
use tokio_tls_handshake::{Acceptor, Connector, Failed, HandshakeError};

/// The most a handshake may read from a hostile peer: rustls' 64 KiB handshake-message
/// limit, plus one read and a record header.
const MAX_READ: u64 = 64 * 1024 + 4096 + 5;
const MAX_POLLS: u32 = 200;
const DEADLINE: Duration = Duration::from_secs(5);

#[derive(Clone, Copy, PartialEq)]
enum After {
    /// The peer closes its side after sending.
    Close,
    /// The peer keeps the connection open and silent.
    Stay,
}

struct Outcome {
    error: HandshakeError,
    /// What the peer received from us.
    peer_got: Vec<u8>,
    polls: u32,
    read: u64,
    elapsed: Duration,
}

/// The peer: writes `bytes` (its writes may fail once we give up), maybe closes, and reads
/// everything we send until we drop the transport.
async fn peer(mut io: DuplexStream, script: Vec<Vec<u8>>, after: After) -> Vec<u8> {
    let mut got = Vec::new();
    for chunk in script {
        if chunk.is_empty() {
            // An empty chunk means: first read what the other side sent.
            let mut buf = vec![0u8; 64 * 1024];
            if let Ok(n) = io.read(&mut buf).await {
                got.extend_from_slice(&buf[..n]);
            }
            continue;
        }
        if io.write_all(&chunk).await.is_err() {
            break;
        }
    }
    if after == After::Close {
        let _ = io.shutdown().await;
    }
    let _ = io.read_to_end(&mut got).await;
    got
}

/// Our server against a peer following `script`.
async fn server_meets(script: Vec<Vec<u8>>, after: After) -> Outcome {
    let world = World::new();
    let acceptor = Acceptor::from(world.server().build()).with_timeout(DEADLINE);
    let (ours, theirs) = duplex(64 * 1024);
    let peer = tokio::spawn(peer(theirs, script, after));
    let probe = Probe::new();
    let started = Instant::now();
    let handshake = acceptor.accept(Audited::new(ours, &probe)).recoverable();
    let (result, audit) = audit(handshake, std::slice::from_ref(&probe)).await;
    let Err(failed) = result else {
        panic!("hostile bytes completed a server handshake");
    };
    finish(failed, peer, audit, &probe, started).await
}

/// Our client against a server peer following `script` (an empty chunk first reads our
/// ClientHello).
async fn client_meets(script: Vec<Vec<u8>>, after: After) -> Outcome {
    let world = World::new();
    let connector = Connector::from(world.client().build()).with_timeout(DEADLINE);
    let (ours, theirs) = duplex(64 * 1024);
    let peer = tokio::spawn(peer(theirs, script, after));
    let probe = Probe::new();
    let started = Instant::now();
    let handshake = connector
        .connect(name("localhost"), Audited::new(ours, &probe))
        .recoverable();
    let (result, audit) = audit(handshake, std::slice::from_ref(&probe)).await;
    let Err(failed) = result else {
        panic!("hostile bytes completed a client handshake");
    };
    finish(failed, peer, audit, &probe, started).await
}

async fn finish(
    failed: Failed<Audited<DuplexStream>>,
    peer: tokio::task::JoinHandle<Vec<u8>>,
    audit: Audit,
    probe: &Probe,
    started: Instant,
) -> Outcome {
    let elapsed = started.elapsed();
    // The transport came back; dropping it lets the peer see EOF.
    drop(failed.io);
    let peer_got = peer.await.expect("peer task");
    let outcome = Outcome {
        error: failed.error,
        peer_got,
        polls: audit.polls,
        read: probe.bytes_read(),
        elapsed,
    };
    assert_eq!(audit.violations, 0, "waker contract: {:?}", outcome.error);
    assert!(
        outcome.polls <= MAX_POLLS,
        "{} polls: {:?}",
        outcome.polls,
        outcome.error
    );
    assert!(
        outcome.read <= MAX_READ,
        "read {} bytes: {:?}",
        outcome.read,
        outcome.error
    );
    assert!(
        outcome.elapsed <= DEADLINE,
        "took {:?}: {:?}",
        outcome.elapsed,
        outcome.error
    );
    outcome
}

impl Outcome {
    fn not_tls(&self) -> &Self {
        assert!(
            matches!(self.error, HandshakeError::NotTls { .. }),
            "{:?}",
            self.error
        );
        assert!(
            self.peer_got.is_empty(),
            "nothing is sent to a plaintext peer"
        );
        self
    }

    /// A protocol error whose fatal alert is `expected`, and reached the peer as the last
    /// record it got: a plaintext alert with that description, or, once TLS 1.3 keys are in
    /// use, a record of an encrypted alert's size (19 bytes: the alert, its content type, the
    /// tag), whose description only the peer can read.
    fn rejected(&self, expected: AlertDescription) {
        let HandshakeError::Protocol {
            alert_sent,
            alert_received: None,
            ..
        } = &self.error
        else {
            panic!("expected a local protocol error, got {:?}", self.error);
        };
        assert_eq!(*alert_sent, Some(expected), "{:?}", self.error);
        let records = support::records(&self.peer_got);
        let last = records.last().expect("the peer got a record");
        match last.as_slice() {
            [21, 3, _, 0, 2, 2, description] => {
                assert_eq!(
                    AlertDescription::from(*description),
                    expected,
                    "on the wire"
                )
            }
            [23, 3, 3, 0, 19, ..] => {}
            other => panic!("the last record is no alert: {other:?}"),
        }
        assert_eq!(
            records.iter().map(Vec::len).sum::<usize>(),
            self.peer_got.len(),
            "nothing after the alert"
        );
    }

    fn peer_closed(&self) -> u64 {
        let HandshakeError::PeerClosed { received, .. } = self.error else {
            panic!("expected PeerClosed, got {:?}", self.error);
        };
        assert!(self.peer_got.is_empty() || self.peer_got[0] == 22);
        received
    }
}

fn record(content_type: u8, body: &[u8]) -> Vec<u8> {
    let len = u16::try_from(body.len()).expect("record body fits");
    let mut r = vec![content_type, 3, 3];
    r.extend_from_slice(&len.to_be_bytes());
    r.extend_from_slice(body);
    r
}

/// A real ClientHello, as rustls writes it.
fn client_hello() -> Vec<u8> {
    support::client_hello(&World::new())
}

/// The ClientHello's handshake message re-framed into records of `size` bytes each.
fn fragmented(hello: &[u8], size: usize) -> Vec<u8> {
    hello[5..]
        .chunks(size)
        .flat_map(|c| record(22, c))
        .collect()
}

// ---- server side ----

#[tokio::test(start_paused = true)]
async fn server_plaintext_http_get_and_connect() {
    for request in [
        &b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"[..],
        b"CONNECT example.com:443 HTTP/1.1\r\n\r\n",
    ] {
        let out = server_meets(vec![request.to_vec()], After::Stay).await;
        out.not_tls();
    }
}

#[tokio::test(start_paused = true)]
async fn server_sslv2_hello_zeros_unknown_type_and_version_0x0200() {
    let sslv2 = vec![
        0x80, 0x2e, 0x01, 0x03, 0x01, 0x00, 0x15, 0x00, 0x00, 0x00, 0x10,
    ];
    let zeros = vec![0u8; 64];
    let unknown_type = vec![0x30, 3, 3, 0, 1, 0];
    let version_0200 = vec![22, 2, 0, 0, 4, 1, 0, 0, 0];
    for bytes in [sslv2, zeros, unknown_type, version_0200] {
        server_meets(vec![bytes], After::Stay).await.not_tls();
    }
}

#[tokio::test(start_paused = true)]
async fn server_oversized_record_header() {
    // Claims 2^14 + 2048 + 1 bytes: more than any TLS record may carry.
    let out = server_meets(vec![vec![22, 3, 1, 0x48, 0x01]], After::Stay).await;
    out.rejected(AlertDescription::DecodeError);
}

#[tokio::test(start_paused = true)]
async fn server_zero_length_handshake_record() {
    let out = server_meets(vec![record(22, &[])], After::Stay).await;
    out.rejected(AlertDescription::DecodeError);
}

#[tokio::test(start_paused = true)]
async fn server_application_data_before_the_client_hello() {
    let out = server_meets(vec![record(23, b"hello")], After::Stay).await;
    out.rejected(AlertDescription::UnexpectedMessage);
}

#[tokio::test(start_paused = true)]
async fn server_many_change_cipher_specs_before_the_client_hello() {
    let ccs: Vec<u8> = (0..100).flat_map(|_| record(20, &[1])).collect();
    let out = server_meets(vec![ccs], After::Stay).await;
    out.rejected(AlertDescription::UnexpectedMessage);
}

#[tokio::test(start_paused = true)]
async fn server_thousands_of_warning_alerts() {
    let warnings: Vec<u8> = (0..5000).flat_map(|_| record(21, &[1, 90])).collect();
    let out = server_meets(vec![warnings], After::Stay).await;
    // rustls stops counting at its limit and, for this error, queues no alert.
    assert!(
        matches!(
            out.error,
            HandshakeError::Protocol {
                error: TlsError::PeerMisbehaved(PeerMisbehaved::TooManyWarningAlertsReceived),
                alert_sent: None,
                ..
            }
        ),
        "{:?}",
        out.error
    );
    assert!(
        out.read < 5000 * 7,
        "stopped before reading them all: {}",
        out.read
    );
}

#[tokio::test(start_paused = true)]
async fn server_client_hello_claiming_16_mib() {
    let mut body = vec![1, 0xff, 0xff, 0xff];
    body.resize(16 * 1024, 0x41);
    let flood: Vec<u8> = (0..8).flat_map(|_| record(22, &body)).collect();
    let mut first = record(22, &body);
    first.extend(flood);
    let out = server_meets(vec![first], After::Stay).await;
    // Refused from the header, without buffering toward 16 MiB; rustls queues no alert.
    assert!(
        matches!(
            out.error,
            HandshakeError::Protocol {
                error: TlsError::InvalidMessage(InvalidMessage::HandshakePayloadTooLarge),
                alert_sent: None,
                ..
            }
        ),
        "{:?}",
        out.error
    );
    assert!(out.read < 32 * 1024, "read {}", out.read);
}

#[tokio::test(start_paused = true)]
async fn server_client_hello_in_one_byte_records_is_accepted() {
    // Legal fragmentation: the server answers with its flight, then the peer leaves.
    let out = server_meets(vec![fragmented(&client_hello(), 1)], After::Close).await;
    assert!(out.peer_closed() > 0);
    assert_eq!(out.peer_got.first(), Some(&22), "a ServerHello went out");
}

#[tokio::test(start_paused = true)]
async fn server_garbage_after_the_client_hello() {
    let mut bytes = client_hello();
    bytes.extend(record(22, &[0xff, 0, 0, 1, 0]));
    let out = server_meets(vec![bytes], After::Stay).await;
    out.rejected(AlertDescription::BadRecordMac);
}

#[tokio::test(start_paused = true)]
async fn server_two_client_hellos() {
    let hello = client_hello();
    let out = server_meets(vec![[hello.clone(), hello].concat()], After::Stay).await;
    out.rejected(AlertDescription::BadRecordMac);
}

#[tokio::test(start_paused = true)]
async fn server_fatal_alert_first() {
    let out = server_meets(vec![record(21, &[2, 40])], After::Stay).await;
    assert_eq!(
        out.error.alert_received(),
        Some(AlertDescription::HandshakeFailure)
    );
    assert_eq!(out.error.alert_sent(), None);
    assert!(out.peer_got.is_empty(), "no alert answers an alert");
}

#[tokio::test(start_paused = true)]
async fn server_bare_record_header_then_fin() {
    let out = server_meets(vec![vec![22, 3, 1, 0, 100]], After::Close).await;
    assert_eq!(out.peer_closed(), 5);
    assert!(out.peer_got.is_empty());
}

#[tokio::test(start_paused = true)]
async fn server_half_a_client_hello_then_fin() {
    let hello = client_hello();
    let half = hello[..hello.len() / 2].to_vec();
    let out = server_meets(vec![half.clone()], After::Close).await;
    assert_eq!(out.peer_closed(), half.len() as u64);
}

#[tokio::test(start_paused = true)]
async fn server_peer_that_never_reads_times_out() {
    // Our flight cannot drain into a 16-byte pipe nobody reads.
    let world = World::new();
    let acceptor = Acceptor::from(world.server().build()).with_timeout(DEADLINE);
    let (ours, mut theirs) = duplex(16);
    let hello = client_hello();
    let writer = tokio::spawn(async move {
        theirs.write_all(&hello).await.expect("send hello");
        theirs // held, never read
    });
    let started = Instant::now();
    let error = acceptor.accept(ours).await.expect_err("cannot finish");
    assert!(matches!(error, HandshakeError::TimedOut), "{error:?}");
    assert_eq!(started.elapsed(), DEADLINE);
    drop(writer.await);
}

#[tokio::test(start_paused = true)]
async fn server_silent_peer_times_out() {
    let out = server_meets(Vec::new(), After::Stay).await;
    assert!(
        matches!(out.error, HandshakeError::TimedOut),
        "{:?}",
        out.error
    );
    assert_eq!(out.elapsed, DEADLINE);
}

// ---- client side ----

#[tokio::test(start_paused = true)]
async fn client_gets_http_or_zeros_back() {
    for reply in [b"HTTP/1.1 400 Bad Request\r\n\r\n".to_vec(), vec![0u8; 32]] {
        let out = client_meets(vec![Vec::new(), reply], After::Stay).await;
        assert!(
            matches!(out.error, HandshakeError::NotTls { .. }),
            "{:?}",
            out.error
        );
    }
}

#[tokio::test(start_paused = true)]
async fn client_gets_a_garbage_record() {
    let out = client_meets(
        vec![Vec::new(), record(22, &[0xff, 0, 0, 1, 0])],
        After::Stay,
    )
    .await;
    out.rejected(AlertDescription::UnexpectedMessage);
    assert_eq!(
        out.peer_got.first(),
        Some(&22),
        "the peer got our hello, then the alert"
    );
}

#[tokio::test(start_paused = true)]
async fn client_gets_a_fatal_alert() {
    let out = client_meets(vec![Vec::new(), record(21, &[2, 70])], After::Stay).await;
    assert_eq!(
        out.error.alert_received(),
        Some(AlertDescription::ProtocolVersion)
    );
}

#[tokio::test(start_paused = true)]
async fn client_gets_an_oversized_record_header() {
    let out = client_meets(vec![Vec::new(), vec![22, 3, 3, 0xff, 0xff]], After::Stay).await;
    out.rejected(AlertDescription::DecodeError);
}

#[tokio::test(start_paused = true)]
async fn client_gets_half_a_server_hello_then_fin() {
    let out = client_meets(
        vec![Vec::new(), vec![22, 3, 3, 0, 90, 2, 0, 0, 86, 3, 3]],
        After::Close,
    )
    .await;
    assert_eq!(out.peer_closed(), 11);
}

#[tokio::test(start_paused = true)]
async fn client_gets_application_data_instead_of_a_server_hello() {
    let out = client_meets(vec![Vec::new(), record(23, b"early")], After::Stay).await;
    out.rejected(AlertDescription::UnexpectedMessage);
}

// ---- resets at each flight, over TCP ----

fn assert_reset(error: &HandshakeError) {
    match error {
        HandshakeError::Transport(e) => assert_eq!(e.kind(), std::io::ErrorKind::ConnectionReset),
        other => panic!("expected a reset, got {other:?}"),
    }
}

#[tokio::test]
async fn rst_after_each_flight() {
    let world = World::new();
    // The client resets right after our server's flight reached it.
    let (client_tcp, server_tcp) = support::tcp_pair().await;
    let hello = client_hello();
    let peer = tokio::spawn(async move {
        let mut tcp = client_tcp;
        tcp.write_all(&hello).await.expect("hello");
        let mut flight = [0u8; 512];
        let _ = tcp.read(&mut flight).await;
        tcp.set_zero_linger().expect("linger 0");
    });
    let acceptor = Acceptor::from(world.server().build());
    let server = support::bounded(async {
        let result = acceptor.accept(server_tcp).await;
        peer.await.expect("peer");
        result
    });
    assert_reset(&server.await.expect_err("reset"));

    // The server resets right after reading our ClientHello.
    let (client_tcp, server_tcp) = support::tcp_pair().await;
    let peer = tokio::spawn(async move {
        let mut tcp = server_tcp;
        let mut hello = [0u8; 5];
        tcp.read_exact(&mut hello).await.expect("hello header");
        let len = usize::from(u16::from_be_bytes([hello[3], hello[4]]));
        let mut body = vec![0u8; len];
        tcp.read_exact(&mut body).await.expect("hello body");
        tcp.set_zero_linger().expect("linger 0");
    });
    let connector = Connector::from(world.client().build());
    let error = support::bounded(connector.connect(name("localhost"), client_tcp))
        .await
        .expect_err("reset");
    peer.await.expect("peer");
    assert_reset(&error);
}
