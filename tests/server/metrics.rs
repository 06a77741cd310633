//! The `metrics` feature, recorded by `metrics-util`'s debugging recorder: every handshake
//! outcome counted once with the documented labels, a duration for each, label values only
//! from the documented sets (a peer's ALPN string included), and the listener's in-flight
//! gauge, evictions, drains, cut-offs and accept errors.

#![cfg(feature = "metrics")]

use crate::support;

use std::{
    collections::BTreeMap,
    future::Future,
    io,
    pin::Pin,
    task::{Context, Poll},
    time::Duration,
};

use futures::StreamExt;
use metrics_util::{
    debugging::{DebugValue, DebuggingRecorder},
    MetricKind,
};
use rustls::{server::ClientHello, AlertDescription, ServerConfig};
use support::{
    memory_incoming, name, peer_addr, tcp_pair, transports::Reported, Ca, Version, World,
};
use tokio::{io::AsyncWriteExt, sync::mpsc};
use tokio_tls_handshake::{
    accept::Choice,
    listener::{ListenError, TlsListener},
    metrics::{
        HANDSHAKES, HANDSHAKE_DURATION, LISTENER_ACCEPT_ERRORS, LISTENER_DRAINS,
        LISTENER_DRAIN_CUT_OFFS, LISTENER_EVICTIONS, LISTENER_IN_FLIGHT,
    },
    Acceptor, Connector, HandshakeError,
};

/// Runs `test` on a current-thread runtime with a debugging recorder for this thread (every
/// task of the runtime runs here), and returns what was recorded: per metric and its labels
/// (sorted `key=value` pairs), the value.
fn recorded<F: Future<Output = ()>>(test: impl FnOnce() -> F) -> BTreeMap<String, DebugValue> {
    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    metrics::with_local_recorder(&recorder, || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a runtime");
        runtime.block_on(test());
    });
    snapshotter
        .snapshot()
        .into_vec()
        .into_iter()
        .map(|(key, _, _, value)| {
            let kind = key.kind();
            let key = key.key();
            let mut labels: Vec<String> = key
                .labels()
                .map(|l| format!("{}={}", l.key(), l.value()))
                .collect();
            labels.sort();
            let kind = match kind {
                MetricKind::Counter => "counter",
                MetricKind::Gauge => "gauge",
                MetricKind::Histogram => "histogram",
            };
            (
                format!("{kind} {}{{{}}}", key.name(), labels.join(",")),
                value,
            )
        })
        .collect()
}

/// The handshake counter's series: `role,outcome,version,alpn` → count.
fn handshakes(all: &BTreeMap<String, DebugValue>) -> BTreeMap<String, u64> {
    let prefix = format!("counter {HANDSHAKES}{{");
    all.iter()
        .filter_map(|(key, value)| {
            let labels = key.strip_prefix(&prefix)?.strip_suffix('}')?;
            let DebugValue::Counter(count) = value else {
                return None;
            };
            // alpn=..,outcome=..,role=..,version=.. → role,outcome,version,alpn
            let get = |name: &str| {
                labels
                    .split(',')
                    .find_map(|l| l.strip_prefix(&format!("{name}=")))
                    .unwrap_or("?")
                    .to_string()
            };
            let series = [get("role"), get("outcome"), get("version"), get("alpn")].join(",");
            Some((series, *count))
        })
        .collect()
}

