//! Shared test support: certificates, configurations, and peers.
#![allow(
    dead_code,
    reason = "each test binary uses a different part of the support code"
)]
#![allow(
    unreachable_pub,
    reason = "support items are shared by test binaries, not exported"
)]

/// The examples' BIO pair (`examples/common/bio.rs`), one copy for both.
#[path = "../../examples/common/bio.rs"]
pub mod bio;
pub mod examples;
pub mod haproxy;
pub mod openssl;
pub mod pebble;
pub mod pki;
#[cfg(feature = "redis")]
pub mod redis;
pub mod tools;
pub mod transports;

use std::{net::SocketAddr, sync::Arc, time::Duration};

use rustls::{
    crypto::CryptoProvider, server::WebPkiClientVerifier, ClientConfig, ServerConfig,
    SupportedProtocolVersion,
};
use tokio::net::{TcpListener, TcpStream};

pub use pki::{Ca, Identity, Leaf};

/// Generous bound for any single test step over loopback; a hang fails instead of stalling CI.
pub const LIMIT: Duration = Duration::from_secs(20);

pub fn provider() -> Arc<CryptoProvider> {
    #[cfg(feature = "aws-lc-rs")]
    let provider = rustls::crypto::aws_lc_rs::default_provider();
    #[cfg(all(feature = "ring", not(feature = "aws-lc-rs")))]
    let provider = rustls::crypto::ring::default_provider();
    Arc::new(provider)
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Version {
    Tls13,
    Tls12,
    Both,
}

impl Version {
    fn list(self) -> &'static [&'static SupportedProtocolVersion] {
        static TLS13: [&SupportedProtocolVersion; 1] = [&rustls::version::TLS13];
        static TLS12: [&SupportedProtocolVersion; 1] = [&rustls::version::TLS12];
        match self {
            Version::Tls13 => &TLS13,
            Version::Tls12 => &TLS12,
            Version::Both => rustls::ALL_VERSIONS,
        }
    }
}

/// A CA with a server leaf for `localhost` / 127.0.0.1 and a client leaf.
pub struct World {
    pub ca: Ca,
    pub server: Identity,
    pub client: Identity,
}

impl World {
    pub fn new() -> Self {
        let ca = Ca::new("tokio-tls-handshake test CA");
        let server = ca.issue(&["localhost", "127.0.0.1"], Leaf::Server);
        let client = ca.issue(&["client.test"], Leaf::Client);
        Self { ca, server, client }
    }

    pub fn server(&self) -> ServerBuilder<'_> {
        ServerBuilder {
            world: self,
            identity: self.server.clone(),
            version: Version::Both,
            alpn: Vec::new(),
            require_client_cert: false,
            tickets: true,
            provider: provider(),
        }
    }

    pub fn client(&self) -> ClientBuilder {
        ClientBuilder {
            roots: self.ca.roots(),
            identity: None,
            version: Version::Both,
            alpn: Vec::new(),
            resumption: true,
        }
    }
}

pub struct ServerBuilder<'a> {
    world: &'a World,
    pub identity: Identity,
    pub version: Version,
    pub alpn: Vec<Vec<u8>>,
    pub require_client_cert: bool,
    pub tickets: bool,
    pub provider: Arc<CryptoProvider>,
}

impl ServerBuilder<'_> {
    pub fn version(mut self, v: Version) -> Self {
        self.version = v;
        self
    }
    pub fn alpn(mut self, protocols: &[&str]) -> Self {
        self.alpn = alpn_ids(protocols);
        self
    }
    pub fn identity(mut self, identity: Identity) -> Self {
        self.identity = identity;
        self
    }
    pub fn require_client_cert(mut self) -> Self {
        self.require_client_cert = true;
        self
    }
    pub fn no_tickets(mut self) -> Self {
        self.tickets = false;
        self
    }
    /// The crypto provider (the crate's default one otherwise).
    pub fn provider(mut self, provider: CryptoProvider) -> Self {
        self.provider = Arc::new(provider);
        self
    }
    pub fn build(self) -> Arc<ServerConfig> {
        let builder = ServerConfig::builder_with_provider(self.provider.clone())
            .with_protocol_versions(self.version.list())
            .expect("protocol versions");
        let builder = if self.require_client_cert {
            let verifier = WebPkiClientVerifier::builder_with_provider(
                Arc::new(self.world.ca.roots()),
                self.provider.clone(),
            )
            .build()
            .expect("client verifier");
            builder.with_client_cert_verifier(verifier)
        } else {
            builder.with_no_client_auth()
        };
        let mut config = builder
            .with_single_cert(self.identity.chain, self.identity.key)
            .expect("server cert");
        config.alpn_protocols = self.alpn;
        if !self.tickets {
            config.send_tls13_tickets = 0;
        }
        Arc::new(config)
    }
}

pub struct ClientBuilder {
    pub roots: rustls::RootCertStore,
    pub identity: Option<Identity>,
    pub version: Version,
    pub alpn: Vec<Vec<u8>>,
    pub resumption: bool,
}

impl ClientBuilder {
    pub fn version(mut self, v: Version) -> Self {
        self.version = v;
        self
    }
    pub fn alpn(mut self, protocols: &[&str]) -> Self {
        self.alpn = alpn_ids(protocols);
        self
    }
    pub fn trust(mut self, ca: &Ca) -> Self {
        self.roots = ca.roots();
        self
    }
    pub fn identity(mut self, identity: &Identity) -> Self {
        self.identity = Some(identity.clone());
        self
    }
    pub fn build(self) -> Arc<ClientConfig> {
        let builder = ClientConfig::builder_with_provider(provider())
            .with_protocol_versions(self.version.list())
            .expect("protocol versions")
            .with_root_certificates(self.roots);
        let mut config = match self.identity {
            Some(id) => builder
                .with_client_auth_cert(id.chain, id.key)
                .expect("client cert"),
            None => builder.with_no_client_auth(),
        };
        config.alpn_protocols = self.alpn;
        if !self.resumption {
            config.resumption = rustls::client::Resumption::disabled();
        }
        Arc::new(config)
    }
}

