//! Fetches a URL with hyper-util's `Client` over this crate's `HttpsConnector` (feature
//! `hyper`), and prints the response's status with the report of the handshake that served
//! it; a failure prints why, typed.
//!
//! ```text
//! cargo run --example https_client --features hyper,webpki-roots -- https://example.com/
//! ```
//!
//! - `--ca FILE`: trust the CA in FILE (PEM) instead of Mozilla's roots (`webpki-roots`) or the
//!   platform's (`native-roots`), for example the one `https_server --ca-out FILE` writes;
//! - `--http2`: offer HTTP/2 too (hyper uses it when the server agrees);
//! - `--timeout-ms N`: the deadline over connect and handshake (default 10 s).

use std::{error::Error, process::ExitCode, sync::Arc, time::Duration};

use http_body_util::{BodyExt, Empty};
use hyper::body::Bytes;
use hyper_util::{client::legacy::Client, rt::TokioExecutor};
use rustls::{pki_types::pem::PemObject, RootCertStore};
use tokio_tls_handshake::{https::HttpsConnector, HandshakeError, HandshakeReport};

#[tokio::main]
async fn main() -> Result<ExitCode, Box<dyn Error>> {
    let (mut url, mut ca, mut http2) = (None, None, false);
    let mut timeout = tokio_tls_handshake::https::DEFAULT_CONNECT_TIMEOUT;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--ca" => ca = Some(args.next().ok_or("--ca needs a file")?),
            "--http2" => http2 = true,
            "--timeout-ms" => {
                let ms = args.next().ok_or("--timeout-ms needs a number")?;
                timeout = Duration::from_millis(ms.parse()?);
            }
            other => url = Some(other.to_string()),
        }
    }
    let url = url.ok_or("usage: https_client [--ca FILE] [--http2] [--timeout-ms N] URL")?;
    let roots = match ca {
        Some(file) => {
            let mut roots = RootCertStore::empty();
            roots.add(rustls::pki_types::CertificateDer::from_pem_file(file)?)?;
            roots
        }
        None => default_roots()?,
    };
    let config = rustls::ClientConfig::builder()
        .with_root_certificates(roots)
        .with_no_client_auth();
    let mut https = HttpsConnector::builder(Arc::new(config)).with_timeout(timeout);
    if http2 {
        https = https.enable_http2();
    }
    let client: Client<_, Empty<Bytes>> =
        Client::builder(TokioExecutor::new()).build(https.build());
    match client.get(url.parse()?).await {
        Ok(response) => {
            println!("{} {:?}", response.status(), response.version());
            if let Some(report) = response.extensions().get::<HandshakeReport>() {
                println!("tls: {report}");
            }
            let body = response.into_body().collect().await?.to_bytes();
            println!("{} bytes of body", body.len());
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => {
            // The typed reason, wherever it sits in hyper's error chain.
            match HandshakeError::find_in(&e) {
                Some(handshake) => println!("handshake failed: {handshake}"),
                None => println!("request failed: {e} ({:?})", e.source()),
            }
            Ok(ExitCode::FAILURE)
        }
    }
}

/// Mozilla's roots (feature `webpki-roots`), else the platform's (feature `native-roots`).
fn default_roots() -> Result<RootCertStore, Box<dyn Error>> {
    #[cfg(feature = "webpki-roots")]
    return Ok(tokio_tls_handshake::Connector::webpki_roots());
    #[cfg(all(feature = "native-roots", not(feature = "webpki-roots")))]
    return Ok(tokio_tls_handshake::Connector::native_roots()?);
    #[cfg(not(any(feature = "webpki-roots", feature = "native-roots")))]
    return Err(
        "no roots: pass --ca FILE, or build with --features webpki-roots or native-roots".into(),
    );
}
