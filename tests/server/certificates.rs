//! The certificate store: certificates chosen by SNI from a directory in both layouts,
//! wildcards, unknown names refused with `unrecognized_name` or served a default, the store
//! inside a tokio-rustls configuration, reloads that keep the last good version of a bad file,
//! expiry, certificates inserted in memory, and (feature `watch`) reloading when files change.

use crate::support;

use std::{
    net::{IpAddr, Ipv4Addr},
    path::{Path, PathBuf},
    sync::Arc,
};

use rustls::{
    pki_types::{CertificateDer, ServerName},
    AlertDescription, ClientConfig, ServerConfig,
};
use support::{bounded, name, openssl::Files, ping, tcp_pair, Ca, Identity, Leaf};
use tokio::net::TcpStream;
use tokio_tls_handshake::{
    certificates::{CertificateErrorKind, CertificateSource, CertificateStore, UnknownName},
    Acceptor, ClientTlsStream, Connector, HandshakeError, ServerTlsStream,
};

/// Writes `contents` to `dir/file` as a careful operator does: under a hidden name first,
/// then renamed into place, so a reload never reads half a file.
fn put(dir: &Path, file: &str, contents: &str) -> PathBuf {
    let hidden = dir.join(format!(".{file}.tmp"));
    std::fs::write(&hidden, contents).expect("write");
    let path = dir.join(file);
    std::fs::rename(&hidden, &path).expect("rename into place");
    path
}

/// The chain and key in one file.
fn one_file(identity: &Identity) -> String {
    format!("{}{}", identity.chain_pem, identity.key_pem)
}

fn config(store: &CertificateStore) -> Arc<ServerConfig> {
    let config = ServerConfig::builder_with_provider(support::provider())
        .with_safe_default_protocol_versions()
        .expect("versions")
        .with_no_client_auth()
        .with_cert_resolver(Arc::new(store.clone()));
    Arc::new(config)
}

fn client(ca: &Ca) -> Arc<ClientConfig> {
    let config = ClientConfig::builder_with_provider(support::provider())
        .with_safe_default_protocol_versions()
        .expect("versions")
        .with_root_certificates(ca.roots())
        .with_no_client_auth();
    Arc::new(config)
}

type Outcome = (
    Result<ClientTlsStream<TcpStream>, HandshakeError>,
    Result<ServerTlsStream<TcpStream>, HandshakeError>,
);

/// One handshake over loopback: a client of `ca` asking for `host` against `acceptor`.
async fn handshake(acceptor: &Acceptor, ca: &Ca, host: ServerName<'static>) -> Outcome {
    let (client_io, server_io) = tcp_pair().await;
    let connector = Connector::from(client(ca));
    bounded(async {
        tokio::join!(
            connector.connect(host, client_io),
            acceptor.accept(server_io)
        )
    })
    .await
}

/// The leaf the server presented to a client asking for `host`, after a ping both ways.
async fn presented(acceptor: &Acceptor, ca: &Ca, host: &str) -> CertificateDer<'static> {
    let (client, server) = handshake(acceptor, ca, name(host)).await;
    let (mut client, mut server) = (client.expect(host), server.expect(host));
    let echo = tokio::spawn(async move {
        support::echo_ping(&mut server).await;
    });
    ping(&mut client).await;
    bounded(echo).await.expect("server side");
    client
        .connection()
        .peer_certificates()
        .expect("certificates")[0]
        .clone()
}

/// A refused client: the server's error is `Refused` with the alert sent, and the client
/// received it.
async fn assert_refused(acceptor: &Acceptor, ca: &Ca, host: ServerName<'static>) {
    let (client, server) = handshake(acceptor, ca, host.clone()).await;
    let client = client.expect_err("refused");
    assert_eq!(
        client.alert_received(),
        Some(AlertDescription::UnrecognisedName),
        "{host:?}: {client}"
    );
    match server.expect_err("refused") {
        HandshakeError::Refused {
            server_name,
            alert_sent,
        } => {
            let asked = match &host {
                ServerName::DnsName(dns) => Some(dns.as_ref().to_string()),
                _ => None,
            };
            assert_eq!(server_name, asked);
            assert_eq!(alert_sent, Some(AlertDescription::UnrecognisedName));
        }
        other => panic!("{host:?}: expected Refused, got {other:?}"),
    }
}

