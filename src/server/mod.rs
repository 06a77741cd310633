//! The server side, from the front door in:
//!
//! - `listener/`: `TlsListener`, the front door: accepting, a task per handshake, the cap
//!   that sheds slow peers, drain.
//! - `acceptor.rs`: `Acceptor`, a `ServerConfig` plus per-connection defaults.
//! - `client_hello.rs`: reading the ClientHello before choosing a configuration
//!   (`LazyConfigAcceptor`, `StartHandshake`).
//! - `choose.rs`: `ChooseConfig`, the acceptor's hook that answers each ClientHello.
//! - `certificates/`: `CertificateStore`, certificates chosen by name, reloaded from files.
//! - `acme/`: `Acme`, certificates from an ACME server, TLS-ALPN-01 on the serving port
//!   (feature `acme`).
//! - `proxy/`: the PROXY protocol, a layer in front of TLS (feature `proxy-protocol`).
//! - `reload.rs`: `ReloadableConfig`, a configuration replaced while serving.
//! - `tickets/`: `TicketKeys`, session-ticket keys a fleet shares.
//! - `axum.rs`: the `axum` feature.

mod acceptor;
#[cfg(feature = "acme")]
mod acme;
#[cfg(feature = "axum")]
mod axum;
pub(crate) mod certificates;
pub(crate) mod choose;
mod client_hello;
pub(crate) mod listener;
#[cfg(feature = "proxy-protocol")]
pub(crate) mod proxy;
mod reload;
mod tickets;

#[cfg(feature = "acme")]
pub use self::acme::{
    Acme, AcmeConfig, AcmeError, AcmeSource, AcmeStatus, ACME_TLS_ALPN, LETS_ENCRYPT,
    LETS_ENCRYPT_STAGING,
};
#[cfg(feature = "axum")]
pub use self::axum::TlsConnectInfo;
#[cfg(feature = "watch")]
pub use self::certificates::{StoreWatcher, WatchEvent, DEFAULT_WATCH_DELAY};
#[cfg(feature = "proxy-protocol")]
pub use self::proxy::{
    AddressRangeError, ProxyHeader, ProxyHeaderReader, ProxyProtocol, TrustedProxies,
    MAX_PROXY_V2_LEN,
};
pub use self::{
    acceptor::{Acceptor, DEFAULT_SERVER_TIMEOUT},
    certificates::{
        CertificateError, CertificateErrorKind, CertificateInfo, CertificateSource,
        CertificateStore, StoreLoadError, UnknownName,
    },
    choose::{Choice, ChooseConfig},
    client_hello::{LazyConfigAcceptor, StartHandshake},
    reload::{ReloadError, ReloadableConfig},
    tickets::{TicketKeyError, TicketKeys, TICKET_KEYS_HEADER, TICKET_KEY_LEN},
};
