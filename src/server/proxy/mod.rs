//! The `proxy-protocol` feature: a PROXY protocol header (HAProxy's v1 text or v2 binary) read
//! in front of TLS, by a layer of its own. The TLS code never sees it: the header is read
//! first (`ProxyHeaderReader`), bounded and under the handshake's one deadline, and what
//! came after it in the same read is handed to the handshake as bytes already received.
//!
//! - `reader.rs`: the bounded reader (v1: 107 bytes, v2: [`MAX_PROXY_V2_LEN`]), parsed by
//!   the `proxy-header` crate.
//! - `trusted.rs`: `TrustedProxies`, who may send a header.
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
