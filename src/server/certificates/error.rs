//! Why a certificate file was not loaded ([`CertificateError`], naming the file), and what a
//! load or reload of a whole store reports ([`StoreLoadError`]).

use std::{fmt, io, path::PathBuf};

/// A certificate that could not be loaded, and the file (or directory) it came from.
#[derive(Debug)]
pub struct CertificateError {
    /// The file or directory.
    pub path: PathBuf,
    /// What was wrong with it.
    pub kind: CertificateErrorKind,
}

/// What was wrong with a certificate file.
#[derive(Debug)]
#[non_exhaustive]
pub enum CertificateErrorKind {
    /// The file or directory could not be read.
    Read(io::Error),
    /// The PEM does not parse.
    Pem(rustls::pki_types::pem::Error),
    /// The file holds no certificate.
    NoCertificate,
    /// No private key: none in the file, and no `.key` file beside it.
    NoKey,
    /// The leaf certificate does not parse as X.509.
    Unparsable(String),
    /// The leaf certificate names no DNS name a client could ask for (subject alternative
    /// names of type DNS; the subject's common name is not used).
    NoDnsNames,
    /// The private key cannot be used by the crypto provider, or does not belong to the
    /// certificate (rustls' verdict: `InconsistentKeys`).
    Key(rustls::Error),
    /// No crypto provider to load keys with: enable `aws-lc-rs` or `ring`, install a process
    /// default, or give the store one.
    NoCryptoProvider,
    /// The chain lost the certificate that issued its last one since the version served, as
    /// a file read while it is being written does (`cat leaf.pem ca.pem > NAME.pem`, caught
    /// between the two). The version served keeps serving; the next reload that finds the
    /// file unchanged takes it (a chain shortened on purpose).
    ChainShortened {
        /// Certificates in the chain served.
        served: usize,
        /// Certificates in the file now.
        found: usize,
    },
}

impl fmt::Display for CertificateError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let path = self.path.display();
        match &self.kind {
            CertificateErrorKind::Read(e) => write!(f, "cannot read {path}: {e}"),
            CertificateErrorKind::Pem(e) => write!(f, "{path}: bad PEM: {e}"),
            CertificateErrorKind::NoCertificate => write!(f, "{path}: no certificate"),
            CertificateErrorKind::NoKey => {
                write!(
                    f,
                    "{path}: no private key (in the file or a .key beside it)"
                )
            }
            CertificateErrorKind::Unparsable(e) => {
                write!(f, "{path}: the certificate does not parse: {e}")
            }
            CertificateErrorKind::NoDnsNames => {
                write!(f, "{path}: the certificate names no DNS name")
            }
            CertificateErrorKind::Key(e) => write!(f, "{path}: unusable private key: {e}"),
            CertificateErrorKind::NoCryptoProvider => {
                write!(f, "{path}: no crypto provider to load the key with")
            }
            CertificateErrorKind::ChainShortened { served, found } => write!(
                f,
                "{path}: the chain has {found} certificates where {served} are served, without \
                 the issuer of its last one (a file being written?); kept until a reload finds \
                 it unchanged"
            ),
        }
    }
}

impl std::error::Error for CertificateError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match &self.kind {
            CertificateErrorKind::Read(e) => Some(e),
            CertificateErrorKind::Pem(e) => Some(e),
            CertificateErrorKind::Key(e) => Some(e),
            _ => None,
        }
    }
}

/// Files a [`CertificateStore`](crate::certificates::CertificateStore) could not load. Every other file was
/// loaded; each file named here keeps serving its last good version, if it had one.
#[derive(Debug)]
pub struct StoreLoadError {
    /// One error per file (or directory) not loaded.
    pub errors: Vec<CertificateError>,
}

impl fmt::Display for StoreLoadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} certificate file(s) not loaded", self.errors.len())?;
        for error in &self.errors {
            write!(f, "; {error}")?;
        }
        Ok(())
    }
}

impl std::error::Error for StoreLoadError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.errors
            .first()
            .map(|e| e as &(dyn std::error::Error + 'static))
    }
}
