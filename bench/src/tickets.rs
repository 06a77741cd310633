//! Section 7, ticket cost (`-- --ticket-cost`).

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use crate::setup::*;

/// The work one PSK identity in a ClientHello can cost a server's ticketer (rustls tries
/// every identity offered): nanoseconds per `decrypt` of a ticket that names no key held, of
/// a forged one naming a key held (its tag fails), and of a genuine one, for `TicketKeys`
/// (a key file, and `from_secret`) beside rustls' own ticketer, in one run.
pub(crate) fn ticket_cost() -> Result<(), Box<dyn std::error::Error>> {
    use rustls::server::ProducesTickets;
    const ROUNDS: u32 = 20_000;
    let provider = rustls::crypto::aws_lc_rs::default_provider();
    let ticketers: [(&str, Arc<dyn ProducesTickets>); 3] = [
        (
            "rustls' own (aws-lc-rs Ticketer)",
            rustls::crypto::aws_lc_rs::Ticketer::new()?,
        ),
        (
            "TicketKeys, a key file",
            tokio_tls_handshake::tickets::TicketKeys::new([7; 32], [[8; 32]])
                .ticketer(&provider)?,
        ),
        (
            "TicketKeys::from_secret",
            tokio_tls_handshake::tickets::TicketKeys::from_secret(
                [7; 32],
                Duration::from_secs(3600),
            )
            .ticketer(&provider)?,
        ),
    ];
    println!("ticket cost: ns per decrypt, median of 5 x {ROUNDS}");
    println!();
    println!("| ticketer | no key held | a key held, forged | genuine |");
    println!("|---|---|---|---|");
    for (label, ticketer) in ticketers {
        let genuine = ticketer.encrypt(&[0x5a; 100]).ok_or("no ticket")?;
        let mut forged = genuine.clone();
        if let Some(last) = forged.last_mut() {
            *last ^= 1;
        }
        let unknown = vec![0xee; genuine.len()];
        let mut row = Vec::new();
        for (ticket, opens) in [(&unknown, false), (&forged, false), (&genuine, true)] {
            let mut samples = Vec::new();
            for _ in 0..5 {
                let start = Instant::now();
                for _ in 0..ROUNDS {
                    let opened = ticketer.decrypt(std::hint::black_box(ticket));
                    if opened.is_some() != opens {
                        return Err(format!("{label}: unexpected outcome").into());
                    }
                }
                samples.push(start.elapsed().as_nanos() as f64 / f64::from(ROUNDS));
            }
            row.push(median(&mut samples));
        }
        println!(
            "| {label} | {:.0} | {:.0} | {:.0} |",
            row[0], row[1], row[2]
        );
    }
    Ok(())
}
