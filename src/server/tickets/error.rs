//! [`TicketKeyError`]: why ticket keys could not be used.

use std::{fmt, path::PathBuf};

/// Why ticket keys could not be used.
#[derive(Debug)]
#[non_exhaustive]
pub enum TicketKeyError {
    /// The key file could not be read.
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        error: std::io::Error,
    },
    /// The key file's group or others have access to it (Unix): refused, as OpenSSH refuses
    /// such a private key. `chmod 600` the file.
    Exposed {
        /// The file.
        path: PathBuf,
        /// Its permission bits.
        mode: u32,
    },
    /// The key file is not in the expected format.
    Format {
        /// The line (from 1).
        line: usize,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// The key file holds no key.
    NoKey,
    /// The crypto provider has neither TLS 1.3 AES-256-GCM nor ChaCha20-Poly1305.
    NoCipher,
    /// The crypto provider's HKDF failed to derive a ticket key. No built-in provider does;
    /// tickets are refused rather than sealed under a key that was not derived.
    KeyDerivation,
}

impl fmt::Display for TicketKeyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Io { path, error } => write!(f, "cannot read {}: {error}", path.display()),
            Self::Exposed { path, mode } => write!(
                f,
                "{} is open to others (mode {mode:04o}); ticket keys must be readable by their owner only",
                path.display()
            ),
            Self::Format { line, reason } => write!(f, "ticket key file, line {line}: {reason}"),
            Self::NoKey => f.write_str("the ticket key file holds no key"),
            Self::NoCipher => f.write_str(
                "the crypto provider has neither AES-256-GCM nor ChaCha20-Poly1305 for TLS 1.3",
            ),
            Self::KeyDerivation => {
                f.write_str("the crypto provider's hkdf failed to derive a ticket key")
            }
        }
    }
}

impl std::error::Error for TicketKeyError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Io { error, .. } => Some(error),
            _ => None,
        }
    }
}
