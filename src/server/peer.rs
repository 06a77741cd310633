//! [`PeerAddr`]: the address of a connection's peer, as the acceptor and the listener see it
//! (with the PROXY protocol, the address a trusted balancer's header carried can replace it).

use std::{
    fmt,
    net::{IpAddr, SocketAddr},
};

/// A peer address a listener reports. With the PROXY protocol (the `proxy-protocol` feature),
/// the client address a header carried replaces the transport's when the type can hold it.
pub trait PeerAddr: Clone + fmt::Debug + Send + Sync + Unpin + 'static {
    /// `source` as this type, if it can be one (`None` by default: the transport's address
    /// stays).
    fn from_proxied(source: SocketAddr) -> Option<Self> {
        let _ = source;
        None
    }

    /// The peer's IP address, if it has one (`None` by default): what decides whether it is a
    /// trusted load balancer (`TrustedProxies`, feature `proxy-protocol`).
    fn ip(&self) -> Option<IpAddr> {
        None
    }
}

impl PeerAddr for SocketAddr {
    fn from_proxied(source: SocketAddr) -> Option<Self> {
        Some(source)
    }

    fn ip(&self) -> Option<IpAddr> {
        Some(SocketAddr::ip(self))
    }
}

#[cfg(unix)]
impl PeerAddr for tokio::net::unix::SocketAddr {}