#[tokio::test]
async fn both_layouts_exact_names_and_wildcards_are_chosen_by_sni() {
    let ca = Ca::new("store CA");
    let a = ca.issue(&["a.test"], Leaf::Server);
    let b = ca.issue(&["b.test", "www.b.test"], Leaf::Server);
    let star = ca.issue(&["*.c.test"], Leaf::Server);
    let files = Files::new();
    put(&files.dir, "a.pem", &one_file(&a));
    put(&files.dir, "b.crt", &b.chain_pem);
    put(&files.dir, "b.key", &b.key_pem);
    put(&files.dir, "wildcard.pem", &one_file(&star));
    // Not certificates: never read.
    std::fs::write(files.dir.join(".half-written.pem"), "-----BEGIN").expect("write");
    std::fs::write(files.dir.join("notes.txt"), "not a certificate").expect("write");
    std::fs::create_dir(files.dir.join("old")).expect("mkdir");
    put(&files.dir.join("old"), "a.pem", &one_file(&b));

    let store = CertificateStore::from_dir(&files.dir).expect("every file loads");
    assert_eq!(store.len(), 3);
    let acceptor = Acceptor::from(config(&store)).with_chooser(store.clone());
    for (host, leaf) in [
        ("a.test", &a),
        ("b.test", &b),
        ("www.b.test", &b),
        ("x.c.test", &star),
        ("y.c.test", &star),
    ] {
        assert_eq!(
            presented(&acceptor, &ca, host).await,
            leaf.chain[0],
            "{host}"
        );
    }
    // A wildcard matches one label, and the parent is not matched by it.
    assert_refused(&acceptor, &ca, name("z.y.c.test")).await;
    assert_refused(&acceptor, &ca, name("c.test")).await;
    assert_refused(&acceptor, &ca, name("unknown.test")).await;
    // No SNI at all (a client connecting by address).
    assert_refused(&acceptor, &ca, ServerName::IpAddress(localhost())).await;

    let mut names: Vec<_> = store.certificates().into_iter().map(|c| c.names).collect();
    names.sort();
    assert_eq!(
        names,
        [
            vec!["*.c.test".to_string()],
            vec!["a.test".to_string()],
            vec!["b.test".to_string(), "www.b.test".to_string()]
        ]
    );
}

fn localhost() -> rustls::pki_types::IpAddr {
    IpAddr::V4(Ipv4Addr::LOCALHOST).into()
}

#[tokio::test]
async fn unknown_names_get_the_default_certificate_when_the_policy_says_so() {
    let ca = Ca::new("store CA");
    // The default certificate also names 127.0.0.1, so a client connecting by address (no
    // SNI) can verify it.
    let default = ca.issue(&["default.test", "127.0.0.1"], Leaf::Server);
    let store = CertificateStore::new();
    store
        .insert("default", certified(&default))
        .expect("inserted");
    let acceptor = Acceptor::from(config(&store)).with_chooser(store.clone());
    assert_refused(&acceptor, &ca, ServerName::IpAddress(localhost())).await;

    store.set_unknown_names(UnknownName::Serve("default.test".into()));
    let (client, server) = handshake(&acceptor, &ca, ServerName::IpAddress(localhost())).await;
    let client = client.expect("served the default certificate");
    server.expect("server");
    assert_eq!(
        client.connection().peer_certificates().expect("certs")[0],
        default.chain[0]
    );
    // An unknown name gets it too (and the client, asking for another name, rejects it).
    let (client, _server) = handshake(&acceptor, &ca, name("unknown.test")).await;
    let error = client.expect_err("the default certificate does not name unknown.test");
    assert!(
        matches!(
            &error,
            HandshakeError::Protocol {
                error: rustls::Error::InvalidCertificate(_),
                ..
            }
        ),
        "{error:?}"
    );
}

