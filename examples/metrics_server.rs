//! HTTPS with handshake metrics (feature `metrics`): the server records every handshake and
//! its listener through the `metrics` facade, and serves them for Prometheus at
//! `http://METRICS_ADDR/metrics` (the `metrics-exporter-prometheus` crate renders them).
//!
//! ```text
//! cargo run --example metrics_server --features metrics -- \
//!     --addr 127.0.0.1:8443 --metrics-addr 127.0.0.1:9100 --ca-out ca.pem
//! curl --cacert ca.pem --resolve localhost:8443:127.0.0.1 https://localhost:8443/
//! curl http://127.0.0.1:9100/metrics
//! ```

mod common;

use std::{convert::Infallible, error::Error, sync::Arc};

use http_body_util::Full;
use hyper::{body::Bytes, service::service_fn, Request, Response};
use hyper_util::rt::TokioIo;
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use tokio::net::TcpListener;
use tokio_tls_handshake::{
    listener::{ListenError, TlsListener},
    Acceptor,
};

#[tokio::main]
async fn main() -> Result<(), Box<dyn Error>> {
    let (mut addr, mut metrics_addr) = ("127.0.0.1:8443".to_string(), "127.0.0.1:9100".to_string());
    let mut ca_out = None;
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let value = args.next().ok_or(format!("{flag} needs a value"))?;
        match flag.as_str() {
            "--addr" => addr = value,
            "--metrics-addr" => metrics_addr = value,
            "--ca-out" => ca_out = Some(value),
            other => return Err(format!("unknown argument {other}").into()),
        }
    }

    // The recorder first: metrics recorded before it is installed go nowhere. Durations as
    // histogram buckets, which a fleet's instances add up (quantiles cannot be).
    let prometheus = PrometheusBuilder::new()
        .set_buckets_for_metric(
            Matcher::Full(tokio_tls_handshake::metrics::HANDSHAKE_DURATION.into()),
            &tokio_tls_handshake::metrics::HANDSHAKE_DURATION_BUCKETS,
        )?
        .install_recorder()?;
    tokio_tls_handshake::metrics::describe();

    let metrics = TcpListener::bind(&metrics_addr).await?;
    println!("metrics on http://{}/metrics", metrics.local_addr()?);
    tokio::spawn(serve_metrics(metrics, prometheus));

    let config = common::https_config("metrics_server CA", ca_out.as_deref())?;
    let tcp = TcpListener::bind(&addr).await?;
    println!("listening on {}", tcp.local_addr()?);
    let mut listener = TlsListener::new(tcp, Acceptor::from(Arc::new(config)));
    let http = common::http::builder(common::http::DEFAULT_HEADER_READ_TIMEOUT);
    while let Some(next) = listener.accept().await {
        match next {
            Ok((tls, _)) => {
                let http = http.clone();
                tokio::spawn(async move {
                    let hello = service_fn(|_: Request<hyper::body::Incoming>| async {
                        Ok::<_, Infallible>(Response::new(Full::new(Bytes::from("hello\n"))))
                    });
                    let _ = http.serve_connection(TokioIo::new(tls), hello).await;
                });
            }
            Err(ListenError::Handshake { peer, error, .. }) => println!("{peer}: {error}"),
            Err(e) => println!("{e}"),
        }
    }
    Ok(())
}

/// Plain HTTP: `GET /metrics` answers Prometheus' text format.
async fn serve_metrics(tcp: TcpListener, prometheus: PrometheusHandle) {
    while let Ok((stream, _)) = tcp.accept().await {
        let prometheus = prometheus.clone();
        tokio::spawn(async move {
            let render = service_fn(move |request: Request<hyper::body::Incoming>| {
                let body = match request.uri().path() {
                    "/metrics" => prometheus.render(),
                    _ => String::from("see /metrics\n"),
                };
                async move { Ok::<_, Infallible>(Response::new(Full::new(Bytes::from(body)))) }
            });
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), render)
                .await;
        });
    }
}
