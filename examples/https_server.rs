//! HTTPS with hyper over [`TlsListener`]: HTTP/1.1 and HTTP/2, chosen by ALPN.
//!
//! - `cargo run --example https_server -- --addr 127.0.0.1:8443` serves `GET /` with a
//!   certificate for `localhost` made at start-up;
//! - `--ca-out FILE` writes that certificate's CA, for `curl --cacert FILE`;
//! - `--max-connections N` exits after N connections were served.
//!
//! Try `curl --cacert FILE --resolve localhost:8443:127.0.0.1 https://localhost:8443/`
//! (add `--http2` or `--http1.1`).

mod common;

use std::{convert::Infallible, error::Error, sync::Arc};

use http_body_util::Full;
use hyper::{body::Bytes, service::service_fn, Request, Response};
use hyper_util::{
    rt::{TokioExecutor, TokioIo},
    server::conn::auto,
};
use tokio_tls_handshake::{Acceptor, ListenError, TlsListener};

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
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let value = args.next().ok_or(format!("{flag} needs a value"))?;
        match flag.as_str() {
            "--addr" => addr = value,
            "--ca-out" => ca_out = Some(value),
            "--max-connections" => max = Some(value.parse::<u64>()?),
            other => return Err(format!("unknown argument {other}").into()),
        }
    }

    let ca = common::pki::Ca::new("https_server CA");
    let leaf = ca.issue(&["localhost"], common::pki::Leaf::Server);
    if let Some(path) = &ca_out {
        std::fs::write(path, ca.cert_pem())?;
    }
    let mut config = rustls::ServerConfig::builder()
        .with_no_client_auth()
        .with_single_cert(leaf.chain, leaf.key)?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];

    let tcp = tokio::net::TcpListener::bind(&addr).await?;
    println!("listening on {}", tcp.local_addr()?);
    let mut listener = TlsListener::new(tcp, Acceptor::from(Arc::new(config)));
    let mut connections = Vec::new();
    while let Some(next) = listener.accept().await {
        match next {
            Ok((tls, peer)) => {
                connections.push(tokio::spawn(async move {
                    let served = auto::Builder::new(TokioExecutor::new())
                        .serve_connection(TokioIo::new(tls), service_fn(hello))
                        .await;
                    if let Err(e) = served {
                        println!("{peer}: {e}");
                    }
                }));
                if max.is_some_and(|max| connections.len() as u64 >= max) {
                    break;
                }
            }
            Err(ListenError::Handshake { peer, error, .. }) => println!("{peer}: failed: {error}"),
            Err(e) => println!("{e}"),
        }
    }
    for connection in connections {
        connection.await?;
    }
    Ok(())
}
