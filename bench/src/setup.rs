//! What every section shares: the contenders, the configurations, one handshake of each, and the counting helpers.

use std::{
    alloc::System,
    future::Future,
    io,
    pin::Pin,
    sync::{
        atomic::{AtomicU64, Ordering},
        Arc,
    },
    task::{Context, Waker},
    time::{Duration, Instant},
};

use rustls::{ClientConfig, HandshakeKind, ServerConfig};
use stats_alloc::{Region, StatsAlloc, INSTRUMENTED_SYSTEM};
use tokio::{
    io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt},
    net::{TcpListener, TcpStream},
};

use crate::common;

#[global_allocator]
pub(crate) static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Contender {
    /// This crate as a user gets it: the server has its default 10 s handshake deadline.
    Ours,
    /// This crate with the server deadline off, doing the same work as tokio-rustls.
    OursWithoutDeadline,
    TokioRustls,
}

#[derive(Clone)]
pub(crate) struct Setup {
    pub(crate) server: Arc<ServerConfig>,
    pub(crate) client: Arc<ClientConfig>,
    /// Resumed handshakes: the server writes one byte after the handshake and the client
    /// reads it, so that the tickets written with the handshake are stored before the next.
    pub(crate) resumed: bool,
    /// The name the client asks for.
    pub(crate) server_name: rustls::pki_types::ServerName<'static>,
    /// Our acceptor's chooser, if it has one.
    pub(crate) chooser: Option<tokio_tls_handshake::certificates::CertificateStore>,
}

impl Setup {
    /// A client asking for `localhost`; an acceptor without a chooser.
    pub(crate) fn new(server: Arc<ServerConfig>, client: Arc<ClientConfig>, resumed: bool) -> Self {
        Self {
            server,
            client,
            resumed,
            // Borrowed from a `&'static str`: cloning it per handshake allocates nothing.
            server_name: rustls::pki_types::ServerName::try_from("localhost").expect("a DNS name"),
            chooser: None,
        }
    }
}

/// What the handshakes of a run are.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// Full handshakes, the server sending no session tickets.
    Full,
    /// Full handshakes, the server sending rustls' default 2 TLS 1.3 tickets (the client
    /// does not resume): what the tickets cost.
    FullWithTickets,
    /// Resumed handshakes (the client's session cache is warmed by one full handshake first).
    Resumed,
}

pub(crate) fn configs(kind: Kind) -> Result<Setup, Box<dyn std::error::Error>> {
    let (mut server, mut client) = common::configs("bench CA")?;
    if kind == Kind::Full {
        server.send_tls13_tickets = 0;
    }
    if kind != Kind::Resumed {
        client.resumption = rustls::client::Resumption::disabled();
    }
    Ok(Setup::new(
        Arc::new(server),
        Arc::new(client),
        kind == Kind::Resumed,
    ))
}

/// A copy of `setup` whose client has a session cache of its own.
pub(crate) fn fresh_client(setup: &Setup) -> Setup {
    let mut client = (*setup.client).clone();
    client.resumption = rustls::client::Resumption::in_memory_sessions(256);
    Setup {
        client: Arc::new(client),
        ..setup.clone()
    }
}

pub(crate) fn row(name: &str, ours: f64, theirs: f64) {
    println!(
        "| {name} | {ours:.1} | {theirs:.1} | {:.2} |",
        ours / theirs
    );
}

pub(crate) fn median(values: &mut [f64]) -> f64 {
    values.sort_by(|a, b| a.total_cmp(b));
    values[values.len() / 2]
}

/// Medians over repetitions of each repetition's (p50, p99).
pub(crate) fn median_latency(reps: &mut [(f64, f64)]) -> (f64, f64) {
    let mut p50: Vec<f64> = reps.iter().map(|r| r.0).collect();
    let mut p99: Vec<f64> = reps.iter().map(|r| r.1).collect();
    (median(&mut p50), median(&mut p99))
}

pub(crate) fn percentile(sorted_ms: &[f64], p: f64) -> f64 {
    let index = ((sorted_ms.len() - 1) as f64 * p).round() as usize;
    sorted_ms[index]
}

