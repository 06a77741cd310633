//! The server side: `TlsListener` under many clients, full with idle and slow peers, deadlines,
//! drop, accept errors and panics; ClientHello inspection (SNI routing); plaintext fallback.

use crate::support;

use std::{
    future::Future,
    io,
    net::SocketAddr,
    pin::Pin,
    sync::Arc,
    task::{Context, Poll},
    time::Duration,
};

use futures::StreamExt;
use support::{bounded, echo_ping, listen, memory_incoming, name, peer_addr, ping, Leaf, World};
use tokio::{
    io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, DuplexStream, ReadBuf},
    net::TcpStream,
    sync::mpsc,
};
use tokio_tls_handshake::{
    listener::{Established, ListenError, TlsListener},
    Acceptor, Connector, HandshakeError,
};

type Item<IO> = Result<Established<IO>, ListenError<IO>>;

/// Runs `listener` in its own task: established streams echo one 4-byte message; every item
/// is reported on the returned channel (as `Ok(peer)` or the error's display).
fn serve<I>(
    mut listener: TlsListener<I>,
) -> mpsc::UnboundedReceiver<Result<SocketAddr, (String, bool)>>
where
    I: tokio_tls_handshake::listener::Incoming<Addr = SocketAddr> + Send + 'static,
    I::Io: Send + 'static,
{
    let (tx, rx) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Some(item) = listener.accept().await {
            let report = match item {
                Ok((mut tls, peer)) => {
                    tokio::spawn(async move {
                        let mut buf = [0u8; 4];
                        if tls.read_exact(&mut buf).await.is_ok() {
                            let _ = tls.write_all(&buf).await;
                            let _ = tls.flush().await;
                        }
                    });
                    Ok(peer)
                }
                Err(e @ ListenError::Evicted { .. }) => Err((e.to_string(), true)),
                Err(e) => Err((e.to_string(), false)),
            };
            if tx.send(report).is_err() {
                break;
            }
        }
    });
    rx
}

async fn tokio_rustls_echo(
    config: Arc<rustls::ClientConfig>,
    addr: SocketAddr,
    host: &str,
) -> io::Result<()> {
    let tcp = TcpStream::connect(addr).await?;
    let mut tls = tokio_rustls::TlsConnector::from(config)
        .connect(name(host), tcp)
        .await?;
    tls.write_all(b"ping").await?;
    let mut buf = [0u8; 4];
    tls.read_exact(&mut buf).await?;
    assert_eq!(&buf, b"ping");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn five_hundred_clients_at_once() {
    let world = World::new();
    let (tcp, addr) = listen().await;
    let mut reports = serve(TlsListener::new(
        tcp,
        Acceptor::from(world.server().build()),
    ));
    let config = world.client().build();
    let clients: Vec<_> = (0..500)
        .map(|_| tokio::spawn(tokio_rustls_echo(config.clone(), addr, "localhost")))
        .collect();
    for client in clients {
        bounded(client)
            .await
            .expect("client task")
            .expect("client handshake and echo");
    }
    let mut established = 0;
    while established < 500 {
        let report = bounded(reports.recv()).await.expect("listener alive");
        assert!(report.is_ok(), "{report:?}");
        established += 1;
    }
}

#[tokio::test]
async fn a_full_listener_sheds_idle_and_slow_peers_for_a_good_client() {
    let world = World::new();
    let (tcp, addr) = listen().await;
    let deadline = Duration::from_secs(10);
    let acceptor = Acceptor::from(world.server().build()).with_timeout(deadline);
    let mut reports = serve(TlsListener::new(tcp, acceptor).with_max_in_flight(8));

    // Fill the cap twice over: 8 silent peers, then 8 slowloris peers (a byte a second).
    let mut peers = Vec::new();
    for _ in 0..8 {
        let mut tcp = TcpStream::connect(addr).await.expect("connect");
        peers.push(tokio::spawn(async move {
            let mut rest = Vec::new();
            let _ = tcp.read_to_end(&mut rest).await; // until shed
        }));
    }
    for _ in 0..8 {
        let mut tcp = TcpStream::connect(addr).await.expect("connect");
        peers.push(tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_secs(1));
            for byte in [22u8, 3, 1, 0, 200, 1, 0, 0, 196, 3, 3] {
                tick.tick().await;
                if tcp.write_all(&[byte]).await.is_err() {
                    break;
                }
            }
        }));
    }
    // A good client still gets through, long before the idle peers' deadline.
    let started = tokio::time::Instant::now();
    bounded(tokio_rustls_echo(world.client().build(), addr, "localhost"))
        .await
        .expect("the good client completes");
    assert!(started.elapsed() < deadline, "took {:?}", started.elapsed());

    // 8 silent + 8 slow + 1 good through 8 slots: at least 9 evictions, reported.
    let mut evicted = 0;
    while evicted < 9 {
        match bounded(reports.recv()).await.expect("listener alive") {
            Err((_, true)) => evicted += 1,
            Err((other, false)) => panic!("unexpected failure: {other}"),
            Ok(_) => {}
        }
    }
    for peer in peers {
        peer.abort();
    }
}

