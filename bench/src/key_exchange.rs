//! Section 6, key exchange (`-- --key-exchange`).

use std::sync::Arc;

use rustls::{ClientConfig, ServerConfig};

use crate::common;
use crate::setup::*;

/// Full handshakes (no tickets) with both sides on one group set: X25519MLKEM768 preferred
/// (the default with aws-lc-rs, as rustls' own defaults) or X25519 only; the ClientHello's
/// size for each. Both contenders run on the same configurations.
pub(crate) fn key_exchange_setup(x25519_only: bool) -> Result<Setup, Box<dyn std::error::Error>> {
    let mut provider = rustls::crypto::aws_lc_rs::default_provider();
    if x25519_only {
        provider.kx_groups = vec![rustls::crypto::aws_lc_rs::kx_group::X25519];
    }
    let provider = Arc::new(provider);
    let ca = common::pki::Ca::new("bench CA")?;
    let leaf = ca.issue_with(&["localhost"], common::pki::ServerKey::EcdsaP256)?;
    let mut server = ServerConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_single_cert(leaf.chain, leaf.key)?;
    server.send_tls13_tickets = 0;
    let mut client = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_root_certificates(ca.roots()?)
        .with_no_client_auth();
    client.resumption = rustls::client::Resumption::disabled();
    Ok(Setup::new(Arc::new(server), Arc::new(client), false))
}

pub(crate) fn key_exchange_section(quick: bool) -> Result<(), Box<dyn std::error::Error>> {
    let (reps, sequential, concurrent) = if quick { (3, 100, 400) } else { (5, 500, 2000) };
    println!(
        "key exchange: {reps} repetitions; {sequential} handshakes one at a time, {concurrent} with 64 in flight"
    );
    println!();
    println!("| groups | ClientHello bytes | one at a time: ours hs/s | tokio-rustls | ours / tokio-rustls | 64 in flight: ours hs/s | tokio-rustls | ours / tokio-rustls |");
    println!("|---|---|---|---|---|---|---|---|");
    let current = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let workers = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    for (label, x25519_only) in [
        ("X25519MLKEM768, X25519 (default)", false),
        ("X25519 only", true),
    ] {
        let setup = key_exchange_setup(x25519_only)?;
        let mut hello = Vec::new();
        let mut client =
            rustls::ClientConnection::new(setup.client.clone(), setup.server_name.clone())?;
        while client.wants_write() {
            client.write_tls(&mut hello)?;
        }
        let (mut seq, mut conc) = ([Vec::new(), Vec::new()], [Vec::new(), Vec::new()]);
        for _ in 0..reps {
            for (i, who) in [Contender::Ours, Contender::TokioRustls]
                .into_iter()
                .enumerate()
            {
                seq[i].push(current.block_on(one_at_a_time(&setup, who, sequential))?);
                conc[i].push(workers.block_on(in_flight(&setup, who, concurrent, 64))?.0);
            }
        }
        let s = [median(&mut seq[0]), median(&mut seq[1])];
        let c = [median(&mut conc[0]), median(&mut conc[1])];
        println!(
            "| {label} | {} | {:.0} | {:.0} | {:.2} | {:.0} | {:.0} | {:.2} |",
            hello.len(),
            s[0],
            s[1],
            s[0] / s[1],
            c[0],
            c[1],
            c[0] / c[1]
        );
    }
    Ok(())
}
