//! Certificate reload without a restart: new clients see the new certificate, connections
//! made before keep working, and a bad file keeps the old configuration serving.

use crate::support;

use std::path::Path;

use support::{bounded, listen, name, openssl::Files, ping, Identity, Leaf, World};
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpStream,
};
use tokio_tls_handshake::{
    certificates::{CertificateErrorKind, ReloadableConfig},
    listener::TlsListener,
    Acceptor, ClientTlsStream, Connector,
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
    assert!(
        matches!(error.kind, CertificateErrorKind::Read(_)),
        "{error}"
    );

    std::fs::write(
        &cert,
        "-----BEGIN CERTIFICATE-----\nnot base64 !!\n-----END CERTIFICATE-----\n",
    )
    .expect("write");
    let error = config.reload_pem_files(&cert, &key).expect_err("garbage");
    assert!(
        matches!(error.kind, CertificateErrorKind::Pem(_)),
        "{error}"
    );

    std::fs::write(&cert, "nothing that looks like PEM\n").expect("write");
    let error = config.reload_pem_files(&cert, &key).expect_err("empty");
    assert!(
        matches!(error.kind, CertificateErrorKind::NoCertificate),
        "{error}"
    );

    write_pem(&world, &a, &cert, &key);
    std::fs::write(&key, &b.key_pem).expect("write");
    let error = config
        .reload_pem_files(&cert, &key)
        .expect_err("mismatched key");
    assert!(
        matches!(error.kind, CertificateErrorKind::Key(_)),
        "{error}"
    );
    assert!(!error.to_string().is_empty());

    let mut tls = connect(&world, addr).await;
    assert_eq!(leaf(&tls), a.chain[0].to_vec(), "still certificate A");
    ping(&mut tls).await;
}

/// A ticket key file holding one key of `byte`s.
fn key_file(byte: u8) -> String {
    format!(
        "{}\n{}\n",
        tokio_tls_handshake::tickets::TICKET_KEYS_HEADER,
        format!("{byte:02x}").repeat(32)
    )
}

/// A certificate reload and a ticket-key reload at once, from two threads, many times: both
/// changes stay (neither reload writes back a copy that misses the other's), and a
/// certificate reload keeps the ticket keys. Checked by what a client sees afterwards: the
/// last certificate, and a ticket sealed under the last keys, which a server holding only
/// those keys resumes.
#[tokio::test]
async fn certificate_and_ticket_key_reloads_at_once_both_stay() {
    use tokio_tls_handshake::tickets::TicketKeys;
    const ROUNDS: u8 = 100;
    let world = World::new();
    let identities = [
        world.ca.issue(&["localhost"], Leaf::Server),
        world.ca.issue(&["localhost"], Leaf::Server),
    ];
    let files = Files::new();
    let pem_files: Vec<_> = identities
        .iter()
        .enumerate()
        .map(|(i, identity)| {
            let (cert, key) = (
                files.dir.join(format!("cert{i}.pem")),
                files.dir.join(format!("key{i}.pem")),
            );
            write_pem(&world, identity, &cert, &key);
            (cert, key)
        })
        .collect();
    let config = ReloadableConfig::new(world.server().build());
    // In lockstep: each round both threads reload at once, then the key thread checks that
    // both changes of the round stayed: the ticketer seals under this round's keys, and the
    // certificate resolver is a new one.
    let rounds = std::sync::Arc::new(std::sync::Barrier::new(2));
    let certificates = std::thread::spawn({
        let (config, pem_files, rounds) = (config.clone(), pem_files.clone(), rounds.clone());
        move || {
            // Ends on identity 1.
            for round in 0..usize::from(ROUNDS) {
                rounds.wait();
                let (cert, key) = &pem_files[round % 2];
                config.reload_pem_files(cert, key).expect("reload");
                rounds.wait();
                rounds.wait(); // the check
            }
        }
    });
    let ticket_keys = std::thread::spawn({
        let (config, rounds) = (config.clone(), rounds.clone());
        move || {
            let provider = support::provider();
            let mut resolver = config.current().cert_resolver.clone();
            // Ends on keys of byte ROUNDS.
            for byte in 1..=ROUNDS {
                let keys = TicketKeys::parse(&key_file(byte)).expect("keys");
                rounds.wait();
                config.reload_ticket_keys(&keys).expect("reload");
                rounds.wait();
                let current = config.current();
                let sealed = current.ticketer.encrypt(b"session").expect("a ticket");
                let opener = keys.ticketer(&provider).expect("ticketer");
                assert!(
                    opener.decrypt(&sealed).is_some(),
                    "round {byte}: the ticket keys stayed"
                );
                assert!(
                    !std::sync::Arc::ptr_eq(&current.cert_resolver, &resolver),
                    "round {byte}: the certificate stayed"
                );
                resolver = current.cert_resolver.clone();
                rounds.wait();
            }
        }
    });
    certificates.join().expect("certificate thread");
    ticket_keys.join().expect("ticket key thread");

    // A client gets the last certificate, and a ticket under the last keys...
    let client = world.client().version(support::Version::Tls13).build();
    let (first, _) = support::handshake_storing_tickets(&client, &config.current()).await;
    assert!(!first.is_resumed());
    let (tcp, addr) = listen().await;
    serve(TlsListener::new(tcp, Acceptor::from(config.clone())));
    let tls = connect(&world, addr).await;
    assert_eq!(
        leaf(&tls),
        identities[1].chain[0].to_vec(),
        "the last certificate"
    );
    // ...which a server with only those keys opens.
    let mut only_last = (*world.server().build()).clone();
    TicketKeys::parse(&key_file(ROUNDS))
        .expect("keys")
        .install(&mut only_last)
        .expect("install");
    let (resumed, _) =
        support::handshake_storing_tickets(&client, &std::sync::Arc::new(only_last)).await;
    assert!(
        resumed.is_resumed(),
        "the last ticket keys stayed: {resumed}"
    );

    // A certificate reload on its own keeps the ticket keys.
    let (cert, key) = &pem_files[0];
    config.reload_pem_files(cert, key).expect("reload");
    handshake_twice_resumes(&client, &config).await;
}

/// A ticket from `config` now resumes on `config` again.
async fn handshake_twice_resumes(
    client: &std::sync::Arc<rustls::ClientConfig>,
    config: &ReloadableConfig,
) {
    support::handshake_storing_tickets(client, &config.current()).await;
    let (resumed, _) = support::handshake_storing_tickets(client, &config.current()).await;
    assert!(resumed.is_resumed(), "{resumed}");
}
