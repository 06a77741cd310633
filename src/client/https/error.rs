//! [`ConnectError`]: why an [`HttpsConnector`](crate::https::HttpsConnector) gave hyper no
//! connection.

use std::{error::Error as StdError, fmt};

use crate::error::HandshakeError;

/// The error an inner connector (hyper-util's `HttpConnector`, say) failed with.
pub type BoxError = Box<dyn StdError + Send + Sync + 'static>;

/// Why an [`HttpsConnector`](crate::https::HttpsConnector) did not connect. hyper's client error
/// carries it as its source; [`HandshakeError::find_in`] finds a failed handshake anywhere in
/// that chain.
#[derive(Debug)]
#[non_exhaustive]
pub enum ConnectError {
    /// The URI's scheme is `http` and the connector is HTTPS only, or it is neither `http`
    /// nor `https`.
    Scheme {
        /// The scheme, if the URI had one.
        scheme: Option<String>,
    },
    /// The URI names no host to connect to or to verify.
    NoHost,
    /// The host is not a name (or address) TLS can verify.
    InvalidServerName(String),
    /// The inner connector failed (DNS, TCP connect).
    Connect(BoxError),
    /// The deadline passed before the TCP connection was made. A deadline that passes during
    /// the handshake is [`HandshakeError::TimedOut`].
    TimedOut,
    /// The TLS handshake failed.
    Handshake(HandshakeError),
    /// The connector is HTTP/2 only ([`http2_only`](crate::https::HttpsConnectorBuilder::http2_only))
    /// and the server agreed to no ALPN protocol. (A server that picks a protocol the client
    /// did not offer is already refused by rustls, as a [`HandshakeError`].)
    NoHttp2,
}

impl ConnectError {
    /// Whether the connector's deadline passed, while connecting or during the handshake.
    pub fn is_timeout(&self) -> bool {
        matches!(
            self,
            Self::TimedOut | Self::Handshake(HandshakeError::TimedOut)
        )
    }
}

impl fmt::Display for ConnectError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Scheme { scheme: Some(s) } if s == "http" => {
                f.write_str("refused a plain http:// URI: this connector is https only")
            }
            Self::Scheme { scheme: Some(s) } => write!(f, "unsupported URI scheme {s:?}"),
            Self::Scheme { scheme: None } => f.write_str("the URI has no scheme"),
            Self::NoHost => f.write_str("the URI has no host"),
            Self::InvalidServerName(host) => {
                write!(f, "{host:?} is not a name or address TLS can verify")
            }
            Self::Connect(e) => write!(f, "connect failed: {e}"),
            Self::TimedOut => f.write_str("connect timed out before the tls handshake"),
            Self::Handshake(e) => write!(f, "{e}"),
            Self::NoHttp2 => f.write_str(
                "the server agreed to no alpn protocol, and this connector is http/2 only",
            ),
        }
    }
}

impl StdError for ConnectError {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        match self {
            Self::Connect(e) => Some(e.as_ref()),
            Self::Handshake(e) => Some(e),
            _ => None,
        }
    }
}
