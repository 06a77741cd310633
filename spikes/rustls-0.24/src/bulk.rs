//! Bulk transfer over one loopback connection: MB/s, and the process's CPU time per byte
//! (both ends run in this process, on one thread).

use std::{io, time::Instant};

use tokio::net::TcpListener;

use crate::{
    contenders::{Contender, Tls},
    setup::{cpu_time, tcp_pair},
};

/// One transfer's figures.
#[derive(Debug, Clone, Copy)]
pub struct Rate {
    pub mb_per_s: f64,
    pub cpu_ns_per_byte: f64,
}

/// Which way the bytes go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    ClientToServer,
    ServerToClient,
}

/// Sends `total` bytes in writes of `write` bytes over a new connection, and reads them at
/// the other end into a 64 KiB buffer.
pub async fn transfer<C: Contender>(
    contender: &C,
    total: usize,
    write: usize,
    direction: Direction,
) -> io::Result<Rate> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let (client, server) = tcp_pair(&listener).await?;
    let (client, server) = tokio::join!(contender.connect(client), contender.accept(server));
    let (mut client, mut server) = (client?, server?);
    let data = pattern(write);
    let started = Instant::now();
    let cpu = cpu_time()?;
    match direction {
        Direction::ClientToServer => {
            let (sent, received) = tokio::join!(
                send(&mut client, total, &data),
                receive(&mut server, total, None)
            );
            sent?;
            received?;
        }
        Direction::ServerToClient => {
            let (sent, received) = tokio::join!(
                send(&mut server, total, &data),
                receive(&mut client, total, None)
            );
            sent?;
            received?;
        }
    }
    let cpu = cpu_time()? - cpu;
    let elapsed = started.elapsed().as_secs_f64();
    Ok(Rate {
        mb_per_s: total as f64 / elapsed / 1e6,
        cpu_ns_per_byte: cpu.as_nanos() as f64 / total as f64,
    })
}

/// `len` bytes of a pattern that a receiver can check (`i mod 251`).
pub fn pattern(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i % 251) as u8).collect()
}

/// Sends `total` bytes, `data` at a time.
pub async fn send(tls: &mut impl Tls, total: usize, data: &[u8]) -> io::Result<()> {
    let mut left = total;
    while left > 0 {
        let n = left.min(data.len());
        tls.write_all(&data[..n]).await?;
        left -= n;
    }
    Ok(())
}

/// Reads `total` bytes; with `check`, each one is compared with what [`send`] of that
/// pattern (its write size given) sent.
pub async fn receive(tls: &mut impl Tls, total: usize, check: Option<usize>) -> io::Result<()> {
    let mut buf = vec![0u8; 64 * 1024];
    let mut got = 0;
    while got < total {
        let n = tls.read(&mut buf).await?;
        if n == 0 {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        if let Some(write) = check {
            for (i, byte) in buf[..n].iter().enumerate() {
                let at = (got + i) % write;
                if *byte != (at % 251) as u8 {
                    return Err(io::Error::other(format!("byte {} differs", got + i)));
                }
            }
        }
        got += n;
    }
    Ok(())
}
