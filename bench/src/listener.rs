//! Section 2, the server front door (`-- --listener`).

use std::{io, pin::Pin, sync::Arc, task::Context, time::Instant};

use rustls::{ClientConfig, ServerConfig};
use tokio::{
    io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt},
    net::{TcpListener, TcpStream},
};

use crate::common;
use crate::setup::*;

/// How a server accepts and completes handshakes, in the listener section.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Server {
    /// `TlsListener`: a task per handshake, results handed to the accept loop.
    Listener,
    /// `Acceptor::accept` inside a task spawned per connection.
    AcceptorSpawn,
    /// tokio-rustls' `TlsAcceptor::accept` inside a task spawned per connection.
    TokioRustlsSpawn,
    /// `TlsListener` reading a PROXY v2 header before each handshake.
    ListenerBehindProxy,
}

/// A PROXY v2 header for TCP over IPv4 from 198.51.100.7:41000, as HAProxy sends it.
pub(crate) const PROXY_V2_HEADER: &[u8] = &[
    b'\r', b'\n', b'\r', b'\n', 0, b'\r', b'\n', b'Q', b'U', b'I', b'T', b'\n', 0x21, 0x11, 0, 12,
    198, 51, 100, 7, 203, 0, 113, 1, 0xa0, 0x28, 0x01, 0xbb,
];

pub(crate) const SERVERS: [Server; 3] = [
    Server::Listener,
    Server::AcceptorSpawn,
    Server::TokioRustlsSpawn,
];

/// Server threads are named this, so their CPU time can be read apart from the clients'.
pub(crate) const SERVER_THREAD: &str = "bench-server";

/// The listener section: each way of serving, with ECDSA P-256, RSA-2048 and RSA-4096 server
/// keys (made at start-up), the server on a 2-worker runtime and the clients on a thread of
/// their own (64 handshakes in flight), so that the server side is what is measured. Each
/// connection is served the same way after its handshake: read one byte, write one back.
pub(crate) fn listener_section(quick: bool) -> Result<(), Box<dyn std::error::Error>> {
    use common::pki::ServerKey;
    let reps = if quick { 3 } else { 5 };
    println!(
        "listener: {reps} repetitions; 64 in flight; server on 2 workers, clients on their own thread"
    );
    println!();
    println!("| server key | TlsListener hs/s (cores) | Acceptor + spawn hs/s (cores) | tokio-rustls + spawn hs/s (cores) | listener / spawn | listener / tokio-rustls |");
    println!("|---|---|---|---|---|---|");
    let server_runtime = server_runtime()?;
    for (key, label, count) in [
        (ServerKey::EcdsaP256, "ECDSA P-256", 6000),
        (ServerKey::Rsa2048, "RSA-2048", 3000),
        (ServerKey::Rsa4096, "RSA-4096", 1200),
    ] {
        let count = if quick { count / 4 } else { count };
        let (server, client) = full_handshake_configs(key)?;
        let mut rates = [Vec::new(), Vec::new(), Vec::new()];
        let mut cores = [Vec::new(), Vec::new(), Vec::new()];
        for rep in 1..=reps {
            for (i, how) in SERVERS.into_iter().enumerate() {
                let (rate, used) =
                    serve_and_measure(&server_runtime, how, &server, &client, count)?;
                rates[i].push(rate);
                cores[i].push(used);
            }
            eprintln!("  {label}: repetition {rep}/{reps} done");
        }
        let r = rates.each_mut().map(|r| median(r));
        let c = cores.each_mut().map(|c| median(c));
        println!(
            "| {label} | {:.0} ({:.2}) | {:.0} ({:.2}) | {:.0} ({:.2}) | {:.2} | {:.2} |",
            r[0],
            c[0],
            r[1],
            c[1],
            r[2],
            c[2],
            r[0] / r[1],
            r[0] / r[2]
        );
    }
    println!();
    println!("cores: CPU time of the server runtime's threads / wall time (from /proc/self/task; NaN elsewhere than Linux)");
    Ok(())
}

