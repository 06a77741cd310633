//! The listener's books: a cap that sheds slow peers and never the new ones, open transports
//! bounded under a flood and under a slow consumer, the graceful drain, `spawn_local` for
//! transports that are not `Send`, and a runtime without timers refused at construction.

use crate::support;

use std::{
    collections::BTreeSet,
    future::Future,
    io,
    net::SocketAddr,
    pin::Pin,
    rc::Rc,
    task::{Context, Poll},
    time::Duration,
};

use futures::StreamExt;
use support::{
    bounded, listen, memory_incoming, name, peer_addr,
    transports::{delegate_read, delegate_write, Live, LiveCount, Reported},
    World,
};
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt, DuplexStream},
    net::TcpStream,
    sync::mpsc,
};
use tokio_tls_handshake::{
    listener::{ListenError, TlsListener},
    Acceptor, Connector,
};

/// The scenario: the cap is full of peers that sent one byte each; four good clients
/// whose whole ClientHello is already waiting arrive together. The slow peers go, and every
/// good client completes (a measure of "least progress" that counts bytes received shed the
/// good clients, unread, instead).
#[tokio::test]
async fn a_burst_of_good_clients_sheds_the_slow_peers_and_not_itself() {
    let world = World::new();
    let (connections, incoming) = memory_incoming::<Reported>();
    let acceptor = Acceptor::from(world.server().build());
    let mut listener = TlsListener::from_stream(incoming, acceptor).with_max_in_flight(4);
    let (reads, mut read) = mpsc::unbounded_channel();

    let mut slow_peers = Vec::new();
    for port in 1..=4 {
        let (mut client, server) = tokio::io::duplex(16 * 1024);
        client.write_all(&[22]).await.expect("one byte");
        slow_peers.push(client);
        let io = Reported {
            io: server,
            port,
            reads: reads.clone(),
        };
        connections.send(Ok((io, peer_addr(port)))).expect("queue");
    }
    // Every slow peer's byte has been read: each had its chance.
    let mut read_from = BTreeSet::new();
    bounded(std::future::poll_fn(|cx| {
        if listener.poll_next_unpin(cx).is_ready() {
            panic!("nothing can finish yet");
        }
        while let Poll::Ready(Some(port)) = read.poll_recv(cx) {
            read_from.insert(port);
        }
        if read_from.len() == 4 {
            Poll::Ready(())
        } else {
            Poll::Pending
        }
    }))
    .await;

    let connector = Connector::from(world.client().build());
    let mut good_clients = Vec::new();
    let mut good_servers = Vec::new();
    for port in 11..=14 {
        let (client, server) = tokio::io::duplex(16 * 1024);
        let mut handshake = connector.connect(name("localhost"), client);
        // Its ClientHello is written before the listener sees the connection.
        let mut cx = Context::from_waker(std::task::Waker::noop());
        assert!(Pin::new(&mut handshake).poll(&mut cx).is_pending());
        good_clients.push(tokio::spawn(handshake));
        good_servers.push(Reported {
            io: server,
            port,
            reads: reads.clone(),
        });
    }
    for (server, port) in good_servers.into_iter().zip(11..=14) {
        connections
            .send(Ok((server, peer_addr(port))))
            .expect("queue");
    }

    let (mut established, mut evicted) = (BTreeSet::new(), BTreeSet::new());
    while established.len() < 4 {
        match bounded(listener.accept()).await.expect("an item") {
            Ok((_, peer)) => established.insert(peer.port()),
            // An evicted transport is closed at once: the variant holds none.
            Err(ListenError::Evicted { peer }) => evicted.insert(peer.port()),
            Err(e) => panic!("unexpected: {e}"),
        };
    }
    assert_eq!(established, BTreeSet::from([11, 12, 13, 14]));
    // A good client that finished early frees its slot, so fewer than four may be shed.
    assert!(!evicted.is_empty(), "the slow peers make room");
    assert!(
        evicted.is_subset(&BTreeSet::from([1, 2, 3, 4])),
        "only slow peers are shed: {evicted:?}"
    );
    for client in good_clients {
        bounded(client)
            .await
            .expect("client task")
            .expect("every good client completes");
    }
    assert_eq!(listener.stats().evicted, evicted.len() as u64);
}