#[tokio::test(start_paused = true)]
async fn a_deadline_expiry_is_reported_with_the_peer_and_stalls_nothing() {
    let world = World::new();
    let (connections, incoming) = memory_incoming();
    let acceptor = Acceptor::from(world.server().build()).with_timeout(Duration::from_secs(10));
    let mut listener = TlsListener::from_stream(incoming, acceptor);

    let (_silent, server_side) = tokio::io::duplex(64 * 1024);
    connections
        .send(Ok((server_side, peer_addr(1))))
        .expect("queue");
    let (client_side, server_side) = tokio::io::duplex(64 * 1024);
    connections
        .send(Ok((server_side, peer_addr(2))))
        .expect("queue");
    let connector = Connector::from(world.client().build());
    let client = tokio::spawn(async move {
        connector
            .connect(name("localhost"), client_side)
            .await
            .map(drop)
    });

    // The good client is established first; the silent one times out at 10 s.
    match listener.accept().await.expect("item") {
        Ok((_, peer)) => assert_eq!(peer, peer_addr(2)),
        Err(e) => panic!("{e}"),
    }
    let started = tokio::time::Instant::now();
    match listener.accept().await.expect("item") {
        Err(ListenError::Handshake {
            peer,
            error: HandshakeError::TimedOut,
            io,
            report,
        }) => {
            assert_eq!(peer, peer_addr(1));
            // The transport comes back, and a report: the variant holds both.
            drop(io);
            assert_eq!(report.stats.bytes_read, 0, "{report}");
            assert!(
                report.to_string().starts_with("server - - - incomplete"),
                "{report}"
            );
        }
        other => panic!("expected a timeout, got {:?}", other.map(|(_, p)| p)),
    }
    assert!(started.elapsed() <= Duration::from_secs(10));
    client
        .await
        .expect("client task")
        .expect("client handshake");
    assert_eq!(listener.stats().established, 1);
    assert_eq!(listener.stats().failed, 1);
}

#[tokio::test]
async fn dropping_the_listener_closes_every_handshake_in_flight() {
    let world = World::new();
    let (tcp, addr) = listen().await;
    let mut listener = TlsListener::new(tcp, Acceptor::from(world.server().build()));
    let mut peers = Vec::new();
    for _ in 0..20 {
        peers.push(TcpStream::connect(addr).await.expect("connect"));
    }
    // Drive the listener until all 20 are in flight.
    bounded(std::future::poll_fn(|cx| {
        let _ = listener.poll_next_unpin(cx);
        if listener.in_flight() == 20 {
            Poll::Ready(())
        } else {
            Poll::Pending
        }
    }))
    .await;
    drop(listener);
    for mut peer in peers {
        let mut buf = Vec::new();
        let n = bounded(peer.read_to_end(&mut buf))
            .await
            .expect("EOF, not an error");
        assert_eq!(n, 0, "nothing was sent before the close");
    }
    let alive = tokio::runtime::Handle::current()
        .metrics()
        .num_alive_tasks();
    assert_eq!(alive, 0, "no task left behind");
}

