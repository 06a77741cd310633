//! `HttpsConnector` under hyper-util's `Client` (feature `hyper`), over HTTP/1.1 and HTTP/2:
//! against this crate's `https_server` example and `openssl s_server -www`; a server that
//! never answers the ClientHello (`TimedOut` within the deadline), an untrusted certificate
//! (`Protocol` with the alert sent), a peer that closes, a plaintext server (`NotTls`), an
//! `http://` URI refused when HTTPS only, and connection reuse (one handshake, counted).

#![cfg(feature = "hyper")]

use crate::support;

use std::{
    convert::Infallible,
    error::Error as StdError,
    net::SocketAddr,
    sync::{
        atomic::{AtomicUsize, Ordering},
        Arc,
    },
    time::{Duration, Instant},
};

use http_body_util::{BodyExt, Empty, Full};
use hyper::{body::Bytes, service::service_fn, Response, Version};
use hyper_util::{
    client::legacy::{connect::HttpConnector, Client},
    rt::{TokioExecutor, TokioIo},
    server::conn::auto,
};
use rustls::{
    pki_types::{pem::PemObject, CertificateDer},
    AlertDescription, ClientConfig, HandshakeKind, ProtocolVersion, RootCertStore, ServerConfig,
};
use support::{
    bounded,
    examples::Running,
    name,
    openssl::{self, Files, SServer},
    Ca, World,
};
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpListener,
    task::JoinHandle,
};
use tokio_tls_handshake::{
    https::{ConnectError, HttpsConnector, HttpsConnectorBuilder},
    listener::TlsListener,
    Acceptor, HandshakeError, HandshakeReport,
};

type HttpsClient = Client<HttpsConnector<HttpConnector>, Empty<Bytes>>;

fn trusting(roots: RootCertStore) -> Arc<ClientConfig> {
    Arc::new(
        ClientConfig::builder_with_provider(support::provider())
            .with_safe_default_protocol_versions()
            .expect("versions")
            .with_root_certificates(roots)
            .with_no_client_auth(),
    )
}

fn client(builder: HttpsConnectorBuilder) -> HttpsClient {
    Client::builder(TokioExecutor::new()).build(builder.build())
}

/// GET `url`: the response (its body read into a string).
async fn get(client: &HttpsClient, url: &str) -> (Response<()>, String) {
    let response = bounded(client.get(url.parse().expect("a URI")))
        .await
        .unwrap_or_else(|e| panic!("GET {url}: {e:?}"));
    let (parts, body) = response.into_parts();
    let body = bounded(body.collect()).await.expect("the body").to_bytes();
    let body = String::from_utf8_lossy(&body).into_owned();
    (Response::from_parts(parts, ()), body)
}

/// GET `url`, which must fail: the error hyper's client gives.
async fn get_err(client: &HttpsClient, url: &str) -> hyper_util::client::legacy::Error {
    match bounded(client.get(url.parse().expect("a URI"))).await {
        Ok(response) => panic!("GET {url} answered {}", response.status()),
        Err(e) => e,
    }
}

/// The connector's error in hyper's error chain.
fn connect_error<'a>(error: &'a (dyn StdError + 'static)) -> Option<&'a ConnectError> {
    let mut next = Some(error);
    while let Some(error) = next {
        if let Some(found) = error.downcast_ref::<ConnectError>() {
            return Some(found);
        }
        next = error.source();
    }
    None
}

/// An HTTPS server on this crate (hyper over `TlsListener`), answering `hello` to every
/// request; counts its handshakes. Stopped on drop.
struct HttpsServer {
    addr: SocketAddr,
    handshakes: Arc<AtomicUsize>,
    task: JoinHandle<()>,
}

impl Drop for HttpsServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn https_server(config: Arc<ServerConfig>) -> HttpsServer {
    let tcp = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = tcp.local_addr().expect("address");
    let mut listener = TlsListener::new(tcp, Acceptor::from(config));
    let handshakes = Arc::new(AtomicUsize::new(0));
    let counted = handshakes.clone();
    let task = tokio::spawn(async move {
        while let Some(next) = listener.accept().await {
            let Ok((tls, _)) = next else { continue };
            counted.fetch_add(1, Ordering::SeqCst);
            tokio::spawn(async move {
                let hello = service_fn(|_| async {
                    Ok::<_, Infallible>(Response::new(Full::new(Bytes::from("hello"))))
                });
                let _ = auto::Builder::new(TokioExecutor::new())
                    .serve_connection(TokioIo::new(tls), hello)
                    .await;
            });
        }
    });
    HttpsServer {
        addr,
        handshakes,
        task,
    }
}

/// A TCP server that runs `peer` on every connection it accepts. Stopped on drop.
struct TcpServer {
    addr: SocketAddr,
    task: JoinHandle<()>,
}

impl Drop for TcpServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn tcp_server<F, Fut>(peer: F) -> TcpServer
where
    F: Fn(tokio::net::TcpStream) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let tcp = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = tcp.local_addr().expect("address");
    let task = tokio::spawn(async move {
        while let Ok((stream, _)) = tcp.accept().await {
            tokio::spawn(peer(stream));
        }
    });
    TcpServer { addr, task }
}

