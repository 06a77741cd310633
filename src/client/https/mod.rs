//! [`HttpsConnector`] (feature `hyper`): HTTPS for hyper-util's `Client`, with this crate's
//! deadline over connect and handshake, its typed errors, and the handshake's report in
//! every response.
//!
#![doc = include_str!("guide.md")]

mod error;
mod stream;

use std::{
    future::Future,
    pin::Pin,
    sync::Arc,
    task::{Context, Poll},
    time::Duration,
};

use hyper::{
    rt::{Read, Write},
    Uri,
};
use hyper_util::{
    client::legacy::connect::{Connection, HttpConnector},
    rt::TokioIo,
};
use rustls::{pki_types::ServerName, ClientConfig};
use tower_service::Service;

pub use self::{
    error::{BoxError, ConnectError},
    stream::MaybeHttpsStream,
};
use crate::client::Connector;

/// How long a connection may take, from the start of the TCP connect to the end of the TLS
/// handshake, by default.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// The future an [`HttpsConnector`] returns.
pub type Connecting<T> =
    Pin<Box<dyn Future<Output = Result<MaybeHttpsStream<T>, ConnectError>> + Send>>;

/// An HTTPS connector for hyper-util's `Client`, as hyper-rustls' `HttpsConnector` is, with
/// what this crate adds:
///
/// - **one deadline** over the TCP connect and the TLS handshake together
///   ([`DEFAULT_CONNECT_TIMEOUT`] unless changed);
/// - **typed errors**: hyper's client error carries a [`ConnectError`], and
///   [`HandshakeError::find_in`](crate::HandshakeError::find_in) finds the
///   [`HandshakeError`](crate::HandshakeError) in the chain (timed out, certificate rejected
///   with the alert sent, peer closed, not TLS);
/// - **the report in the response**: `response.extensions().get::<HandshakeReport>()` is the
///   handshake of the connection that served it (version, cipher suite, ALPN, resumption,
///   cost).
///
/// ALPN offers the HTTP versions enabled (`h2` first), and hyper speaks HTTP/2 when the
/// server agreed to it (build the `Client` with HTTP/2 support for that). The server name
/// is the URI's host unless [`server_name`](HttpsConnectorBuilder::server_name) overrides it.
///
/// # Examples
///
/// ```no_run
/// # async fn run(config: std::sync::Arc<rustls::ClientConfig>) -> Result<(), Box<dyn std::error::Error>> {
/// use http_body_util::Empty;
/// use hyper::body::Bytes;
/// use hyper_util::{client::legacy::Client, rt::TokioExecutor};
/// use tokio_tls_handshake::{HandshakeError, HandshakeReport, https::HttpsConnector};
///
/// let https = HttpsConnector::builder(config).enable_http2().build();
/// let client: Client<_, Empty<Bytes>> = Client::builder(TokioExecutor::new()).build(https);
/// match client.get("https://example.com/".parse()?).await {
///     Ok(response) => {
///         let report = response.extensions().get::<HandshakeReport>();
///         println!("{} over {report:?}", response.status());
///     }
///     Err(e) => match HandshakeError::find_in(&e) {
///         Some(HandshakeError::TimedOut) => println!("the handshake timed out"),
///         Some(handshake) => println!("the handshake failed: {handshake}"),
///         None => println!("{e}"),
///     },
/// }
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct HttpsConnector<C = HttpConnector> {
    inner: C,
    tls: Connector,
    https_only: bool,
    http2_only: bool,
    server_name: Option<ServerName<'static>>,
    timeout: Option<Duration>,
}

/// Builds an [`HttpsConnector`]; made by [`HttpsConnector::builder`].
#[derive(Debug, Clone)]
#[must_use]
pub struct HttpsConnectorBuilder {
    config: Arc<ClientConfig>,
    https_only: bool,
    http1: bool,
    http2: bool,
    server_name: Option<ServerName<'static>>,
    timeout: Option<Duration>,
}

impl HttpsConnector {
    /// A builder for a connector verifying servers with `config`: HTTPS only, HTTP/1.1,
    /// [`DEFAULT_CONNECT_TIMEOUT`]. The configuration's ALPN protocols are replaced by the
    /// HTTP versions enabled.
    pub fn builder(config: Arc<ClientConfig>) -> HttpsConnectorBuilder {
        HttpsConnectorBuilder {
            config,
            https_only: true,
            http1: true,
            http2: false,
            server_name: None,
            timeout: Some(DEFAULT_CONNECT_TIMEOUT),
        }
    }
}

impl HttpsConnectorBuilder {
    /// `http://` URIs are refused with [`ConnectError::Scheme`] (the default).
    pub fn https_only(mut self) -> Self {
        self.https_only = true;
        self
    }

    /// `http://` URIs connect in plain text.
    pub fn https_or_http(mut self) -> Self {
        self.https_only = false;
        self
    }