#[tokio::test]
async fn sni_routing_from_the_client_hello() {
    let world = World::new();
    let a = world.ca.issue(&["a.test"], Leaf::Server);
    let b = world.ca.issue(&["b.test"], Leaf::Server);
    let (a_leaf, b_leaf) = (a.chain[0].clone(), b.chain[0].clone());
    let config_a = world.server().identity(a).build();
    let config_b = world.server().identity(b).build();
    let (tcp, addr) = listen().await;
    let acceptor = Acceptor::from(world.server().build());
    let server = tokio::spawn(async move {
        for _ in 0..2 {
            let (tcp_stream, _) = tcp.accept().await.expect("accept");
            let hello = acceptor.start(tcp_stream).await.expect("client hello");
            // The choice may await, for example a certificate store.
            tokio::task::yield_now().await;
            let config = match hello.client_hello().server_name() {
                Some("b.test") => config_b.clone(),
                _ => config_a.clone(),
            };
            let mut tls = hello.into_stream(config).await.expect("handshake");
            let mut buf = [0u8; 4];
            tls.read_exact(&mut buf).await.expect("read");
            tls.write_all(&buf).await.expect("write");
        }
    });
    for (host, leaf) in [("a.test", a_leaf), ("b.test", b_leaf)] {
        let tcp = TcpStream::connect(addr).await.expect("connect");
        let mut tls = bounded(Connector::from(world.client().build()).connect(name(host), tcp))
            .await
            .expect("verified for the name asked");
        let presented = tls.connection().peer_certificates().expect("certs")[0].clone();
        assert_eq!(presented, leaf, "{host} got its own certificate");
        ping(&mut tls).await;
    }
    bounded(server).await.expect("server task");
}

#[tokio::test]
async fn start_reports_a_plaintext_peer_with_its_bytes() {
    let world = World::new();
    let (mut client, server) = support::tcp_pair().await;
    client
        .write_all(b"GET / HTTP/1.1\r\n\r\n")
        .await
        .expect("send");
    let failed = bounded(Acceptor::from(world.server().build()).start(server))
        .await
        .expect_err("not TLS");
    assert!(
        matches!(&failed.error, HandshakeError::NotTls { prefix } if prefix.starts_with(b"GET /"))
    );
}

#[tokio::test]
async fn plaintext_http_gets_a_400_through_the_listener() {
    let world = World::new();
    let (tcp, addr) = listen().await;
    let mut listener = TlsListener::new(tcp, Acceptor::from(world.server().build()));
    let client = tokio::spawn(async move {
        let mut tcp = TcpStream::connect(addr).await.expect("connect");
        tcp.write_all(b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n")
            .await
            .expect("send");
        let mut answer = Vec::new();
        tcp.read_to_end(&mut answer).await.expect("read");
        answer
    });
    match bounded(listener.accept()).await.expect("item") {
        Err(ListenError::Handshake {
            error: HandshakeError::NotTls { .. },
            mut io,
            ..
        }) => {
            io.write_all(
                b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
            )
            .await
            .expect("answer");
        }
        other => panic!(
            "expected NotTls with the transport, got {:?}",
            other.map(|(_, p)| p)
        ),
    }
    let answer = bounded(client).await.expect("client");
    assert!(
        answer.starts_with(b"HTTP/1.1 400 "),
        "{}",
        String::from_utf8_lossy(&answer)
    );
}

/// A transport that panics when read.
struct Panicky;

impl AsyncRead for Panicky {
    fn poll_read(
        self: Pin<&mut Self>,
        _: &mut Context<'_>,
        _: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        panic!("a transport bug");
    }
}

impl AsyncWrite for Panicky {
    fn poll_write(
        self: Pin<&mut Self>,
        _: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Poll::Ready(Ok(buf.len()))
    }
    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
    fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

/// Either kind of transport, for one listener.
enum Either {
    Panicky(Panicky),
    Memory(DuplexStream),
}

impl AsyncRead for Either {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Either::Panicky(p) => Pin::new(p).poll_read(cx, buf),
            Either::Memory(m) => Pin::new(m).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for Either {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Either::Panicky(p) => Pin::new(p).poll_write(cx, buf),
            Either::Memory(m) => Pin::new(m).poll_write(cx, buf),
        }
    }
    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Either::Panicky(p) => Pin::new(p).poll_flush(cx),
            Either::Memory(m) => Pin::new(m).poll_flush(cx),
        }
    }
    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Either::Panicky(p) => Pin::new(p).poll_shutdown(cx),
            Either::Memory(m) => Pin::new(m).poll_shutdown(cx),
        }
    }
}

