//! Root certificates a client trusts, from a feature each: Mozilla's (`webpki-roots`) and the
//! platform's (`native-roots`), as associated functions of [`Connector`].

use rustls::RootCertStore;

use super::connector::Connector;

impl Connector {
    /// Mozilla's root certificates, as the `webpki-roots` crate ships them (feature
    /// `webpki-roots`): the same on every machine, updated with the crate.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::Arc;
    /// use tokio_tls_handshake::Connector;
    ///
    /// let config = rustls::ClientConfig::builder()
    ///     .with_root_certificates(Connector::webpki_roots())
    ///     .with_no_client_auth();
    /// let connector = Connector::new(Arc::new(config));
    /// ```
    #[cfg(feature = "webpki-roots")]
    pub fn webpki_roots() -> RootCertStore {
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
    /// `NotFound` when no certificate could be read, its message saying what went wrong per
    /// place looked at; certificates that fail to parse are skipped when others load.
    #[cfg(feature = "native-roots")]
    pub fn native_roots() -> std::io::Result<RootCertStore> {
        let found = rustls_native_certs::load_native_certs();
        let mut roots = RootCertStore::empty();
        let (added, _skipped) = roots.add_parsable_certificates(found.certs);
        if added == 0 {
            let mut message = String::from("no root certificate found on this platform");
            for error in &found.errors {
                message.push_str("; ");
                message.push_str(&error.to_string());
            }
            return Err(std::io::Error::new(std::io::ErrorKind::NotFound, message));
        }
        Ok(roots)
    }
}
