//! The `proxy-protocol` feature: a PROXY protocol header (HAProxy's v1 text or v2 binary) read
//! in front of TLS, by a layer of its own. The TLS code never sees it: the header is read
//! first (`ProxyHeaderReader`), bounded and under the handshake's one deadline, and what
//! came after it in the same read is handed to the handshake as bytes already received.
//!
//! # Trust
//!
//! A header says "this connection is really from that client". Only a load balancer may say
//! so: anyone else who can reach the port could claim any address and walk past an address
//! allowlist, a rate limit or a ban keyed on it. So every mode comes with the set of
//! balancers trusted to send a header (`TrustedProxies`), matched against the *transport's*
//! peer address:
//!
//! | mode | a trusted balancer | anyone else |
//! |---|---|---|
//! | `ProxyProtocol::Required` | must send a header (else `Missing`) | refused at once, nothing read (`Untrusted`) |
//! | `ProxyProtocol::Optional` | may send one | goes straight to TLS; a header is refused (`Untrusted`) |
//!
//! `TrustedProxies::any` trusts every peer: only for a port no client can reach except
//! through the balancer (a private network, a firewall rule, a Unix socket only the balancer
//! may open). [`TlsListener`](crate::listener::TlsListener) knows each transport's address and applies
//! the set; with [`Acceptor::accept`](crate::Acceptor::accept) the address is unknown, so use
//! [`Acceptor::accept_from`](crate::Acceptor::accept_from) unless the set is `any`.
//!
//!
//! # Guide
//!
//! **The PROXY protocol** (feature `proxy-protocol`). Behind HAProxy, an AWS NLB or Envoy, the
//! transport's peer is the balancer. `Acceptor::with_proxy_protocol(mode, trusted)` reads the
//! header HAProxy's `send-proxy` (v1, text) or `send-proxy-v2` (binary) puts in front of the TLS
//! bytes, parsed by the [`proxy-header`](https://crates.io/crates/proxy-header) crate, from the
//! balancers `trusted` lists only:
//!
//! ```rust,no_run
//! # #[cfg(feature = "proxy-protocol")]
//! # async fn run(config: std::sync::Arc<rustls::ServerConfig>) -> Result<(), Box<dyn std::error::Error>> {
//! use tokio_tls_handshake::{proxy::{ProxyProtocol, TrustedProxies}, listener::TlsListener, Acceptor};
//!
//! let balancers = TrustedProxies::parse(["10.0.0.0/24", "fd00::/8"])?;
//! let acceptor = Acceptor::from(config).with_proxy_protocol(ProxyProtocol::Required, balancers);
//! let mut listener = TlsListener::new(tokio::net::TcpListener::bind("0.0.0.0:8443").await?, acceptor);
//! while let Some(next) = listener.accept().await {
//!     if let Ok((tls, client)) = next { /* `client`: the address behind the balancer */ }
//! }
//! # Ok(()) }
//! ```
//!
//! - **Who may send a header.** A header says "this connection is really from that client";
//!   anyone else who reached the port could claim any address and walk past an allowlist, a rate
//!   limit or a ban keyed on it. So the trusted balancers come with the mode, matched against the
//!   *transport's* peer address (CIDR ranges or addresses, parsed by the `ipnet` crate, with IPv4
//!   peers seen through an IPv6 socket matched as IPv4; or a predicate; or
//!   `TrustedProxies::any()` for a port only the balancer can reach):
//!
//!   | mode | a trusted balancer | anyone else |
//!   |---|---|---|
//!   | `Required` | must send a header (else `ProxyHeader(Missing)`) | refused at once, nothing read (`ProxyHeader(Untrusted)`) |
//!   | `Optional` | may send one | goes straight to TLS; a header is refused (`Untrusted`) |
//!
//!   `TlsListener` knows each transport's address; accepting by hand, use
//!   `Acceptor::accept_from(io, &peer)` / `start_from`, since `accept(io)` does not know it and
//!   trusts its peer only under `any()`. A Unix socket's peer has no address: only `any()`
//!   trusts it (the socket's permissions decide who connects).
//! - **A layer in front of TLS.** The header is read first, by its own bounded reader, under the
//!   handshake's one deadline (`accept`, `start` and the sync step alike); the TLS code never
//!   sees it, and TLS bytes that arrived in the same read are handed to the handshake. The sync
//!   step runs the same reader: `ProxyHeaderReader::read`, then
//!   `Handshake::accept(config)?.with_received(header.received)`.
//! - **Bounded.** The reader holds at most the longest header (v1: 107 bytes; v2: 4096, TLVs
//!   included) plus one 1 KiB read, and refuses as soon as a limit is passed on any branch (a v1
//!   line ending past 107 bytes, a v1 signature with no line end, a v2 length over 4096).
//! - **The client's address** becomes the peer the `TlsListener` yields, and the peer of every
//!   failure it reports (evictions and drain cut-offs included, once the header was read), with
//!   `TlsStream::forwarded_for()` and the report's `forwarded_for`. A Unix listener yields
//!   `UnixPeer::Proxied(addr)` then (HAProxy in front of a Unix socket), `UnixPeer::Socket` else.
//! - Without the feature configured, a header is `NotTls`, as any non-TLS bytes; a LOCAL header
//!   (the balancer's own health check) keeps the transport's address.
//!
//! Tested against a real HAProxy, Debian's package (2.6.12 on the machine this was written on;
//! `.ci/run` installs whatever Debian ships) (`tests/server/haproxy.rs`: `send-proxy` and `send-proxy-v2` to a
//! TCP listener, `send-proxy-v2` to a Unix socket trusted and refused; the server sees the
//! client's own address and port), and with the attacks in the Reliability table of [TESTING.md](TESTING.md).

mod reader;
mod trusted;

pub use crate::error::ProxyHeaderError;
pub use reader::{ProxyHeader, ProxyHeaderReader, MAX_PROXY_V2_LEN};
pub use trusted::{AddressRangeError, TrustedProxies};

/// Whether a server expects a PROXY protocol header before the TLS bytes. Who may send one is
/// a [`TrustedProxies`] given with it; see the module's trust table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ProxyProtocol {
    /// Behind a load balancer that always sends a header: every connection comes from a
    /// trusted balancer and begins with one. A connection from anyone else is refused with
    /// [`ProxyHeaderError::Untrusted`](crate::proxy::ProxyHeaderError::Untrusted) before anything is
    /// read; one without a header fails with
    /// [`ProxyHeaderError::Missing`](crate::proxy::ProxyHeaderError::Missing).
    Required,
    /// Both balancers and clients connect: a trusted balancer's connection may begin with a
    /// header, anyone else's goes straight to TLS and a header from them is refused
    /// ([`ProxyHeaderError::Untrusted`](crate::proxy::ProxyHeaderError::Untrusted)). A plaintext
    /// peer is still `NotTls`.
    Optional,
}

/// How a server reads PROXY headers: the mode and who may send one.
#[derive(Debug, Clone)]
pub(crate) struct ProxyPolicy {
    pub(crate) mode: ProxyProtocol,
    pub(crate) trusted: TrustedProxies,
}

impl ProxyPolicy {
    /// A reader for a connection whose transport's peer is `peer` (`None`: unknown, or not an
    /// IP address).
    pub(crate) fn reader(&self, peer: Option<std::net::IpAddr>) -> ProxyHeaderReader {
        ProxyHeaderReader::new(self.mode, &self.trusted, peer)
    }
}