#[tokio::test(start_paused = true)]
async fn accept_errors_and_panics_fail_one_item_not_the_listener() {
    let world = World::new();
    let (client_side, server_side) = tokio::io::duplex(64 * 1024);
    let items: Vec<io::Result<(Either, SocketAddr)>> = vec![
        Err(io::Error::other("EMFILE: too many open files")),
        Ok((Either::Panicky(Panicky), peer_addr(1))),
        Ok((Either::Memory(server_side), peer_addr(2))),
    ];
    let mut listener = TlsListener::from_stream(
        futures::stream::iter(items),
        Acceptor::from(world.server().build()),
    );
    let connector = Connector::from(world.client().build());
    let client = tokio::spawn(async move {
        connector
            .connect(name("localhost"), client_side)
            .await
            .map(drop)
    });

    let mut seen: Vec<Item<Either>> = Vec::new();
    while let Some(item) = listener.accept().await {
        seen.push(item);
    }
    client
        .await
        .expect("client task")
        .expect("client handshake");
    assert!(matches!(seen[0], Err(ListenError::Accept(_))));
    let panicked = seen
        .iter()
        .any(|i| matches!(i, Err(ListenError::Panicked { peer }) if *peer == peer_addr(1)));
    let established = seen
        .iter()
        .any(|i| matches!(i, Ok((_, peer)) if *peer == peer_addr(2)));
    assert!(panicked && established, "{} items", seen.len());
    let stats = listener.stats();
    assert_eq!(
        (stats.accept_errors, stats.established, stats.failed),
        (1, 1, 1)
    );
}

#[tokio::test(start_paused = true)]
async fn one_deadline_covers_the_client_hello_and_the_rest() {
    let world = World::new();
    let (client_side, server_side) = tokio::io::duplex(64 * 1024);
    let acceptor = Acceptor::from(world.server().build()).with_timeout(Duration::from_secs(10));
    let started = tokio::time::Instant::now();
    // The client sends its hello and then stops answering.
    let mut client_side = client_side;
    let mut conn =
        rustls::ClientConnection::new(world.client().build(), name("localhost")).expect("client");
    let mut hello = Vec::new();
    while conn.wants_write() {
        conn.write_tls(&mut hello).expect("write to a Vec");
    }
    client_side.write_all(&hello).await.expect("send hello");
    let hello = acceptor.start(server_side).await.expect("client hello");
    // A slow choice of configuration spends most of the budget...
    tokio::time::sleep(Duration::from_secs(9)).await;
    let error = hello
        .into_stream(world.server().build())
        .await
        .expect_err("the client never finishes");
    // ...and the rest of the handshake gets only what is left of the same 10 s.
    assert!(matches!(error, HandshakeError::TimedOut), "{error:?}");
    assert_eq!(started.elapsed(), Duration::from_secs(10));
    drop(client_side);
}

