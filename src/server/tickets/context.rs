//! What a ticket is bound to: the application's context and the server's client
//! authentication policy. A ticket's key id is derived with it, so a ticket sealed under
//! another context names a key this server does not hold, and does not open.
//!
//! Why the policy matters: on resumption rustls restores the client's certificates from the
//! ticket and asks for none, so without it a ticket from a server that asks no client
//! certificate would resume on a server of the same fleet that requires one.

use rustls::ServerConfig;

/// The context's encoding: a label, then each part with its length.
pub(super) fn encode(application: &[u8], policy: &[u8]) -> Vec<u8> {
    let mut context = b"tokio-tls-handshake ticket context v1".to_vec();
    for part in [application, policy] {
        let len = u64::try_from(part.len()).unwrap_or(u64::MAX);
        context.extend_from_slice(&len.to_be_bytes());
        context.extend_from_slice(part);
    }
    context
}

/// The client certificate verifier of `config` as rustls shows it: whether it asks for a
/// certificate, whether it requires one, which roots it trusts and which it names.
///
/// rustls 0.23 keeps `ServerConfig::verifier` private and offers no getter, so its `Debug`
/// form is the only view of it: `NoClientAuth`, or the verifier with its roots, hints,
/// revocation lists and policies. The match is exact, so any difference (another root, a
/// certificate optional here and required there, another crypto provider's algorithms)
/// means a full handshake, never a ticket that opens where it should not.
pub(super) fn client_auth_policy(config: &ServerConfig) -> String {
    let shown = format!("{config:?}");
    // The verifier's field comes just before the key log's in rustls' `ServerConfig`.
    let Some(start) = shown.find("verifier: ") else {
        return shown;
    };
    let verifier = &shown[start..];
    match verifier.find(", key_log: ") {
        Some(end) => verifier[..end].to_string(),
        None => shown,
    }
}

/// The policy [`client_auth_policy`] reads from a configuration without client
/// authentication on `provider`.
pub(super) fn no_client_auth_policy(provider: &rustls::crypto::CryptoProvider) -> String {
    let config = ServerConfig::builder_with_provider(std::sync::Arc::new(provider.clone()))
        .with_safe_default_protocol_versions()
        .map(|builder| {
            builder
                .with_no_client_auth()
                .with_cert_resolver(std::sync::Arc::new(
                    rustls::server::ResolvesServerCertUsingSni::new(),
                ))
        });
    match config {
        Ok(config) => client_auth_policy(&config),
        // A provider with no protocol version to offer serves nobody; any policy will do.
        Err(_) => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use rustls::{pki_types::CertificateDer, server::WebPkiClientVerifier, RootCertStore};

    use super::*;

    fn provider() -> Arc<rustls::crypto::CryptoProvider> {
        crate::server::certificates::default_provider().expect("a provider")
    }

    fn config(
        verifier: Option<Arc<dyn rustls::server::danger::ClientCertVerifier>>,
    ) -> ServerConfig {
        let builder = ServerConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()
            .expect("versions");
        let builder = match verifier {
            Some(verifier) => builder.with_client_cert_verifier(verifier),
            None => builder.with_no_client_auth(),
        };
        builder.with_cert_resolver(Arc::new(rustls::server::ResolvesServerCertUsingSni::new()))
    }

    fn requiring(ca: &CertificateDer<'static>, optional: bool) -> ServerConfig {
        let mut roots = RootCertStore::empty();
        roots.add(ca.clone()).expect("root");
        let builder = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider());
        let builder = if optional {
            builder.allow_unauthenticated()
        } else {
            builder
        };
        config(Some(builder.build().expect("verifier")))
    }

    fn ca(name: &str) -> CertificateDer<'static> {
        let key = rcgen::KeyPair::generate().expect("key");
        let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).expect("params");
        params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, name);
        params.self_signed(&key).expect("ca").der().clone()
    }

    #[test]
    fn the_policy_tells_apart_what_must_not_share_sessions() {
        let (a, b) = (ca("a"), ca("b"));
        let none = client_auth_policy(&config(None));
        let required_a = client_auth_policy(&requiring(&a, false));
        let optional_a = client_auth_policy(&requiring(&a, true));
        let required_b = client_auth_policy(&requiring(&b, false));
        assert!(none.starts_with("verifier: NoClientAuth"), "{none}");
        let all = [&none, &required_a, &optional_a, &required_b];
        for (i, x) in all.iter().enumerate() {
            for y in &all[i + 1..] {
                assert_ne!(x, y);
            }
        }
        assert_eq!(
            required_a,
            client_auth_policy(&requiring(&a, false)),
            "the same policy reads the same on another server"
        );
        assert!(!required_a.contains("key_log"), "{required_a}");
    }

    #[test]
    fn a_ticketer_without_a_configuration_is_one_without_client_auth() {
        assert_eq!(
            no_client_auth_policy(&provider()),
            client_auth_policy(&config(None))
        );
    }

    #[test]
    fn parts_cannot_run_into_each_other() {
        assert_ne!(encode(b"ab", b"c"), encode(b"a", b"bc"));
    }
}
