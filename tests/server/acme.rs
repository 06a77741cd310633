//! ACME against a real ACME server, Pebble (Let's Encrypt's test server, Debian's `pebble`):
//! a server on this crate starts without a certificate, obtains one through TLS-ALPN-01 on
//! its own port and serves it; restarts serve from the cache without asking; renewal replaces
//! a certificate while serving; an unreachable or refusing server is a typed error while the
//! old certificate serves; names on demand; two names and a wildcard through one store.

#![cfg(feature = "acme")]

use crate::support;

use std::{
    net::SocketAddr,
    path::Path,
    sync::{
        atomic::{AtomicUsize, Ordering},
        Arc,
    },
    time::Duration,
};

use rustls::{
    pki_types::{pem::PemObject, CertificateDer},
    AlertDescription, ClientConfig, RootCertStore, ServerConfig,
};
use support::{bounded, name, openssl::Files, pebble::Pebble, Ca, Leaf};
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::{TcpListener, TcpStream},
    task::JoinHandle,
};
use tokio_tls_handshake::{
    accept,
    acme::{Acme, AcmeConfig, AcmeError},
    certificates::CertificateStore,
    listener::{ListenError, TlsListener},
    storage::{FileStorage, Storage, StorageError},
    Acceptor, ClientTlsStream, Connector, HandshakeError,
};

/// How long one ACME order may take here (Pebble issues in about a second).
const ORDER_LIMIT: Duration = Duration::from_secs(60);

/// A server on this crate: a `TlsListener` whose acceptor resolves certificates from `store`
/// and lets `acme` choose (TLS-ALPN-01 challenges, unknown names refused). Established
/// connections echo 4 bytes; challenges answered are counted. Stopped on drop.
struct Server {
    addr: SocketAddr,
    challenges_answered: Arc<AtomicUsize>,
    task: JoinHandle<()>,
}

impl Drop for Server {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Server {
    fn start(tcp: TcpListener, store: &CertificateStore, acme: &Acme) -> Self {
        let addr = tcp.local_addr().expect("address");
        let config = ServerConfig::builder_with_provider(support::provider())
            .with_safe_default_protocol_versions()
            .expect("versions")
            .with_no_client_auth()
            .with_cert_resolver(Arc::new(store.clone()));
        let acceptor = Acceptor::from(Arc::new(config)).with_chooser(acme.clone());
        let mut listener = TlsListener::new(tcp, acceptor);
        let challenges_answered = Arc::new(AtomicUsize::new(0));
        let answered = challenges_answered.clone();
        let task = tokio::spawn(async move {
            while let Some(next) = listener.accept().await {
                match next {
                    Ok((mut tls, _)) => {
                        tokio::spawn(async move {
                            let mut buf = [0u8; 4];
                            if tls.read_exact(&mut buf).await.is_ok() {
                                let _ = tls.write_all(&buf).await;
                                let _ = tls.flush().await;
                            }
                        });
                    }
                    Err(ListenError::Handshake {
                        error:
                            HandshakeError::Answered {
                                by: accept::CHALLENGE,
                            },
                        ..
                    }) => {
                        answered.fetch_add(1, Ordering::SeqCst);
                    }
                    Err(_) => {}
                }
            }
        });
        Self {
            addr,
            challenges_answered,
            task,
        }
    }

    /// A handshake for `host` by a client trusting `roots`, and a 4-byte echo over it.
    async fn visit(
        &self,
        roots: &RootCertStore,
        host: &str,
    ) -> Result<ClientTlsStream<TcpStream>, HandshakeError> {
        let config = ClientConfig::builder_with_provider(support::provider())
            .with_safe_default_protocol_versions()
            .expect("versions")
            .with_root_certificates(roots.clone())
            .with_no_client_auth();
        let tcp = TcpStream::connect(self.addr).await.expect("connect");
        let mut tls = bounded(Connector::from(Arc::new(config)).connect(name(host), tcp)).await?;
        tls.write_all(b"ping").await.expect("write");
        let mut buf = [0u8; 4];
        bounded(tls.read_exact(&mut buf)).await.expect("echo");
        assert_eq!(&buf, b"ping");
        Ok(tls)
    }
}

/// The leaf a client was shown.
fn leaf(tls: &ClientTlsStream<TcpStream>) -> CertificateDer<'static> {
    tls.connection().peer_certificates().expect("certificates")[0].clone()
}

/// The leaf in a certificate file.
fn leaf_in(path: &Path) -> CertificateDer<'static> {
    CertificateDer::pem_file_iter(path)
        .expect("the file")
        .next()
        .expect("a certificate")
        .expect("parses")
}

/// A listener on a port of its own, and Pebble validating on that port.
async fn pebble_for_a_new_server(blocked: &[&str]) -> Option<(TcpListener, Pebble)> {
    if !support::pebble::available() {
        return None;
    }
    let tcp = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let port = tcp.local_addr().expect("address").port();
    Some((tcp, Pebble::start(port, blocked).await))
}

fn config(pebble: &Pebble, cache: &Path) -> AcmeConfig {
    AcmeConfig::new(&pebble.directory, cache)
        .contact("mailto:ops@a.test")
        .http_roots(pebble.http_roots.clone())
        .retry_backoff(Duration::from_millis(200), Duration::from_secs(2))
        .order_timeout(ORDER_LIMIT)
}