pub(crate) fn rate(count: usize, elapsed: Duration) -> f64 {
    count as f64 / elapsed.as_secs_f64()
}

/// The crypto-bound limit: both sides of the handshake in memory on one thread.
pub(crate) fn in_memory(setup: &Setup, count: usize) -> io::Result<f64> {
    let start = Instant::now();
    for _ in 0..count {
        let name = "localhost".try_into().map_err(io::Error::other)?;
        let mut client =
            rustls::ClientConnection::new(setup.client.clone(), name).map_err(io::Error::other)?;
        let mut server =
            rustls::ServerConnection::new(setup.server.clone()).map_err(io::Error::other)?;
        let mut buf = Vec::with_capacity(4096);
        for _ in 0..10 {
            if !client.is_handshaking() && !server.is_handshaking() {
                break;
            }
            pump(&mut *client, &mut *server, &mut buf)?;
            pump(&mut *server, &mut *client, &mut buf)?;
        }
    }
    Ok(rate(count, start.elapsed()))
}

pub(crate) fn pump<A, B>(
    from: &mut rustls::ConnectionCommon<A>,
    to: &mut rustls::ConnectionCommon<B>,
    buf: &mut Vec<u8>,
) -> io::Result<()> {
    buf.clear();
    while from.wants_write() {
        from.write_tls(buf)?;
    }
    let mut slice = buf.as_slice();
    while !slice.is_empty() {
        to.read_tls(&mut slice)?;
        to.process_new_packets().map_err(io::Error::other)?;
    }
    Ok(())
}

pub(crate) async fn bare_tcp(count: usize) -> io::Result<f64> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let start = Instant::now();
    for _ in 0..count {
        let (client, server) = tokio::join!(TcpStream::connect(addr), listener.accept());
        drop((client?, server?));
    }
    Ok(rate(count, start.elapsed()))
}

/// One handshake between a client and a server of `who`, over `client_io` / `server_io`.
/// Returns whether it was a resumed handshake.
pub(crate) async fn handshake<IO>(
    setup: &Setup,
    who: Contender,
    client_io: IO,
    server_io: IO,
) -> io::Result<bool>
where
    IO: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let name = setup.server_name.clone();
    match who {
        Contender::Ours | Contender::OursWithoutDeadline => {
            let connector = tokio_tls_handshake::Connector::from(setup.client.clone());
            let mut acceptor = tokio_tls_handshake::Acceptor::from(setup.server.clone());
            if who == Contender::OursWithoutDeadline {
                acceptor = acceptor.without_timeout();
            }
            if let Some(store) = &setup.chooser {
                acceptor = acceptor.with_chooser(store.clone());
            }
            let (c, s) = tokio::join!(
                counted(connector.connect(name, client_io)),
                counted(acceptor.accept(server_io))
            );
            let (mut c, mut s) = (c?, s?);
            let resumed = c.connection().handshake_kind() == Some(HandshakeKind::Resumed);
            deliver_tickets(setup, &mut c, &mut s).await?;
            Ok(resumed)
        }
        Contender::TokioRustls => {
            let connector = tokio_rustls::TlsConnector::from(setup.client.clone());
            let acceptor = tokio_rustls::TlsAcceptor::from(setup.server.clone());
            let (c, s) = tokio::join!(
                counted(connector.connect(name, client_io)),
                counted(acceptor.accept(server_io))
            );
            let (mut c, mut s) = (c?, s?);
            let resumed = c.get_ref().1.handshake_kind() == Some(HandshakeKind::Resumed);
            deliver_tickets(setup, &mut c, &mut s).await?;
            Ok(resumed)
        }
    }
}

/// Polls of handshake futures, both contenders, both sides: each poll after a future's first
/// is a wake-up.
pub(crate) static POLLS: AtomicU64 = AtomicU64::new(0);

pub(crate) async fn counted<F: Future>(handshake: F) -> F::Output {
    let mut handshake = std::pin::pin!(handshake);
    std::future::poll_fn(|cx| {
        POLLS.fetch_add(1, Ordering::Relaxed);
        handshake.as_mut().poll(cx)
    })
    .await
}

