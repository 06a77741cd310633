//! The server side, from the front door in:
//!
//! - `listener/`: `TlsListener`, the front door: accepting, a task per handshake, the cap
//!   that sheds slow peers, drain.
//! - `acceptor.rs`: `Acceptor`, a `ServerConfig` plus per-connection defaults.
//! - `client_hello.rs`: reading the ClientHello before choosing a configuration
//!   (`LazyConfigAcceptor`, `StartHandshake`).
//! - `choose.rs`: `ChooseConfig`, the acceptor's hook that answers each ClientHello.
//! - `peer.rs`: `PeerAddr`, a connection's peer address (public as `listener::PeerAddr`).
//! - `certificates/`: `CertificateStore`, certificates chosen by name, reloaded from files.
//! - `acme/`: `Acme`, certificates from an ACME server, TLS-ALPN-01 on the serving port
//!   (feature `acme`).
//! - `proxy/`: the PROXY protocol, a layer in front of TLS (feature `proxy-protocol`).
//! - `reload.rs`: `ReloadableConfig`, a configuration replaced while serving.
//! - `storage/`: `Storage`, what a fleet shares (`FileStorage`, `RedisStorage`), and leases.
//! - `tickets/`: `TicketKeys`, session-ticket keys a fleet shares.
//! - `axum.rs`: the `axum` feature.

pub mod accept;
mod acceptor;
#[cfg(feature = "acme")]
pub mod acme;
#[cfg(feature = "axum")]
mod axum;
pub mod certificates;
mod choose;
mod client_hello;
pub mod listener;
mod peer;
#[cfg(feature = "proxy-protocol")]
pub mod proxy;
pub mod storage;
pub mod tickets;

pub use self::acceptor::Acceptor;