/// The flood: 640 connections ready, a cap of 4, a consumer that takes 10 items. At
/// no instant are more transports open than the cap plus the one waiting for a slot: an
/// evicted transport is closed when it is shed, not when its item is taken.
#[tokio::test]
async fn under_a_flood_open_transports_never_exceed_the_cap() {
    let world = World::new();
    let count = LiveCount::new();
    let mut peers = Vec::new();
    let mut servers = Vec::new();
    for port in 0..640 {
        let (client, server) = tokio::io::duplex(1024);
        peers.push(client); // silent, and kept open
        servers.push((server, port));
    }
    let counter = count.clone();
    let supply = futures::stream::iter(servers)
        .map(move |(server, port)| Ok((Live::new(server, &counter), peer_addr(port))));
    let acceptor = Acceptor::from(world.server().build());
    let mut listener = TlsListener::from_stream(supply, acceptor).with_max_in_flight(4);

    for _ in 0..10 {
        match bounded(listener.accept()).await.expect("an item") {
            Err(ListenError::Evicted { .. }) => {}
            other => panic!("expected an eviction, got {:?}", other.map(|(_, p)| p)),
        }
    }
    assert!(count.most() <= 4 + 1, "{} open at once", count.most());
    assert!(count.open() <= 4 + 1, "{} open now", count.open());
    assert!(listener.in_flight() <= 4);
    let stats = listener.stats();
    assert!(stats.accepted <= 10 + 4 + 1, "{stats:?}");
    assert!(stats.evicted >= 10, "{stats:?}");
    drop(peers);
}

/// A consumer that takes its results slowly makes the listener stop accepting: finished
/// handshakes waiting to be taken are bounded by `with_max_ready`, so open transports stay within
/// `max_in_flight + max_ready` (+ the one waiting for a slot) while 40 clients come through.
#[tokio::test]
async fn a_slow_consumer_makes_the_listener_stop_accepting() {
    let world = World::new();
    let count = LiveCount::new();
    let (connections, incoming) = memory_incoming();
    // Counted from the moment the listener accepts each one.
    let counter = count.clone();
    let incoming = incoming.map(move |c| c.map(|(io, peer)| (Live::new(io, &counter), peer)));
    let acceptor = Acceptor::from(world.server().build());
    let mut listener = TlsListener::from_stream(incoming, acceptor)
        .with_max_in_flight(4)
        .with_max_ready(2);
    let connector = Connector::from(world.client().build());
    let mut clients = Vec::new();
    for port in 0..40 {
        let (client, server) = tokio::io::duplex(16 * 1024);
        clients.push(tokio::spawn(connector.connect(name("localhost"), client)));
        connections
            .send(Ok((server, peer_addr(port))))
            .expect("queue");
    }
    drop(connections);
    let mut established = 0;
    while let Some(item) = bounded(listener.accept()).await {
        let (tls, _) = item.expect("every handshake completes");
        drop(tls);
        established += 1;
        // A slow consumer: every other task gets many turns before the next item is taken.
        for _ in 0..50 {
            tokio::task::yield_now().await;
        }
    }
    assert_eq!(established, 40);
    assert!(count.most() <= 4 + 2 + 1, "{} open at once", count.most());
    for client in clients {
        bounded(client)
            .await
            .expect("client task")
            .expect("client handshake");
    }
}

