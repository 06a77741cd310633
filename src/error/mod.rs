//! Why a handshake failed: [`HandshakeError`]. The failure with its transport handed back is
//! [`Failed`](crate::io::Failed), in the async layer that hands it back.

use std::{error::Error as StdError, fmt, io, sync::Arc};

use rustls::AlertDescription;

/// Why a TLS handshake did not complete.
///
/// Each variant names the `SSL_get_error(3)` result it corresponds to, so code ported from
/// OpenSSL keeps its meaning. A nonblocking retry (`SSL_ERROR_WANT_READ` /
/// `SSL_ERROR_WANT_WRITE`) is never an error here: the sync step reports it as
/// [`Step::WantRead`](crate::Step::WantRead) / [`Step::WantWrite`](crate::Step::WantWrite) and
/// the future as `Poll::Pending`.
///
/// `Debug` shows no more of the peer's bytes than `Display` does: of a
/// [`NotTls`](HandshakeError::NotTls) prefix, the first 16 and the length.
///
/// `Clone`: the same error again, for a caller that asks after it was returned (the step
/// called again, the stream read again); a transport error is shared, not copied.
#[derive(Clone)]
#[non_exhaustive]
pub enum HandshakeError {
    /// The peer closed the connection before the handshake finished: OpenSSL's
    /// `SSL_do_handshake` returning 0 ("shut down controlled by the protocol"), or its
    /// `SSL_ERROR_ZERO_RETURN` / unexpected-EOF cases.
    ///
    /// `received == 0` is a peer that connected and left without sending a byte: load balancer
    /// health checks and port scanners look like this, and most servers log them quietly.
    PeerClosed {
        /// The peer sent a `close_notify` alert (a clean close) rather than just closing the
        /// transport (a bare EOF).
        close_notify: bool,
        /// Bytes received from the peer before it closed.
        received: u64,
    },
    /// A fatal TLS protocol error (`SSL_ERROR_SSL`): a certificate was rejected, no common
    /// parameters, a malformed message, or the peer sent a fatal alert.
    ///
    /// `alert_sent` set means this side rejected the peer; `alert_received` set means the peer
    /// rejected this side.
    Protocol {
        /// The error as rustls reported it.
        error: rustls::Error,
        /// The fatal alert written to the peer and flushed, if one was. When the alert went out
        /// encrypted (TLS 1.3 after the `ServerHello`), its description is the one rustls chooses
        /// for `error`.
        alert_sent: Option<AlertDescription>,
        /// The fatal alert received from the peer, if that is what ended the handshake.
        alert_received: Option<AlertDescription>,
    },
    /// The transport failed (`SSL_ERROR_SYSCALL`): a reset, a broken pipe, a write that
    /// returned `Ok(0)`, or any other I/O error. Shared, so that the error clones.
    Transport(Arc<io::Error>),
    /// The handshake's deadline passed before it finished. OpenSSL has no equivalent: its
    /// callers time out themselves.
    TimedOut,
    /// The peer's first bytes are not a TLS record: it spoke plaintext (for example
    /// `GET / HTTP/1.1`) to a TLS port, or a plaintext server answered a `ClientHello`.
    ///
    /// No alert was sent, so the transport is still fit for a plaintext answer (HTTP 400 or a
    /// redirect) via [`Failed::io`](crate::io::Failed::io). `Display` and `Debug` show only the
    /// first 16 bytes.
    NotTls {
        /// The bytes read from the peer so far, in order (at most one read's worth).
        prefix: Vec<u8>,
    },
    /// The local configuration cannot start a handshake, for example a `ClientConfig` with no
    /// usable protocol version or cipher suite. Nothing was sent.
    Config(rustls::Error),
    /// The server reads a PROXY protocol header before TLS (the `proxy-protocol` feature) and
    /// the connection's was missing, malformed, too long, or from a peer not trusted to send
    /// one. Nothing was sent; the transport is handed back.
    #[cfg(feature = "proxy-protocol")]
    ProxyHeader(ProxyHeaderError),
    /// The server refused the ClientHello by policy before the handshake went on: a
    /// [`ChooseConfig`](crate::accept::ChooseConfig) chose [`Choice::Refuse`](crate::accept::Choice::Refuse)
    /// (a [`CertificateStore`](crate::certificates::CertificateStore) has no certificate for the name asked
    /// for, say), or [`StartHandshake::refuse`](crate::accept::StartHandshake::refuse) was called.
    /// The alert goes out in the clear, as OpenSSL's servername callback sends one.
    Refused {
        /// The name the client asked for (SNI), if it asked for one.
        server_name: Option<String>,
        /// The fatal alert written to the client and flushed, if it was.
        alert_sent: Option<AlertDescription>,
    },
    /// The handshake completed, and a layer above the core answered the connection itself
    /// and closed it: nothing for the application to serve. `by` names what answered:
    /// [`accept::CHALLENGE`](crate::accept::CHALLENGE) for a
    /// [`Choice::AnswerChallenge`](crate::accept::Choice::AnswerChallenge) (an ACME server's
    /// TLS-ALPN-01 validation, RFC 8737). The core never produces it; it carries it, so a new
    /// kind of answer does not change this type.
    Answered {
        /// What answered the connection.
        by: &'static str,
    },
}

