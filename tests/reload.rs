//! Certificate reload without a restart: new clients see the new certificate, connections
//! made before keep working, and a bad file keeps the old configuration serving.

mod support;

use std::path::Path;

use support::{bounded, listen, name, openssl::Files, ping, Identity, Leaf, World};
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpStream,
};
use tokio_tls_handshake::{
    Acceptor, ClientTlsStream, Connector, ReloadError, ReloadableConfig, TlsListener,
};

/// Writes `identity`'s chain (leaf, then the CA) and key as PEM files.
fn write_pem(world: &World, identity: &Identity, cert: &Path, key: &Path) {
    let chain = format!("{}{}", identity.cert_pem, world.ca.cert_pem());
    std::fs::write(cert, chain).expect("write cert");
    std::fs::write(key, &identity.key_pem).expect("write key");
}

/// Serves echo on `listener` in a task of its own.
fn serve(mut listener: TlsListener<tokio::net::TcpListener>) {
    tokio::spawn(async move {
        while let Some(next) = listener.accept().await {
            if let Ok((mut tls, _)) = next {
                tokio::spawn(async move {
                    let mut buf = [0u8; 4];
                    while tls.read_exact(&mut buf).await.is_ok() {
                        if tls.write_all(&buf).await.is_err() || tls.flush().await.is_err() {
                            break;
                        }
                    }
                });
            }
        }
    });
}

async fn connect(world: &World, addr: std::net::SocketAddr) -> ClientTlsStream<TcpStream> {
    let tcp = TcpStream::connect(addr).await.expect("connect");
    bounded(Connector::from(world.client().alpn(&["h2"]).build()).connect(name("localhost"), tcp))
        .await
        .expect("handshake")
}

fn leaf(tls: &ClientTlsStream<TcpStream>) -> Vec<u8> {
    tls.connection().peer_certificates().expect("certs")[0].to_vec()
}

#[tokio::test]
async fn a_reload_serves_the_new_certificate_to_new_clients_while_old_connections_go_on() {
    let world = World::new();
    let a = world.ca.issue(&["localhost"], Leaf::Server);
    let b = world.ca.issue(&["localhost"], Leaf::Server);
    let files = Files::new();
    let (cert, key) = (files.dir.join("cert.pem"), files.dir.join("key.pem"));
    write_pem(&world, &a, &cert, &key);

    // Settings beyond the certificate (here ALPN) survive the reload.
    let config = ReloadableConfig::new(world.server().identity(a.clone()).alpn(&["h2"]).build());
    let (tcp, addr) = listen().await;
    serve(TlsListener::new(tcp, Acceptor::from(config.clone())));

    let mut old = connect(&world, addr).await;
    assert_eq!(leaf(&old), a.chain[0].to_vec(), "certificate A first");
    ping(&mut old).await;

    write_pem(&world, &b, &cert, &key);
    config.reload_pem_files(&cert, &key).expect("reload");

    let mut new = connect(&world, addr).await;
    assert_eq!(leaf(&new), b.chain[0].to_vec(), "a new client sees B");
    assert_eq!(new.connection().alpn_protocol(), Some(&b"h2"[..]));
    ping(&mut new).await;
    ping(&mut old).await; // the connection made before the reload still works
}

#[tokio::test]
async fn a_bad_file_is_a_typed_error_and_the_old_certificate_stays() {
    let world = World::new();
    let a = world.ca.issue(&["localhost"], Leaf::Server);
    let b = world.ca.issue(&["localhost"], Leaf::Server);
    let files = Files::new();
    let (cert, key) = (files.dir.join("cert.pem"), files.dir.join("key.pem"));
    let config = ReloadableConfig::new(world.server().identity(a.clone()).build());
    let (tcp, addr) = listen().await;
    serve(TlsListener::new(tcp, Acceptor::from(config.clone())));

    // A file that is not there, garbage, no certificate at all, and B's key for A's
    // certificate.
    let missing = files.dir.join("missing.pem");
    write_pem(&world, &a, &cert, &key);
    let error = config
        .reload_pem_files(&missing, &key)
        .expect_err("missing");
    assert!(matches!(error, ReloadError::Pem { .. }), "{error}");

    std::fs::write(
        &cert,
        "-----BEGIN CERTIFICATE-----\nnot base64 !!\n-----END CERTIFICATE-----\n",
    )
    .expect("write");
    let error = config.reload_pem_files(&cert, &key).expect_err("garbage");
    assert!(matches!(error, ReloadError::Pem { .. }), "{error}");

    std::fs::write(&cert, "nothing that looks like PEM\n").expect("write");
    let error = config.reload_pem_files(&cert, &key).expect_err("empty");
    assert!(
        matches!(error, ReloadError::NoCertificate { .. }),
        "{error}"
    );

    write_pem(&world, &a, &cert, &key);
    std::fs::write(&key, &b.key_pem).expect("write");
    let error = config
        .reload_pem_files(&cert, &key)
        .expect_err("mismatched key");
    assert!(matches!(error, ReloadError::Key(_)), "{error}");
    assert!(!error.to_string().is_empty());

    let mut tls = connect(&world, addr).await;
    assert_eq!(leaf(&tls), a.chain[0].to_vec(), "still certificate A");
    ping(&mut tls).await;
}
