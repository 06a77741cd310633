//! The client side:
//!
//! - `connector.rs`: `Connector`, a `ClientConfig` plus per-connection defaults.
//! - `https/`: `HttpsConnector`, HTTPS for hyper-util's `Client` (feature `hyper`).
//! - `roots.rs`: root certificates from a feature each (`webpki-roots`, `native-roots`).

mod connector;
#[cfg(feature = "hyper")]
mod https;
#[cfg(any(feature = "webpki-roots", feature = "native-roots"))]
pub mod roots;

pub use self::connector::Connector;
#[cfg(feature = "hyper")]
pub use self::https::{
    BoxError, ConnectError, Connecting, HttpsConnector, HttpsConnectorBuilder, MaybeHttpsStream,
    DEFAULT_CONNECT_TIMEOUT,
};
