//! HTTPS with axum over [`TlsListener`]: HTTP/1.1 and HTTP/2 by ALPN, what the handshake
//! negotiated available to handlers, a header-read timeout, and a graceful drain on Ctrl-C.
//!
//! - `cargo run --example axum_server --features axum -- --addr 127.0.0.1:8443 --ca-out ca.pem`
//!   serves `GET /` with a certificate for `localhost` made at start-up, its CA written to
//!   `ca.pem`;
//! - try `curl --cacert ca.pem --resolve localhost:8443:127.0.0.1 https://localhost:8443/`
//!   (add `--http2` or `--http1.1`);
//! - the router is served with hyper-util's builder rather than `axum::serve`, because
//!   `axum::serve` (axum 0.8) gives no way to set hyper's timer: without one, a client that
//!   finished its TLS handshake could hold the connection for ever by dripping its request.
//!   Here it has 10 s (`--header-timeout-ms`) for each request's headers. Handlers still get
//!   `ConnectInfo<TlsConnectInfo>`, as from `axum::serve`;
//! - Ctrl-C drains: no new connections, handshakes in flight get 5 s, requests in progress
//!   finish, then it prints the drain report and exits.

mod common;

use std::{error::Error, sync::Arc, time::Duration};

use axum::{extract::ConnectInfo, http::Version, routing::get, Extension, Router};
use hyper_util::{rt::TokioIo, server::graceful::GracefulShutdown, service::TowerToHyperService};
use tokio_tls_handshake::{
    listener::{ListenError, TlsConnectInfo, TlsListener},
    Acceptor,
};

/// How long a drain lets handshakes and requests in progress finish.
const GRACE: Duration = Duration::from_secs(5);

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
    let mut header_timeout = common::http::DEFAULT_HEADER_READ_TIMEOUT;
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let value = args.next().ok_or(format!("{flag} needs a value"))?;
        match flag.as_str() {
            "--addr" => addr = value,
            "--ca-out" => ca_out = Some(value),
            "--header-timeout-ms" => header_timeout = Duration::from_millis(value.parse()?),
            other => return Err(format!("unknown argument {other}").into()),
        }
    }

    // HTTP/2 and HTTP/1.1 by ALPN, a certificate for localhost made now.
    let config = common::https_config("axum_server CA", ca_out.as_deref())?;

    let tcp = tokio::net::TcpListener::bind(&addr).await?;
    println!("listening on {}", tcp.local_addr()?);
    let mut listener = TlsListener::new(tcp, Acceptor::from(Arc::new(config)));
    let handle = listener.handle();
    tokio::spawn({
        let handle = handle.clone();
        async move {
            if tokio::signal::ctrl_c().await.is_ok() {
                println!("draining");
                handle.drain(GRACE);
            }
        }
    });

    let app = Router::new().route("/", get(hello));
    let builder = common::http::builder(header_timeout);
    let http = GracefulShutdown::new();
    let mut connections = tokio::task::JoinSet::new();
    // The loop ends once the listener has drained.
    while let Some(next) = listener.accept().await {
        while connections.try_join_next().is_some() {}
        match next {
            Ok((tls, peer)) => {
                let info = TlsConnectInfo::new(peer, tls.report());
                let router = app.clone().layer(Extension(ConnectInfo(info)));
                let (watcher, builder) = (http.watcher(), builder.clone());
                connections.spawn(async move {
                    let service = TowerToHyperService::new(router);
                    let connection =
                        builder.serve_connection_with_upgrades(TokioIo::new(tls), service);
                    if let Err(e) = watcher.watch(connection).await {
                        println!("{peer}: {e}");
                    }
                });
            }
            Err(ListenError::Handshake { peer, error, .. }) => println!("{peer}: failed: {error}"),
            Err(e) => println!("{e}"),
        }
    }
    println!("{}", handle.drained().await);
    // Requests in progress finish, idle connections are closed.
    if tokio::time::timeout(GRACE, http.shutdown()).await.is_err() {
        println!("connections still open after {GRACE:?}; exiting");
    }
    Ok(())
}