#[tokio::test]
async fn against_the_https_server_example_over_http1_and_http2_with_the_report() {
    let files = Files::new();
    let ca_file = files.path("ca.pem");
    let (_server, addr) = Running::server("https_server", &ca_file, &[]).await;
    let mut roots = RootCertStore::empty();
    roots
        .add(CertificateDer::from_pem_file(&ca_file).expect("the example's CA"))
        .expect("a root");
    let config = trusting(roots);
    let port = addr.port();
    // By name (localhost resolves to the example), and by address with the name given; the
    // second connection resumes the first's session (the configuration's session cache).
    for (builder, url, version, alpn, kind) in [
        (
            HttpsConnector::builder(config.clone()),
            format!("https://localhost:{port}/"),
            Version::HTTP_11,
            "http/1.1",
            HandshakeKind::Full,
        ),
        (
            HttpsConnector::builder(config.clone())
                .enable_http2()
                .server_name(name("localhost")),
            format!("https://127.0.0.1:{port}/"),
            Version::HTTP_2,
            "h2",
            HandshakeKind::Resumed,
        ),
    ] {
        let (response, body) = get(&client(builder), &url).await;
        assert_eq!(response.status(), 200);
        assert_eq!(response.version(), version, "ALPN told hyper");
        assert!(body.starts_with("hello over HTTP/"), "{body}");
        let report = response
            .extensions()
            .get::<HandshakeReport>()
            .expect("the handshake's report in the response");
        assert_eq!(report.alpn.as_deref(), Some(alpn.as_bytes()), "{report}");
        assert_eq!(report.version, Some(ProtocolVersion::TLSv1_3));
        assert_eq!(report.kind, Some(kind));
        assert_eq!(report.peer_subject.as_deref(), Some("CN=localhost"));
        assert!(report.stats.bytes_read > 0, "{report}");
    }
}

#[tokio::test]
async fn against_openssl_s_server_www() {
    if !openssl::available() {
        return;
    }
    let world = World::new();
    let files = Files::new();
    let cert = files.write("server.pem", &world.server.chain_pem);
    let key = files.write("server.key", &world.server.key_pem);
    let server = SServer::start(&["-cert", &cert, "-key", &key, "-www"]);
    let builder = HttpsConnector::builder(world.client().build()).server_name(name("localhost"));
    let url = format!("https://127.0.0.1:{}/", server.addr.port());
    let (response, body) = get(&client(builder), &url).await;
    assert_eq!(response.status(), 200);
    assert!(body.contains("s_server"), "{body}");
    assert!(response.extensions().get::<HandshakeReport>().is_some());
}

#[tokio::test]
async fn a_server_that_never_answers_the_client_hello_times_out_within_the_deadline() {
    let silent = tcp_server(|mut stream| async move {
        // Reads the ClientHello and says nothing, for longer than the client waits.
        let mut hello = [0u8; 4096];
        let _ = stream.read(&mut hello).await;
        tokio::time::sleep(Duration::from_secs(30)).await;
    })
    .await;
    let deadline = Duration::from_millis(300);
    let world = World::new();
    let builder = HttpsConnector::builder(world.client().build())
        .server_name(name("localhost"))
        .with_timeout(deadline);
    let started = Instant::now();
    let error = get_err(&client(builder), &format!("https://{}/", silent.addr)).await;
    let elapsed = started.elapsed();
    assert!(error.is_connect(), "{error:?}");
    assert!(
        matches!(
            HandshakeError::find_in(&error),
            Some(HandshakeError::TimedOut)
        ),
        "{error:?}"
    );
    assert!(connect_error(&error).is_some_and(ConnectError::is_timeout));
    assert!(
        elapsed >= deadline && elapsed < Duration::from_secs(5),
        "{elapsed:?}"
    );
}

#[tokio::test]
async fn an_untrusted_certificate_is_a_protocol_error_with_the_alert_sent() {
    let world = World::new();
    let server = https_server(world.server().build()).await;
    let stranger = Ca::new("a CA the client does not know");
    let builder =
        HttpsConnector::builder(trusting(stranger.roots())).server_name(name("localhost"));
    let error = get_err(&client(builder), &format!("https://{}/", server.addr)).await;
    match HandshakeError::find_in(&error) {
        Some(HandshakeError::Protocol {
            error: rustls::Error::InvalidCertificate(rustls::CertificateError::UnknownIssuer),
            alert_sent,
            ..
        }) => assert_eq!(*alert_sent, Some(AlertDescription::UnknownCA)),
        other => panic!("expected Protocol(UnknownIssuer), got {other:?} in {error:?}"),
    }
}

