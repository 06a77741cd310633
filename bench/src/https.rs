//! Section 5, HTTPS clients (`-- --https-client`).

use std::{sync::Arc, time::Instant};

use rustls::{ClientConfig, ServerConfig};
use tokio::net::TcpListener;

use crate::common;
use crate::listener::*;
use crate::setup::*;

/// `-- --https-client`: HTTPS requests through hyper-util's `Client`, each on a new
/// connection (so a full handshake and one GET each), with this crate's `HttpsConnector`
/// and with hyper-rustls', in the same run, over HTTP/1.1 and HTTP/2 by ALPN. The server is
/// hyper over a `TlsListener` on its own 2-worker runtime, the same for both; the clients run
/// on one thread, one request at a time. Needs `--features hyper`.
#[cfg(not(feature = "hyper"))]
pub(crate) fn https_client_section(_quick: bool) -> Result<(), Box<dyn std::error::Error>> {
    println!("(the HTTPS client rows need `--features hyper`)");
    Ok(())
}

/// The HTTPS client section's server (on its own runtime, kept running by the caller), its
/// URI, and the clients' TLS configuration.
#[cfg(feature = "hyper")]
pub(crate) struct HttpsBench {
    pub(crate) _server: tokio::runtime::Runtime,
    pub(crate) uri: hyper::Uri,
    pub(crate) client: Arc<ClientConfig>,
}

#[cfg(feature = "hyper")]
impl HttpsBench {
    fn start() -> Result<Self, Box<dyn std::error::Error>> {
        let ca = common::pki::Ca::new("bench CA")?;
        let leaf = ca.issue(&["127.0.0.1"])?;
        let mut server = ServerConfig::builder()
            .with_no_client_auth()
            .with_single_cert(leaf.chain, leaf.key)?;
        server.send_tls13_tickets = 0;
        server.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
        let mut client = ClientConfig::builder()
            .with_root_certificates(ca.roots()?)
            .with_no_client_auth();
        client.resumption = rustls::client::Resumption::disabled();
        let runtime = server_runtime()?;
        let tcp = runtime.block_on(TcpListener::bind("127.0.0.1:0"))?;
        let uri = format!("https://{}/", tcp.local_addr()?).parse()?;
        runtime.spawn(serve_http(tcp, Arc::new(server)));
        Ok(Self {
            _server: runtime,
            uri,
            client: Arc::new(client),
        })
    }

    /// `count` requests/s through `who`'s connector (`ours` or `hyper-rustls`), a new
    /// connection each.
    async fn requests(
        &self,
        who: &str,
        http2: bool,
        count: usize,
    ) -> Result<f64, Box<dyn std::error::Error>> {
        use hyper_util::{client::legacy::Client, rt::TokioExecutor};
        let builder = || {
            let mut builder = Client::builder(TokioExecutor::new());
            builder.pool_max_idle_per_host(0);
            builder
        };
        if who == "ours" {
            let mut ours = tokio_tls_handshake::https::HttpsConnector::builder(self.client.clone());
            if http2 {
                ours = ours.enable_http2();
            }
            return requests(&builder().build(ours.build()), &self.uri, count).await;
        }
        let theirs = hyper_rustls::HttpsConnectorBuilder::new()
            .with_tls_config(ClientConfig::clone(&self.client))
            .https_only();
        // The inner connector ours builds: hyper-rustls' `build()` leaves Nagle on, and a
        // handshake then waits 40 ms for a delayed ACK (23 requests/s here).
        let mut http = hyper_util::client::legacy::connect::HttpConnector::new();
        http.enforce_http(false);
        http.set_nodelay(true);
        let theirs = if http2 {
            theirs.enable_all_versions().wrap_connector(http)
        } else {
            theirs.enable_http1().wrap_connector(http)
        };
        requests(&builder().build(theirs), &self.uri, count).await
    }
}