#[tokio::test]
async fn a_server_obtains_its_certificate_on_its_own_port_and_serves_it() {
    let Some((tcp, pebble)) = pebble_for_a_new_server(&[]).await else {
        return;
    };
    let cache = Files::new();
    let store = CertificateStore::new();
    let acme = Acme::new(config(&pebble, &cache.dir).name("a.test"), store.clone()).expect("acme");
    let server = Server::start(tcp, &store, &acme);
    let roots = pebble.issuing_roots().await;

    // No certificate yet: the name is refused, as unknown.
    let refused = server
        .visit(&roots, "a.test")
        .await
        .expect_err("no certificate yet");
    assert_eq!(
        refused.alert_received(),
        Some(AlertDescription::UnrecognisedName),
        "{refused}"
    );

    let issued = tokio::time::timeout(ORDER_LIMIT, acme.ensure("a.test"))
        .await
        .expect("the order ends")
        .expect("a certificate");
    assert_eq!(issued.names, ["a.test"]);
    assert!(
        server.challenges_answered.load(Ordering::SeqCst) >= 1,
        "Pebble validated on the serving port"
    );

    let tls = server
        .visit(&roots, "a.test")
        .await
        .expect("a client trusting Pebble's root is served");
    let cached = cache.dir.join("a.test.pem");
    assert_eq!(leaf(&tls), leaf_in(&cached), "the issued certificate");
    let report = tls.report();
    assert_eq!(
        report.peer_subject.as_deref(),
        Some("CN=a.test"),
        "{report}"
    );
    assert!(
        report.to_string().contains("peer=\"CN=a.test\""),
        "{report}"
    );
    let status = acme.status();
    assert_eq!(status.len(), 1);
    assert_eq!(status[0].failures, 0);
    assert!(status[0].last_error.is_none());
    assert_eq!(status[0].certificate.as_ref(), Some(&issued));

    #[cfg(unix)]
    for file in ["a.test.pem", "acme-account.json"] {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(cache.dir.join(file))
            .expect("written")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600, "{file} is readable by its owner only");
    }
}

#[tokio::test]
async fn a_restart_serves_from_the_cache_without_asking_the_acme_server() {
    let Some((tcp, mut pebble)) = pebble_for_a_new_server(&[]).await else {
        return;
    };
    let cache = Files::new();
    let first_store = CertificateStore::new();
    let first = Acme::new(config(&pebble, &cache.dir).name("a.test"), first_store).expect("acme");
    let first_server = Server::start(tcp, &CertificateStore::new(), &first);
    let issued = tokio::time::timeout(ORDER_LIMIT, first.ensure("a.test"))
        .await
        .expect("the order ends")
        .expect("a certificate");
    let roots = pebble.issuing_roots().await;
    drop(first_server);
    pebble.stop().await;

    // A new process: the ACME server is gone, the cache is not.
    let store = CertificateStore::new();
    let acme = Acme::new(config(&pebble, &cache.dir).name("a.test"), store.clone()).expect("acme");
    let tcp = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let server = Server::start(tcp, &store, &acme);
    let served = server
        .visit(&roots, "a.test")
        .await
        .expect("served from the cache at once");
    assert_eq!(leaf(&served), leaf_in(&cache.dir.join("a.test.pem")));
    let cached = bounded(acme.ensure("a.test")).await.expect("not due");
    assert_eq!(cached, issued, "the cached certificate, without an order");
    assert_eq!(*acme.attempts().borrow(), 0, "no order was attempted");
}

/// A server holding a certificate for `a.test` from Pebble, due for renewal at once
/// (Pebble's certificates last five years: the threshold moves, not the clock).
struct Serving {
    pebble: Pebble,
    cache: Files,
    acme: Acme,
    server: Server,
    /// Roots trusting what Pebble issues.
    roots: RootCertStore,
    /// The leaf served for `a.test`.
    before: CertificateDer<'static>,
}

async fn serving_a_test() -> Option<Serving> {
    let (tcp, pebble) = pebble_for_a_new_server(&[]).await?;
    let cache = Files::new();
    let store = CertificateStore::new();
    let config = config(&pebble, &cache.dir).name("a.test").renew_at(0.0);
    let acme = Acme::new(config, store.clone()).expect("acme");
    let server = Server::start(tcp, &store, &acme);
    let roots = pebble.issuing_roots().await;
    order(&acme, "a.test").await.expect("a certificate");
    let before = leaf(&server.visit(&roots, "a.test").await.expect("served"));
    Some(Serving {
        pebble,
        cache,
        acme,
        server,
        roots,
        before,
    })
}

/// An order for `name` now, bounded.
async fn order(
    acme: &Acme,
    name: &str,
) -> Result<tokio_tls_handshake::certificates::CertificateInfo, AcmeError> {
    tokio::time::timeout(ORDER_LIMIT, acme.renew(name))
        .await
        .expect("the order ends within its limit")
}

#[tokio::test]
async fn renewal_replaces_a_certificate_while_connections_are_served() {
    let Some(Serving {
        pebble: _pebble,
        acme,
        server,
        roots,
        before,
        cache,
    }) = serving_a_test().await
    else {
        return;
    };

    let mut attempts = acme.attempts();
    attempts.borrow_and_update();
    let running = tokio::spawn(acme.clone().run());
    // Clients keep arriving while the renewal runs; every one is served.
    let mut served = 0;
    let renewed = tokio::time::timeout(ORDER_LIMIT, async {
        loop {
            tokio::select! {
                changed = attempts.changed() => {
                    changed.expect("the client runs");
                    break;
                }
                visit = server.visit(&roots, "a.test") => {
                    visit.expect("served during the renewal");
                    served += 1;
                }
            }
        }
    })
    .await;
    running.abort();
    renewed.expect("a renewal within the limit");
    let status = &acme.status()[0];
    assert!(status.last_error.is_none(), "{:?}", status.last_error);
    assert!(status.certificate.is_some());
    let after = leaf(&server.visit(&roots, "a.test").await.expect("served"));
    assert_ne!(after, before, "the renewed certificate serves");
    assert_eq!(after, leaf_in(&cache.dir.join("a.test.pem")));
    eprintln!("renewal: {served} handshakes served while it ran");
}