/// What was wrong with a PROXY protocol header ([`HandshakeError::ProxyHeader`]).
#[cfg(feature = "proxy-protocol")]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ProxyHeaderError {
    /// A header is required and the connection began with something else.
    Missing,
    /// The header does not parse: a bad version, command, address family or addresses.
    Malformed,
    /// The header is longer than accepted (v1: 107 bytes, v2: 4096).
    TooLong {
        /// Its length, as far as it was read or declared.
        len: usize,
    },
    /// The transport's peer is not a trusted load balancer
    /// (`TrustedProxies`): under `Required`, refused before anything
    /// was read; under `Optional`, it began with a header.
    Untrusted,
}

#[cfg(feature = "proxy-protocol")]
impl fmt::Display for ProxyHeaderError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Missing => f.write_str("proxy protocol header missing"),
            Self::Malformed => f.write_str("proxy protocol header malformed"),
            Self::TooLong { len } => write!(f, "proxy protocol header too long ({len} bytes)"),
            Self::Untrusted => f.write_str(
                "proxy protocol header not allowed from this peer (not a trusted balancer)",
            ),
        }
    }
}

impl HandshakeError {
    /// A protocol error; `alert_received` is read from `error` itself.
    pub(crate) fn protocol(error: rustls::Error, alert_sent: Option<AlertDescription>) -> Self {
        let alert_received = received_alert(&error);
        Self::Protocol {
            error,
            alert_sent,
            alert_received,
        }
    }

    /// A transport error.
    pub(crate) fn transport(error: io::Error) -> Self {
        Self::Transport(Arc::new(error))
    }

    /// The handshake error somewhere in `error`'s chain of sources, looking inside
    /// `io::Error`s too (whose `source()` skips the error they carry): what a caller of
    /// hyper's client, or of code returning `io::Error`, uses to learn why a handshake failed.
    ///
    /// # Examples
    ///
    /// ```
    /// use tokio_tls_handshake::HandshakeError;
    ///
    /// let io = std::io::Error::from(HandshakeError::TimedOut);
    /// assert!(matches!(HandshakeError::find_in(&io), Some(HandshakeError::TimedOut)));
    /// ```
    pub fn find_in<'a>(error: &'a (dyn StdError + 'static)) -> Option<&'a HandshakeError> {
        let mut next = Some(error);
        while let Some(error) = next {
            if let Some(found) = error.downcast_ref::<HandshakeError>() {
                return Some(found);
            }
            let carried = error
                .downcast_ref::<io::Error>()
                .and_then(io::Error::get_ref)
                .and_then(|inner| inner.downcast_ref::<HandshakeError>());
            if carried.is_some() {
                return carried;
            }
            next = error.source();
        }
        None
    }

    /// The fatal alert this side sent to the peer, if any.
    pub fn alert_sent(&self) -> Option<AlertDescription> {
        match self {
            Self::Protocol { alert_sent, .. } | Self::Refused { alert_sent, .. } => *alert_sent,
            _ => None,
        }
    }

    /// The fatal alert the peer sent, if that ended the handshake.
    pub fn alert_received(&self) -> Option<AlertDescription> {
        match self {
            Self::Protocol { alert_received, .. } => *alert_received,
            _ => None,
        }
    }

    /// Whether the peer closed the connection without sending a single byte (health checks,
    /// port scanners, clients that gave up).
    pub fn is_silent_close(&self) -> bool {
        matches!(self, Self::PeerClosed { received: 0, .. })
    }

    /// The [`io::ErrorKind`] this error becomes when converted into an [`io::Error`].
    pub fn kind(&self) -> io::ErrorKind {
        self.facts().0
    }

    /// The `outcome` label of the `metrics` feature (a fixed set: never anything the peer
    /// sent).
    #[cfg_attr(
        not(feature = "metrics"),
        allow(dead_code, reason = "read by the metrics only")
    )]
    pub(crate) fn label(&self) -> &'static str {
        self.facts().1
    }

    /// What a variant becomes, in one place: its `io::ErrorKind` and its metrics label.
    fn facts(&self) -> (io::ErrorKind, &'static str) {
        use io::ErrorKind::*;
        match self {
            Self::PeerClosed { .. } => (UnexpectedEof, "peer_closed"),
            Self::Protocol { .. } => (InvalidData, "protocol"),
            Self::Transport(e) => (e.kind(), "transport"),
            Self::TimedOut => (TimedOut, "timed_out"),
            Self::NotTls { .. } => (InvalidData, "not_tls"),
            Self::Config(_) => (InvalidInput, "config"),
            #[cfg(feature = "proxy-protocol")]
            Self::ProxyHeader(_) => (InvalidData, "proxy_header"),
            Self::Refused { .. } => (ConnectionRefused, "refused"),
            Self::Answered { .. } => (ConnectionAborted, "answered"),
        }
    }
}