fn certified(identity: &Identity) -> rustls::sign::CertifiedKey {
    rustls::sign::CertifiedKey::from_der(
        identity.chain.clone(),
        identity.key.clone_key(),
        &support::provider(),
    )
    .expect("a certified key")
}

#[tokio::test]
async fn the_store_serves_a_tokio_rustls_server_as_its_resolver() {
    let ca = Ca::new("store CA");
    let a = ca.issue(&["a.test"], Leaf::Server);
    let store = CertificateStore::new();
    store.insert("a", certified(&a)).expect("inserted");
    let acceptor = tokio_rustls::TlsAcceptor::from(config(&store));
    let connector = Connector::from(client(&ca));
    for (host, served) in [("a.test", true), ("b.test", false)] {
        let (client_io, server_io) = tcp_pair().await;
        let (client, server) = bounded(async {
            tokio::join!(
                connector.connect(name(host), client_io),
                acceptor.accept(server_io)
            )
        })
        .await;
        if served {
            let client = client.expect(host);
            server.expect(host);
            assert_eq!(
                client.connection().peer_certificates().expect("certs")[0],
                a.chain[0]
            );
        } else {
            // Without this crate's acceptor rustls refuses a name it resolves no certificate
            // for with access_denied, as the docs say.
            let error = client.expect_err(host);
            assert_eq!(
                error.alert_received(),
                Some(AlertDescription::AccessDenied),
                "{error}"
            );
            assert!(server.is_err());
        }
    }
}

#[tokio::test]
async fn a_reload_takes_new_files_and_keeps_the_last_good_version_of_a_bad_one() {
    let ca = Ca::new("store CA");
    let a1 = ca.issue(&["a.test"], Leaf::Server);
    let b = ca.issue(&["b.test"], Leaf::Server);
    let files = Files::new();
    let a_path = put(&files.dir, "a.pem", &one_file(&a1));
    let store = CertificateStore::from_dir(&files.dir).expect("loads");
    let acceptor = Acceptor::from(config(&store)).with_chooser(store.clone());
    assert_eq!(presented(&acceptor, &ca, "a.test").await, a1.chain[0]);

    // A file that does not parse: named, and the last good version keeps serving.
    put(
        &files.dir,
        "a.pem",
        "-----BEGIN CERTIFICATE-----\nnot base64!\n",
    );
    put(&files.dir, "b.pem", &one_file(&b));
    let error = store.reload().expect_err("a.pem is bad");
    assert_eq!(error.errors.len(), 1, "{error}");
    assert_eq!(error.errors[0].path, a_path);
    assert!(
        matches!(error.errors[0].kind, CertificateErrorKind::Pem(_)),
        "{error}"
    );
    assert!(error.to_string().contains("a.pem"), "{error}");
    assert_eq!(presented(&acceptor, &ca, "a.test").await, a1.chain[0]);
    assert_eq!(
        presented(&acceptor, &ca, "b.test").await,
        b.chain[0],
        "the good file was taken"
    );

    // A new certificate whose key is another's: refused, named, the old one serving.
    let a2 = ca.issue(&["a.test"], Leaf::Server);
    put(
        &files.dir,
        "a.pem",
        &format!("{}{}", a2.chain_pem, b.key_pem),
    );
    let error = store.reload().expect_err("the key does not match");
    assert_eq!(error.errors[0].path, a_path);
    assert!(
        matches!(
            error.errors[0].kind,
            CertificateErrorKind::Key(rustls::Error::InconsistentKeys(_))
        ),
        "{error}"
    );
    assert_eq!(presented(&acceptor, &ca, "a.test").await, a1.chain[0]);

    // A file with no key and no .key beside it.
    put(&files.dir, "a.pem", &a2.chain_pem);
    let error = store.reload().expect_err("no key");
    assert!(
        matches!(error.errors[0].kind, CertificateErrorKind::NoKey),
        "{error}"
    );

    // Fixed: the new one serves. A file removed is no longer served.
    put(&files.dir, "a.pem", &one_file(&a2));
    std::fs::remove_file(files.dir.join("b.pem")).expect("remove");
    store.reload().expect("every file loads");
    assert_eq!(presented(&acceptor, &ca, "a.test").await, a2.chain[0]);
    assert_refused(&acceptor, &ca, name("b.test")).await;
    assert_eq!(store.len(), 1);
}