#[test]
fn every_outcome_is_counted_once_with_labels_from_the_documented_sets() {
    let all = recorded(|| async {
        let world = World::new();
        let run = |client: Connector, acceptor: Acceptor| async move {
            let (c, s) = tcp_pair().await;
            let _ = support::bounded(async {
                tokio::join!(client.connect(name("localhost"), c), acceptor.accept(s))
            })
            .await;
        };
        // Done: TLS 1.3 with h2, and TLS 1.2 without ALPN.
        run(
            Connector::from(world.client().alpn(&["h2"]).build()),
            Acceptor::from(world.server().alpn(&["h2", "http/1.1"]).build()),
        )
        .await;
        run(
            Connector::from(world.client().version(Version::Tls12).build()),
            Acceptor::from(world.server().build()),
        )
        .await;
        // An ALPN protocol outside the known ones is `other`, never its own value.
        run(
            Connector::from(world.client().alpn(&["peer-chosen/9"]).build()),
            Acceptor::from(world.server().alpn(&["peer-chosen/9"]).build()),
        )
        .await;
        // The client rejects the server's certificate (protocol, both sides).
        let stranger = Ca::new("unknown");
        run(
            Connector::from(world.client().trust(&stranger).build()),
            Acceptor::from(world.server().build()),
        )
        .await;
        // The server's chooser refuses (refused; the client gets the alert: protocol).
        let refusing = Acceptor::from(world.server().build()).with_chooser(
            |_: &ClientHello<'_>, _: &std::sync::Arc<ServerConfig>| {
                Choice::Refuse(AlertDescription::UnrecognisedName)
            },
        );
        run(Connector::from(world.client().build()), refusing).await;
        // Plaintext to a server; a peer that leaves; a silent peer past the deadline.
        let acceptor =
            Acceptor::from(world.server().build()).with_timeout(Duration::from_millis(50));
        let (mut c, s) = tcp_pair().await;
        c.write_all(b"GET / HTTP/1.1\r\n\r\n").await.expect("write");
        assert!(matches!(
            acceptor.accept(s).await,
            Err(HandshakeError::NotTls { .. })
        ));
        let (c, s) = tcp_pair().await;
        drop(c);
        assert!(matches!(
            acceptor.accept(s).await,
            Err(HandshakeError::PeerClosed { .. })
        ));
        let (_silent, s) = tcp_pair().await;
        assert!(matches!(
            acceptor.accept(s).await,
            Err(HandshakeError::TimedOut)
        ));
    });
    let counted = handshakes(&all);
    let expected: BTreeMap<String, u64> = [
        ("client,done,tls1.3,h2", 1),
        ("server,done,tls1.3,h2", 1),
        ("client,done,tls1.2,none", 1),
        ("server,done,tls1.2,none", 1),
        ("client,done,tls1.3,other", 1),
        ("server,done,tls1.3,other", 1),
        ("client,protocol,tls1.3,none", 1),
        ("server,protocol,tls1.3,none", 1),
        ("client,protocol,none,none", 1),
        ("server,refused,none,none", 1),
        ("server,not_tls,none,none", 1),
        ("server,peer_closed,none,none", 1),
        ("server,timed_out,none,none", 1),
    ]
    .into_iter()
    .map(|(series, count)| (series.to_string(), count))
    .collect();
    assert_eq!(counted, expected, "{all:#?}");

    // One duration per handshake, under the same role and outcome.
    let durations: u64 = all
        .iter()
        .filter(|(key, _)| key.starts_with(&format!("histogram {HANDSHAKE_DURATION}{{")))
        .map(|(_, value)| match value {
            DebugValue::Histogram(values) => values.len() as u64,
            _ => 0,
        })
        .sum();
    assert_eq!(durations, expected.values().sum::<u64>());
    let timed_out =
        &all[&format!("histogram {HANDSHAKE_DURATION}{{outcome=timed_out,role=server}}")];
    let DebugValue::Histogram(values) = timed_out else {
        panic!("a histogram");
    };
    assert!(values[0].0 >= 0.05, "the deadline's 50 ms: {values:?}");
}

/// Polls `listener` until its next item, for at most the test bound.
async fn next<I: tokio_tls_handshake::listener::Incoming>(
    listener: &mut TlsListener<I>,
) -> Option<
    Result<tokio_tls_handshake::listener::Established<I::Io, I::Addr>, ListenError<I::Io, I::Addr>>,
>
where
    I::Io: Send + 'static,
{
    support::bounded(listener.next()).await
}