fn alpn_ids(protocols: &[&str]) -> Vec<Vec<u8>> {
    protocols.iter().map(|p| p.as_bytes().to_vec()).collect()
}

pub fn name(host: &str) -> rustls::pki_types::ServerName<'static> {
    rustls::pki_types::ServerName::try_from(host.to_string()).expect("valid server name")
}

/// A listener on 127.0.0.1 with an ephemeral port.
pub async fn listen() -> (TcpListener, SocketAddr) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("local addr");
    (listener, addr)
}

/// A connected loopback TCP pair: (client side, server side).
pub async fn tcp_pair() -> (TcpStream, TcpStream) {
    let (listener, addr) = listen().await;
    let (client, server) = tokio::join!(TcpStream::connect(addr), listener.accept());
    (client.expect("connect"), server.expect("accept").0)
}

/// Runs `fut` under the test bound.
pub async fn bounded<F: std::future::Future>(fut: F) -> F::Output {
    tokio::time::timeout(LIMIT, fut)
        .await
        .expect("test step exceeded its time bound")
}

/// A connection as a memory listener yields it.
pub type MemoryConnection<IO> = std::io::Result<(IO, SocketAddr)>;

/// A stream of in-memory connections fed from a channel, for `TlsListener::from_stream`.
pub fn memory_incoming<IO: Send + 'static>() -> (
    tokio::sync::mpsc::UnboundedSender<MemoryConnection<IO>>,
    impl futures::Stream<Item = MemoryConnection<IO>> + Unpin + Send,
) {
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    let stream =
        futures::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|c| (c, rx)) });
    (tx, Box::pin(stream))
}

/// A made-up peer address (TEST-NET-1) for in-memory connections.
pub fn peer_addr(port: u16) -> SocketAddr {
    SocketAddr::from(([192, 0, 2, 1], port))
}

/// The whole TLS records in `bytes`, in order (a partial last one is left out).
pub fn records(mut bytes: &[u8]) -> Vec<Vec<u8>> {
    let mut records = Vec::new();
    while bytes.len() >= 5 {
        let len = 5 + usize::from(u16::from_be_bytes([bytes[3], bytes[4]]));
        let Some(record) = bytes.get(..len) else {
            break;
        };
        records.push(record.to_vec());
        bytes = &bytes[len..];
    }
    records
}

/// A real ClientHello, as rustls writes it for `world`'s client.
pub fn client_hello(world: &World) -> Vec<u8> {
    let mut conn =
        rustls::ClientConnection::new(world.client().build(), name("localhost")).expect("client");
    let mut hello = Vec::new();
    while conn.wants_write() {
        conn.write_tls(&mut hello).expect("write to a Vec");
    }
    hello
}

/// Our client over `client_io` and our server over `server_io`, both established.
pub async fn established<C, S>(
    world: &World,
    client_io: C,
    server_io: S,
) -> (
    tokio_tls_handshake::ClientTlsStream<C>,
    tokio_tls_handshake::ServerTlsStream<S>,
)
where
    C: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    let connector = tokio_tls_handshake::Connector::from(world.client().build());
    let acceptor = tokio_tls_handshake::Acceptor::from(world.server().build());
    let (client, server) = bounded(async {
        tokio::join!(
            connector.connect(name("localhost"), client_io),
            acceptor.accept(server_io)
        )
    })
    .await;
    (client.expect("client"), server.expect("server"))
}

/// A handshake over loopback TCP between `client` and `server` in which the server writes a
/// byte and the client reads it, so that the tickets the server wrote are in the client's
/// session store before this returns; both sides' reports.
pub async fn handshake_storing_tickets(
    client: &Arc<ClientConfig>,
    server: &Arc<ServerConfig>,
) -> (
    tokio_tls_handshake::HandshakeReport,
    tokio_tls_handshake::HandshakeReport,
) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let (client_tcp, server_tcp) = tcp_pair().await;
    let (c, s) = bounded(async {
        tokio::join!(
            tokio_tls_handshake::Connector::from(client.clone())
                .connect(name("localhost"), client_tcp),
            tokio_tls_handshake::Acceptor::from(server.clone()).accept(server_tcp)
        )
    })
    .await;
    let (mut c, mut s) = (c.expect("client handshake"), s.expect("server handshake"));
    s.write_all(b"t").await.expect("write");
    s.flush().await.expect("flush");
    let mut byte = [0u8; 1];
    bounded(c.read_exact(&mut byte)).await.expect("tickets");
    (c.report(), s.report())
}

/// The client side of one echo: writes `ping` and checks that it comes back.
pub async fn ping<S>(stream: &mut S)
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    stream.write_all(b"ping").await.expect("write");
    stream.flush().await.expect("flush");
    let mut buf = [0u8; 4];
    bounded(stream.read_exact(&mut buf)).await.expect("echo");
    assert_eq!(&buf, b"ping", "the echo");
}

/// The server side of [`ping`]: reads four bytes and writes them back.
pub async fn echo_ping<S>(stream: &mut S)
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut buf = [0u8; 4];
    bounded(stream.read_exact(&mut buf)).await.expect("read");
    stream.write_all(&buf).await.expect("write");
    stream.flush().await.expect("flush");
}