/// `--serve listener|spawn|tokio-rustls [--key ecdsa|rsa2048|rsa4096]`: 10,000 handshakes
/// against one way of serving and nothing else, for `perf record` or `strace -f -c`.
pub(crate) fn serve_only(how: &str, key: &str) -> Result<(), Box<dyn std::error::Error>> {
    use common::pki::ServerKey;
    let how = match how {
        "listener" => Server::Listener,
        "spawn" => Server::AcceptorSpawn,
        "tokio-rustls" => Server::TokioRustlsSpawn,
        other => {
            return Err(
                format!("--serve takes listener, spawn or tokio-rustls, not {other}").into(),
            )
        }
    };
    let key = match key {
        "ecdsa" => ServerKey::EcdsaP256,
        "rsa2048" => ServerKey::Rsa2048,
        "rsa4096" => ServerKey::Rsa4096,
        other => return Err(format!("--key takes ecdsa, rsa2048 or rsa4096, not {other}").into()),
    };
    let (server, client) = full_handshake_configs(key)?;
    let runtime = server_runtime()?;
    let (rate, cores) = serve_and_measure(&runtime, how, &server, &client, 10_000)?;
    println!("{how:?}: {rate:.0} handshakes/s, server {cores:.2} cores");
    Ok(())
}

/// The server side's runtime: 2 workers, named so that their CPU time can be read.
pub(crate) fn server_runtime() -> io::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name(SERVER_THREAD)
        .enable_all()
        .build()
}

/// Configurations for full handshakes (no tickets) with a server key of type `key`.
pub(crate) fn full_handshake_configs(
    key: common::pki::ServerKey,
) -> Result<(Arc<ServerConfig>, Arc<ClientConfig>), Box<dyn std::error::Error>> {
    let (mut server, client) = common::configs_with("bench CA", key)?;
    server.send_tls13_tickets = 0;
    Ok((Arc::new(server), Arc::new(client)))
}

/// Runs a server of kind `how` on `runtime`, drives `count` handshakes at it from a client
/// thread, and returns handshakes/s and the server threads' cores in use.
pub(crate) fn serve_and_measure(
    runtime: &tokio::runtime::Runtime,
    how: Server,
    server: &Arc<ServerConfig>,
    client: &Arc<ClientConfig>,
    count: usize,
) -> Result<(f64, f64), Box<dyn std::error::Error>> {
    let tcp = runtime.block_on(TcpListener::bind("127.0.0.1:0"))?;
    let addr = tcp.local_addr()?;
    let proxy_header = (how == Server::ListenerBehindProxy).then_some(PROXY_V2_HEADER);
    let serving = runtime.spawn(serve(how, tcp, server.clone()));
    let client = client.clone();
    let cpu_before = server_cpu_seconds();
    let start = Instant::now();
    let clients = std::thread::spawn(move || -> io::Result<()> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        runtime.block_on(drive_clients(addr, client, count, 64, proxy_header))
    });
    let driven = clients
        .join()
        .map_err(|_| io::Error::other("client thread panicked"))?;
    let elapsed = start.elapsed();
    let cpu = server_cpu_seconds() - cpu_before;
    serving.abort();
    driven?;
    Ok((rate(count, elapsed), cpu / elapsed.as_secs_f64()))
}

/// The server: accepts forever, serving each established connection with a one-byte echo.
pub(crate) async fn serve(how: Server, tcp: TcpListener, config: Arc<ServerConfig>) {
    async fn echo_one<S: AsyncRead + AsyncWrite + Unpin>(mut tls: S) {
        let mut byte = [0u8; 1];
        if tls.read_exact(&mut byte).await.is_ok() {
            let _ = tls.write_all(&byte).await;
            let _ = tls.flush().await;
        }
    }
    match how {
        Server::Listener | Server::ListenerBehindProxy => {
            let acceptor = tokio_tls_handshake::Acceptor::from(config);
            #[cfg(feature = "proxy-protocol")]
            let acceptor = if how == Server::ListenerBehindProxy {
                acceptor.with_proxy_protocol(
                    tokio_tls_handshake::proxy::ProxyProtocol::Required,
                    // The clients connect from loopback, so they are the trusted balancer.
                    tokio_tls_handshake::proxy::TrustedProxies::parse(["127.0.0.1"])
                        .expect("an address"),
                )
            } else {
                acceptor
            };
            let mut listener = tokio_tls_handshake::listener::TlsListener::new(tcp, acceptor);
            while let Some(next) = listener.accept().await {
                if let Ok((tls, _)) = next {
                    let _ = tls.get_ref().0.set_nodelay(true);
                    tokio::spawn(echo_one(tls));
                }
            }
        }
        Server::AcceptorSpawn => {
            let acceptor = tokio_tls_handshake::Acceptor::from(config);
            while let Ok((tcp, _)) = tcp.accept().await {
                let acceptor = acceptor.clone();
                tokio::spawn(async move {
                    if let Ok(tls) = acceptor.accept(tcp).await {
                        let _ = tls.get_ref().0.set_nodelay(true);
                        echo_one(tls).await;
                    }
                });
            }
        }
        Server::TokioRustlsSpawn => {
            let acceptor = tokio_rustls::TlsAcceptor::from(config);
            while let Ok((tcp, _)) = tcp.accept().await {
                let acceptor = acceptor.clone();
                tokio::spawn(async move {
                    if let Ok(tls) = acceptor.accept(tcp).await {
                        let _ = tls.get_ref().0.set_nodelay(true);
                        echo_one(tls).await;
                    }
                });
            }
        }
    }
}