#[tokio::test]
async fn an_unreachable_acme_server_is_a_typed_error_and_the_old_certificate_serves() {
    let Some(Serving {
        mut pebble,
        cache: _cache,
        acme,
        server,
        roots,
        before,
    }) = serving_a_test().await
    else {
        return;
    };
    pebble.stop().await;

    let error = order(&acme, "a.test")
        .await
        .expect_err("the ACME server is gone");
    assert!(matches!(error, AcmeError::Unreachable(_)), "{error:?}");
    let status = &acme.status()[0];
    assert_eq!(status.failures, 1);
    assert!(status.retry_at.is_some(), "a retry is scheduled");
    assert!(matches!(
        status.last_error.as_deref(),
        Some(AcmeError::Unreachable(_))
    ));
    let after = leaf(&server.visit(&roots, "a.test").await.expect("still served"));
    assert_eq!(after, before, "the old certificate keeps serving");
}

#[tokio::test]
async fn a_refusing_acme_server_is_a_typed_error() {
    let Some((tcp, mut pebble)) = pebble_for_a_new_server(&["blocked.test"]).await else {
        return;
    };
    let cache = Files::new();
    let store = CertificateStore::new();
    let acme = Acme::new(config(&pebble, &cache.dir), store.clone()).expect("acme");
    let _server = Server::start(tcp, &store, &acme);
    let error = order(&acme, "blocked.test")
        .await
        .expect_err("a blocked name");
    match &error {
        AcmeError::Refused { name, problem, .. } => {
            assert_eq!(name, "blocked.test");
            assert_eq!(
                problem.as_deref(),
                Some("urn:ietf:params:acme:error:rejectedIdentifier"),
                "{error}\n{}",
                pebble.log()
            );
        }
        other => panic!("expected Refused, got {other:?}"),
    }
    assert!(store.is_empty());

    // A name whose validation reaches a server that does not answer the challenge.
    let plain = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let elsewhere = Pebble::start(plain.local_addr().expect("address").port(), &[]).await;
    let store = CertificateStore::new();
    let cache = Files::new();
    let acme = Acme::new(config(&elsewhere, &cache.dir), store.clone()).expect("acme");
    let not_answering = Acme::new(
        config(&elsewhere, &Files::new().dir),
        CertificateStore::new(),
    )
    .expect("acme");
    // The serving port's chooser is another client, which waits for no challenge.
    let _server = Server::start(plain, &store, &not_answering);
    let error = order(&acme, "c.test").await.expect_err("validation fails");
    assert!(
        matches!(error, AcmeError::Invalid { .. } | AcmeError::Refused { .. }),
        "{error:?}"
    );
    assert!(store.is_empty());
}

#[tokio::test]
async fn two_names_from_acme_and_a_wildcard_from_a_file_serve_through_one_store() {
    let Some((tcp, pebble)) = pebble_for_a_new_server(&[]).await else {
        return;
    };
    let ca = Ca::new("files CA");
    let star = ca.issue(&["*.c.test"], Leaf::Server);
    let files = Files::new();
    files.write(
        "wildcard.pem",
        &format!("{}{}", star.chain_pem, star.key_pem),
    );
    let store = CertificateStore::from_dir(&files.dir).expect("the wildcard loads");
    let cache = Files::new();
    let acme = Acme::new(
        config(&pebble, &cache.dir).name("a.test").name("b.test"),
        store.clone(),
    )
    .expect("acme");
    let server = Server::start(tcp, &store, &acme);
    let mut attempts = acme.attempts();
    let running = tokio::spawn(acme.clone().run());
    tokio::time::timeout(ORDER_LIMIT * 2, async {
        while *attempts.borrow_and_update() < 2 {
            attempts.changed().await.expect("the client runs");
        }
    })
    .await
    .expect("both names ordered");
    running.abort();
    assert!(
        acme.status().iter().all(|s| s.last_error.is_none()),
        "{:?}",
        acme.status()
    );
    let mut roots = pebble.issuing_roots().await;
    roots.add(ca.cert()).expect("the files CA");
    for host in ["a.test", "b.test", "x.c.test"] {
        server.visit(&roots, host).await.expect(host);
    }
    assert_eq!(store.len(), 3);
}

#[tokio::test]
async fn names_allowed_on_demand_are_ordered_when_first_asked_for() {
    let Some((tcp, pebble)) = pebble_for_a_new_server(&[]).await else {
        return;
    };
    let cache = Files::new();
    let store = CertificateStore::new();
    let acme = Acme::new(
        config(&pebble, &cache.dir).on_demand(|name| name.ends_with(".demand.test")),
        store.clone(),
    )
    .expect("acme");
    let server = Server::start(tcp, &store, &acme);
    let roots = pebble.issuing_roots().await;
    let mut attempts = acme.attempts();
    let running = tokio::spawn(acme.clone().run());

    // Not allowed: refused, and nothing ordered.
    server
        .visit(&roots, "other.test")
        .await
        .expect_err("not allowed");
    // Allowed: this client is refused, the name is ordered, and the next client is served.
    server
        .visit(&roots, "x.demand.test")
        .await
        .expect_err("no certificate yet");
    tokio::time::timeout(ORDER_LIMIT, attempts.changed())
        .await
        .expect("an order within the limit")
        .expect("the client runs");
    running.abort();
    server
        .visit(&roots, "x.demand.test")
        .await
        .expect("served once issued");
    let held: Vec<_> = acme.status().into_iter().map(|s| s.name).collect();
    assert_eq!(
        held,
        ["x.demand.test"],
        "only the allowed name was taken on"
    );
}

