//! Certificates made at start-up with rcgen, so no key is ever written to the repository: a
//! CA, and server certificates it signs with the key type of your choice.

use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyPair, KeyUsagePurpose, RsaKeySize,
};
use rustls::{
    pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer},
    RootCertStore,
};

/// The server's key type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ServerKey {
    EcdsaP256,
    Rsa2048,
    Rsa4096,
}

impl ServerKey {
    fn generate(self) -> Result<KeyPair, rcgen::Error> {
        match self {
            ServerKey::EcdsaP256 => KeyPair::generate(),
            ServerKey::Rsa2048 => {
                KeyPair::generate_rsa_for(&rcgen::PKCS_RSA_SHA256, RsaKeySize::_2048)
            }
            ServerKey::Rsa4096 => {
                KeyPair::generate_rsa_for(&rcgen::PKCS_RSA_SHA256, RsaKeySize::_4096)
            }
        }
    }
}

/// A certificate chain (leaf first) and its private key.
pub(crate) struct Identity {
    pub(crate) chain: Vec<CertificateDer<'static>>,
    pub(crate) key: PrivateKeyDer<'static>,
    chain_pem: String,
    key_pem: String,
}

impl Identity {
    /// The chain as PEM (leaf, then the CA), as servers read it from a file.
    pub(crate) fn cert_pem(&self) -> &str {
        &self.chain_pem
    }

    /// The private key as PKCS#8 PEM.
    pub(crate) fn key_pem(&self) -> &str {
        &self.key_pem
    }
}

/// A certificate authority made for one run.
pub(crate) struct Ca {
    issuer: CertifiedIssuer<'static, KeyPair>,
}

impl Ca {
    pub(crate) fn new(name: &str) -> Result<Self, rcgen::Error> {
        let mut params = CertificateParams::new(Vec::<String>::new())?;
        params.distinguished_name.push(DnType::CommonName, name);
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let issuer = CertifiedIssuer::self_signed(params, KeyPair::generate()?)?;
        Ok(Self { issuer })
    }

    /// The CA certificate as PEM, for `curl --cacert` or `openssl s_client -CAfile`.
    pub(crate) fn cert_pem(&self) -> String {
        self.issuer.pem()
    }

    /// A root store trusting this CA.
    pub(crate) fn roots(&self) -> Result<RootCertStore, rustls::Error> {
        let mut roots = RootCertStore::empty();
        roots.add(self.issuer.der().clone())?;
        Ok(roots)
    }

    /// A server certificate for `names` (DNS names or IP addresses) with an ECDSA P-256 key.
    pub(crate) fn issue(&self, names: &[&str]) -> Result<Identity, rcgen::Error> {
        self.issue_with(names, ServerKey::EcdsaP256)
    }

    /// A server certificate for `names` with a key of type `key`.
    pub(crate) fn issue_with(
        &self,
        names: &[&str],
        key: ServerKey,
    ) -> Result<Identity, rcgen::Error> {
        let key = key.generate()?;
        let names: Vec<String> = names.iter().map(|n| n.to_string()).collect();
        let mut params = CertificateParams::new(names.clone())?;
        let common_name = names.first().cloned().unwrap_or_default();
        params
            .distinguished_name
            .push(DnType::CommonName, common_name);
        params.use_authority_key_identifier_extension = true;
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        let cert = params.signed_by(&key, &self.issuer)?;
        Ok(Identity {
            chain: vec![cert.der().clone(), self.issuer.der().clone()],
            key: PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der())),
            chain_pem: format!("{}{}", cert.pem(), self.issuer.pem()),
            key_pem: key.serialize_pem(),
        })
    }
}