#[tokio::test]
async fn one_wake_up_accepts_at_most_a_batch_then_yields() {
    let world = World::new();
    // An endless supply of ready connections (each with a silent peer kept alive).
    let peers = Arc::new(std::sync::Mutex::new(Vec::new()));
    let supply = {
        let peers = peers.clone();
        futures::stream::repeat_with(move || {
            let (client, server) = tokio::io::duplex(1024);
            peers.lock().expect("lock").push(client);
            Ok::<_, io::Error>((server, peer_addr(7)))
        })
    };
    let mut listener = TlsListener::from_stream(supply, Acceptor::from(world.server().build()))
        .with_accept_batch(5);
    let woken = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let waker = futures::task::waker(Arc::new(Flag(woken.clone())));
    let mut cx = Context::from_waker(&waker);
    // One poll returns instead of accepting forever, and asks to be polled again.
    assert!(listener.poll_next_unpin(&mut cx).is_pending());
    assert_eq!(listener.in_flight(), 5);
    assert!(
        woken.load(std::sync::atomic::Ordering::SeqCst),
        "it woke itself to go on"
    );
    assert!(listener.poll_next_unpin(&mut cx).is_pending());
    assert_eq!(listener.in_flight(), 10);
}

struct Flag(Arc<std::sync::atomic::AtomicBool>);

impl futures::task::ArcWake for Flag {
    fn wake_by_ref(arc_self: &Arc<Self>) {
        arc_self.0.store(true, std::sync::atomic::Ordering::SeqCst);
    }
}

/// `accept()` is cancel safe: a future dropped after it was polled (as `select!` drops the
/// losing branch) loses neither the connection it accepted nor its handshake; the next
/// `accept()` yields it.
#[tokio::test]
async fn accept_is_cancel_safe() {
    let world = World::new();
    let (connections, incoming) = memory_incoming();
    let mut listener = TlsListener::from_stream(incoming, Acceptor::from(world.server().build()));
    let (client, server) = tokio::io::duplex(64 * 1024);
    connections.send(Ok((server, peer_addr(9)))).expect("queue");
    let connector = Connector::from(world.client().build());
    let client = tokio::spawn(async move {
        let mut tls = connector.connect(name("localhost"), client).await?;
        ping(&mut tls).await;
        Ok::<_, HandshakeError>(())
    });
    // Polled once: the connection is accepted and its handshake started, then the future is
    // dropped, several times over.
    for _ in 0..3 {
        let mut accept = std::pin::pin!(listener.accept());
        let polled = std::future::poll_fn(|cx| Poll::Ready(accept.as_mut().poll(cx))).await;
        assert!(polled.is_pending(), "the handshake cannot be done yet");
    }
    let (mut tls, peer) = bounded(listener.accept())
        .await
        .expect("an item")
        .expect("the handshake the dropped futures started");
    assert_eq!(peer, peer_addr(9));
    echo_ping(&mut tls).await;
    bounded(client)
        .await
        .expect("client")
        .expect("client handshake");
    assert_eq!(listener.stats().accepted, 1);
}

/// A steady run of accept errors (a flood of connections aborted before they were accepted)
/// does not starve a finished handshake: it is handed out before the next error, which waits
/// its turn.
#[tokio::test]
async fn a_steady_run_of_accept_errors_does_not_starve_finished_handshakes() {
    let world = World::new();
    let connector = Connector::from(world.client().build());
    let (client, server) = tokio::io::duplex(64 * 1024);
    let (flood, flooding) = tokio::sync::oneshot::channel::<()>();
    let client = tokio::spawn(async move {
        let mut tls = connector.connect(name("localhost"), client).await?;
        // The server's tickets came: on this one-thread runtime its handshake task has
        // finished. Only then do the accept errors begin.
        tls.confirm().await?;
        let _ = flood.send(());
        Ok::<_, HandshakeError>(tls)
    });
    let incoming = futures::stream::iter([Ok((server, peer_addr(1)))])
        .chain(futures::stream::once(flooding).filter_map(|_| async { None }))
        .chain(futures::stream::repeat_with(|| {
            Err(io::Error::from_raw_os_error(libc::ECONNABORTED))
        }));
    let mut listener =
        TlsListener::from_stream(Box::pin(incoming), Acceptor::from(world.server().build()));
    let mut errors_before = 0;
    let established = bounded(async {
        for _ in 0..1000 {
            match listener.accept().await.expect("the listener goes on") {
                Ok((tls, _)) => return Some(tls),
                Err(ListenError::Accept(e)) => {
                    assert!(!ListenError::<DuplexStream>::Accept(e).is_resource_exhaustion());
                    errors_before += 1;
                }
                Err(other) => panic!("{other}"),
            }
        }
        None
    })
    .await;
    let mut tls = established.expect("the finished handshake came out among the errors");
    assert!(errors_before <= 1, "{errors_before} errors went first");
    let mut client = bounded(client)
        .await
        .expect("client")
        .expect("client handshake");
    // And the errors still come, one per poll.
    assert!(matches!(
        bounded(listener.accept()).await,
        Some(Err(ListenError::Accept(_)))
    ));
    let (_, ()) = tokio::join!(echo_ping(&mut tls), ping(&mut client));
}

