//! An echo server over [`TlsListener`]:
//!
//! - `cargo run --example echo_server -- --addr 127.0.0.1:8443` uses a certificate for
//!   `localhost` made at start-up and writes its CA to a file it names (one per process, or
//!   `--ca-out FILE`), for `curl --cacert` or `openssl s_client -CAfile`;
//! - `--cert FILE --key FILE` serve PEM files instead, and reload them on SIGHUP (new
//!   connections get the new certificate; a bad file keeps the old one serving);
//! - logs every handshake (peer, version, cipher suite, ALPN, SNI, duration, bytes) and every
//!   failure (peer and typed cause); `--max-connections N` exits after N handshakes;
//! - bounded after the handshake too: at most 1024 connections served at once
//!   (`--max-open N`; a full server takes no more from the listener until one closes), and a
//!   connection silent for 60 s (`--idle-timeout-ms N`) is closed. The listener bounds the
//!   rest: handshakes in flight (`with_max_in_flight`) and finished ones waiting to be taken
//!   (`with_max_ready`), so open sockets stay under the sum.
//!
//! Try it with `openssl s_client -connect 127.0.0.1:8443 -CAfile <the CA file>`.

mod common;

use std::{error::Error, sync::Arc, time::Duration};

use rustls::{
    pki_types::{pem::PemObject, CertificateDer, PrivateKeyDer},
    ServerConfig,
};
use tokio_tls_handshake::{
    certificates::ReloadableConfig,
    listener::{ListenError, TlsListener},
    Acceptor,
};

struct Args {
    addr: String,
    cert: Option<String>,
    key: Option<String>,
    ca_out: Option<String>,
    max_connections: Option<u64>,
    max_open: usize,
    idle_timeout: Duration,
}

fn args() -> Result<Args, String> {
    let mut args = Args {
        addr: "127.0.0.1:8443".into(),
        cert: None,
        key: None,
        ca_out: None,
        max_connections: None,
        max_open: common::echo::DEFAULT_MAX_OPEN,
        idle_timeout: common::echo::DEFAULT_IDLE_TIMEOUT,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().ok_or(format!("{flag} needs a value"));
        match flag.as_str() {
            "--addr" => args.addr = value()?,
            "--cert" => args.cert = Some(value()?),
            "--key" => args.key = Some(value()?),
            "--ca-out" => args.ca_out = Some(value()?),
            "--max-connections" => {
                args.max_connections = Some(value()?.parse().map_err(|e| format!("{e}"))?)
            }
            "--max-open" => args.max_open = value()?.parse().map_err(|e| format!("{e}"))?,
            "--idle-timeout-ms" => {
                let ms = value()?.parse().map_err(|e| format!("{e}"))?;
                args.idle_timeout = Duration::from_millis(ms);
            }
            other => return Err(format!("unknown argument {other}")),
        }
    }
    Ok(args)
}

fn config(args: &Args) -> Result<ServerConfig, Box<dyn Error>> {
    let (chain, key) = match (&args.cert, &args.key) {
        (Some(cert), Some(key)) => (
            CertificateDer::pem_file_iter(cert)?.collect::<Result<Vec<_>, _>>()?,
            PrivateKeyDer::from_pem_file(key)?,
        ),
        (None, None) => {
            let ca = common::pki::Ca::new("echo_server CA")?;
            let leaf = ca.issue(&["localhost", "127.0.0.1"])?;
            // One file per process, so that instances side by side do not overwrite each
            // other's CA.
            let path = match &args.ca_out {
                Some(path) => path.into(),
                None => std::env::temp_dir().join(format!(
                    "tokio-tls-handshake-echo-ca-{}.pem",
                    std::process::id()
                )),
            };
            std::fs::write(&path, ca.cert_pem())?;
            println!(
                "generated a certificate for localhost; its CA is in {}",
                path.display()
            );
            (leaf.chain, leaf.key)
        }
        _ => return Err("--cert and --key go together".into()),
    };
    Ok(ServerConfig::builder()
        .with_no_client_auth()
        .with_single_cert(chain, key)?)
}

/// Reads the certificate and key files again on each SIGHUP.
#[cfg(unix)]
async fn reload_on_hangup(config: ReloadableConfig, cert: String, key: String) {
    use tokio::signal::unix::{signal, SignalKind};
    let Ok(mut hangups) = signal(SignalKind::hangup()) else {
        println!("no SIGHUP handler: reloading is off");
        return;
    };
    while hangups.recv().await.is_some() {
        match config.reload_pem_files(&cert, &key) {
            Ok(()) => println!("reloaded the certificate from {cert}"),
            Err(e) => println!("reload failed, still serving the previous certificate: {e}"),
        }
    }
}

#[cfg(not(unix))]
async fn reload_on_hangup(_: ReloadableConfig, _: String, _: String) {}

#[tokio::main]
async fn main() -> Result<(), Box<dyn Error>> {
    let args = args()?;
    let tcp = tokio::net::TcpListener::bind(&args.addr).await?;
    println!("listening on {}", tcp.local_addr()?);
    let config = ReloadableConfig::new(Arc::new(config(&args)?));
    if let (Some(cert), Some(key)) = (args.cert.clone(), args.key.clone()) {
        tokio::spawn(reload_on_hangup(config.clone(), cert, key));
    }
    let mut listener = TlsListener::new(tcp, Acceptor::from(config));
    let open = common::echo::OpenConnections::new(args.max_open);
    let mut connections = tokio::task::JoinSet::new();
    let mut served = 0u64;
    loop {
        // A slot first: a full server stops accepting until a connection closes.
        let slot = open.slot().await;
        let Some(next) = listener.accept().await else {
            break;
        };
        // Reap finished connections, so a long-running server holds nothing for them.
        while connections.try_join_next().is_some() {}
        match next {
            Ok((mut tls, peer)) => {
                let conn = tls.connection();
                let cost = tls.report().stats;
                println!(
                    "{peer}: {:?} {:?} alpn {:?} sni {:?}, {:?}, read {} B, wrote {} B",
                    conn.protocol_version(),
                    conn.negotiated_cipher_suite().map(|s| s.suite()),
                    conn.alpn_protocol().map(String::from_utf8_lossy),
                    conn.server_name(),
                    cost.duration,
                    cost.bytes_read,
                    cost.bytes_written,
                );
                served += 1;
                let idle = args.idle_timeout;
                connections.spawn(async move {
                    let _slot = slot;
                    match common::echo::echo(&mut tls, idle).await {
                        Ok(common::echo::Ended::Idle) => println!("{peer}: idle, closed"),
                        Ok(common::echo::Ended::Closed) => {}
                        Err(e) => println!("{peer}: {e}"),
                    }
                });
                if args.max_connections.is_some_and(|max| served >= max) {
                    break;
                }
            }
            Err(ListenError::Handshake { peer, error, .. }) => println!("{peer}: failed: {error}"),
            Err(e) => println!("{e}"),
        }
    }
    // Let the last connections finish their echo before exiting.
    while let Some(connection) = connections.join_next().await {
        connection?;
    }
    Ok(())
}