#[test]
fn a_file_that_did_not_change_is_not_read_again() {
    let ca = Ca::new("store CA");
    let a = ca.issue(&["a.test"], Leaf::Server);
    let files = Files::new();
    put(&files.dir, "a.pem", &one_file(&a));
    let store = CertificateStore::from_dir(&files.dir).expect("loads");
    let before = store.resolve_name(Some("a.test")).expect("served");
    store.reload().expect("reloads");
    let after = store.resolve_name(Some("a.test")).expect("served");
    assert!(
        Arc::ptr_eq(&before, &after),
        "the same key, not one read again"
    );
    put(&files.dir, "a.pem", &one_file(&a));
    store.reload().expect("reloads");
    let same = store.resolve_name(Some("a.test")).expect("served");
    assert!(
        Arc::ptr_eq(&before, &same),
        "a file rewritten with the same contents is not read again"
    );
    let renewed = ca.issue(&["a.test"], Leaf::Server);
    put(&files.dir, "a.pem", &one_file(&renewed));
    store.reload().expect("reloads");
    let rewritten = store.resolve_name(Some("a.test")).expect("served");
    assert!(
        !Arc::ptr_eq(&before, &rewritten),
        "a rewritten file is read"
    );
}

/// The defect: the store compared (modification time, length), so a renewed certificate of
/// the same size written within one tick of the clock was skipped. Contents are compared now.
#[test]
fn a_renewal_of_the_same_size_and_time_is_read() {
    let ca = Ca::new("store CA");
    // Two certificates whose files have the same length (ECDSA signatures vary by a byte or
    // two, so issue until two match).
    let mut by_len = std::collections::HashMap::new();
    let (first, second) = loop {
        let identity = ca.issue(&["a.test"], Leaf::Server);
        let len = one_file(&identity).len();
        if let Some(earlier) = by_len.insert(len, identity.clone()) {
            break (earlier, identity);
        }
        assert!(by_len.len() < 64, "two files of one length");
    };
    let files = Files::new();
    let path = put(&files.dir, "a.pem", &one_file(&first));
    let modified = std::fs::metadata(&path)
        .and_then(|m| m.modified())
        .expect("mtime");
    let store = CertificateStore::from_dir(&files.dir).expect("loads");
    std::fs::write(&path, one_file(&second)).expect("rewrite in place");
    std::fs::File::options()
        .write(true)
        .open(&path)
        .and_then(|f| f.set_modified(modified))
        .expect("the same modification time");
    store.reload().expect("reloads");
    let served = store.resolve_name(Some("a.test")).expect("served");
    assert_eq!(served.cert[0], second.chain[0], "the renewal serves");
}

/// A Kubernetes TLS secret as mounted: `tls.crt`, `tls.key` and `ca.crt` are links into the
/// `..data` link, which the kubelet swaps to a new timestamped directory on an update.
#[cfg(unix)]
#[test]
fn a_kubernetes_secret_mount_loads_and_follows_its_swap() {
    use std::os::unix::fs::symlink;
    let ca = Ca::new("cluster CA");
    let files = Files::new();
    let mount = files.dir.join("secret");
    std::fs::create_dir(&mount).expect("mount");
    let write_version = |version: &str, identity: &Identity| {
        let dir = mount.join(format!("..2026_12_04_{version}"));
        std::fs::create_dir(&dir).expect("version dir");
        std::fs::write(dir.join("tls.crt"), &identity.chain_pem).expect("tls.crt");
        std::fs::write(dir.join("tls.key"), &identity.key_pem).expect("tls.key");
        std::fs::write(dir.join("ca.crt"), ca.cert_pem()).expect("ca.crt");
        // The kubelet's swap: a new link under a temporary name, renamed over `..data`.
        let tmp = mount.join("..data_tmp");
        symlink(dir.file_name().expect("name"), &tmp).expect("link");
        std::fs::rename(&tmp, mount.join("..data")).expect("swap");
    };
    let first = ca.issue(&["svc.test"], Leaf::Server);
    write_version("1", &first);
    for file in ["tls.crt", "tls.key", "ca.crt"] {
        symlink(format!("..data/{file}"), mount.join(file)).expect("link");
    }
    let store = CertificateStore::from_dir(&mount).expect("a secret mount loads, ca.crt aside");
    assert_eq!(store.len(), 1, "tls.crt only: {:?}", store.certificates());
    let served = store.resolve_name(Some("svc.test")).expect("served");
    assert_eq!(served.cert[0], first.chain[0]);

    let second = ca.issue(&["svc.test"], Leaf::Server);
    write_version("2", &second);
    store.reload().expect("reloads after the swap");
    let served = store.resolve_name(Some("svc.test")).expect("served");
    assert_eq!(served.cert[0], second.chain[0], "the new version serves");
}