#[tokio::test]
async fn a_peer_that_closes_and_a_plaintext_server_are_told_apart() {
    let world = World::new();
    let builder = || HttpsConnector::builder(world.client().build()).server_name(name("localhost"));
    // Reads the ClientHello, then closes (FIN; closing with it unread would be a reset).
    let closing = tcp_server(|mut stream| async move {
        let mut hello = [0u8; 4096];
        let _ = stream.read(&mut hello).await;
    })
    .await;
    let error = get_err(&client(builder()), &format!("https://{}/", closing.addr)).await;
    assert!(
        matches!(
            HandshakeError::find_in(&error),
            Some(HandshakeError::PeerClosed {
                close_notify: false,
                received: 0
            })
        ),
        "{error:?}"
    );
    let plaintext = tcp_server(|mut stream| async move {
        let mut hello = [0u8; 4096];
        let _ = stream.read(&mut hello).await;
        let _ = stream
            .write_all(b"HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n")
            .await;
    })
    .await;
    let error = get_err(&client(builder()), &format!("https://{}/", plaintext.addr)).await;
    match HandshakeError::find_in(&error) {
        Some(HandshakeError::NotTls { prefix }) => {
            assert!(prefix.starts_with(b"HTTP/1.1 400"), "{prefix:?}")
        }
        other => panic!("expected NotTls, got {other:?} in {error:?}"),
    }
}

#[tokio::test]
async fn an_http_uri_is_refused_when_https_only_and_served_when_allowed() {
    let plain = tcp_server(|stream| async move {
        let hello = service_fn(|_| async {
            Ok::<_, Infallible>(Response::new(Full::new(Bytes::from("plain hello"))))
        });
        let _ = auto::Builder::new(TokioExecutor::new())
            .serve_connection(TokioIo::new(stream), hello)
            .await;
    })
    .await;
    let world = World::new();
    let url = format!("http://{}/", plain.addr);
    let error = get_err(
        &client(HttpsConnector::builder(world.client().build())),
        &url,
    )
    .await;
    match connect_error(&error) {
        Some(refused @ ConnectError::Scheme { scheme }) => {
            assert_eq!(scheme.as_deref(), Some("http"));
            assert!(refused.to_string().contains("https only"), "{refused}");
        }
        other => panic!("expected Scheme, got {other:?} in {error:?}"),
    }
    assert!(
        HandshakeError::find_in(&error).is_none(),
        "no handshake was tried"
    );
    let allowed = HttpsConnector::builder(world.client().build()).https_or_http();
    let (response, body) = get(&client(allowed), &url).await;
    assert_eq!(body, "plain hello");
    assert!(
        response.extensions().get::<HandshakeReport>().is_none(),
        "no TLS, no report"
    );
}

#[tokio::test]
async fn two_requests_over_one_connection_make_one_handshake() {
    let world = World::new();
    let server = https_server(world.server().alpn(&["h2", "http/1.1"]).build()).await;
    for builder in [
        HttpsConnector::builder(world.client().build()),
        HttpsConnector::builder(world.client().build()).enable_http2(),
    ] {
        let before = server.handshakes.load(Ordering::SeqCst);
        let client = client(builder.server_name(name("localhost")));
        let url = format!("https://{}/", server.addr);
        let (first, _) = get(&client, &url).await;
        let (second, _) = get(&client, &url).await;
        assert_eq!(
            server.handshakes.load(Ordering::SeqCst) - before,
            1,
            "the second request reused the connection"
        );
        assert_eq!(
            first.extensions().get::<HandshakeReport>(),
            second.extensions().get::<HandshakeReport>(),
            "both responses carry the one handshake's report"
        );
    }
}

/// The defect: `http2_only` promised that a server not agreeing to HTTP/2 is refused, but a
/// server that agrees to no ALPN protocol at all passed, and the request went on.
#[tokio::test]
async fn http2_only_refuses_a_server_that_agrees_to_no_protocol() {
    let world = World::new();
    let no_alpn = https_server(world.server().build()).await;
    let builder = HttpsConnector::builder(world.client().build())
        .http2_only()
        .server_name(name("localhost"));
    let error = get_err(&client(builder), &format!("https://{}/", no_alpn.addr)).await;
    assert!(
        matches!(connect_error(&error), Some(ConnectError::NoHttp2)),
        "{error:?}"
    );
    // The control: the same connector with a server that agrees to h2.
    let h2 = https_server(world.server().alpn(&["h2"]).build()).await;
    let builder = HttpsConnector::builder(world.client().build())
        .http2_only()
        .server_name(name("localhost"));
    let (response, _) = get(&client(builder), &format!("https://{}/", h2.addr)).await;
    assert_eq!(response.version(), hyper::Version::HTTP_2);
}

#[cfg(feature = "webpki-roots")]
#[test]
fn mozillas_roots_are_there() {
    let roots = tokio_tls_handshake::Connector::webpki_roots();
    assert!(roots.len() > 100, "{} roots", roots.len());
}

/// The platform's store: Debian's ca-certificates, which `.ci/run` installs.
#[cfg(feature = "native-roots")]
#[test]
fn the_platforms_roots_load() {
    let roots = tokio_tls_handshake::Connector::native_roots().expect("the platform's roots");
    assert!(roots.len() > 100, "{} roots", roots.len());
}