/// Drain: the listener stops accepting (new connections are refused), a handshake in flight
/// completes, the one still running when the grace period ends is cut off and reported, and
/// the handle says when it is all done.
#[tokio::test]
async fn a_drain_lets_handshakes_finish_refuses_newcomers_and_reports_the_rest() {
    let world = World::new();
    let (tcp, addr) = listen().await;
    let mut listener = TlsListener::new(tcp, Acceptor::from(world.server().build()));
    let handle = listener.handle();
    let mut silent = TcpStream::connect(addr).await.expect("connect");
    let late = TcpStream::connect(addr).await.expect("connect");
    let late_addr = late.local_addr().expect("addr");
    bounded(std::future::poll_fn(|cx| {
        if listener.poll_next_unpin(cx).is_ready() {
            panic!("nothing can finish yet");
        }
        if handle.in_flight() == 2 {
            Poll::Ready(())
        } else {
            Poll::Pending
        }
    }))
    .await;

    handle.drain(Duration::from_secs(1));
    assert!(!handle.is_finished());
    // The late client starts its handshake only now, during the drain.
    let connector = Connector::from(world.client().build());
    let client = tokio::spawn(connector.connect(name("localhost"), late));
    match bounded(listener.accept()).await.expect("an item") {
        Ok((_, peer)) => assert_eq!(peer, late_addr),
        Err(e) => panic!("the handshake in flight completes: {e}"),
    }
    let refused = TcpStream::connect(addr).await;
    assert!(
        refused.is_err(),
        "a draining listener refuses new connections"
    );
    match bounded(listener.accept()).await.expect("an item") {
        Err(ListenError::Drained { peer }) => assert_eq!(peer, silent.local_addr().expect("addr")),
        other => panic!("expected a cut-off, got {:?}", other.map(|(_, p)| p)),
    }
    assert!(bounded(listener.accept()).await.is_none(), "then it ends");
    let report = bounded(handle.drained()).await;
    assert_eq!(report.completed, 1);
    assert_eq!(
        report.cut_off,
        vec![silent.local_addr().expect("addr")],
        "{report}"
    );
    assert!(handle.is_finished());
    let mut rest = Vec::new();
    let n = bounded(silent.read_to_end(&mut rest)).await.expect("EOF");
    assert_eq!(n, 0, "the cut-off transport was closed");
    bounded(client)
        .await
        .expect("client task")
        .expect("client handshake");
    let stats = handle.stats();
    assert_eq!((stats.established, stats.failed), (1, 1));
}

/// A transport that is not `Send`.
#[derive(Debug)]
struct NotSend {
    io: DuplexStream,
    _not_send: Rc<()>,
}

delegate_read!(io for [] NotSend);
delegate_write!(io for [] NotSend);

#[tokio::test]
async fn transports_that_are_not_send_run_on_a_local_set() {
    let world = World::new();
    let local = tokio::task::LocalSet::new();
    local
        .run_until(async {
            let (client, server) = tokio::io::duplex(16 * 1024);
            let server = NotSend {
                io: server,
                _not_send: Rc::new(()),
            };
            let supply: Vec<io::Result<(NotSend, SocketAddr)>> = vec![Ok((server, peer_addr(1)))];
            let acceptor = Acceptor::from(world.server().build());
            let mut listener =
                TlsListener::from_stream(futures::stream::iter(supply), acceptor).spawn_local();
            let connector = Connector::from(world.client().build());
            let client = tokio::spawn(connector.connect(name("localhost"), client));
            match bounded(listener.accept()).await.expect("an item") {
                Ok((_, peer)) => assert_eq!(peer, peer_addr(1)),
                Err(e) => panic!("{e}"),
            }
            assert!(bounded(listener.accept()).await.is_none());
            bounded(client)
                .await
                .expect("client task")
                .expect("client handshake");
        })
        .await;
}

/// One clear panic where the listener is made, not a `Panicked` failure per connection.
#[test]
#[should_panic(expected = "timers are disabled")]
fn a_runtime_without_timers_is_refused_where_the_listener_is_made() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .build()
        .expect("runtime");
    let world = World::new();
    runtime.block_on(async {
        let (tcp, _) = listen().await;
        let _listener = TlsListener::new(tcp, Acceptor::from(world.server().build()));
    });
}
