//! [`AcmeError`]: why getting a certificate from an ACME server failed.

use std::{fmt, io, path::PathBuf, sync::Arc};

use crate::server::certificates::CertificateError;

/// The error underneath, shared so that an [`AcmeError`] can be both returned and kept in
/// the client's status, and so that `instant-acme`'s types stay out of this crate's API.
pub type AcmeSource = Arc<dyn std::error::Error + Send + Sync + 'static>;

/// Why a certificate could not be obtained or renewed. The certificate being served, if there
/// is one, keeps serving.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum AcmeError {
    /// The ACME server could not be reached, or its answer was not understood (connection
    /// refused, TLS to it failed, a timeout, a malformed answer).
    Unreachable(AcmeSource),
    /// The ACME server refused: it answered with an RFC 8555 problem document (a rejected
    /// identifier, an unauthorized account, a failed validation, a rate limit).
    Refused {
        /// The name being ordered.
        name: String,
        /// The problem's type, such as `urn:ietf:params:acme:error:rejectedIdentifier`.
        problem: Option<String>,
        /// The problem's detail, for people.
        detail: String,
    },
    /// The order ended invalid: the server could not validate the name (its TLS-ALPN-01
    /// connection did not reach this server, or got no challenge certificate).
    Invalid {
        /// The name being ordered.
        name: String,
        /// What the server said about the failed authorization, if it said.
        detail: String,
    },
    /// The server offers no TLS-ALPN-01 challenge for the name.
    NoTlsAlpnChallenge {
        /// The name being ordered.
        name: String,
    },
    /// A name this client cannot order: a wildcard (TLS-ALPN-01 cannot validate one; it needs
    /// DNS-01) or not a DNS name.
    InvalidName(String),
    /// The cache directory or a file in it could not be read or written.
    Cache {
        /// The file or directory.
        path: PathBuf,
        /// The I/O error.
        error: Arc<io::Error>,
    },
    /// The certificate the server issued could not be loaded into the store.
    Certificate(Arc<CertificateError>),
    /// Making a key, a certificate signing request or a challenge certificate failed.
    Crypto(String),
    /// The order did not complete within its time limit.
    TimedOut {
        /// The name being ordered.
        name: String,
    },
    /// The fleet's storage ([`AcmeConfig::storage`](super::AcmeConfig::storage)) failed: the
    /// order's lease, the challenge or the certificate could not be shared. Retried with
    /// backoff; what is served keeps serving.
    Storage(Arc<crate::server::storage::StorageError>),
    /// Another instance of the fleet holds the name's order lease: it orders, and this one
    /// picks the certificate up from the storage. Not a failure: no backoff grows.
    OrderedElsewhere {
        /// The name.
        name: String,
    },
    /// The fleet is backing off the name: an order for it failed on some instance, and the
    /// next may not be made before `until` (the fleet's record, in its storage). No order was
    /// made; the failures are the fleet's.
    BackingOff {
        /// The name.
        name: String,
        /// Failed orders in a row, fleet-wide.
        failures: u32,
        /// When the next order may be made.
        until: std::time::SystemTime,
    },
}

impl fmt::Display for AcmeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Unreachable(e) => {
                // The cause is often a few layers down (HTTP client, connect, TLS).
                write!(f, "acme server unreachable: {e}")?;
                let mut cause = e.source();
                while let Some(error) = cause {
                    write!(f, ": {error}")?;
                    cause = error.source();
                }
                Ok(())
            }
            Self::Refused {
                name,
                problem,
                detail,
            } => {
                write!(f, "acme server refused {name:?}: {detail}")?;
                if let Some(problem) = problem {
                    write!(f, " ({problem})")?;
                }
                Ok(())
            }
            Self::Invalid { name, detail } => {
                write!(f, "acme validation of {name:?} failed: {detail}")
            }
            Self::NoTlsAlpnChallenge { name } => {
                write!(
                    f,
                    "acme server offers no tls-alpn-01 challenge for {name:?}"
                )
            }
            Self::InvalidName(name) => write!(
                f,
                "{name:?} cannot be ordered with tls-alpn-01 (wildcards need dns-01)"
            ),
            Self::Cache { path, error } => {
                write!(f, "acme cache {}: {error}", path.display())
            }
            Self::Certificate(e) => write!(f, "issued certificate not loaded: {e}"),
            Self::Crypto(e) => write!(f, "acme key or request: {e}"),
            Self::TimedOut { name } => write!(f, "acme order for {name:?} timed out"),
            Self::Storage(e) => write!(f, "acme fleet storage: {e}"),
            Self::OrderedElsewhere { name } => {
                write!(
                    f,
                    "{name:?} is being ordered by another instance of the fleet"
                )
            }
            Self::BackingOff { name, failures, .. } => write!(
                f,
                "the fleet is backing off {name:?} after {failures} failed orders"
            ),
        }
    }
}

impl std::error::Error for AcmeError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Unreachable(e) => Some(e.as_ref()),
            Self::Cache { error, .. } => Some(error.as_ref()),
            Self::Certificate(e) => Some(e.as_ref()),
            Self::Storage(e) => Some(e.as_ref()),
            _ => None,
        }
    }
}

impl AcmeError {
    /// A storage error, shared.
    pub(super) fn storage(error: crate::server::storage::StorageError) -> Self {
        Self::Storage(Arc::new(error))
    }

    /// A cache error for `path`.
    pub(super) fn cache(path: impl Into<PathBuf>, error: io::Error) -> Self {
        Self::Cache {
            path: path.into(),
            error: Arc::new(error),
        }
    }

    /// The typed error for what `instant-acme` reported while ordering `name`.
    pub(super) fn from_client(name: &str, error: instant_acme::Error) -> Self {
        match error {
            instant_acme::Error::Api(problem) => Self::Refused {
                name: name.to_string(),
                problem: problem.r#type.clone(),
                detail: problem.to_string(),
            },
            instant_acme::Error::Timeout(_) => Self::TimedOut {
                name: name.to_string(),
            },
            other => Self::Unreachable(Arc::new(other)),
        }
    }
}
