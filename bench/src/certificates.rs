//! Section 4, choosing among 10,000 certificates (`-- --certificates`).

use std::{sync::Arc, time::Instant};

use rustls::{ClientConfig, ServerConfig};

use crate::common;
use crate::setup::*;

/// `-- --certificates`: what choosing a certificate by name costs. Full handshakes one at a
/// time (ECDSA P-256, no tickets), this crate's acceptor, the server holding one certificate
/// or choosing among 10,000 by SNI: a `CertificateStore` loaded from 10,000 files, as the
/// configuration's resolver and also as the acceptor's chooser (the ClientHello read
/// first), and rustls' own `ResolvesServerCertUsingSni` holding the same 10,000.
pub(crate) fn certificates_section(quick: bool) -> Result<(), Box<dyn std::error::Error>> {
    use rustls::{server::ResolvesServerCertUsingSni, sign::CertifiedKey};
    use tokio_tls_handshake::certificates::CertificateStore;

    const CERTIFICATES: usize = 10_000;
    let (reps, count) = if quick { (3, 200) } else { (7, 1000) };
    let ca = common::pki::Ca::new("bench CA")?;
    let dir = std::env::temp_dir().join(format!("bench-certificates-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let provider = rustls::crypto::CryptoProvider::get_default()
        .cloned()
        .unwrap_or_else(|| Arc::new(rustls::crypto::aws_lc_rs::default_provider()));
    let mut by_sni = ResolvesServerCertUsingSni::new();
    let target = "host7777.bench.test";
    let mut single = None;
    for i in 0..CERTIFICATES {
        let name = format!("host{i}.bench.test");
        let leaf = ca.issue(&[&name])?;
        let file = format!("{}{}", leaf.cert_pem(), leaf.key_pem());
        std::fs::write(dir.join(format!("{name}.pem")), file)?;
        let certified =
            CertifiedKey::from_der(leaf.chain.clone(), leaf.key.clone_key(), &provider)?;
        by_sni.add(&name, certified)?;
        if name == target {
            single = Some(leaf);
        }
    }
    let loading = Instant::now();
    let store = CertificateStore::from_dir(&dir)?;
    let loaded = loading.elapsed();
    std::fs::remove_dir_all(&dir)?;
    let single = single.ok_or("the target certificate")?;
    let server = |resolver: Option<Arc<dyn rustls::server::ResolvesServerCert>>| {
        let builder = ServerConfig::builder().with_no_client_auth();
        let mut config = match resolver {
            Some(resolver) => builder.with_cert_resolver(resolver),
            None => builder.with_single_cert(single.chain.clone(), single.key.clone_key())?,
        };
        config.send_tls13_tickets = 0;
        Ok::<_, rustls::Error>(Arc::new(config))
    };
    let mut client = ClientConfig::builder()
        .with_root_certificates(ca.roots()?)
        .with_no_client_auth();
    client.resumption = rustls::client::Resumption::disabled();
    let mut one = Setup::new(server(None)?, Arc::new(client), false);
    one.server_name = target.try_into()?;
    let resolver = Setup {
        server: server(Some(Arc::new(store.clone())))?,
        ..one.clone()
    };
    let chooser = Setup {
        chooser: Some(store.clone()),
        ..resolver.clone()
    };
    let rustls_sni = Setup {
        server: server(Some(Arc::new(by_sni)))?,
        ..one.clone()
    };
    let current = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let setups = [&one, &resolver, &chooser, &rustls_sni];
    let mut rates = [Vec::new(), Vec::new(), Vec::new(), Vec::new()];
    for _ in 0..reps {
        for (rates, setup) in rates.iter_mut().zip(setups) {
            rates.push(current.block_on(one_at_a_time(setup, Contender::Ours, count))?);
        }
    }
    let [one, resolver, chooser, rustls_sni] = rates.map(|mut r| median(&mut r));
    println!(
        "certificates: {reps} repetitions of {count} handshakes one at a time; {CERTIFICATES} certificates loaded from files in {:.2} s",
        loaded.as_secs_f64()
    );
    println!();
    println!("| the server's certificates | hs/s | / one certificate |");
    println!("|---|---|---|");
    for (label, rate) in [
        ("one certificate (`with_single_cert`)", one),
        ("`CertificateStore` of 10,000, as the resolver", resolver),
        (
            "`CertificateStore` of 10,000, resolver and `with_chooser`",
            chooser,
        ),
        ("rustls' `ResolvesServerCertUsingSni` of 10,000", rustls_sni),
    ] {
        println!("| {label} | {rate:.0} | {:.3} |", rate / one);
    }
    Ok(())
}