/// The names `acme` holds.
fn held(acme: &Acme) -> Vec<String> {
    acme.status().into_iter().map(|s| s.name).collect()
}

/// A server whose ACME client takes names ending in `.demand.test` on demand, as `limits`
/// bounds it, against a Pebble that refuses the names in `blocked`.
struct OnDemandServer {
    acme: Acme,
    server: Server,
    roots: RootCertStore,
    cache: Files,
    _pebble: Pebble,
}

impl OnDemandServer {
    async fn start(
        blocked: &[&str],
        limits: impl FnOnce(AcmeConfig) -> AcmeConfig,
    ) -> Option<Self> {
        let (tcp, pebble) = pebble_for_a_new_server(blocked).await?;
        let cache = Files::new();
        let store = CertificateStore::new();
        let acme = Acme::new(
            limits(config(&pebble, &cache.dir).on_demand(|name| name.ends_with(".demand.test"))),
            store.clone(),
        )
        .expect("acme");
        let server = Server::start(tcp, &store, &acme);
        let roots = pebble.issuing_roots().await;
        Some(Self {
            acme,
            server,
            roots,
            cache,
            _pebble: pebble,
        })
    }

    async fn visit(&self, host: &str) -> Result<ClientTlsStream<TcpStream>, HandshakeError> {
        self.server.visit(&self.roots, host).await
    }
}

/// Waits for the next order to end, successful or not.
async fn next_order(attempts: &mut tokio::sync::watch::Receiver<u64>) {
    tokio::time::timeout(ORDER_LIMIT, attempts.changed())
        .await
        .expect("an order within the limit")
        .expect("the client runs");
}

/// The defect: allowed names whose validation fails were held forever and filled every
/// on-demand place, ending issuance for everyone until a restart. Now a name is forgotten
/// once its attempts run out, and its place goes to the next name asked for.
#[tokio::test]
async fn failed_on_demand_names_are_forgotten_and_free_their_place() {
    let blocked = ["bad1.demand.test", "bad2.demand.test"];
    let Some(on) =
        OnDemandServer::start(&blocked, |c| c.max_on_demand(2).on_demand_attempts(2)).await
    else {
        return;
    };
    let mut attempts = on.acme.attempts();
    let running = tokio::spawn(on.acme.clone().run());
    for name in blocked {
        on.visit(name).await.expect_err("no certificate");
    }
    assert_eq!(held(&on.acme), blocked, "both places taken");
    // Two names, two attempts each (the backoff is 200 ms, then 400 ms).
    for _ in 0..4 {
        next_order(&mut attempts).await;
    }
    assert_eq!(held(&on.acme), Vec::<String>::new(), "both forgotten");

    on.visit("good.demand.test").await.expect_err("not yet");
    next_order(&mut attempts).await;
    running.abort();
    on.visit("good.demand.test")
        .await
        .expect("a freed place serves the next name");
}

/// The defect: names already issued were not counted, so a permissive predicate let any
/// client drive issuance without bound. Issued names count against the bound; new names are
/// also limited per hour; `forget` frees a place.
#[tokio::test]
async fn on_demand_names_are_bounded_issued_ones_included() {
    let Some(on) =
        OnDemandServer::start(&[], |c| c.max_on_demand(1).on_demand_orders_per_hour(2)).await
    else {
        return;
    };
    let mut attempts = on.acme.attempts();
    let running = tokio::spawn(on.acme.clone().run());
    on.visit("a.demand.test").await.expect_err("not yet");
    next_order(&mut attempts).await;
    on.visit("a.demand.test").await.expect("issued");
    running.abort();

    on.visit("b.demand.test").await.expect_err("over the bound");
    assert_eq!(
        held(&on.acme),
        ["a.demand.test"],
        "the issued name holds the only place"
    );

    assert!(on.acme.forget("a.demand.test").expect("forgotten"));
    on.visit("a.demand.test")
        .await
        .expect_err("no longer served");
    assert!(
        !on.cache.dir.join("a.demand.test.pem").exists(),
        "its cached file is gone"
    );
    // The place is free again (a.demand.test just took it back, being asked for first)...
    assert_eq!(held(&on.acme), ["a.demand.test"]);
    assert!(on.acme.forget("a.demand.test").expect("forgotten"));
    // ...but two names were taken on within the hour: a third waits.
    on.visit("c.demand.test")
        .await
        .expect_err("over the hourly number");
    assert_eq!(held(&on.acme), Vec::<String>::new());
    assert!(
        !on.acme.forget("../escape").expect("not a name"),
        "only names in the cache"
    );
}

/// The defect: orders ran one at a time in name order, each up to the order timeout, so one
/// slow validation held up every renewal behind it. Here Pebble's validation of
/// `a-slow.test` connects to a port that never answers; `b.test` is issued while it hangs.
#[tokio::test]
async fn a_hanging_order_does_not_hold_up_the_next_name() {
    let Some((tcp, pebble)) = pebble_for_a_new_server(&[]).await else {
        return;
    };
    let port = tcp.local_addr().expect("address").port();
    // Another loopback address, the same port: accepts Pebble's validation and says nothing.
    let silent = TcpListener::bind(("127.0.0.2", port))
        .await
        .expect("bind 127.0.0.2");
    pebble.resolve("a-slow.test", "127.0.0.2").await;
    let cache = Files::new();
    let store = CertificateStore::new();
    let acme = Acme::new(
        config(&pebble, &cache.dir)
            .name("a-slow.test")
            .name("b.test")
            .concurrent_orders(2),
        store.clone(),
    )
    .expect("acme");
    let _server = Server::start(tcp, &store, &acme);
    let mut attempts = acme.attempts();
    let running = tokio::spawn(acme.clone().run());
    let (_held_open, _) = tokio::time::timeout(ORDER_LIMIT, silent.accept())
        .await
        .expect("Pebble validates a-slow.test within the limit")
        .expect("accept");
    next_order(&mut attempts).await;
    let status = acme.status();
    let of = |name: &str| {
        status
            .iter()
            .find(|s| s.name == name)
            .cloned()
            .expect("held")
    };
    assert!(
        of("b.test").certificate.is_some(),
        "b.test issued: {status:?}"
    );
    let slow = of("a-slow.test");
    assert!(
        slow.certificate.is_none() && slow.failures == 0,
        "while a-slow.test still waits: {slow:?}"
    );
    running.abort();
}

