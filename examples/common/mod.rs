//! What the examples share: certificates made at start-up, and configurations using them.
#![allow(dead_code, reason = "each example uses part of this")]

#[path = "../../tests/support/pki.rs"]
pub(crate) mod pki;

use rustls::{ClientConfig, ServerConfig};

/// A fresh CA, a server certificate for `localhost` signed by it, a server configuration
/// presenting it and a client configuration trusting the CA.
pub(crate) fn configs(ca_name: &str) -> Result<(ServerConfig, ClientConfig), rustls::Error> {
    let ca = pki::Ca::new(ca_name);
    let leaf = ca.issue(&["localhost"], pki::Leaf::Server);
    let server = ServerConfig::builder()
        .with_no_client_auth()
        .with_single_cert(leaf.chain, leaf.key)?;
    let client = ClientConfig::builder()
        .with_root_certificates(ca.roots())
        .with_no_client_auth();
    Ok((server, client))
}
