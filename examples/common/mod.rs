//! What the examples share: certificates made at start-up, and configurations using them.
#![allow(dead_code, reason = "each example uses part of this")]

pub(crate) mod bio;
pub(crate) mod echo;
pub(crate) mod http;
pub(crate) mod pki;

use std::error::Error;

use rustls::{ClientConfig, ServerConfig};

/// A fresh CA, a server certificate for `localhost` signed by it, a server configuration
/// presenting it and a client configuration trusting the CA.
pub(crate) fn configs(ca_name: &str) -> Result<(ServerConfig, ClientConfig), Box<dyn Error>> {
    configs_with(ca_name, pki::ServerKey::EcdsaP256)
}

/// As [`configs`], with a server key of type `key`.
pub(crate) fn configs_with(
    ca_name: &str,
    key: pki::ServerKey,
) -> Result<(ServerConfig, ClientConfig), Box<dyn Error>> {
    let ca = pki::Ca::new(ca_name)?;
    let leaf = ca.issue_with(&["localhost"], key)?;
    let server = ServerConfig::builder()
        .with_no_client_auth()
        .with_single_cert(leaf.chain, leaf.key)?;
    let client = ClientConfig::builder()
        .with_root_certificates(ca.roots()?)
        .with_no_client_auth();
    Ok((server, client))
}

/// A server configuration for HTTPS on `localhost` (HTTP/2 and HTTP/1.1 by ALPN) with a
/// certificate made now; its CA is written to `ca_out` when given, for `curl --cacert`.
pub(crate) fn https_config(
    ca_name: &str,
    ca_out: Option<&str>,
) -> Result<ServerConfig, Box<dyn Error>> {
    let ca = pki::Ca::new(ca_name)?;
    let leaf = ca.issue(&["localhost"])?;
    if let Some(path) = ca_out {
        std::fs::write(path, ca.cert_pem())?;
    }
    let mut config = ServerConfig::builder()
        .with_no_client_auth()
        .with_single_cert(leaf.chain, leaf.key)?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(config)
}