/// The defect: the backoff lived in memory only, so a crash-looping server re-ordered every
/// name at each start, and names taken on demand were not held (so not renewed) after a
/// restart. Both are kept with the cache now.
#[tokio::test]
async fn a_restart_keeps_the_backoff_and_the_names_taken_on_demand() {
    // Nothing listens on port 1: every order fails at once (Unreachable).
    let cache = Files::new();
    let make = || {
        let store = CertificateStore::new();
        let config = AcmeConfig::new("https://127.0.0.1:1/dir", &cache.dir)
            .name("a.test")
            .on_demand(|name| name.ends_with(".demand.test"))
            .retry_backoff(Duration::from_secs(600), Duration::from_secs(3600));
        let acme = Acme::new(config, store.clone()).expect("acme");
        (acme, store)
    };
    let (acme, store) = make();
    let tcp = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let server = Server::start(tcp, &store, &acme);
    server
        .visit(&RootCertStore::empty(), "x.demand.test")
        .await
        .expect_err("no certificate");
    for name in ["a.test", "x.demand.test"] {
        acme.renew(name).await.expect_err("unreachable");
    }
    let before: Vec<_> = acme
        .status()
        .into_iter()
        .map(|s| (s.name, s.failures, s.retry_at))
        .collect();
    assert_eq!(before.len(), 2, "{before:?}");
    drop((server, acme));

    let (restarted, _) = make();
    let after: Vec<_> = restarted
        .status()
        .into_iter()
        .map(|s| (s.name, s.failures, s.retry_at))
        .collect();
    let secs = |t: Option<std::time::SystemTime>| {
        t.and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
            .map(|d| d.as_secs())
    };
    assert_eq!(after.len(), 2, "both names held again: {after:?}");
    for ((name, failures, retry), (name_after, failures_after, retry_after)) in
        before.iter().zip(&after)
    {
        assert_eq!(name, name_after);
        assert_eq!(
            (failures, secs(*retry)),
            (failures_after, secs(*retry_after)),
            "{name}"
        );
        assert!(
            retry_after.is_some_and(|t| t > std::time::SystemTime::now()),
            "{name}: not due at once after the restart"
        );
    }
}

#[cfg(feature = "redis")]
use tokio_tls_handshake::storage::RedisStorage;

/// A fleet: three instances, each with its own cache, store and ACME client, sharing one
/// storage, behind HAProxy (round robin), which is the port Pebble validates on.
struct Fleet {
    pebble: Pebble,
    _balancer: support::haproxy::HaProxy,
    instances: Vec<Instance>,
    roots: RootCertStore,
}

struct Instance {
    acme: Acme,
    server: Server,
    _cache: Files,
    running: Option<JoinHandle<()>>,
}

impl Fleet {
    /// The fleet for `names`, none of its clients running yet; `None` if a tool is missing.
    async fn new(storage: &Arc<dyn Storage>, names: &[&str], lease: Duration) -> Option<Self> {
        Self::renewing_at(storage, names, lease, 2.0 / 3.0).await
    }

    /// As [`new`](Self::new), renewing at `renew_at` of a certificate's lifetime.
    async fn renewing_at(
        storage: &Arc<dyn Storage>,
        names: &[&str],
        lease: Duration,
        renew_at: f64,
    ) -> Option<Self> {
        if !support::pebble::available() || !support::haproxy::available() {
            return None;
        }
        let mut listeners = Vec::new();
        for _ in 0..3 {
            listeners.push(TcpListener::bind("127.0.0.1:0").await.expect("bind"));
        }
        let addrs: Vec<SocketAddr> = listeners
            .iter()
            .map(|l| l.local_addr().expect("addr"))
            .collect();
        // A dead instance is taken out of the rotation by HAProxy's check, as in production.
        let balancer =
            support::haproxy::HaProxy::start(&addrs, "check inter 100ms fall 1 rise 1").await;
        let pebble = Pebble::start(balancer.addr.port(), &[]).await;
        let mut instances = Vec::new();
        for tcp in listeners {
            let cache = Files::new();
            let store = CertificateStore::new();
            let mut config = config(&pebble, &cache.dir)
                .storage(storage.clone())
                .fleet_poll(Duration::from_millis(200))
                .order_lease(lease)
                .renew_at(renew_at);
            for name in names {
                config = config.name(*name);
            }
            let acme = Acme::new(config, store.clone()).expect("acme");
            let server = Server::start(tcp, &store, &acme);
            instances.push(Instance {
                acme,
                server,
                _cache: cache,
                running: None,
            });
        }
        let roots = pebble.issuing_roots().await;
        Some(Self {
            pebble,
            _balancer: balancer,
            instances,
            roots,
        })
    }

    fn run(&mut self, i: usize) {
        let acme = self.instances[i].acme.clone();
        self.instances[i].running = Some(tokio::spawn(acme.run()));
    }