pub(crate) async fn deliver_tickets<C, S>(
    setup: &Setup,
    client: &mut C,
    server: &mut S,
) -> io::Result<()>
where
    C: AsyncRead + Unpin,
    S: AsyncWrite + Unpin,
{
    if setup.resumed {
        server.write_all(b"x").await?;
        server.flush().await?;
        let mut byte = [0u8; 1];
        client.read_exact(&mut byte).await?;
    }
    Ok(())
}

pub(crate) async fn tcp_pair(listener: &TcpListener) -> io::Result<(TcpStream, TcpStream)> {
    let addr = listener.local_addr()?;
    let (client, server) = tokio::join!(TcpStream::connect(addr), listener.accept());
    let (client, server) = (client?, server?.0);
    client.set_nodelay(true)?;
    server.set_nodelay(true)?;
    Ok((client, server))
}

/// Handshakes one after another. With tickets on, every handshake after the first must
/// resume, or the run fails.
pub(crate) async fn one_at_a_time(setup: &Setup, who: Contender, count: usize) -> io::Result<f64> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    if setup.resumed {
        let (client, server) = tcp_pair(&listener).await?;
        handshake(setup, who, client, server).await?; // warms the session cache
    }
    let start = Instant::now();
    for _ in 0..count {
        let (client, server) = tcp_pair(&listener).await?;
        let resumed = handshake(setup, who, client, server).await?;
        if resumed != setup.resumed {
            return Err(io::Error::other(format!("{who:?}: resumed = {resumed}")));
        }
    }
    Ok(rate(count, start.elapsed()))
}

/// `count` handshakes, `width` at a time; returns handshakes/s and (p50, p99) latency in ms.
pub(crate) async fn in_flight(
    setup: &Setup,
    who: Contender,
    count: usize,
    width: usize,
) -> io::Result<(f64, (f64, f64))> {
    // A listener per lane: connections never cross lanes, and no listen backlog sees a burst.
    // (One shared listener under a 1024-connect burst lost an occasional final ACK, leaving a
    // lane waiting on accept for a minute.)
    let mut listeners = Vec::with_capacity(width);
    for _ in 0..width {
        listeners.push(TcpListener::bind("127.0.0.1:0").await?);
    }
    let setup = Arc::new(setup.clone());
    let start = Instant::now();
    let mut tasks = Vec::with_capacity(width);
    for (lane, listener) in listeners.into_iter().enumerate() {
        let setup = setup.clone();
        let share = count / width + usize::from(lane < count % width);
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::with_capacity(share);
            for _ in 0..share {
                let began = Instant::now();
                let (client, server) = tcp_pair(&listener).await?;
                handshake(&setup, who, client, server).await?;
                latencies.push(began.elapsed().as_secs_f64() * 1000.0);
            }
            Ok::<_, io::Error>(latencies)
        }));
    }
    let mut latencies = Vec::with_capacity(count);
    for task in tasks {
        latencies.extend(task.await.map_err(io::Error::other)??);
    }
    let elapsed = start.elapsed();
    latencies.sort_by(|a, b| a.total_cmp(b));
    let spread = (percentile(&latencies, 0.50), percentile(&latencies, 0.99));
    Ok((rate(count, elapsed), spread))
}

/// A transport that counts every poll call made on it (reads, writes, flushes, shutdowns)
/// into a shared counter.
pub(crate) struct Counting<IO> {
    pub(crate) io: IO,
    pub(crate) calls: Arc<AtomicU64>,
}

impl<IO> Counting<IO> {
    fn new(io: IO, calls: &Arc<AtomicU64>) -> Self {
        Self {
            io,
            calls: calls.clone(),
        }
    }

    fn count(&self) {
        self.calls.fetch_add(1, Ordering::Relaxed);
    }
}

impl<IO: AsyncRead + Unpin> AsyncRead for Counting<IO> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> std::task::Poll<io::Result<()>> {
        self.count();
        Pin::new(&mut self.io).poll_read(cx, buf)
    }
}

