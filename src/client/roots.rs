//! Root certificates a client trusts, from a feature each: Mozilla's (`webpki-roots`) and the
//! platform's (`native-roots`).

#[cfg(feature = "native-roots")]
use std::fmt;

use rustls::RootCertStore;

/// Mozilla's root certificates, as the `webpki-roots` crate ships them (feature
/// `webpki-roots`): the same on every machine, updated with the crate.
#[cfg(feature = "webpki-roots")]
pub fn webpki() -> RootCertStore {
    RootCertStore {
        roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
    }
}

/// The platform's root certificates, as `rustls-native-certs` reads them (feature
/// `native-roots`): `/etc/ssl/certs` and friends on Linux, the keychain on macOS, the
/// system store on Windows.
///
/// # Errors
///
/// No certificate could be read; certificates that fail to parse are skipped when others
/// load.
#[cfg(feature = "native-roots")]
pub fn native() -> Result<RootCertStore, NativeRootsError> {
    let found = rustls_native_certs::load_native_certs();
    let mut roots = RootCertStore::empty();
    let (added, _skipped) = roots.add_parsable_certificates(found.certs);
    if added == 0 {
        return Err(NativeRootsError {
            errors: found.errors.iter().map(ToString::to_string).collect(),
        });
    }
    Ok(roots)
}

/// The platform's root certificates could not be read ([`native`]).
#[cfg(feature = "native-roots")]
#[derive(Debug, Clone)]
pub struct NativeRootsError {
    /// What went wrong, per place looked at.
    pub errors: Vec<String>,
}

#[cfg(feature = "native-roots")]
impl fmt::Display for NativeRootsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("no root certificate found on this platform")?;
        for error in &self.errors {
            write!(f, "; {error}")?;
        }
        Ok(())
    }
}

#[cfg(feature = "native-roots")]
impl std::error::Error for NativeRootsError {}
