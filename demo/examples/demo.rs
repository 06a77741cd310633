//! The README's first command: a real TLS handshake on loopback.
//!
//! - makes a CA and a server certificate with rcgen at start-up (no key files);
//! - runs a server ([`Acceptor`]) and a client ([`Connector`]) on 127.0.0.1;
//! - prints each side's `HandshakeReport`: what was negotiated (version, cipher suite, key
//!   exchange, ALPN, SNI, peer certificate) and what it cost (duration, bytes and transport
//!   calls each way, flights);
//! - with `SSLKEYLOGFILE=path` set, logs the TLS secrets there for Wireshark;
//! - echoes one message and shuts down cleanly with close_notify.
//!
//! Run with `cargo run --example demo`. An example of a crate of its own, so that it
//! compiles only what it needs.

use std::{error::Error, sync::Arc};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_tls_handshake::{Acceptor, Connector, TlsConnection, TlsStream};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn Error>> {
    let (mut server_config, mut client_config) = configs()?;
    server_config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    client_config.alpn_protocols = vec![b"http/1.1".to_vec()];

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    println!("server listening on {addr}");

    // With SSLKEYLOGFILE set, secrets go there for Wireshark; otherwise nothing changes.
    let acceptor = Acceptor::from(Arc::new(server_config)).with_key_log_from_env();
    let server = tokio::spawn(async move {
        let (tcp, peer) = listener.accept().await?;
        let mut tls = acceptor.accept(tcp).await?;
        report("server", &peer.to_string(), &tls);
        println!(
            "  client asked for SNI {:?}",
            tls.connection().server_name()
        );
        let mut buf = vec![0u8; 64];
        let n = tls.read(&mut buf).await?;
        tls.write_all(&buf[..n]).await?;
        tls.shutdown().await?;
        Ok::<_, std::io::Error>(())
    });

    let tcp = tokio::net::TcpStream::connect(addr).await?;
    let connector = Connector::from(Arc::new(client_config)).with_key_log_from_env();
    let mut tls = connector.connect("localhost".try_into()?, tcp).await?;
    report("client", &addr.to_string(), &tls);

    let message = b"hello over TLS";
    tls.write_all(message).await?;
    let mut echoed = Vec::new();
    tls.read_to_end(&mut echoed).await?; // ends at the server's close_notify
    println!("echoed: {:?}", String::from_utf8_lossy(&echoed));
    server.await??;
    if echoed != message {
        return Err("echo mismatch".into());
    }
    Ok(())
}

fn report<IO, C: TlsConnection>(side: &str, peer: &str, tls: &TlsStream<IO, C>) {
    println!("{side}: handshake with {peer} done");
    println!("  {}", tls.report());
}

/// A fresh CA, a certificate for `localhost` signed by it, a server configuration presenting
/// it and a client configuration trusting the CA.
fn configs() -> Result<(rustls::ServerConfig, rustls::ClientConfig), Box<dyn Error>> {
    use rcgen::{
        BasicConstraints, CertificateParams, CertifiedIssuer, DnType, ExtendedKeyUsagePurpose,
        IsCa, KeyPair, KeyUsagePurpose,
    };
    use rustls::pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};

    let mut ca = CertificateParams::new(Vec::<String>::new())?;
    ca.distinguished_name.push(DnType::CommonName, "demo CA");
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    let ca = CertifiedIssuer::self_signed(ca, KeyPair::generate()?)?;

    let key = KeyPair::generate()?;
    let mut leaf = CertificateParams::new(vec!["localhost".to_string()])?;
    leaf.distinguished_name
        .push(DnType::CommonName, "localhost");
    leaf.use_authority_key_identifier_extension = true;
    leaf.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    leaf.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    let leaf = leaf.signed_by(&key, &ca)?;

    let chain = vec![leaf.der().clone(), ca.der().clone()];
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der()));
    let server = rustls::ServerConfig::builder()
        .with_no_client_auth()
        .with_single_cert(chain, key)?;
    let mut roots = rustls::RootCertStore::empty();
    roots.add(ca.der().clone())?;
    let client = rustls::ClientConfig::builder()
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok((server, client))
}