impl<IO: AsyncWrite + Unpin> AsyncWrite for Counting<IO> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> std::task::Poll<io::Result<usize>> {
        self.count();
        Pin::new(&mut self.io).poll_write(cx, buf)
    }
    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> std::task::Poll<io::Result<usize>> {
        self.count();
        Pin::new(&mut self.io).poll_write_vectored(cx, bufs)
    }
    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }
    fn poll_flush(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> std::task::Poll<io::Result<()>> {
        self.count();
        Pin::new(&mut self.io).poll_flush(cx)
    }
    fn poll_shutdown(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> std::task::Poll<io::Result<()>> {
        self.count();
        Pin::new(&mut self.io).poll_shutdown(cx)
    }
}

/// Transport calls, allocations and allocated bytes per handshake (both sides).
pub(crate) async fn cost_per_handshake(
    setup: &Setup,
    who: Contender,
    count: usize,
) -> io::Result<Cost> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let (mut calls, mut allocs, mut bytes) = (0u64, 0u64, 0u64);
    let polls_before = POLLS.load(Ordering::Relaxed);
    for _ in 0..count {
        let (client, server) = tcp_pair(&listener).await?;
        let probe = Arc::new(AtomicU64::new(0));
        let (client, server) = (Counting::new(client, &probe), Counting::new(server, &probe));
        let region = Region::new(GLOBAL);
        handshake(setup, who, client, server).await?;
        let stats = region.change();
        calls += probe.load(Ordering::Relaxed);
        allocs += stats.allocations as u64;
        bytes += stats.bytes_allocated as u64;
    }
    let n = count as f64;
    let polls = POLLS.load(Ordering::Relaxed) - polls_before;
    Ok(Cost {
        calls: calls as f64 / n,
        wakeups: polls as f64 / n - 2.0,
        allocations: allocs as f64 / n,
        bytes: bytes as f64 / n,
    })
}

/// Per handshake, both sides together.
pub(crate) struct Cost {
    pub(crate) calls: f64,
    /// Polls of the two handshake futures beyond their first.
    pub(crate) wakeups: f64,
    pub(crate) allocations: f64,
    pub(crate) bytes: f64,
}

/// Net heap bytes held per server handshake that has been polled once and waits for a
/// ClientHello, over `count` real loopback connections whose clients stay silent.
pub(crate) async fn idle_memory(setup: &Setup, who: Contender, count: usize) -> io::Result<f64> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let mut pairs = Vec::with_capacity(count);
    for _ in 0..count {
        pairs.push(tcp_pair(&listener).await?);
    }
    let (silent_clients, servers): (Vec<_>, Vec<_>) = pairs.into_iter().unzip();
    let held = match who {
        Contender::TokioRustls => {
            let acceptor = tokio_rustls::TlsAcceptor::from(setup.server.clone());
            held_while_waiting(servers, |tcp| acceptor.accept(tcp))?
        }
        _ => {
            let acceptor = tokio_tls_handshake::Acceptor::from(setup.server.clone());
            held_while_waiting(servers, |tcp| acceptor.accept(tcp))?
        }
    };
    drop(silent_clients);
    Ok(held / count as f64)
}

/// Starts a handshake on each server socket (boxed, as a spawned task holds it), polls each
/// once, and returns the net heap bytes they hold together.
pub(crate) fn held_while_waiting<F: Future>(
    servers: Vec<TcpStream>,
    start: impl Fn(TcpStream) -> F,
) -> io::Result<f64> {
    let mut waiting: Vec<Pin<Box<F>>> = Vec::with_capacity(servers.len());
    let mut cx = Context::from_waker(Waker::noop());
    let region = Region::new(GLOBAL);
    for server in servers {
        let mut handshake = Box::pin(start(server));
        if handshake.as_mut().poll(&mut cx).is_ready() {
            return Err(io::Error::other("a silent client's handshake finished"));
        }
        waiting.push(handshake);
    }
    let stats = region.change();
    drop(waiting);
    Ok(stats.bytes_allocated as f64 - stats.bytes_deallocated as f64)
}