impl fmt::Display for HandshakeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::PeerClosed {
                close_notify,
                received,
            } => {
                let how = if *close_notify {
                    "sent close_notify"
                } else {
                    "closed the connection"
                };
                write!(f, "peer {how} before the handshake finished")?;
                match received {
                    0 => write!(f, " (nothing received)"),
                    n => write!(f, " ({n} bytes received)"),
                }
            }
            Self::Protocol {
                error,
                alert_sent,
                alert_received,
            } => {
                write!(f, "tls handshake failed: {error}")?;
                if let Some(alert) = alert_sent {
                    write!(f, " (sent alert {alert:?})")?;
                }
                // A received alert is already in rustls' message.
                if let (Some(alert), None) = (alert_received, received_alert(error)) {
                    write!(f, " (received alert {alert:?})")?;
                }
                Ok(())
            }
            Self::Transport(e) => write!(f, "transport error during tls handshake: {e}"),
            Self::TimedOut => f.write_str("tls handshake timed out"),
            Self::NotTls { prefix } => {
                let shown = &prefix[..prefix.len().min(PREFIX_SHOWN)];
                write!(
                    f,
                    "peer did not speak tls (first bytes {:?})",
                    String::from_utf8_lossy(shown)
                )
            }
            Self::Config(e) => write!(f, "tls configuration cannot start a handshake: {e}"),
            #[cfg(feature = "proxy-protocol")]
            Self::ProxyHeader(e) => write!(f, "{e}, before the tls handshake"),
            Self::Refused {
                server_name,
                alert_sent,
            } => {
                match server_name {
                    Some(name) => write!(f, "tls client hello for {name:?} refused")?,
                    None => f.write_str("tls client hello without a server name refused")?,
                }
                if let Some(alert) = alert_sent {
                    write!(f, " (sent alert {alert:?})")?;
                }
                Ok(())
            }
            Self::Answered { by } => {
                write!(
                    f,
                    "tls connection answered by the server ({by}), then closed"
                )
            }
        }
    }
}

/// How much of a non-TLS prefix `Display` and `Debug` show.
const PREFIX_SHOWN: usize = 16;

/// The first bytes of a non-TLS prefix, as text, and how many there were.
struct Prefix<'a>(&'a [u8]);

impl fmt::Debug for Prefix<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let shown = &self.0[..self.0.len().min(PREFIX_SHOWN)];
        write!(f, "{:?}", String::from_utf8_lossy(shown))?;
        if self.0.len() > shown.len() {
            write!(f, " (+{} bytes)", self.0.len() - shown.len())?;
        }
        Ok(())
    }
}

impl fmt::Debug for HandshakeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::PeerClosed {
                close_notify,
                received,
            } => f
                .debug_struct("PeerClosed")
                .field("close_notify", close_notify)
                .field("received", received)
                .finish(),
            Self::Protocol {
                error,
                alert_sent,
                alert_received,
            } => f
                .debug_struct("Protocol")
                .field("error", error)
                .field("alert_sent", alert_sent)
                .field("alert_received", alert_received)
                .finish(),
            Self::Transport(e) => f.debug_tuple("Transport").field(e).finish(),
            Self::TimedOut => f.write_str("TimedOut"),
            Self::NotTls { prefix } => f
                .debug_struct("NotTls")
                .field("prefix", &Prefix(prefix))
                .finish(),
            Self::Config(e) => f.debug_tuple("Config").field(e).finish(),
            #[cfg(feature = "proxy-protocol")]
            Self::ProxyHeader(e) => f.debug_tuple("ProxyHeader").field(e).finish(),
            Self::Refused {
                server_name,
                alert_sent,
            } => f
                .debug_struct("Refused")
                .field("server_name", server_name)
                .field("alert_sent", alert_sent)
                .finish(),
            Self::Answered { by } => f.debug_struct("Answered").field("by", by).finish(),
        }
    }
}

fn received_alert(error: &rustls::Error) -> Option<AlertDescription> {
    match error {
        rustls::Error::AlertReceived(alert) => Some(*alert),
        _ => None,
    }
}

impl StdError for HandshakeError {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        match self {
            Self::Protocol { error, .. } | Self::Config(error) => Some(error),
            Self::Transport(e) => Some(&**e),
            _ => None,
        }
    }
}

/// Converts into an `io::Error` whose kind fits the cause (see [`HandshakeError::kind`]) and
/// whose inner error is the `HandshakeError`, so `get_ref()` + `downcast_ref` recovers it.
///
/// This is what makes `?` work in functions returning `io::Result`, as with tokio-rustls.
impl From<HandshakeError> for io::Error {
    fn from(error: HandshakeError) -> Self {
        io::Error::new(error.kind(), error)
    }
}

/// The `io::Error` of a transport error, itself if no clone shares it, else one of the same
/// kind and message.
pub(crate) fn unshare(error: Arc<io::Error>) -> io::Error {
    Arc::try_unwrap(error)
        .unwrap_or_else(|shared| io::Error::new(shared.kind(), shared.to_string()))
}

#[cfg(test)]
mod tests;