    /// Offers HTTP/2 (`h2`) by ALPN, before HTTP/1.1.
    pub fn enable_http2(mut self) -> Self {
        self.http2 = true;
        self
    }

    /// Offers HTTP/2 only: a server that agrees to another protocol is refused by the
    /// handshake, and one that agrees to none with [`ConnectError::NoHttp2`] right after it.
    pub fn http2_only(mut self) -> Self {
        self.http1 = false;
        self.http2 = true;
        self
    }

    /// Verifies every server as `name`, whatever the URI's host.
    pub fn server_name(mut self, name: ServerName<'static>) -> Self {
        self.server_name = Some(name);
        self
    }

    /// The TCP connect and the handshake together must finish within `timeout`.
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// No deadline (the inner connector's own timeouts aside).
    pub fn without_timeout(mut self) -> Self {
        self.timeout = None;
        self
    }

    /// The connector, over hyper-util's `HttpConnector` (which then connects `https://` URIs
    /// too, with `TCP_NODELAY`).
    pub fn build(self) -> HttpsConnector<HttpConnector> {
        let mut http = HttpConnector::new();
        http.enforce_http(false);
        http.set_nodelay(true);
        self.wrap_connector(http)
    }

    /// The connector, over `inner` (a proxy tunnel, a Unix socket, a connector with its own
    /// DNS resolver).
    pub fn wrap_connector<C>(self, inner: C) -> HttpsConnector<C> {
        let mut config = ClientConfig::clone(&self.config);
        config.alpn_protocols = [(self.http2, &b"h2"[..]), (self.http1, &b"http/1.1"[..])]
            .into_iter()
            .filter(|(on, _)| *on)
            .map(|(_, protocol)| protocol.to_vec())
            .collect();
        HttpsConnector {
            inner,
            tls: Connector::from(Arc::new(config)),
            https_only: self.https_only,
            http2_only: self.http2 && !self.http1,
            server_name: self.server_name,
            timeout: self.timeout,
        }
    }
}

impl<C> HttpsConnector<C> {
    /// The name to verify a server at `uri` as.
    fn server_name(&self, uri: &Uri) -> Result<ServerName<'static>, ConnectError> {
        if let Some(name) = &self.server_name {
            return Ok(name.clone());
        }
        let host = uri.host().ok_or(ConnectError::NoHost)?;
        // An IPv6 address comes bracketed in a URI.
        let host = host
            .strip_prefix('[')
            .and_then(|h| h.strip_suffix(']'))
            .unwrap_or(host);
        ServerName::try_from(host.to_string())
            .map_err(|_| ConnectError::InvalidServerName(host.to_string()))
    }
}

impl<C> Service<Uri> for HttpsConnector<C>
where
    C: Service<Uri> + Send + 'static,
    C::Response: Read + Write + Connection + Unpin + Send + 'static,
    C::Future: Send + 'static,
    C::Error: Into<BoxError>,
{
    type Response = MaybeHttpsStream<C::Response>;
    type Error = ConnectError;
    type Future = Connecting<C::Response>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), ConnectError>> {
        self.inner
            .poll_ready(cx)
            .map_err(|e| ConnectError::Connect(e.into()))
    }

    fn call(&mut self, uri: Uri) -> Self::Future {
        let https = match uri.scheme_str() {
            Some("https") => true,
            Some("http") if !self.https_only => false,
            scheme => {
                let scheme = scheme.map(str::to_string);
                return Box::pin(async move { Err(ConnectError::Scheme { scheme }) });
            }
        };
        let name = if https {
            match self.server_name(&uri) {
                Ok(name) => Some(name),
                Err(e) => return Box::pin(async move { Err(e) }),
            }
        } else {
            None
        };
        let deadline = self
            .timeout
            .and_then(|t| tokio::time::Instant::now().checked_add(t));
        let connecting = self.inner.call(uri);
        let tls = self.tls.clone();
        let http2_only = self.http2_only;
        Box::pin(async move {
            let connected = match deadline {
                Some(deadline) => tokio::time::timeout_at(deadline, connecting)
                    .await
                    .map_err(|_| ConnectError::TimedOut)?,
                None => connecting.await,
            };
            let io = connected.map_err(|e| ConnectError::Connect(e.into()))?;
            let Some(name) = name else {
                return Ok(MaybeHttpsStream::Http(io));
            };
            let handshake = tls.connect(name, TokioIo::new(io));
            let handshake = match deadline {
                Some(deadline) => handshake.with_deadline(deadline),
                None => handshake,
            };
            let stream = handshake.await.map_err(ConnectError::Handshake)?;
            // Over TCP rustls refuses a protocol that was not offered, but accepts none.
            if http2_only && stream.connection().alpn_protocol() != Some(b"h2") {
                return Err(ConnectError::NoHttp2);
            }
            Ok(MaybeHttpsStream::Https(TokioIo::new(stream)))
        })
    }
}