#[test]
fn the_listener_records_in_flight_evictions_drains_and_accept_errors() {
    let all = recorded(|| async {
        let world = World::new();
        let (connections, incoming) = memory_incoming::<Reported>();
        let acceptor = Acceptor::from(world.server().build());
        let mut listener = TlsListener::from_stream(incoming, acceptor).with_max_in_flight(1);
        let handle = listener.handle();
        let (reads, mut read) = mpsc::unbounded_channel();

        // A slow peer fills the cap: one byte, read by its handshake.
        let (mut slow, server) = tokio::io::duplex(16 * 1024);
        slow.write_all(&[22]).await.expect("one byte");
        let io = Reported {
            io: server,
            port: 1,
            reads: reads.clone(),
        };
        connections.send(Ok((io, peer_addr(1)))).expect("queue");
        support::bounded(std::future::poll_fn(|cx| {
            assert!(
                listener.poll_next_unpin(cx).is_pending(),
                "nothing can finish"
            );
            match read.poll_recv(cx) {
                Poll::Ready(Some(1)) => Poll::Ready(()),
                _ => Poll::Pending,
            }
        }))
        .await;

        // A good client arrives: the slow peer is shed for it.
        let (client, server) = tokio::io::duplex(16 * 1024);
        let mut good = Connector::from(world.client().build()).connect(name("localhost"), client);
        let mut cx = Context::from_waker(std::task::Waker::noop());
        assert!(
            Pin::new(&mut good).poll(&mut cx).is_pending(),
            "hello written"
        );
        let good = tokio::spawn(good);
        let io = Reported {
            io: server,
            port: 2,
            reads: reads.clone(),
        };
        connections.send(Ok((io, peer_addr(2)))).expect("queue");
        let (mut established, mut evicted) = (0, 0);
        while established + evicted < 2 {
            match next(&mut listener).await.expect("an item") {
                Ok(_) => established += 1,
                Err(ListenError::Evicted { .. }) => evicted += 1,
                Err(e) => panic!("{e}"),
            }
        }
        support::bounded(good)
            .await
            .expect("task")
            .expect("the good client");

        // Two accept errors: one connection's, and the process out of descriptors.
        connections
            .send(Err(io::Error::from(io::ErrorKind::ConnectionAborted)))
            .expect("queue");
        connections
            .send(Err(io::Error::from_raw_os_error(libc::EMFILE)))
            .expect("queue");
        for _ in 0..2 {
            assert!(matches!(
                next(&mut listener).await,
                Some(Err(ListenError::Accept(_)))
            ));
        }

        // A silent peer when a drain with no grace begins: cut off.
        let (_silent, server) = tokio::io::duplex(16 * 1024);
        let io = Reported {
            io: server,
            port: 3,
            reads,
        };
        connections.send(Ok((io, peer_addr(3)))).expect("queue");
        support::bounded(std::future::poll_fn(|cx| {
            assert!(listener.poll_next_unpin(cx).is_pending());
            if handle.in_flight() == 1 {
                Poll::Ready(())
            } else {
                cx.waker().wake_by_ref();
                Poll::Pending
            }
        }))
        .await;
        handle.drain(Duration::ZERO);
        assert!(matches!(
            next(&mut listener).await,
            Some(Err(ListenError::Drained { .. }))
        ));
        assert!(next(&mut listener).await.is_none(), "drained");
    });
    let counter = |key: &str| match all.get(&format!("counter {key}")) {
        Some(DebugValue::Counter(n)) => *n,
        other => panic!("{key}: {other:?} in {all:#?}"),
    };
    assert_eq!(counter(&format!("{LISTENER_EVICTIONS}{{}}")), 1);
    assert_eq!(counter(&format!("{LISTENER_DRAINS}{{}}")), 1);
    assert_eq!(counter(&format!("{LISTENER_DRAIN_CUT_OFFS}{{}}")), 1);
    assert_eq!(
        counter(&format!("{LISTENER_ACCEPT_ERRORS}{{kind=connection}}")),
        1
    );
    assert_eq!(
        counter(&format!(
            "{LISTENER_ACCEPT_ERRORS}{{kind=resource_exhaustion}}"
        )),
        1
    );
    let counted = handshakes(&all);
    assert_eq!(counted["server,evicted,none,none"], 1);
    assert_eq!(counted["server,drained,none,none"], 1);
    assert_eq!(counted["server,done,tls1.3,none"], 1);
    assert_eq!(counted["client,done,tls1.3,none"], 1);
    assert_eq!(counted.values().sum::<u64>(), 4, "{counted:?}");
    // Three tasks started and ended: the gauge is back to zero.
    assert_eq!(
        all[&format!("gauge {LISTENER_IN_FLIGHT}{{}}")],
        DebugValue::Gauge(0.0.into())
    );
}
