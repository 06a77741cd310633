//! Certificates on disk: which files in a directory are certificates, the two layouts a
//! certificate may have, and the stamp that tells whether a file changed since it was read.
//!
//! Layouts, for a certificate file `NAME.pem` or `NAME.crt`:
//! - the chain (leaf first) and its private key in the one file;
//! - the chain alone, and the key in `NAME.key` beside it.
//!
//! A certificate file with no key, in it or beside it, whose first certificate is a CA's is a
//! trust bundle kept beside the certificates (Kubernetes' `ca.crt` beside `tls.crt` and
//! `tls.key`), not a certificate to serve: it is passed over, not an error.
//!
//! Hidden files (a name starting with `.`), other extensions and subdirectories are not
//! read, so a file written under a hidden name and renamed into place is read only whole
//! (Kubernetes' `..data` swap among them).

use std::{
    fs,
    hash::{Hash, Hasher},
    io,
    path::{Path, PathBuf},
    sync::Arc,
};

use rustls::{
    crypto::CryptoProvider,
    pki_types::{pem::PemObject, CertificateDer, PrivateKeyDer},
    sign::CertifiedKey,
};

use super::{
    error::{CertificateError, CertificateErrorKind},
    info::{CertificateInfo, CertificateSource},
};

/// Extensions of certificate files.
const CERTIFICATE_EXTENSIONS: [&str; 2] = ["pem", "crt"];
/// Extension of a key file beside a certificate file.
const KEY_EXTENSION: &str = "key";

/// A certificate the store serves: what it knows of it, the key rustls signs with, and (for
/// a file) the stamp of the files it was read from.
#[derive(Debug)]
pub(super) struct Stored {
    pub(super) info: CertificateInfo,
    pub(super) key: Arc<CertifiedKey>,
    pub(super) stamp: Option<Stamp>,
}

/// What the files held when they were read: a digest of the certificate file's contents and
/// of the key file's beside it, if there is one. Contents, not modification times: a renewed
/// certificate of the same size written within one tick of the clock is still seen.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(super) struct Stamp {
    certificate: u64,
    key: Option<u64>,
}

impl Stamp {
    /// The files' stamp now; `None` if the certificate file cannot be read.
    pub(super) fn now(path: &Path) -> Option<Self> {
        let certificate = fs::read(path).ok()?;
        Some(Self::of(&certificate, path))
    }

    /// The stamp of a certificate file whose contents are `certificate`.
    fn of(certificate: &[u8], path: &Path) -> Self {
        Self {
            certificate: digest(certificate),
            key: fs::read(key_path(path)).ok().map(|key| digest(&key)),
        }
    }
}

/// A digest to tell whether a file changed (SipHash, from the standard library): whoever can
/// write the files chooses what is served anyway, so collisions made on purpose gain nothing.
fn digest(contents: &[u8]) -> u64 {
    let mut hasher = std::hash::DefaultHasher::new();
    contents.hash(&mut hasher);
    hasher.finish()
}

fn key_path(certificate: &Path) -> PathBuf {
    certificate.with_extension(KEY_EXTENSION)
}

/// The certificate files in `dir`, sorted.
pub(super) fn certificate_files(dir: &Path) -> Result<Vec<PathBuf>, CertificateError> {
    let read_error = |e| CertificateError {
        path: dir.to_path_buf(),
        kind: CertificateErrorKind::Read(e),
    };
    let mut files = Vec::new();
    for entry in fs::read_dir(dir).map_err(read_error)? {
        let entry = entry.map_err(read_error)?;
        let path = entry.path();
        let hidden = entry.file_name().to_string_lossy().starts_with('.');
        let is_certificate = path
            .extension()
            .and_then(|e| e.to_str())
            .is_some_and(|e| CERTIFICATE_EXTENSIONS.contains(&e));
        if !hidden && is_certificate && path.is_file() {
            files.push(path);
        }
    }
    files.sort();
    Ok(files)
}

/// Reads the certificate in `path` (its key in the file or in `NAME.key`), checks that the
/// key belongs to it with `provider`, and reads its names and validity. `None` for a trust
/// bundle: a CA certificate with no key.
pub(super) fn load(
    path: &Path,
    provider: &CryptoProvider,
) -> Result<Option<Stored>, CertificateError> {
    let error = |kind| CertificateError {
        path: path.to_path_buf(),
        kind,
    };
    let pem = fs::read(path).map_err(|e| error(CertificateErrorKind::Read(e)))?;
    let stamp = Some(Stamp::of(&pem, path));
    let chain = chain_of(&pem).map_err(error)?;
    let (key, key_file) = match PrivateKeyDer::from_pem_slice(&pem) {
        Ok(key) => (key, path.to_path_buf()),
        Err(rustls::pki_types::pem::Error::NoItemsFound) => {
            let key_file = key_path(path);
            match PrivateKeyDer::from_pem_file(&key_file) {
                Ok(key) => (key, key_file),
                Err(rustls::pki_types::pem::Error::Io(e))
                    if e.kind() == io::ErrorKind::NotFound =>
                {
                    if is_authority(&chain[0]) {
                        return Ok(None);
                    }
                    return Err(error(CertificateErrorKind::NoKey));
                }
                Err(e) => {
                    return Err(CertificateError {
                        path: key_file,
                        kind: CertificateErrorKind::Pem(e),
                    })
                }
            }
        }
        Err(e) => return Err(error(CertificateErrorKind::Pem(e))),
    };
    let source = CertificateSource::File(path.to_path_buf());
    let info = CertificateInfo::read(source, &chain[0]).map_err(error)?;
    let key = CertifiedKey::from_der(chain, key, provider).map_err(|e| CertificateError {
        path: key_file,
        kind: CertificateErrorKind::Key(e),
    })?;
    Ok(Some(Stored {
        info,
        key: Arc::new(key),
        stamp,
    }))
}

