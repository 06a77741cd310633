//! Section 1's established-stream rows: idle memory and bulk transfer both ways (`-- --streams` alone).

use std::{future::Future, io, time::Instant};

use stats_alloc::Region;
use tokio::{
    io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt},
    net::{TcpListener, TcpStream},
};

use crate::setup::*;

/// `-- --streams`: the established-stream rows alone (idle memory, bulk both ways at three
/// write sizes), for a quicker look at the stream than the whole main table.
pub(crate) fn streams_section(quick: bool) -> Result<(), Box<dyn std::error::Error>> {
    let (reps, idle_count, megabytes) = if quick { (3, 1000, 64) } else { (7, 5000, 256) };
    let setup = configs(Kind::Full)?;
    let current = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let workers = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    println!("streams: {reps} repetitions");
    println!();
    println!("| figure | ours | tokio-rustls | ours / tokio-rustls |");
    println!("|---|---|---|---|");
    established_rows(&current, &setup, idle_count)?;
    print_bulk_rows(&workers, &setup, reps, megabytes)?;
    Ok(())
}

/// The idle established rows: heap per client+server pair, per server, and for all servers.
/// One unmeasured round first: the runtime keeps the I/O registrations it grew for `count`
/// connections, and whichever contender went first would pay for them.
pub(crate) fn established_rows(
    current: &tokio::runtime::Runtime,
    setup: &Setup,
    idle_count: usize,
) -> io::Result<()> {
    current.block_on(idle_established(setup, Contender::TokioRustls, idle_count))?;
    let established = [
        current.block_on(idle_established(setup, Contender::Ours, idle_count))?,
        current.block_on(idle_established(setup, Contender::TokioRustls, idle_count))?,
    ];
    row(
        &format!("heap bytes held per idle established client+server pair ({idle_count} pairs, one byte each way)"),
        established[0].0,
        established[1].0,
    );
    row(
        &format!("heap bytes held per idle established server connection (of {idle_count})"),
        established[0].1,
        established[1].1,
    );
    row(
        &format!("heap MB held by {idle_count} idle established server connections"),
        established[0].1 * idle_count as f64 / 1e6,
        established[1].1 * idle_count as f64 / 1e6,
    );
    row(
        "bytes of a server stream over TCP itself (size_of, part of the heap figures)",
        std::mem::size_of::<tokio_tls_handshake::TlsStream<TcpStream, rustls::ServerConnection>>()
            as f64,
        std::mem::size_of::<tokio_rustls::server::TlsStream<TcpStream>>() as f64,
    );
    Ok(())
}

/// The bulk rows: client to server and back, with 64 KiB, 16 KiB and 1 KiB application
/// writes (fewer megabytes for 1 KiB writes, whose every write is a record and a syscall).
pub(crate) fn print_bulk_rows(
    workers: &tokio::runtime::Runtime,
    setup: &Setup,
    reps: usize,
    megabytes: usize,
) -> io::Result<()> {
    for (write, megabytes) in [
        (64 * 1024, megabytes),
        (16 * 1024, megabytes),
        (1024, megabytes / 8),
    ] {
        for direction in [Direction::ClientToServer, Direction::ServerToClient] {
            let mut mbps = [Vec::new(), Vec::new()];
            for _ in 0..reps {
                for (i, who) in [Contender::Ours, Contender::TokioRustls]
                    .into_iter()
                    .enumerate()
                {
                    mbps[i].push(workers.block_on(bulk(setup, who, megabytes, direction, write))?);
                }
            }
            let way = match direction {
                Direction::ClientToServer => "client to server",
                Direction::ServerToClient => "server to client",
            };
            row(
                &format!(
                    "bulk MB/s, {megabytes} MB {way}, {} KiB writes",
                    write / 1024
                ),
                median(&mut mbps[0]),
                median(&mut mbps[1]),
            );
        }
    }
    Ok(())
}

/// Which way a bulk transfer goes.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Direction {
    ClientToServer,
    ServerToClient,
}