    /// Waits until instance `i` serves `host`, and returns the leaf it serves.
    async fn served_by(&self, i: usize, host: &str) -> CertificateDer<'static> {
        bounded(async {
            loop {
                if let Ok(tls) = self.instances[i].server.visit(&self.roots, host).await {
                    return leaf(&tls);
                }
                tokio::task::yield_now().await;
            }
        })
        .await
    }

    /// Certificates Pebble issued, from its log.
    fn issued(&mut self) -> usize {
        self.pebble
            .log()
            .matches("Issued certificate serial")
            .count()
    }
}

/// The fleet's promise: each name is ordered once for the whole fleet, whichever instance
/// the validation reaches answers it, and every instance serves every certificate.
async fn a_fleet_orders_each_name_once(storage: Arc<dyn Storage>) {
    let names = ["a.test", "b.test", "c.test"];
    let Some(mut fleet) = Fleet::new(&storage, &names, Duration::from_secs(30)).await else {
        return;
    };
    for i in 0..3 {
        fleet.run(i);
    }
    for name in names {
        let leaves = [
            fleet.served_by(0, name).await,
            fleet.served_by(1, name).await,
            fleet.served_by(2, name).await,
        ];
        assert!(
            leaves[0] == leaves[1] && leaves[1] == leaves[2],
            "{name}: one certificate"
        );
    }
    assert_eq!(
        fleet.issued(),
        names.len(),
        "one certificate per name: {}",
        fleet.pebble.log()
    );
    let answered: Vec<usize> = fleet
        .instances
        .iter()
        .map(|i| i.server.challenges_answered.load(Ordering::SeqCst))
        .collect();
    // Pebble connects more than once per validation (three times here); round robin spreads
    // the connections over every instance, and every validation succeeded (each name was
    // issued), so each instance answered challenges it did not order.
    assert!(
        answered.iter().sum::<usize>() >= names.len(),
        "{answered:?}"
    );
    assert!(
        answered.iter().all(|&n| n >= 1),
        "round robin: every instance answered a validation: {answered:?}"
    );
    let stored = storage.load("certificates/a.test.pem").await.expect("load");
    assert!(stored.is_some(), "the certificate is in the storage");
    // One account for the fleet, made once and shared through the storage.
    let log = fleet.pebble.log();
    assert!(log.contains("There are now 1 accounts"), "{log}");
    assert!(
        !log.contains("There are now 2 accounts"),
        "one account: {log}"
    );
    assert!(storage
        .load("acme/account.json")
        .await
        .expect("load")
        .is_some());
}

#[tokio::test]
async fn a_fleet_on_file_storage_orders_each_name_once() {
    let dir = Files::new();
    a_fleet_orders_each_name_once(Arc::new(FileStorage::new(dir.dir.join("fleet")))).await;
}

#[cfg(feature = "redis")]
#[tokio::test]
async fn a_fleet_on_redis_orders_each_name_once() {
    if !support::redis::available() {
        return;
    }
    let redis = support::redis::Redis::start().await;
    let storage = RedisStorage::connect(&redis.url()).expect("url");
    a_fleet_orders_each_name_once(Arc::new(storage)).await;
}

/// The instance holding a name's lease dies in the middle of the order (its process gone:
/// its client stopped, its port closed). Another instance completes the order once the
/// lease expires, and the fleet still has one certificate.
#[tokio::test]
async fn a_fleet_takes_over_an_order_whose_instance_died() {
    let dir = Files::new();
    let storage: Arc<dyn Storage> = Arc::new(FileStorage::new(dir.dir.join("fleet")));
    let lease = Duration::from_secs(3);
    let Some(mut fleet) = Fleet::new(&storage, &["a.test"], lease).await else {
        return;
    };
    fleet.run(0);
    // Mid-order: its challenge is in the storage, the ACME server not yet told.
    bounded(async {
        loop {
            let index = storage.load("acme/challenges").await.expect("load");
            if index.is_some_and(|i| i.starts_with(b"a.test ")) {
                return;
            }
            tokio::task::yield_now().await;
        }
    })
    .await;
    let dead = fleet.instances.remove(0);
    if let Some(running) = &dead.running {
        running.abort();
    }
    drop(dead);
    fleet.run(0);
    fleet.run(1);
    let taken_over = tokio::time::Instant::now();
    let leaves = [
        fleet.served_by(0, "a.test").await,
        fleet.served_by(1, "a.test").await,
    ];
    assert_eq!(leaves[0], leaves[1]);
    assert!(
        taken_over.elapsed() >= lease / 2,
        "not before the dead instance's lease ran out: {:?}",
        taken_over.elapsed()
    );
    assert_eq!(
        fleet.issued(),
        1,
        "the dead instance's order was never finalized"
    );
}

