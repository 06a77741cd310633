//! TLS-ALPN-01 (RFC 8737) on the serving port: the challenge certificates waiting for the
//! ACME server's validation, and how its ClientHello is told from a client's.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex, PoisonError},
};

use rcgen::{CertificateParams, CustomExtension, KeyPair};
use rustls::{
    crypto::CryptoProvider,
    pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer},
    server::ClientHello,
    sign::{CertifiedKey, SingleCertAndKey},
    ServerConfig,
};

use super::AcmeError;

/// The ALPN protocol an ACME server's TLS-ALPN-01 validation offers, and nothing else.
pub const ACME_TLS_ALPN: &[u8] = b"acme-tls/1";

/// Whether `hello` is an ACME server's validation: its only ALPN protocol is `acme-tls/1`
/// (RFC 8737, section 3).
pub(super) fn is_validation(hello: &ClientHello<'_>) -> bool {
    hello.alpn().is_some_and(|mut offered| {
        offered.next() == Some(ACME_TLS_ALPN) && offered.next().is_none()
    })
}

/// A challenge waiting: its digest, and the configuration answering it.
type Waiting = (Vec<u8>, Arc<ServerConfig>);

/// The challenge configurations waiting for validation, by name, each with its digest.
#[derive(Debug, Default)]
pub(super) struct Challenges {
    waiting: Mutex<HashMap<String, Waiting>>,
}

impl Challenges {
    /// The configuration answering the validation of `name`, while one waits.
    pub(super) fn get(&self, name: &str) -> Option<Arc<ServerConfig>> {
        self.lock().get(name).map(|(_, config)| config.clone())
    }

    /// The digest the validation of `name` is answered with, while one waits.
    pub(super) fn digest(&self, name: &str) -> Option<Vec<u8>> {
        self.lock().get(name).map(|(digest, _)| digest.clone())
    }

    /// The names waiting.
    pub(super) fn names(&self) -> Vec<String> {
        self.lock().keys().cloned().collect()
    }

    /// Answers the validation of `name` with a certificate carrying `digest` (SHA-256 of the
    /// key authorization) until [`remove`](Self::remove)d.
    pub(super) fn insert(
        &self,
        name: &str,
        digest: &[u8],
        provider: &Arc<CryptoProvider>,
    ) -> Result<(), AcmeError> {
        let config = challenge_config(name, digest, provider)?;
        self.lock()
            .insert(name.to_string(), (digest.to_vec(), Arc::new(config)));
        Ok(())
    }

    pub(super) fn remove(&self, name: &str) {
        self.lock().remove(name);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Waiting>> {
        self.waiting.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// A configuration that serves, to a client offering only `acme-tls/1`, a self-signed
/// certificate for `name` with the critical `acmeIdentifier` extension holding `digest`.
fn challenge_config(
    name: &str,
    digest: &[u8],
    provider: &Arc<CryptoProvider>,
) -> Result<ServerConfig, AcmeError> {
    let crypto = |e: &dyn std::fmt::Display| AcmeError::Crypto(e.to_string());
    if digest.len() != 32 {
        return Err(AcmeError::Crypto(format!(
            "a key authorization digest of {} bytes, not 32",
            digest.len()
        )));
    }
    let key = KeyPair::generate().map_err(|e| crypto(&e))?;
    let mut params = CertificateParams::new(vec![name.to_string()]).map_err(|e| crypto(&e))?;
    params.custom_extensions = vec![CustomExtension::new_acme_identifier(digest)];
    let certificate = params.self_signed(&key).map_err(|e| crypto(&e))?;
    let key_der = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der()));
    // Not `CertifiedKey::from_der`: its consistency check parses the certificate with webpki,
    // which refuses the critical acmeIdentifier extension every challenge certificate has.
    let signing_key = provider
        .key_provider
        .load_private_key(key_der)
        .map_err(|e| crypto(&e))?;
    let certified = CertifiedKey::new(vec![certificate.der().clone()], signing_key);
    let mut config = ServerConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| crypto(&e))?
        .with_no_client_auth()
        .with_cert_resolver(Arc::new(SingleCertAndKey::from(certified)));
    config.alpn_protocols = vec![ACME_TLS_ALPN.to_vec()];
    config.send_tls13_tickets = 0;
    Ok(config)
}
