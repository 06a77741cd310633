//! Idle established connections: the heap a set of client+server pairs holds after a
//! handshake and one byte each way, counted by the global allocator.

use std::io;

use stats_alloc::Region;
use tokio::net::TcpListener;

use crate::{
    contenders::{Contender, Tls},
    setup::{tcp_pair, GLOBAL},
};

/// What `count` idle pairs held.
#[derive(Debug, Clone, Copy)]
pub struct Held {
    /// Heap bytes per client+server pair (both streams, boxed as a task holds them, their
    /// sockets' registrations included).
    pub per_pair: f64,
    /// Heap bytes given back per server stream dropped.
    pub per_server: f64,
    /// Allocations counted while the pairs were made, so that a zero cannot pass as a
    /// result.
    pub allocations: usize,
}

/// Makes `count` pairs on `contender`, each after a handshake and one byte each way, and
/// counts what they hold.
pub async fn idle<C: Contender>(contender: &C, count: usize) -> io::Result<Held> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let mut clients: Vec<Box<C::Client>> = Vec::with_capacity(count);
    let mut servers: Vec<Box<C::Server>> = Vec::with_capacity(count);
    let mut buf = vec![0u8; 64 * 1024];
    let region = Region::new(GLOBAL);
    for _ in 0..count {
        let (client, server) = tcp_pair(&listener).await?;
        let (client, server) = tokio::join!(contender.connect(client), contender.accept(server));
        let (mut client, mut server) = (client?, server?);
        client.write_all(b"c").await?;
        let read = server.read(&mut buf).await?;
        server.write_all(b"s").await?;
        let answered = client.read(&mut buf).await?;
        if (read, answered) != (1, 1) {
            return Err(io::Error::other("one byte each way"));
        }
        clients.push(Box::new(client));
        servers.push(Box::new(server));
    }
    let held = region.change();
    let region = Region::new(GLOBAL);
    drop(servers);
    let freed = region.change();
    drop(clients);
    let count = count as f64;
    Ok(Held {
        per_pair: (held.bytes_allocated as f64 - held.bytes_deallocated as f64) / count,
        per_server: (freed.bytes_deallocated as f64 - freed.bytes_allocated as f64) / count,
        allocations: held.allocations,
    })
}