/// What a chain and key in `pem` (one PEM text, as the ACME cache writes) would serve, checked
/// as a file is: the chain parses, the key is there and belongs to the leaf. For contents
/// that come from elsewhere (a fleet's storage) before they are written to a file.
#[cfg_attr(
    not(feature = "acme"),
    allow(dead_code, reason = "the ACME fleet's only")
)]
pub(crate) fn check_pem(
    pem: &[u8],
    source: CertificateSource,
    provider: &CryptoProvider,
) -> Result<CertificateInfo, CertificateErrorKind> {
    let chain = chain_of(pem)?;
    let key = PrivateKeyDer::from_pem_slice(pem).map_err(|e| match e {
        rustls::pki_types::pem::Error::NoItemsFound => CertificateErrorKind::NoKey,
        e => CertificateErrorKind::Pem(e),
    })?;
    let info = CertificateInfo::read(source, &chain[0])?;
    CertifiedKey::from_der(chain, key, provider).map_err(CertificateErrorKind::Key)?;
    Ok(info)
}

/// The chain (leaf first) in a PEM file's contents.
fn chain_of(pem: &[u8]) -> Result<Vec<CertificateDer<'static>>, CertificateErrorKind> {
    let chain = CertificateDer::pem_slice_iter(pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(CertificateErrorKind::Pem)?;
    if chain.is_empty() {
        return Err(CertificateErrorKind::NoCertificate);
    }
    Ok(chain)
}

/// The chain in `certificate` and the private key in `key`, named apart (the two-file layout
/// with any names), checked against each other with `provider`.
pub(super) fn load_pair(
    certificate: &Path,
    key: &Path,
    provider: &CryptoProvider,
) -> Result<CertifiedKey, CertificateError> {
    let error = |path: &Path, kind| CertificateError {
        path: path.to_path_buf(),
        kind,
    };
    let pem =
        fs::read(certificate).map_err(|e| error(certificate, CertificateErrorKind::Read(e)))?;
    let chain = chain_of(&pem).map_err(|kind| error(certificate, kind))?;
    let key_der = PrivateKeyDer::from_pem_file(key).map_err(|e| {
        error(
            key,
            match e {
                rustls::pki_types::pem::Error::Io(e) => CertificateErrorKind::Read(e),
                rustls::pki_types::pem::Error::NoItemsFound => CertificateErrorKind::NoKey,
                e => CertificateErrorKind::Pem(e),
            },
        )
    })?;
    CertifiedKey::from_der(chain, key_der, provider)
        .map_err(|e| error(key, CertificateErrorKind::Key(e)))
}

/// Whether `now` lost, from the chain of `served` (the version of the same file served
/// until now), the certificate that issued its last one: fewer certificates, and the last
/// one's issuer among the certificates `served` carried beyond it. A renewal from the same
/// CA keeps its intermediate; a chain cut while it is written does not.
pub(super) fn shortened(served: &Stored, now: &Stored) -> bool {
    use x509_cert::der::Decode;
    let (old, new) = (&served.key.cert, &now.key.cert);
    if new.len() >= old.len() {
        return false;
    }
    let parse = |der: &CertificateDer<'_>| x509_cert::Certificate::from_der(der).ok();
    let Some(last_issuer) = new.last().and_then(parse).map(|c| c.tbs_certificate.issuer) else {
        return false;
    };
    old.iter()
        .skip(new.len())
        .filter_map(parse)
        .any(|c| c.tbs_certificate.subject == last_issuer)
}

/// Whether `certificate` is a CA's (basic constraints with `cA` set).
fn is_authority(certificate: &CertificateDer<'_>) -> bool {
    use x509_cert::{der::Decode, ext::pkix::BasicConstraints};
    x509_cert::Certificate::from_der(certificate).is_ok_and(|parsed| {
        matches!(
            parsed.tbs_certificate.get::<BasicConstraints>(),
            Ok(Some((_, constraints))) if constraints.ca
        )
    })
}
