//! [`StorageError`]: why the fleet's storage could not do what was asked.

use std::{error::Error, fmt, io};

/// Why a [`Storage`](super::Storage) call failed.
#[derive(Debug)]
#[non_exhaustive]
pub enum StorageError {
    /// The store could not be reached or did not answer in time, or refused the command
    /// (authentication, permissions). Work that needs it is retried later; what is already
    /// loaded keeps serving.
    Unavailable {
        /// What was being done: `load`, `store`, `delete`, `lock`, `extend`, `unlock`,
        /// `connect`.
        operation: &'static str,
        /// The key or lease it was about.
        key: String,
        /// The store's own error.
        source: Box<dyn Error + Send + Sync>,
    },
    /// A key outside the storage's alphabet (see [the module](super#keys)): refused before
    /// the store was touched.
    InvalidKey(String),
    /// A value in the store that does not parse as what its key holds (truncated, garbage,
    /// a key that does not match its certificate). The last good value keeps serving.
    Corrupt {
        /// Its key.
        key: String,
        /// What is wrong with it.
        reason: String,
    },
}

impl StorageError {
    pub(crate) fn unavailable(
        operation: &'static str,
        key: &str,
        source: impl Into<Box<dyn Error + Send + Sync>>,
    ) -> Self {
        Self::Unavailable {
            operation,
            key: key.to_owned(),
            source: source.into(),
        }
    }

    pub(crate) fn corrupt(key: &str, reason: impl Into<String>) -> Self {
        Self::Corrupt {
            key: key.to_owned(),
            reason: reason.into(),
        }
    }

    /// The label the metrics and tracing events give this error: `unavailable`,
    /// `invalid_key` or `corrupt`.
    pub fn label(&self) -> &'static str {
        match self {
            Self::Unavailable { .. } => "unavailable",
            Self::InvalidKey(_) => "invalid_key",
            Self::Corrupt { .. } => "corrupt",
        }
    }
}

impl fmt::Display for StorageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Unavailable {
                operation,
                key,
                source,
            } => write!(f, "storage unavailable ({operation} {key:?}): {source}"),
            Self::InvalidKey(key) => write!(f, "storage key {key:?} is not allowed"),
            Self::Corrupt { key, reason } => {
                write!(f, "stored value {key:?} refused: {reason}")
            }
        }
    }
}

impl Error for StorageError {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        match self {
            Self::Unavailable { source, .. } => Some(&**source),
            _ => None,
        }
    }
}

impl From<StorageError> for io::Error {
    fn from(error: StorageError) -> Self {
        let kind = match &error {
            StorageError::Unavailable { .. } => io::ErrorKind::NotConnected,
            StorageError::InvalidKey(_) => io::ErrorKind::InvalidInput,
            StorageError::Corrupt { .. } => io::ErrorKind::InvalidData,
        };
        io::Error::new(kind, error)
    }
}
