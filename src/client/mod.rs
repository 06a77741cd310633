//! The client side:
//!
//! - `connector.rs`: `Connector`, a `ClientConfig` plus per-connection defaults.
//! - `https/`: `HttpsConnector`, HTTPS for hyper-util's `Client` (feature `hyper`).
//! - `roots.rs`: root certificates from a feature each (`webpki-roots`, `native-roots`).

mod connector;
#[cfg(feature = "hyper")]
pub mod https;
#[cfg(any(feature = "webpki-roots", feature = "native-roots"))]
mod roots;

pub use self::connector::Connector;
