//! Full handshakes over loopback, TCP connect included: one at a time, and many in flight.

use std::{io, sync::Arc, time::Instant};

use tokio::{
    net::{TcpListener, TcpStream},
    sync::Semaphore,
    task::JoinSet,
};

use crate::{contenders::Contender, setup::tcp_pair};

/// Handshakes a second, `count` of them one after the other.
pub async fn one_at_a_time<C: Contender>(contender: &C, count: usize) -> io::Result<f64> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let started = Instant::now();
    for _ in 0..count {
        let (client, server) = tcp_pair(&listener).await?;
        let (client, server) = tokio::join!(contender.connect(client), contender.accept(server));
        drop((client?, server?));
    }
    Ok(count as f64 / started.elapsed().as_secs_f64())
}

/// Handshakes a second, `count` of them with `in_flight` at once, each end in a task of its
/// own on the runtime's workers.
pub async fn in_flight<C: Contender>(
    contender: &C,
    count: usize,
    in_flight: usize,
) -> io::Result<f64> {
    let listener = Arc::new(TcpListener::bind("127.0.0.1:0").await?);
    let addr = listener.local_addr()?;
    let places = Arc::new(Semaphore::new(in_flight));
    let mut tasks = JoinSet::new();
    let started = Instant::now();
    for _ in 0..count {
        let place = places
            .clone()
            .acquire_owned()
            .await
            .map_err(io::Error::other)?;
        let (contender, listener) = (contender.clone(), listener.clone());
        tasks.spawn(async move {
            let client = async {
                let tcp = TcpStream::connect(addr).await?;
                tcp.set_nodelay(true)?;
                contender.connect(tcp).await
            };
            let server = async {
                let (tcp, _) = listener.accept().await?;
                tcp.set_nodelay(true)?;
                contender.accept(tcp).await
            };
            let (client, server) = tokio::join!(client, server);
            drop(place);
            client.map(drop).and(server.map(drop))
        });
        while let Some(done) = tasks.try_join_next() {
            done.map_err(io::Error::other)??;
        }
    }
    while let Some(done) = tasks.join_next().await {
        done.map_err(io::Error::other)??;
    }
    Ok(count as f64 / started.elapsed().as_secs_f64())
}