#[cfg(feature = "hyper")]
pub(crate) fn https_client_section(quick: bool) -> Result<(), Box<dyn std::error::Error>> {
    let (reps, count) = if quick { (3, 200) } else { (7, 1000) };
    let bench = HttpsBench::start()?;
    let current = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    // [HTTP/1.1, HTTP/2] × [ours, hyper-rustls]
    let mut rates = [[Vec::new(), Vec::new()], [Vec::new(), Vec::new()]];
    for _ in 0..reps {
        for (http2, rates) in [false, true].into_iter().zip(rates.iter_mut()) {
            for (who, rates) in ["ours", "hyper-rustls"].into_iter().zip(rates.iter_mut()) {
                rates.push(current.block_on(bench.requests(who, http2, count))?);
            }
        }
    }
    println!("https client: {reps} repetitions of {count} requests, a new connection each");
    println!();
    println!(
        "| requests/s through hyper-util's `Client` | ours | hyper-rustls | ours / hyper-rustls |"
    );
    println!("|---|---|---|---|");
    for (label, rates) in ["HTTP/1.1", "HTTP/2"].into_iter().zip(rates.iter_mut()) {
        let [ours, theirs] = [median(&mut rates[0]), median(&mut rates[1])];
        println!(
            "| {label}, a handshake and one GET each | {ours:.0} | {theirs:.0} | {:.2} |",
            ours / theirs
        );
    }
    Ok(())
}

/// `--only-https ours|hyper-rustls [--http2]`: 300 requests, a new connection each, through
/// one contender's connector, for `valgrind --tool=callgrind` (the server's instructions,
/// the same for both, are counted too).
#[cfg(feature = "hyper")]
pub(crate) fn only_https(who: &str, http2: bool) -> Result<(), Box<dyn std::error::Error>> {
    if who != "ours" && who != "hyper-rustls" {
        return Err(format!("--only-https takes ours or hyper-rustls, not {who}").into());
    }
    let bench = HttpsBench::start()?;
    let current = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let rate = current.block_on(bench.requests(who, http2, 300))?;
    println!("{who}: 300 requests, {rate:.0}/s");
    Ok(())
}

/// `count` GETs of `uri`, one after another; requests/s.
#[cfg(feature = "hyper")]
pub(crate) async fn requests<C>(
    client: &hyper_util::client::legacy::Client<C, http_body_util::Empty<hyper::body::Bytes>>,
    uri: &hyper::Uri,
    count: usize,
) -> Result<f64, Box<dyn std::error::Error>>
where
    C: hyper_util::client::legacy::connect::Connect + Clone + Send + Sync + 'static,
{
    use http_body_util::BodyExt;
    let start = Instant::now();
    for _ in 0..count {
        let response = client.get(uri.clone()).await?;
        if !response.status().is_success() {
            return Err(format!("status {}", response.status()).into());
        }
        response.into_body().collect().await?;
    }
    Ok(rate(count, start.elapsed()))
}

/// hyper (HTTP/1.1 and HTTP/2 by ALPN) over a `TlsListener`, answering every request.
#[cfg(feature = "hyper")]
pub(crate) async fn serve_http(tcp: TcpListener, config: Arc<ServerConfig>) {
    use hyper_util::{rt::TokioIo, server::conn::auto};
    let mut listener = tokio_tls_handshake::listener::TlsListener::new(
        tcp,
        tokio_tls_handshake::Acceptor::from(config),
    );
    while let Some(next) = listener.accept().await {
        let Ok((tls, _)) = next else { continue };
        // Without it, an HTTP/2 response written in two pieces can wait 40 ms for the
        // client's delayed ACK (Nagle), in 1 to 3 % of requests, for either client.
        let _ = tls.get_ref().0.set_nodelay(true);
        tokio::spawn(async move {
            let hello = hyper::service::service_fn(|_| async {
                Ok::<_, std::convert::Infallible>(hyper::Response::new(http_body_util::Full::new(
                    hyper::body::Bytes::from_static(b"hello"),
                )))
            });
            let _ = auto::Builder::new(hyper_util::rt::TokioExecutor::new())
                .serve_connection(TokioIo::new(tls), hello)
                .await;
        });
    }
}
