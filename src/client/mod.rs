//! The client side: `Connector`, a `ClientConfig` plus per-connection defaults.

mod connector;

pub use self::connector::Connector;