/// Accept errors by kind: one connection's failure (ECONNABORTED) is reported and accepting
/// goes on at once; running out of descriptors (EMFILE) pauses accepting for the backoff.
#[tokio::test(start_paused = true)]
async fn accept_errors_pause_only_when_a_resource_ran_out() {
    let world = World::new();
    let connector = Connector::from(world.client().build());
    let mut items = Vec::new();
    let mut clients = Vec::new();
    for (port, error) in [(1, libc::ECONNABORTED), (2, libc::EMFILE)] {
        items.push(Err(io::Error::from_raw_os_error(error)));
        let (client, server) = tokio::io::duplex(64 * 1024);
        clients.push(tokio::spawn(connector.connect(name("localhost"), client)));
        items.push(Ok((server, peer_addr(port))));
    }
    let mut listener = TlsListener::from_stream(
        futures::stream::iter(items),
        Acceptor::from(world.server().build()),
    );
    let start = tokio::time::Instant::now();
    let mut seen = Vec::new();
    while let Some(item) = bounded(listener.accept()).await {
        seen.push((item, start.elapsed()));
    }
    assert_eq!(seen.len(), 4);
    let errors: Vec<_> = seen
        .iter()
        .filter_map(|(item, at)| match item {
            Err(e @ ListenError::Accept(_)) => Some((e.is_resource_exhaustion(), *at)),
            _ => None,
        })
        .collect();
    assert_eq!(errors, [(false, Duration::ZERO), (true, Duration::ZERO)]);
    let established = |port| {
        seen.iter()
            .find_map(|(item, at)| match item {
                Ok((_, peer)) if *peer == peer_addr(port) => Some(*at),
                _ => None,
            })
            .expect("established")
    };
    // After ECONNABORTED the next connection was accepted at once...
    assert_eq!(established(1), Duration::ZERO);
    // ...after EMFILE only once the backoff had passed.
    assert!(established(2) >= tokio_tls_handshake::listener::ACCEPT_ERROR_BACKOFF);
    for client in clients {
        client
            .await
            .expect("client task")
            .expect("client handshake");
    }
}

/// TLS over a Unix domain socket, end to end: the listener's peer address is the Unix one.
#[tokio::test]
async fn tls_over_a_unix_socket() {
    let world = World::new();
    let dir = support::openssl::Files::new();
    let path = dir.dir.join("tls.sock");
    let unix = tokio::net::UnixListener::bind(&path).expect("bind");
    let mut listener = TlsListener::from_unix(unix, Acceptor::from(world.server().build()));
    let local = listener.local_addr().expect("bound");
    assert_eq!(
        local.as_socket().and_then(|a| a.as_pathname()),
        Some(path.as_path())
    );
    let connector = Connector::from(world.client().build());
    let client = tokio::spawn(async move {
        let unix = tokio::net::UnixStream::connect(&path)
            .await
            .expect("connect");
        let mut tls = connector
            .connect(name("localhost"), unix)
            .await
            .expect("client handshake");
        ping(&mut tls).await;
    });
    let (mut tls, peer) = bounded(listener.accept())
        .await
        .expect("an item")
        .expect("established");
    assert!(
        peer.as_socket().is_some_and(|a| a.is_unnamed()),
        "the client's socket has no name: {peer:?}"
    );
    echo_ping(&mut tls).await;
    bounded(client).await.expect("client task");
}
