//! HTTPS with axum over [`TlsListener`]: HTTP/1.1 and HTTP/2 by ALPN, what the handshake
//! negotiated available to handlers, and a graceful drain on Ctrl-C.
//!
//! - `cargo run --example axum_server --features axum -- --addr 127.0.0.1:8443 --ca-out ca.pem`
//!   serves `GET /` with a certificate for `localhost` made at start-up, its CA written to
//!   `ca.pem`;
//! - try `curl --cacert ca.pem --resolve localhost:8443:127.0.0.1 https://localhost:8443/`
//!   (add `--http2` or `--http1.1`);
//! - Ctrl-C drains: no new connections, handshakes in flight get 5 s, requests in progress
//!   finish, then it prints the drain report and exits.

mod common;

use std::{error::Error, sync::Arc, time::Duration};

use axum::{extract::ConnectInfo, http::Version, routing::get, Router};
use tokio_tls_handshake::{Acceptor, TlsConnectInfo, TlsListener};

async fn hello(ConnectInfo(tls): ConnectInfo<TlsConnectInfo>, version: Version) -> String {
    let alpn = tls.report.alpn.as_deref().map(String::from_utf8_lossy);
    format!(
        "hello over {version:?} from {} (sni {:?}, alpn {:?})\n",
        tls.peer,
        tls.report.server_name.as_deref().unwrap_or("-"),
        alpn.as_deref().unwrap_or("-"),
    )
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn Error>> {
    let (mut addr, mut ca_out) = ("127.0.0.1:8443".to_string(), None);
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let value = args.next().ok_or(format!("{flag} needs a value"))?;
        match flag.as_str() {
            "--addr" => addr = value,
            "--ca-out" => ca_out = Some(value),
            other => return Err(format!("unknown argument {other}").into()),
        }
    }

    // HTTP/2 and HTTP/1.1 by ALPN, a certificate for localhost made now.
    let config = common::https_config("axum_server CA", ca_out.as_deref())?;

    let tcp = tokio::net::TcpListener::bind(&addr).await?;
    println!("listening on {}", tcp.local_addr()?);
    let listener = TlsListener::new(tcp, Acceptor::from(Arc::new(config)));
    let handle = listener.handle();
    tokio::spawn({
        let handle = handle.clone();
        async move {
            if tokio::signal::ctrl_c().await.is_ok() {
                println!("draining");
                handle.drain(Duration::from_secs(5));
            }
        }
    });

    let app = Router::new().route("/", get(hello));
    let drained = handle.clone();
    axum::serve(
        listener,
        app.into_make_service_with_connect_info::<TlsConnectInfo>(),
    )
    // axum stops once the listener has drained, then lets requests in progress finish.
    .with_graceful_shutdown(async move {
        drained.drained().await;
    })
    .await?;
    println!("{}", handle.drained().await);
    Ok(())
}