/// The attack: a hostile or broken store offers a certificate that does not parse, one cut
/// short, one whose key is not its own, and one for another name, each announced as newer.
/// Each is refused with a typed error, and the certificate served before keeps serving.
#[tokio::test]
async fn a_hostile_store_cannot_replace_a_served_certificate() {
    let Some((tcp, pebble)) = pebble_for_a_new_server(&[]).await else {
        return;
    };
    let dir = Files::new();
    let storage: Arc<dyn Storage> = Arc::new(FileStorage::new(dir.dir.join("fleet")));
    let cache = Files::new();
    let store = CertificateStore::new();
    let config = config(&pebble, &cache.dir)
        .name("a.test")
        .storage(storage.clone())
        .fleet_poll(Duration::from_millis(200));
    let acme = Acme::new(config, store.clone()).expect("acme");
    let server = Server::start(tcp, &store, &acme);
    let roots = pebble.issuing_roots().await;
    bounded(acme.renew("a.test")).await.expect("a certificate");
    let served = leaf(&server.visit(&roots, "a.test").await.expect("served"));
    let good = storage
        .load("certificates/a.test.pem")
        .await
        .expect("load")
        .expect("shared");

    let other = Ca::new("hostile CA");
    let stranger = other.issue(&["a.test"], Leaf::Server);
    let elsewhere = other.issue(&["b.test"], Leaf::Server);
    let good_text = String::from_utf8(good.clone()).expect("PEM");
    let chain_only = &good_text[..good_text.find("-----BEGIN PRIVATE KEY").expect("the key")];
    let offers: [(&str, Vec<u8>); 4] = [
        ("garbage", b"not a certificate".to_vec()),
        ("cut short", good[..good.len() / 2].to_vec()),
        (
            "a key that is not its own",
            format!("{chain_only}{}", stranger.key_pem).into_bytes(),
        ),
        (
            "another name's certificate",
            format!("{}{}", elsewhere.chain_pem, elsewhere.key_pem).into_bytes(),
        ),
    ];
    for (what, offer) in offers {
        storage
            .store("certificates/a.test.pem", &offer)
            .await
            .expect("store");
        storage
            .store("acme/certificates", b"a.test 99999999999\n")
            .await
            .expect("store");
        let refused = bounded(acme.refresh()).await;
        assert!(
            matches!(&refused, Err(AcmeError::Storage(e)) if matches!(**e, StorageError::Corrupt { .. })),
            "{what}: {refused:?}"
        );
        let still = leaf(&server.visit(&roots, "a.test").await.expect("served"));
        assert_eq!(
            still, served,
            "{what}: the certificate served before keeps serving"
        );
    }
}

/// The fleet's Redis goes away: the certificate served keeps serving, picking up fails with a
/// typed error, and a renewal is a failure with backoff (its error in the status), not a
/// duplicate order; once Redis is back, the renewal goes through.
#[cfg(feature = "redis")]
#[tokio::test]
async fn a_fleet_instance_keeps_serving_while_redis_is_down() {
    if !support::redis::available() {
        return;
    }
    let Some((tcp, mut pebble)) = pebble_for_a_new_server(&[]).await else {
        return;
    };
    let mut redis = support::redis::Redis::start().await;
    let storage = RedisStorage::connect(&redis.url())
        .expect("url")
        .with_timeout(Duration::from_millis(500));
    let cache = Files::new();
    let store = CertificateStore::new();
    let config = config(&pebble, &cache.dir)
        .name("a.test")
        .storage(Arc::new(storage));
    let acme = Acme::new(config, store.clone()).expect("acme");
    let server = Server::start(tcp, &store, &acme);
    let roots = pebble.issuing_roots().await;
    bounded(acme.renew("a.test")).await.expect("a certificate");
    let served = leaf(&server.visit(&roots, "a.test").await.expect("served"));

    redis.stop().await;
    let down = bounded(acme.refresh()).await;
    assert!(
        matches!(&down, Err(AcmeError::Storage(e)) if matches!(**e, StorageError::Unavailable { .. })),
        "{down:?}"
    );
    let renewal = bounded(acme.renew("a.test")).await;
    assert!(matches!(renewal, Err(AcmeError::Storage(_))), "{renewal:?}");
    let status = acme.status();
    assert_eq!(status[0].failures, 1, "a failure, with backoff");
    assert!(status[0].retry_at.is_some());
    assert_eq!(
        leaf(&server.visit(&roots, "a.test").await.expect("served")),
        served,
        "the certificate keeps serving"
    );
    assert_eq!(
        pebble.log().matches("Issued certificate serial").count(),
        1,
        "no order without the lease"
    );

    redis.restart().await;
    let renewed = bounded(async {
        loop {
            match acme.renew("a.test").await {
                Ok(info) => return info,
                Err(AcmeError::Storage(_)) => tokio::task::yield_now().await,
                Err(other) => panic!("{other}"),
            }
        }
    })
    .await;
    assert!(renewed.not_after >= std::time::SystemTime::now());
    assert_eq!(pebble.log().matches("Issued certificate serial").count(), 2);
}

