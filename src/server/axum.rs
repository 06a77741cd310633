//! The `axum` feature: [`TlsListener`] as an `axum::serve::Listener`, so that
//! `axum::serve(listener, router)` serves HTTPS, and [`TlsConnectInfo`] for handlers that
//! want the peer's address and what its handshake negotiated.

use std::{io, net::SocketAddr};

use axum::{extract::connect_info::Connected, serve::IncomingStream};

use crate::{
    engine::HandshakeReport,
    io::ServerTlsStream,
    server::listener::{Incoming, ListenError, Spawn, TlsListener},
};

/// `axum::serve(listener, router)` over TLS. A failed handshake or accept error never ends
/// the server: it is counted in the listener's stats and, with the `tracing` feature, logged:
/// the handshake's own event, in a `tls_connection{peer}` span (a silent close such as a
/// health check at debug level, the rest at warn), and accept errors at warn. Once a drain
/// completes, `accept` waits forever; pass
/// [`ListenerHandle::drained`](crate::listener::ListenerHandle::drained) to axum's
/// `with_graceful_shutdown` so that axum stops then.
///
/// `axum::serve` (axum 0.8) builds hyper without a timer, so there is no header-read timeout:
/// a client that finished its TLS handshake can hold a connection by dripping its request.
/// For a server clients reach directly, serve the router with hyper-util's builder, a timer
/// and `header_read_timeout` set, and [`TlsConnectInfo::new`] in the requests' extensions
/// (`examples/axum_server.rs`).
///
/// # Examples
///
/// ```no_run
/// # async fn run(config: std::sync::Arc<rustls::ServerConfig>) -> std::io::Result<()> {
/// use axum::{extract::ConnectInfo, routing::get, Router};
/// use tokio_tls_handshake::{listener::{TlsConnectInfo, TlsListener}, Acceptor};
///
/// async fn hello(ConnectInfo(tls): ConnectInfo<TlsConnectInfo>) -> String {
///     format!("hello {} over {:?}\n", tls.peer, tls.report.version)
/// }
///
/// let tcp = tokio::net::TcpListener::bind("127.0.0.1:8443").await?;
/// let listener = TlsListener::new(tcp, Acceptor::from(config));
/// let app = Router::new().route("/", get(hello));
/// axum::serve(listener, app.into_make_service_with_connect_info::<TlsConnectInfo>()).await
/// # }
/// ```
impl<I> axum::serve::Listener for TlsListener<I, Spawn>
where
    I: Incoming + Send + 'static,
    I::Io: Send,
{
    type Io = ServerTlsStream<I::Io>;
    type Addr = I::Addr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        loop {
            match TlsListener::accept(self).await {
                Some(Ok(established)) => return established,
                Some(Err(failure)) => log(&failure),
                // Drained: axum's graceful shutdown takes it from here.
                None => std::future::pending().await,
            }
        }
    }

    fn local_addr(&self) -> io::Result<Self::Addr> {
        TlsListener::local_addr(self)
    }
}

/// Handshake failures were logged by the handshake itself, in its connection's span.
#[cfg(feature = "tracing")]
fn log<IO, A: std::fmt::Debug>(failure: &ListenError<IO, A>) {
    if let ListenError::Accept(error) = failure {
        tracing::warn!(error = %error, "accept failed");
    }
}

#[cfg(not(feature = "tracing"))]
fn log<IO, A>(_: &ListenError<IO, A>) {}

/// What an axum handler can know of a TLS connection: the peer's address and what its
/// handshake negotiated (version, cipher suite, ALPN, the server name asked for, the client
/// certificate's subject). Use it with
/// `router.into_make_service_with_connect_info::<TlsConnectInfo>()` and extract it with
/// `ConnectInfo<TlsConnectInfo>`.
///
/// For the bare `ConnectInfo<SocketAddr>`, serve `listener.tap_io(|_| ())` (axum's
/// `ListenerExt`) instead of the listener.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct TlsConnectInfo<A = SocketAddr> {
    /// The peer's address.
    pub peer: A,
    /// What the handshake negotiated and cost.
    pub report: HandshakeReport,
}

impl<A> TlsConnectInfo<A> {
    /// What a handler learns of a connection served outside `axum::serve` (with hyper-util's
    /// builder, to set its timer and header-read timeout): insert
    /// `ConnectInfo(TlsConnectInfo::new(peer, tls.report()))` into the requests' extensions
    /// (`router.layer(Extension(..))`) and handlers extract it as they would from
    /// `axum::serve`.
    pub fn new(peer: A, report: HandshakeReport) -> Self {
        Self { peer, report }
    }
}

impl<I> Connected<IncomingStream<'_, TlsListener<I, Spawn>>> for TlsConnectInfo<I::Addr>
where
    I: Incoming + Send + 'static,
    I::Io: Send,
{
    fn connect_info(stream: IncomingStream<'_, TlsListener<I, Spawn>>) -> Self {
        Self {
            peer: stream.remote_addr().clone(),
            report: stream.io().report(),
        }
    }
}