/// MB/s of application data over an established stream, `write` bytes per application write.
pub(crate) async fn bulk(
    setup: &Setup,
    who: Contender,
    megabytes: usize,
    direction: Direction,
    write: usize,
) -> io::Result<f64> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let (client, server) = tcp_pair(&listener).await?;
    let name = setup.server_name.clone();
    let to_server = direction == Direction::ClientToServer;
    match who {
        Contender::TokioRustls => {
            let connector = tokio_rustls::TlsConnector::from(setup.client.clone());
            let acceptor = tokio_rustls::TlsAcceptor::from(setup.server.clone());
            let (c, s) = tokio::join!(connector.connect(name, client), acceptor.accept(server));
            let (c, s) = (c?, s?);
            match to_server {
                true => transfer(c, s, megabytes, write).await,
                false => transfer(s, c, megabytes, write).await,
            }
        }
        _ => {
            let connector = tokio_tls_handshake::Connector::from(setup.client.clone());
            let acceptor = tokio_tls_handshake::Acceptor::from(setup.server.clone());
            let (c, s) = tokio::join!(connector.connect(name, client), acceptor.accept(server));
            let (c, s) = (c?, s?);
            match to_server {
                true => transfer(c, s, megabytes, write).await,
                false => transfer(s, c, megabytes, write).await,
            }
        }
    }
}

pub(crate) async fn transfer<W, R>(
    mut writer: W,
    mut reader: R,
    megabytes: usize,
    write: usize,
) -> io::Result<f64>
where
    W: AsyncWrite + Unpin,
    R: AsyncRead + Unpin,
{
    let chunk = vec![7u8; write];
    let total = megabytes * 1024 * 1024;
    let start = Instant::now();
    let send = async {
        for _ in 0..total / chunk.len() {
            writer.write_all(&chunk).await?;
        }
        writer.flush().await
    };
    let receive = async {
        let mut buf = vec![0u8; 64 * 1024];
        let mut got = 0;
        while got < total {
            match reader.read(&mut buf).await? {
                0 => return Err(io::Error::from(io::ErrorKind::UnexpectedEof)),
                n => got += n,
            }
        }
        Ok(())
    };
    let (sent, received) = tokio::join!(send, receive);
    sent?;
    received?;
    Ok(megabytes as f64 / start.elapsed().as_secs_f64())
}

/// The heap held by `count` idle established connections over loopback, each after a
/// handshake and one byte each way: per client+server pair (both streams, boxed as a task
/// would hold them, their TCP sockets included), and per server connection (what dropping
/// only the server streams gives back).
pub(crate) async fn idle_established(
    setup: &Setup,
    who: Contender,
    count: usize,
) -> io::Result<(f64, f64)> {
    let name = setup.server_name.clone();
    match who {
        Contender::TokioRustls => {
            let connector = tokio_rustls::TlsConnector::from(setup.client.clone());
            let acceptor = tokio_rustls::TlsAcceptor::from(setup.server.clone());
            idle_pairs(count, |c, s| {
                let (connector, acceptor, name) = (&connector, &acceptor, name.clone());
                async move {
                    let (c, s) = tokio::join!(connector.connect(name, c), acceptor.accept(s));
                    Ok((c?, s?))
                }
            })
            .await
        }
        _ => {
            let connector = tokio_tls_handshake::Connector::from(setup.client.clone());
            let acceptor = tokio_tls_handshake::Acceptor::from(setup.server.clone());
            idle_pairs(count, |c, s| {
                let (connector, acceptor, name) = (&connector, &acceptor, name.clone());
                async move {
                    let (c, s) = tokio::join!(connector.connect(name, c), acceptor.accept(s));
                    Ok((c?, s?))
                }
            })
            .await
        }
    }
}

pub(crate) async fn idle_pairs<C, S, F, Fut>(count: usize, establish: F) -> io::Result<(f64, f64)>
where
    C: AsyncRead + AsyncWrite + Unpin,
    S: AsyncRead + AsyncWrite + Unpin,
    F: Fn(TcpStream, TcpStream) -> Fut,
    Fut: Future<Output = io::Result<(C, S)>>,
{
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let mut clients: Vec<Box<C>> = Vec::with_capacity(count);
    let mut servers: Vec<Box<S>> = Vec::with_capacity(count);
    let region = Region::new(GLOBAL);
    for _ in 0..count {
        let (client, server) = tcp_pair(&listener).await?;
        let (mut client, mut server) = establish(client, server).await?;
        let mut byte = [0u8; 1];
        client.write_all(b"c").await?;
        client.flush().await?;
        server.read_exact(&mut byte).await?;
        server.write_all(b"s").await?;
        server.flush().await?;
        client.read_exact(&mut byte).await?;
        clients.push(Box::new(client));
        servers.push(Box::new(server));
    }
    let held = region.change();
    let pairs = held.bytes_allocated as f64 - held.bytes_deallocated as f64;
    let region = Region::new(GLOBAL);
    drop(servers);
    let freed = region.change();
    let server = freed.bytes_deallocated as f64 - freed.bytes_allocated as f64;
    drop(clients);
    Ok((pairs / count as f64, server / count as f64))
}