/// `count` clients, `width` at a time: connect, handshake (tokio-rustls, the same client for
/// every server), send a byte, read it back.
pub(crate) async fn drive_clients(
    addr: std::net::SocketAddr,
    config: Arc<ClientConfig>,
    count: usize,
    width: usize,
    proxy_header: Option<&'static [u8]>,
) -> io::Result<()> {
    let connector = tokio_rustls::TlsConnector::from(config);
    let mut lanes = Vec::with_capacity(width);
    for lane in 0..width {
        let share = count / width + usize::from(lane < count % width);
        let connector = connector.clone();
        lanes.push(tokio::spawn(async move {
            for _ in 0..share {
                let tcp = TcpStream::connect(addr).await?;
                tcp.set_nodelay(true)?;
                // With a PROXY header, it goes in the same write as the ClientHello, so that
                // the client thread pays no extra syscall for it: the server's cost is measured.
                let tcp = HeaderFirst {
                    io: tcp,
                    header: proxy_header.unwrap_or_default(),
                };
                let name = "localhost".try_into().map_err(io::Error::other)?;
                let mut tls = connector.connect(name, tcp).await?;
                tls.write_all(b"x").await?;
                tls.flush().await?;
                let mut byte = [0u8; 1];
                tls.read_exact(&mut byte).await?;
            }
            Ok::<_, io::Error>(())
        }));
    }
    for lane in lanes {
        lane.await.map_err(io::Error::other)??;
    }
    Ok(())
}

/// CPU seconds (user + system) used so far by the server runtime's threads, from
/// `/proc/self/task/*/stat` (Linux; clock ticks of 1/100 s). NaN where that is not readable.
pub(crate) fn server_cpu_seconds() -> f64 {
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else {
        return f64::NAN;
    };
    let mut ticks = 0u64;
    for task in tasks.flatten() {
        let Ok(stat) = std::fs::read_to_string(task.path().join("stat")) else {
            continue;
        };
        // "tid (comm) state ppid ...": the name may hold spaces, so split at the last ')'.
        let Some((head, rest)) = stat.rsplit_once(')') else {
            continue;
        };
        if !head.contains(SERVER_THREAD) {
            continue;
        }
        // After the name: state is field 3, utime field 14, stime field 15.
        let fields: Vec<&str> = rest.split_whitespace().collect();
        let field = |n: usize| fields.get(n - 3).and_then(|f| f.parse::<u64>().ok());
        ticks += field(14).unwrap_or(0) + field(15).unwrap_or(0);
    }
    ticks as f64 / 100.0
}

/// A client transport whose first write begins with `header` (a PROXY header, as a load
/// balancer puts it in front of the client's bytes).
pub(crate) struct HeaderFirst<IO> {
    pub(crate) io: IO,
    pub(crate) header: &'static [u8],
}

impl<IO: AsyncRead + Unpin> AsyncRead for HeaderFirst<IO> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> std::task::Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_read(cx, buf)
    }
}

impl<IO: AsyncWrite + Unpin> AsyncWrite for HeaderFirst<IO> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> std::task::Poll<io::Result<usize>> {
        let me = &mut *self;
        while !me.header.is_empty() {
            let parts = [io::IoSlice::new(me.header), io::IoSlice::new(buf)];
            let n = std::task::ready!(Pin::new(&mut me.io).poll_write_vectored(cx, &parts))?;
            if n == 0 {
                return std::task::Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
            }
            if n >= me.header.len() {
                let data = n - me.header.len();
                me.header = &[];
                if data > 0 {
                    return std::task::Poll::Ready(Ok(data));
                }
            } else {
                me.header = &me.header[n..];
            }
        }
        Pin::new(&mut me.io).poll_write(cx, buf)
    }
    fn poll_flush(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> std::task::Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_flush(cx)
    }
    fn poll_shutdown(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> std::task::Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_shutdown(cx)
    }
}
