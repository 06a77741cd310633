//! HTTPS with hyper over [`TlsListener`]: HTTP/1.1 and HTTP/2, chosen by ALPN, and a graceful
//! drain on Ctrl-C.
//!
//! - `cargo run --example https_server -- --addr 127.0.0.1:8443` serves `GET /` with a
//!   certificate for `localhost` made at start-up;
//! - `--ca-out FILE` writes that certificate's CA, for `curl --cacert FILE`;
//! - `--max-connections N` exits after N connections were served;
//! - a client has 10 s (`--header-timeout-ms`) to send each request's headers: hyper runs
//!   with a timer, so a client that finished its TLS handshake cannot then hold the
//!   connection by dripping its request (the listener sheds such peers during the handshake;
//!   this keeps them out one layer up).
//! - Ctrl-C (SIGINT) drains: the listener stops accepting (new connections are refused),
//!   handshakes in flight get 5 s to finish, HTTP connections finish their requests (idle
//!   keep-alive ones are closed), and the server prints the drain report and exits.
//!
//! Try `curl --cacert FILE --resolve localhost:8443:127.0.0.1 https://localhost:8443/`
//! (add `--http2` or `--http1.1`).

mod common;

use std::{
    convert::Infallible,
    error::Error,
    sync::{
        atomic::{AtomicBool, Ordering},
        Arc,
    },
    time::Duration,
};

use http_body_util::Full;
use hyper::{body::Bytes, service::service_fn, Request, Response};
use hyper_util::{rt::TokioIo, server::graceful::GracefulShutdown};
use tokio_tls_handshake::{
    listener::{ListenError, TlsListener},
    Acceptor,
};

/// How long a drain lets handshakes and HTTP connections finish.
const GRACE: Duration = Duration::from_secs(5);

async fn hello(
    request: Request<hyper::body::Incoming>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let body = format!(
        "hello over {:?} from tokio-tls-handshake\n",
        request.version()
    );
    Ok(Response::new(Full::new(Bytes::from(body))))
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn Error>> {
    let (mut addr, mut ca_out, mut max) = ("127.0.0.1:8443".to_string(), None, None);
    let mut header_timeout = common::http::DEFAULT_HEADER_READ_TIMEOUT;
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let value = args.next().ok_or(format!("{flag} needs a value"))?;
        match flag.as_str() {
            "--addr" => addr = value,
            "--ca-out" => ca_out = Some(value),
            "--max-connections" => max = Some(value.parse::<u64>()?),
            "--header-timeout-ms" => header_timeout = Duration::from_millis(value.parse()?),
            other => return Err(format!("unknown argument {other}").into()),
        }
    }

    // HTTP/2 and HTTP/1.1 by ALPN, a certificate for localhost made now.
    let config = common::https_config("https_server CA", ca_out.as_deref())?;

    let tcp = tokio::net::TcpListener::bind(&addr).await?;
    println!("listening on {}", tcp.local_addr()?);
    let mut listener = TlsListener::new(tcp, Acceptor::from(Arc::new(config)));

    // Ctrl-C starts the drain; the accept loop below ends when it is done.
    let handle = listener.handle();
    let interrupted = Arc::new(AtomicBool::new(false));
    tokio::spawn({
        let (handle, interrupted) = (handle.clone(), interrupted.clone());
        async move {
            if tokio::signal::ctrl_c().await.is_ok() {
                println!("draining: {} handshakes in flight", handle.in_flight());
                interrupted.store(true, Ordering::SeqCst);
                handle.drain(GRACE);
            }
        }
    });

    let http = GracefulShutdown::new();
    let builder = common::http::builder(header_timeout);
    let mut connections = tokio::task::JoinSet::new();
    let mut served = 0u64;
    while let Some(next) = listener.accept().await {
        // Reap finished connections, so a long-running server holds nothing for them.
        while connections.try_join_next().is_some() {}
        match next {
            Ok((tls, peer)) => {
                let (watcher, builder) = (http.watcher(), builder.clone());
                connections.spawn(async move {
                    let connection = builder.serve_connection(TokioIo::new(tls), service_fn(hello));
                    if let Err(e) = watcher.watch(connection).await {
                        println!("{peer}: {e}");
                    }
                });
                served += 1;
                if max.is_some_and(|max| served >= max) {
                    // Enough: stop accepting, and let the handshakes in flight finish.
                    handle.drain(GRACE);
                }
            }
            Err(ListenError::Handshake { peer, error, .. }) => println!("{peer}: failed: {error}"),
            Err(e) => println!("{e}"),
        }
    }
    println!("{}", handle.drained().await);

    let closed = if interrupted.load(Ordering::SeqCst) {
        // Interrupted: requests in progress finish, idle connections are closed.
        tokio::time::timeout(GRACE, http.shutdown()).await
    } else {
        // Served enough: the connections end when their clients are done.
        tokio::time::timeout(GRACE, async {
            while connections.join_next().await.is_some() {}
        })
        .await
    };
    match closed {
        Ok(()) => println!("all connections closed"),
        Err(_) => println!("connections still open after {GRACE:?}; exiting"),
    }
    Ok(())
}