/// The defect: a renewal staged ahead of its `notBefore` (or forward-dated) took over at
/// once, and clients of the name failed to verify it. The valid one serves until then.
#[tokio::test]
async fn a_certificate_not_yet_valid_does_not_take_over_a_valid_one() {
    let ca = Ca::new("store CA");
    let current = ca.issue_valid(&["a.test"], (2020, 1, 1), (2090, 1, 1));
    let staged = ca.issue_valid(&["a.test"], (2080, 1, 1), (2099, 1, 1));
    let files = Files::new();
    put(&files.dir, "current.pem", &one_file(&current));
    put(&files.dir, "staged.pem", &one_file(&staged));
    let store = CertificateStore::from_dir(&files.dir).expect("loads");
    let acceptor = Acceptor::from(config(&store)).with_chooser(store.clone());
    let leaf = presented(&acceptor, &ca, "a.test").await;
    assert_eq!(leaf, current.chain[0], "the valid certificate serves");
}

/// The defect: in the two-file layout, a chain file read while being rewritten in place
/// (the leaf written, its issuer not yet) loaded with its matching key and served an
/// incomplete chain. Now the served version stays until a reload finds the file unchanged.
#[test]
fn a_chain_cut_while_written_keeps_the_full_one_until_the_file_settles() {
    let ca = Ca::new("store CA");
    let a = ca.issue(&["a.test"], Leaf::Server);
    let files = Files::new();
    let chain = put(&files.dir, "a.pem", &a.chain_pem);
    put(&files.dir, "a.key", &a.key_pem);
    let store = CertificateStore::from_dir(&files.dir).expect("loads");
    let served = |store: &CertificateStore| store.resolve_name(Some("a.test")).expect("served");
    assert_eq!(served(&store).cert.len(), 2, "leaf and CA");

    // Caught between the two writes: the leaf alone.
    std::fs::write(&chain, &a.cert_pem).expect("the leaf written");
    let error = store.reload().expect_err("a shortened chain is reported");
    assert!(
        matches!(
            error.errors[0].kind,
            CertificateErrorKind::ChainShortened {
                served: 2,
                found: 1
            }
        ),
        "{error}"
    );
    assert_eq!(served(&store).cert.len(), 2, "the full chain keeps serving");

    // The write completes: the full chain again, no error.
    std::fs::write(&chain, &a.chain_pem).expect("the rest written");
    store.reload().expect("reloads");
    assert_eq!(served(&store).cert.len(), 2);

    // Shortened on purpose: the same short file at two reloads in a row is taken.
    std::fs::write(&chain, &a.cert_pem).expect("leaf only");
    store.reload().expect_err("first seen");
    store.reload().expect("the same file again");
    assert_eq!(served(&store).cert.len(), 1, "taken once settled");
}

