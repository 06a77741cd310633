//! HTTPS with certificates from an ACME server (feature `acme`): the certificate for each
//! `--name` is ordered through TLS-ALPN-01 on this server's own port, cached in `--cache` (a
//! restart serves it at once, without asking the ACME server) and renewed before it expires.
//! `--certs DIR` serves the certificates in DIR too, each chosen by the name a client asks
//! for; SIGHUP reloads them. A name with no certificate is refused with `unrecognized_name`.
//!
//! ```text
//! cargo run --example acme_server --features acme -- \
//!     --directory https://acme-v02.api.letsencrypt.org/directory \
//!     --cache /var/lib/acme_server --name example.com --contact mailto:ops@example.com \
//!     --addr 0.0.0.0:443
//! ```
//!
//! - `--http-root FILE`: trust the root in FILE (PEM) for the ACME server's own HTTPS instead
//!   of the platform's (a test server such as Pebble has its own);
//! - `--max-connections N`: exit after N connections were served.
//!
//! The README's "Certificates" section runs it against Pebble on one machine.

mod common;

use std::{convert::Infallible, error::Error, sync::Arc};

use http_body_util::Full;
use hyper::{body::Bytes, service::service_fn, Request, Response};
use hyper_util::rt::TokioIo;
use rustls::{pki_types::pem::PemObject, RootCertStore};
use tokio::signal::unix::{signal, SignalKind};
use tokio_tls_handshake::{
    acme::{Acme, AcmeConfig},
    certificates::CertificateStore,
    listener::{ListenError, TlsListener},
    Acceptor, HandshakeError,
};

async fn hello(
    request: Request<hyper::body::Incoming>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    // HTTP/2 carries the host in the request's authority, HTTP/1.1 in its Host header.
    let host = request
        .uri()
        .authority()
        .map(|a| a.to_string())
        .or_else(|| {
            let header = request.headers().get(hyper::header::HOST)?;
            header.to_str().ok().map(str::to_string)
        })
        .unwrap_or_else(|| "?".to_string());
    let body = format!("hello {host} over {:?}\n", request.version());
    Ok(Response::new(Full::new(Bytes::from(body))))
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn Error>> {
    let (mut addr, mut directory, mut cache) = ("127.0.0.1:8443".to_string(), None, None);
    let (mut names, mut contact, mut certs) = (Vec::new(), None, None);
    let (mut http_root, mut max) = (None, None);
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let value = args.next().ok_or(format!("{flag} needs a value"))?;
        match flag.as_str() {
            "--addr" => addr = value,
            "--directory" => directory = Some(value),
            "--cache" => cache = Some(value),
            "--name" => names.push(value),
            "--contact" => contact = Some(value),
            "--certs" => certs = Some(value),
            "--http-root" => http_root = Some(value),
            "--max-connections" => max = Some(value.parse::<u64>()?),
            other => return Err(format!("unknown argument {other}").into()),
        }
    }
    let directory = directory.ok_or("--directory URL is required")?;
    let cache = cache.ok_or("--cache DIR is required")?;

    // The store serves every certificate: the ones in --certs, and the ones ACME obtains.
    let store = CertificateStore::new();
    if let Some(dir) = &certs {
        if let Err(e) = store.add_dir(dir) {
            println!("{e}");
        }
    }
    let mut acme = AcmeConfig::new(directory, cache);
    for name in &names {
        acme = acme.name(name);
    }
    if let Some(contact) = contact {
        acme = acme.contact(contact);
    }
    if let Some(file) = http_root {
        let mut roots = RootCertStore::empty();
        roots.add(rustls::pki_types::CertificateDer::from_pem_file(file)?)?;
        acme = acme.http_roots(roots);
    }
    let acme = Acme::new(acme, store.clone())?;
    for status in acme.status() {
        if status.certificate.is_some() {
            println!("cached certificate for {}", status.name);
        }
    }

    let mut config = rustls::ServerConfig::builder()
        .with_no_client_auth()
        .with_cert_resolver(Arc::new(store.clone()));
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    let acceptor = Acceptor::from(Arc::new(config)).with_chooser(acme.clone());
    let tcp = tokio::net::TcpListener::bind(&addr).await?;
    println!("listening on {}", tcp.local_addr()?);
    let mut listener = TlsListener::new(tcp, acceptor);

    // Orders and renewals run on their own; each outcome is printed.
    tokio::spawn(acme.clone().run());
    tokio::spawn(print_outcomes(acme.clone()));
    // SIGHUP reloads the certificate files; a bad file keeps its last good version serving.
    tokio::spawn(async move {
        let Ok(mut hangups) = signal(SignalKind::hangup()) else {
            return;
        };
        while hangups.recv().await.is_some() {
            match store.reload() {
                Ok(()) => println!("reloaded: {} certificates", store.len()),
                Err(e) => println!("reload: {e}"),
            }
        }
    });

    let http = common::http::builder(common::http::DEFAULT_HEADER_READ_TIMEOUT);
    let mut served = 0u64;
    while let Some(next) = listener.accept().await {
        match next {
            Ok((tls, peer)) => {
                let http = http.clone();
                tokio::spawn(async move {
                    let connection = http.serve_connection(TokioIo::new(tls), service_fn(hello));
                    if let Err(e) = connection.await {
                        println!("{peer}: {e}");
                    }
                });
                served += 1;
                if max.is_some_and(|max| served >= max) {
                    break;
                }
            }
            Err(ListenError::Handshake {
                error: HandshakeError::Answered { .. },
                peer,
                ..
            }) => println!("{peer}: answered an acme-tls/1 challenge"),
            Err(ListenError::Handshake { peer, error, .. }) => println!("{peer}: failed: {error}"),
            Err(e) => println!("{e}"),
        }
    }
    Ok(())
}

/// Prints each order's outcome as it ends: the certificate's expiry, or the error and when
/// the next attempt is made (the current certificate, if any, keeps serving).
async fn print_outcomes(acme: Acme) {
    let mut attempts = acme.attempts();
    while attempts.changed().await.is_ok() {
        for status in acme.status() {
            match (&status.last_error, &status.certificate) {
                (Some(error), _) => println!("order for {} failed: {error}", status.name),
                (None, Some(certificate)) => println!(
                    "certificate for {}: valid until {}",
                    status.name,
                    unix_seconds(certificate.not_after)
                ),
                (None, None) => {}
            }
        }
    }
}

/// A time as seconds since the Unix epoch (`date -d @SECONDS` shows it).
fn unix_seconds(time: std::time::SystemTime) -> String {
    match time.duration_since(std::time::UNIX_EPOCH) {
        Ok(since) => format!("@{}", since.as_secs()),
        Err(_) => "before 1970".to_string(),
    }
}
