//! Section 3, behind a load balancer and across a fleet (`-- --fleet`).

use std::{io, sync::Arc, time::Instant};

use rustls::ClientConfig;
use tokio::net::TcpListener;

use crate::common;
use crate::listener::*;
use crate::setup::*;

/// The fleet section: the PROXY protocol's cost in the listener (ECDSA P-256 and RSA-2048
/// server keys, as the listener section measures), and resumption across two acceptors that
/// share ticket keys against resumption on one.
pub(crate) fn fleet_section(quick: bool) -> Result<(), Box<dyn std::error::Error>> {
    use common::pki::ServerKey;
    let reps = if quick { 3 } else { 5 };
    println!("fleet: {reps} repetitions");
    println!();
    if cfg!(feature = "proxy-protocol") {
        println!(
            "| server key | TlsListener hs/s | TlsListener + PROXY v2 hs/s | with / without |"
        );
        println!("|---|---|---|---|");
        let server_runtime = server_runtime()?;
        for (key, label, count) in [
            (ServerKey::EcdsaP256, "ECDSA P-256", 6000),
            (ServerKey::Rsa2048, "RSA-2048", 3000),
        ] {
            let count = if quick { count / 4 } else { count };
            let (server, client) = full_handshake_configs(key)?;
            let (mut plain, mut proxied) = (Vec::new(), Vec::new());
            for _ in 0..reps {
                let how = Server::Listener;
                plain.push(serve_and_measure(&server_runtime, how, &server, &client, count)?.0);
                let how = Server::ListenerBehindProxy;
                proxied.push(serve_and_measure(&server_runtime, how, &server, &client, count)?.0);
            }
            let (p, x) = (median(&mut plain), median(&mut proxied));
            println!("| {label} | {p:.0} | {x:.0} | {:.2} |", x / p);
        }
        println!();
    } else {
        println!("(the PROXY protocol rows need `--features proxy-protocol`)");
        println!();
    }

    // Resumed handshakes one at a time, on one acceptor with rustls' own resumption (its
    // in-memory session cache; its own ticketer), and with shared ticket keys: every
    // handshake on one acceptor, or alternating between two (each with its own session
    // state, the same keys).
    let count = if quick { 200 } else { 1000 };
    let keys = tokio_tls_handshake::tickets::TicketKeys::new([7; 32], []);
    let setup = |resumption: Resumption,
                 client: Option<&Arc<ClientConfig>>|
     -> Result<Setup, Box<dyn std::error::Error>> {
        let (mut server, mut fresh) = common::configs("bench CA")?;
        match resumption {
            Resumption::SessionCache => {}
            Resumption::RustlsTicketer => {
                server.ticketer = rustls::crypto::aws_lc_rs::Ticketer::new()?;
            }
            Resumption::TicketKeys => keys.install(&mut server)?,
        }
        fresh.resumption = rustls::client::Resumption::in_memory_sessions(256);
        Ok(Setup::new(
            Arc::new(server),
            client.cloned().unwrap_or_else(|| Arc::new(fresh)),
            true,
        ))
    };
    let current = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let mut rates = [Vec::new(), Vec::new(), Vec::new(), Vec::new()];
    for _ in 0..reps {
        let one_acceptor = [
            Resumption::SessionCache,
            Resumption::RustlsTicketer,
            Resumption::TicketKeys,
        ];
        for (rates, resumption) in rates.iter_mut().zip(one_acceptor) {
            let a = setup(resumption, None)?;
            rates.push(current.block_on(resumed_across(&[&a], count))?);
        }
        let a = setup(Resumption::TicketKeys, None)?;
        let b = setup(Resumption::TicketKeys, Some(&a.client))?;
        rates[3].push(current.block_on(resumed_across(&[&a, &b], count))?);
    }
    let [cache, ticketer, one, two] = rates.map(|mut r| median(&mut r));
    println!(
        "| resumed TLS 1.3 handshakes/s, one at a time, ECDSA P-256 | hs/s | / rustls' ticketer |"
    );
    println!("|---|---|---|");
    for (label, rate) in [
        ("one acceptor, rustls' session cache (its default)", cache),
        ("one acceptor, rustls' own ticketer", ticketer),
        ("one acceptor, `TicketKeys`", one),
        ("two acceptors sharing `TicketKeys`, alternating", two),
    ] {
        println!("| {label} | {rate:.0} | {:.2} |", rate / ticketer);
    }
    Ok(())
}

/// How a fleet section server resumes sessions.
#[derive(Clone, Copy)]
pub(crate) enum Resumption {
    SessionCache,
    RustlsTicketer,
    TicketKeys,
}

/// `count` resumed handshakes one at a time, the i-th against `servers[i % len]` (each with a
/// listener of its own), every one of them required to resume.
pub(crate) async fn resumed_across(servers: &[&Setup], count: usize) -> io::Result<f64> {
    let mut listeners = Vec::new();
    for _ in servers {
        listeners.push(TcpListener::bind("127.0.0.1:0").await?);
    }
    // A first, full handshake gives the client its tickets.
    let (client, server) = tcp_pair(&listeners[0]).await?;
    handshake(servers[0], Contender::Ours, client, server).await?;
    let start = Instant::now();
    for i in 0..count {
        let which = i % servers.len();
        let (client, server) = tcp_pair(&listeners[which]).await?;
        if !handshake(servers[which], Contender::Ours, client, server).await? {
            return Err(io::Error::other(format!("handshake {i} did not resume")));
        }
    }
    Ok(rate(count, start.elapsed()))
}