/// With the watcher, a chain shortened on purpose is taken after one more quiet period.
#[cfg(feature = "watch")]
#[tokio::test]
async fn the_watcher_takes_a_shortened_chain_once_it_stays() {
    use std::time::Duration;
    let ca = Ca::new("store CA");
    let a = ca.issue(&["a.test"], Leaf::Server);
    let files = Files::new();
    put(&files.dir, "a.pem", &a.chain_pem);
    put(&files.dir, "a.key", &a.key_pem);
    let store = CertificateStore::from_dir(&files.dir).expect("loads");
    let watcher = store
        .watch_with_delay(Duration::from_millis(100))
        .expect("a watcher");
    let mut events = watcher.events();
    put(&files.dir, "a.pem", &a.cert_pem);
    // Deferred at the first reload (tested above without the watcher), taken at the one
    // the watcher makes after another quiet period: without it, this would wait forever.
    bounded(async {
        loop {
            events.changed().await.expect("the watcher runs");
            if store
                .resolve_name(Some("a.test"))
                .expect("served")
                .cert
                .len()
                == 1
            {
                break;
            }
        }
    })
    .await;
}

/// A fully qualified name (`a.test.`) is the name without its dot, as browsers and nginx
/// treat it.
#[test]
fn a_trailing_dot_is_the_same_name() {
    let ca = Ca::new("store CA");
    let a = ca.issue(&["a.test"], Leaf::Server);
    let files = Files::new();
    put(&files.dir, "a.pem", &one_file(&a));
    let store = CertificateStore::from_dir(&files.dir).expect("loads");
    assert!(store.resolve_name(Some("a.test.")).is_some());
    assert!(store.serves("A.TEST."));
    assert!(
        store.resolve_name(Some("a.test..")).is_none(),
        "one dot only"
    );
}

#[test]
fn the_earliest_expiry_is_known_and_a_later_expiry_serves_a_name() {
    let ca = Ca::new("store CA");
    let soon = ca.issue_valid(&["a.test"], (2024, 1, 1), (2030, 1, 1));
    let later = ca.issue_valid(&["a.test"], (2024, 6, 1), (2031, 1, 1));
    let other = ca.issue_valid(&["b.test"], (2024, 1, 1), (2035, 1, 1));
    let files = Files::new();
    put(&files.dir, "a-2030.pem", &one_file(&soon));
    put(&files.dir, "a-2031.pem", &one_file(&later));
    put(&files.dir, "b.pem", &one_file(&other));
    let store = CertificateStore::from_dir(&files.dir).expect("loads");
    let earliest = store.earliest_expiry().expect("three certificates");
    assert_eq!(
        earliest.source,
        CertificateSource::File(files.dir.join("a-2030.pem"))
    );
    let year_2030 = std::time::UNIX_EPOCH + std::time::Duration::from_secs(1_893_456_000);
    assert_eq!(earliest.not_after, year_2030);
    assert_eq!(
        store
            .certificate_for(Some("a.test"))
            .expect("served")
            .source,
        CertificateSource::File(files.dir.join("a-2031.pem")),
        "the certificate that expires later serves the name"
    );
}

#[test]
fn inserted_certificates_are_checked_stay_through_reloads_and_can_be_removed() {
    let ca = Ca::new("store CA");
    let a = ca.issue(&["a.test"], Leaf::Server);
    let b = ca.issue(&["b.test"], Leaf::Server);
    let files = Files::new();
    let store = CertificateStore::new();
    store.add_dir(&files.dir).expect("an empty directory");
    let info = store.insert("memory", certified(&a)).expect("inserted");
    assert_eq!(info.names, ["a.test"]);
    store.reload().expect("reloads");
    assert!(store.resolve_name(Some("a.test")).is_some(), "still there");

    let mismatched = rustls::sign::CertifiedKey::new(
        a.chain.clone(),
        support::provider()
            .key_provider
            .load_private_key(b.key.clone_key())
            .expect("a key"),
    );
    let error = store.insert("bad", mismatched).expect_err("not its key");
    assert!(
        matches!(error.kind, CertificateErrorKind::Key(_)),
        "{error}"
    );
    let ip_only = ca.issue(&["127.0.0.1"], Leaf::Server);
    let error = store
        .insert("ip", certified(&ip_only))
        .expect_err("no DNS name");
    assert!(
        matches!(error.kind, CertificateErrorKind::NoDnsNames),
        "{error}"
    );

    assert!(store.remove(&CertificateSource::Inserted("memory".into())));
    assert!(store.resolve_name(Some("a.test")).is_none());
    assert!(store.is_empty());
}