/// Renewal once per fleet: every instance finds the certificate due at the same moment (a
/// threshold of 0, so any certificate is due) and renews it; one takes the lease and orders,
/// the others leave it to that one, and all three then serve the new certificate.
#[tokio::test]
async fn a_fleet_renews_once_when_every_instance_finds_it_due() {
    let dir = Files::new();
    let storage: Arc<dyn Storage> = Arc::new(FileStorage::new(dir.dir.join("fleet")));
    let Some(mut fleet) =
        Fleet::renewing_at(&storage, &["a.test"], Duration::from_secs(30), 0.0).await
    else {
        return;
    };
    // Each instance picks up the fleet's challenges, as `run` does, without `run`'s own
    // renewals (with a threshold of 0 it would renew for ever).
    let pickers: Vec<JoinHandle<()>> = fleet
        .instances
        .iter()
        .map(|instance| {
            let acme = instance.acme.clone();
            tokio::spawn(async move {
                loop {
                    let _ = acme.refresh().await;
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            })
        })
        .collect();
    // HAProxy's checks may not have found the instances up yet: the first validation can
    // find no backend, so the first order is tried until it succeeds (each try is an order).
    // A failure is the fleet's: the next try waits for the backoff it set (200 ms here).
    let mut tries = 0;
    bounded(async {
        loop {
            match fleet.instances[0].acme.renew("a.test").await {
                Ok(_) => break,
                Err(AcmeError::BackingOff { until, .. }) => {
                    let wait = until.duration_since(std::time::SystemTime::now());
                    tokio::time::sleep(wait.unwrap_or_default()).await;
                }
                Err(error) => {
                    tries += 1;
                    assert!(tries < 5, "the first certificate: {error}");
                }
            }
        }
    })
    .await;
    let first = fleet.served_by(0, "a.test").await;
    let before = fleet.issued();
    let outcomes = bounded(async {
        tokio::join!(
            fleet.instances[0].acme.renew("a.test"),
            fleet.instances[1].acme.renew("a.test"),
            fleet.instances[2].acme.renew("a.test"),
        )
    })
    .await;
    let outcomes = [outcomes.0, outcomes.1, outcomes.2];
    let renewed = outcomes.iter().filter(|o| o.is_ok()).count();
    let elsewhere = outcomes
        .iter()
        .filter(|o| matches!(o, Err(AcmeError::OrderedElsewhere { .. })))
        .count();
    assert_eq!((renewed, elsewhere), (1, 2), "{outcomes:?}");
    assert_eq!(fleet.issued(), before + 1, "one renewal for the fleet");
    for i in 0..3 {
        bounded(fleet.instances[i].acme.refresh())
            .await
            .expect("picked up");
        let leaf = fleet.served_by(i, "a.test").await;
        assert_ne!(leaf, first, "instance {i} serves the renewed certificate");
    }
    for picker in pickers {
        picker.abort();
    }
}

/// Two instances of a fleet sharing a `FileStorage`, each with its own cache and store, the
/// first serving on `tcp` (where Pebble validates). `edit` adjusts both configurations.
struct TwoInstances {
    storage: Arc<dyn Storage>,
    first: Acme,
    second: Acme,
    second_store: CertificateStore,
    _server: Server,
    _files: [Files; 3],
}

impl TwoInstances {
    fn start(tcp: TcpListener, pebble: &Pebble, edit: impl Fn(AcmeConfig) -> AcmeConfig) -> Self {
        let files = [Files::new(), Files::new(), Files::new()];
        let storage: Arc<dyn Storage> = Arc::new(FileStorage::new(files[0].dir.join("fleet")));
        let instance = |cache: &Path| {
            let config = edit(config(pebble, cache).storage(storage.clone()));
            let store = CertificateStore::new();
            (Acme::new(config, store.clone()).expect("acme"), store)
        };
        let (first, first_store) = instance(&files[1].dir);
        let (second, second_store) = instance(&files[2].dir);
        let server = Server::start(tcp, &first_store, &first);
        Self {
            storage,
            first,
            second,
            second_store,
            _server: server,
            _files: files,
        }
    }
}

/// The fleet backs off as one client: an order refused on one instance holds the others
/// back (they make no order: the ACME server's limits on failures count per account) until
/// the backoff passes; a success clears the fleet's record.
#[tokio::test]
async fn a_fleet_backs_off_a_name_whose_order_failed_on_another_instance() {
    let Some((tcp, mut pebble)) = pebble_for_a_new_server(&["blocked.test"]).await else {
        return;
    };
    let TwoInstances {
        storage,
        first,
        second,
        ..
    } = &TwoInstances::start(tcp, &pebble, |config| {
        config.retry_backoff(Duration::from_secs(600), Duration::from_secs(3600))
    });

    // A name whose backoff has passed is ordered, and the success clears the record.
    storage
        .store("acme/attempts/a.test", b"3 1000\n")
        .await
        .expect("store");
    bounded(first.renew("a.test")).await.expect("a certificate");
    let record = storage.load("acme/attempts/a.test").await.expect("load");
    assert!(record.is_none(), "a success clears the fleet's failures");

    let refused = bounded(first.renew("blocked.test")).await;
    assert!(
        matches!(refused, Err(AcmeError::Refused { .. })),
        "{refused:?}"
    );
    let record = storage
        .load("acme/attempts/blocked.test")
        .await
        .expect("load")
        .expect("the failure is the fleet's");
    assert!(record.starts_with(b"1 "), "{record:?}");

    // With the ACME server gone, an order would be `Unreachable`: the backoff comes first.
    pebble.stop().await;
    let held_back = bounded(second.renew("blocked.test")).await;
    let until = match held_back {
        Err(AcmeError::BackingOff {
            failures, until, ..
        }) => {
            assert_eq!(failures, 1);
            until
        }
        other => panic!("expected BackingOff, got {other:?}"),
    };
    let wait = until
        .duration_since(std::time::SystemTime::now())
        .expect("in the future");
    assert!(
        wait > Duration::from_secs(500),
        "the first backoff (600 s): {wait:?}"
    );
    let status = second.status();
    assert_eq!(status[0].failures, 1, "the fleet's failures, in the status");
    assert_eq!(status[0].retry_at, Some(until));
    // The record is the fleet's: held back, the second instance added no failure to it.
    let record = storage
        .load("acme/attempts/blocked.test")
        .await
        .expect("load")
        .expect("kept");
    assert!(record.starts_with(b"1 "), "{record:?}");
}

/// An instance asked to renew a name that another instance of the fleet has just renewed
/// takes that certificate from the storage instead of ordering again (with the ACME server
/// stopped, an order would be `Unreachable`), and serves it.
#[tokio::test]
async fn a_renewal_takes_the_certificate_another_instance_just_stored() {
    let Some((tcp, mut pebble)) = pebble_for_a_new_server(&[]).await else {
        return;
    };
    let TwoInstances {
        first,
        second,
        second_store,
        ..
    } = &TwoInstances::start(tcp, &pebble, |config| config.name("a.test"));
    let issued = bounded(first.renew("a.test")).await.expect("a certificate");

    pebble.stop().await;
    let taken = bounded(second.renew("a.test")).await;
    let taken = taken.unwrap_or_else(|e| panic!("taken from the storage, not ordered: {e:?}"));
    assert_eq!(taken.not_after, issued.not_after);
    assert!(!second_store.is_empty(), "the second instance serves it");
    assert_eq!(second.status()[0].failures, 0);
}