#[test]
fn a_missing_directory_is_an_error_naming_it() {
    let missing = std::env::temp_dir().join("tokio-tls-handshake-no-such-directory");
    let error = CertificateStore::from_dir(&missing).expect_err("no such directory");
    assert_eq!(error.errors[0].path, missing);
    assert!(matches!(
        error.errors[0].kind,
        CertificateErrorKind::Read(_)
    ));
}

/// Reloading when files change: a new certificate is served once the watcher has reloaded,
/// and a bad file is reported while the last good version serves.
#[cfg(feature = "watch")]
#[tokio::test]
async fn the_watcher_reloads_when_files_change() {
    use std::time::Duration;

    let ca = Ca::new("store CA");
    let a1 = ca.issue(&["a.test"], Leaf::Server);
    let a2 = ca.issue(&["a.test"], Leaf::Server);
    let files = Files::new();
    put(&files.dir, "a.pem", &one_file(&a1));
    let store = CertificateStore::from_dir(&files.dir).expect("loads");
    let watcher = store
        .watch_with_delay(Duration::from_millis(100))
        .expect("a watcher");
    let mut events = watcher.events();
    let acceptor = Acceptor::from(config(&store)).with_chooser(store.clone());

    put(&files.dir, "a.pem", &one_file(&a2));
    // Each reload is announced; wait (bounded) for the one that took the new file.
    bounded(async {
        loop {
            events.changed().await.expect("the watcher runs");
            let served = store.certificate_for(Some("a.test")).expect("served");
            let key = store.resolve_name(Some("a.test")).expect("served");
            if key.cert[0] == a2.chain[0] {
                assert_eq!(served.names, ["a.test"]);
                break;
            }
        }
    })
    .await;
    assert_eq!(presented(&acceptor, &ca, "a.test").await, a2.chain[0]);

    put(&files.dir, "a.pem", "garbage");
    let event = bounded(async {
        loop {
            events.changed().await.expect("the watcher runs");
            let event = events.borrow_and_update().clone();
            if event.result.is_err() {
                break event;
            }
        }
    })
    .await;
    let error = event.result.expect_err("a.pem is bad");
    assert_eq!(error.errors[0].path, files.dir.join("a.pem"));
    assert_eq!(presented(&acceptor, &ca, "a.test").await, a2.chain[0]);
}

#[tokio::test]
async fn a_listener_with_the_store_serves_known_names_and_reports_refusals() {
    use tokio_tls_handshake::listener::{ListenError, TlsListener};

    let ca = Ca::new("store CA");
    let a = ca.issue(&["a.test"], Leaf::Server);
    let store = CertificateStore::new();
    store.insert("a", certified(&a)).expect("inserted");
    let (tcp, addr) = support::listen().await;
    let mut listener = TlsListener::new(
        tcp,
        Acceptor::from(config(&store)).with_chooser(store.clone()),
    );
    let connector = Connector::from(client(&ca));
    for (host, known) in [("a.test", true), ("b.test", false), ("a.test", true)] {
        let client = async {
            let tcp = TcpStream::connect(addr).await.expect("connect");
            connector.connect(name(host), tcp).await
        };
        let (client, item) = bounded(async { tokio::join!(client, listener.accept()) }).await;
        match (item.expect("the listener runs"), known) {
            (Ok((_tls, peer)), true) => {
                assert_eq!(peer.ip(), addr.ip());
                client.expect(host);
            }
            (
                Err(ListenError::Handshake {
                    error:
                        HandshakeError::Refused {
                            server_name,
                            alert_sent,
                        },
                    ..
                }),
                false,
            ) => {
                assert_eq!(server_name.as_deref(), Some(host));
                assert_eq!(alert_sent, Some(AlertDescription::UnrecognisedName));
                let error = client.expect_err(host);
                assert_eq!(
                    error.alert_received(),
                    Some(AlertDescription::UnrecognisedName)
                );
            }
            (other, _) => panic!("{host}: {:?}", other.map(|(_, peer)| peer)),
        }
    }
}
