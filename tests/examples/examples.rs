//! The server examples, run as a user would: `https_server` against curl (HTTP/1.1 and
//! HTTP/2 by ALPN) when curl is present, and `echo_server` against `openssl s_client` and a
//! tokio-rustls client.

use crate::support;

use support::{
    examples::{connect_trusting, curl, curl_available, example, Running},
    name, openssl,
    tools::{self, Tool},
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

#[tokio::test]
async fn https_server_answers_curl_over_http1_and_http2() {
    if !curl_available() {
        return;
    }
    let files = openssl::Files::new();
    let ca = files.path("ca.pem");
    let mut server = Running::start(
        "https_server",
        &[
            "--addr",
            "127.0.0.1:0",
            "--ca-out",
            &ca,
            "--max-connections",
            "2",
        ],
    );
    let addr = server.line_after("listening on ").await;
    let port = addr.rsplit(':').next().expect("port").to_string();
    for (flag, version, expected) in [
        ("--http1.1", "1.1", "HTTP/1.1"),
        ("--http2", "2", "HTTP/2.0"),
    ] {
        let stdout = curl(&ca, &port, flag).await;
        assert!(
            stdout.contains(&format!("hello over {expected}")),
            "{stdout}"
        );
        assert!(stdout.trim_end().ends_with(version), "{stdout}");
    }
    assert!(
        server.exits().await,
        "https_server exits after --max-connections"
    );
}

/// Ctrl-C drains: the server stops accepting (a new connection is refused), an idle HTTP
/// connection is closed, the drain report is printed and the process exits cleanly.
#[tokio::test]
async fn https_server_drains_on_ctrl_c() {
    if !curl_available() || !tools::available(Tool::Kill) {
        return;
    }
    let files = openssl::Files::new();
    let ca = files.path("ca.pem");
    let mut server = Running::start("https_server", &["--addr", "127.0.0.1:0", "--ca-out", &ca]);
    let addr = server.listening_addr().await;
    let port = addr.port().to_string();
    let stdout = curl(&ca, &port, "--http1.1").await;
    assert!(stdout.contains("hello over HTTP/1.1"), "{stdout}");

    // An idle keep-alive connection: established, no request yet.
    let pem = std::fs::read(&ca).expect("CA file");
    let mut idle = connect_trusting(&pem, addr, b"http/1.1").await;

    server.interrupt().await;
    assert!(server.line_after("draining: ").await.ends_with("in flight"));
    let report = server.line_after("listener drained: ").await;
    assert!(report.ends_with("0 cut off"), "{report}");
    assert_eq!(server.line_after("all connections").await, "closed");
    let mut rest = Vec::new();
    let closed = support::bounded(idle.read_to_end(&mut rest)).await;
    assert!(
        closed.is_ok() || closed.is_err_and(|e| e.kind() == std::io::ErrorKind::UnexpectedEof),
        "the idle connection is closed by the server"
    );
    assert!(
        tokio::net::TcpStream::connect(addr).await.is_err(),
        "a drained server refuses new connections"
    );
    assert!(server.exits().await, "https_server exits 0 after the drain");
}

/// A client that completes its TLS handshake quickly and then drips its request line, a byte
/// every 100 ms, is closed by hyper's header-read timeout (500 ms here), not served for ever:
/// the example runs hyper with a timer.
#[tokio::test]
async fn https_server_closes_a_client_that_drips_its_request_line() {
    let files = openssl::Files::new();
    let ca = files.path("ca.pem");
    let (_server, addr) =
        Running::server("https_server", &ca, &["--header-timeout-ms", "500"]).await;
    let pem = std::fs::read(&ca).expect("CA file");
    let tls = connect_trusting(&pem, addr, b"http/1.1").await;
    let started = std::time::Instant::now();
    assert_eq!(
        support::examples::drip_until_closed(tls).await,
        Some(()),
        "closed while dripping"
    );
    let took = started.elapsed();
    assert!(
        took >= std::time::Duration::from_millis(400) && took < std::time::Duration::from_secs(5),
        "closed after {took:?}"
    );
}

/// One echo through a rustls client trusting the CA `pem`, closed with close_notify.
async fn echo_once(pem: &[u8], addr: std::net::SocketAddr) {
    let mut tls = connect_trusting(pem, addr, b"echo").await;
    tls.write_all(b"echo me").await.expect("write");
    let mut buf = [0u8; 7];
    support::bounded(tls.read_exact(&mut buf))
        .await
        .expect("echo");
    assert_eq!(&buf, b"echo me");
    tls.shutdown().await.expect("close_notify");
}

#[tokio::test]
async fn echo_server_works_with_s_client_and_a_rustls_client() {
    let files = openssl::Files::new();
    let ca_out = files.path("ca.pem");
    let mut server = Running::start(
        "echo_server",
        &[
            "--addr",
            "127.0.0.1:0",
            "--max-connections",
            "2",
            "--ca-out",
            &ca_out,
        ],
    );
    let addr = server.listening_addr().await;
    let ca_path = server
        .line_after("generated a certificate for localhost; its CA is in ")
        .await;

    let pem = std::fs::read(&ca_path).expect("CA file");
    // The first of the two connections: openssl's s_client, or where it is missing (and the
    // skip was said), a second rustls client, so the example still reaches its limit.
    if openssl::available() {
        let run = openssl::s_client(
            addr,
            &["-CAfile", &ca_path, "-servername", "localhost", "-brief"],
            b"",
        )
        .await;
        assert!(run.stderr.contains("Verification: OK"), "{}", run.stderr);
    } else {
        echo_once(&pem, addr).await;
    }
    echo_once(&pem, addr).await;
    assert!(
        server.exits().await,
        "echo_server exits after --max-connections"
    );
}

/// The sync-step and resumption examples, run as a user would: each exits 0 and prints what
/// it is there to show.
#[tokio::test]
async fn the_step_and_resumption_examples_run_and_show_what_they_say() {
    let cases: [(&str, &[&str]); 4] = [
        (
            "blocking",
            &[
                "client: do_handshake returned Done",
                "server: do_handshake returned Done",
                "client: echoed \"hello\"",
            ],
        ),
        (
            "nonblocking",
            // Which calls return `Want*` depends on how fast the server thread answers.
            &[": Done\n", "server: Done", "negotiated Some(TLSv1_3)"],
        ),
        (
            "memory_pair",
            &[" client WantRead", " server Done", "both done: client"],
        ),
        (
            "resumption",
            &[
                "connection 1: client ",
                " full ",
                "connection 2: client ",
                " resumed ",
            ],
        ),
    ];
    for (name, expected) in cases {
        let output = support::bounded(tokio::process::Command::new(example(name)).output())
            .await
            .expect("run the example");
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert!(output.status.success(), "{name}: {output:?}");
        for line in expected {
            assert!(stdout.contains(line), "{name}: no {line:?} in:\n{stdout}");
        }
    }
}

/// The echo server's bounds after the handshake: with one connection served at a time and a
/// 500 ms idle timeout, a silent client is closed for idleness (close_notify, then EOF), and
/// a second client is served (its echo comes back) only once that slot is free: the server
/// takes it (prints its handshake) only after it printed the first one's idle close.
#[tokio::test]
async fn echo_server_bounds_open_connections_and_closes_idle_ones() {
    let files = openssl::Files::new();
    let ca = files.path("ca.pem");
    let (mut server, addr) = Running::server(
        "echo_server",
        &ca,
        &["--max-open", "1", "--idle-timeout-ms", "500"],
    )
    .await;
    let ca = server
        .line_after("generated a certificate for localhost; its CA is in ")
        .await;
    let pem = std::fs::read(&ca).expect("CA file");
    let mut silent = connect_trusting(&pem, addr, b"echo").await;
    let silent_addr = silent.get_ref().0.local_addr().expect("address");
    let closed_for_idleness = tokio::spawn(async move {
        let mut rest = Vec::new();
        silent.read_to_end(&mut rest).await.map(|_| rest.len())
    });
    let mut second = connect_trusting(&pem, addr, b"echo").await;
    let second_addr = second.get_ref().0.local_addr().expect("address");
    let echoed = tokio::spawn(async move {
        second.write_all(b"ping").await.expect("write");
        let mut echo = [0u8; 4];
        second.read_exact(&mut echo).await.expect("the echo");
        echo
    });
    let read = support::bounded(closed_for_idleness).await.expect("reader");
    assert_eq!(read.expect("a clean close"), 0, "nothing but close_notify");
    assert_eq!(&support::bounded(echoed).await.expect("echo"), b"ping");
    // The server's own order of events: the second connection is taken after the first's
    // idle close.
    let mut idle_closed = false;
    loop {
        let line = server.line_containing("127.0.0.1:").await;
        if line.starts_with(&format!("{silent_addr}: idle, closed")) {
            idle_closed = true;
        } else if line.starts_with(&format!("{second_addr}: ")) {
            assert!(
                idle_closed,
                "the second client was taken only once the slot was free: {line}"
            );
            break;
        }
    }
}

#[cfg(feature = "proxy-protocol")]
mod fleet_init {
    use super::*;

    /// `fleet --init` creates the secrets readable by their owner only, and does not
    /// overwrite an existing set unless `--force` is given.
    #[tokio::test]
    async fn init_makes_private_secrets_and_never_overwrites_without_force() {
        let files = openssl::Files::new();
        let dir = files.dir.join("demo");
        let dir = dir.to_string_lossy().into_owned();
        let init = |args: &[&str]| {
            let output = std::process::Command::new(example("fleet"))
                .args(args)
                .output()
                .expect("run fleet --init");
            (
                output.status.success(),
                String::from_utf8_lossy(&output.stderr).into_owned(),
            )
        };
        assert!(init(&["--init", &dir]).0, "a first --init");
        #[cfg(unix)]
        for secret in ["key.pem", "ticket.keys"] {
            use std::os::unix::fs::PermissionsExt;
            let meta = std::fs::metadata(format!("{dir}/{secret}")).expect("written");
            assert_eq!(meta.permissions().mode() & 0o777, 0o600, "{secret}");
        }
        let key = std::fs::read(format!("{dir}/key.pem")).expect("key");
        let (ok, stderr) = init(&["--init", &dir]);
        assert!(!ok, "a second --init refuses");
        assert!(stderr.contains("exists; not overwriting"), "{stderr}");
        assert_eq!(
            std::fs::read(format!("{dir}/key.pem")).expect("key"),
            key,
            "the key is untouched"
        );
        assert!(init(&["--init", &dir, "--force"]).0, "--force replaces");
        assert_ne!(std::fs::read(format!("{dir}/key.pem")).expect("key"), key);
    }
}

#[tokio::test]
async fn demo_prints_reports_and_logs_keys_only_when_asked() {
    let files = openssl::Files::new();
    let keys = files.path("keys.log");
    let output = tokio::process::Command::new(example("demo"))
        .env("SSLKEYLOGFILE", &keys)
        .kill_on_drop(true)
        .output();
    let output = support::bounded(output).await.expect("run demo");
    assert!(output.status.success(), "demo exits 0");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(stdout.contains("client TLSv1_3"), "{stdout}");
    assert!(stdout.contains("echoed: \"hello over TLS\""), "{stdout}");
    let logged = std::fs::read_to_string(&keys).expect("key log written");
    assert!(logged.contains("CLIENT_TRAFFIC_SECRET_0"), "{logged}");

    let output = tokio::process::Command::new(example("demo"))
        .env_remove("SSLKEYLOGFILE")
        .current_dir(&files.dir)
        .kill_on_drop(true)
        .output();
    let output = support::bounded(output).await.expect("run demo");
    assert!(output.status.success());
    let entries = std::fs::read_dir(&files.dir).expect("dir").count();
    assert_eq!(
        entries, 1,
        "nothing but the first run's key log was written"
    );
}

/// Two echo servers side by side write their CAs to files of their own (a fixed path let the
/// second overwrite the first's).
#[tokio::test]
async fn echo_servers_side_by_side_keep_their_own_ca() {
    let mut first = Running::start("echo_server", &["--addr", "127.0.0.1:0"]);
    let mut second = Running::start("echo_server", &["--addr", "127.0.0.1:0"]);
    let prefix = "generated a certificate for localhost; its CA is in ";
    let (first_ca, second_ca) = (
        first.line_after(prefix).await,
        second.line_after(prefix).await,
    );
    assert_ne!(first_ca, second_ca);
    let (a, b) = (
        std::fs::read(&first_ca).expect("first CA"),
        std::fs::read(&second_ca).expect("second CA"),
    );
    assert_ne!(a, b, "each file holds its own server's CA");
    let _ = std::fs::remove_file(first_ca);
    let _ = std::fs::remove_file(second_ca);
}

/// echo_server serving `--cert`/`--key` files reloads them on SIGHUP: a new client sees the
/// new certificate while a connection made before goes on; a corrupt file keeps the
/// certificate in use.
#[tokio::test]
async fn echo_server_reloads_its_certificate_on_sighup() {
    if !tools::available(Tool::Kill) {
        return;
    }
    let world = support::World::new();
    let files = openssl::Files::new();
    let (cert, key) = (files.path("cert.pem"), files.path("key.pem"));
    let write = |identity: &support::Identity| {
        let chain = format!("{}{}", identity.cert_pem, world.ca.cert_pem());
        std::fs::write(&cert, chain).expect("cert");
        std::fs::write(&key, &identity.key_pem).expect("key");
    };
    let a = world.ca.issue(&["localhost"], support::Leaf::Server);
    let b = world.ca.issue(&["localhost"], support::Leaf::Server);
    write(&a);
    let mut server = Running::start(
        "echo_server",
        &["--addr", "127.0.0.1:0", "--cert", &cert, "--key", &key],
    );
    let addr = server.listening_addr().await;
    let connect = || async {
        let tcp = tokio::net::TcpStream::connect(addr).await.expect("connect");
        support::bounded(
            tokio_rustls::TlsConnector::from(world.client().build())
                .connect(name("localhost"), tcp),
        )
        .await
        .expect("handshake")
    };
    let leaf = |tls: &tokio_rustls::client::TlsStream<tokio::net::TcpStream>| {
        tls.get_ref().1.peer_certificates().expect("certs")[0].to_vec()
    };
    let mut old = connect().await;
    assert_eq!(leaf(&old), a.chain[0].to_vec());

    write(&b);
    server.signal("-HUP").await;
    assert!(server
        .line_after("reloaded the certificate")
        .await
        .contains("cert.pem"));
    let new = connect().await;
    assert_eq!(leaf(&new), b.chain[0].to_vec(), "a new client sees B");
    old.write_all(b"still").await.expect("write");
    let mut buf = [0u8; 5];
    support::bounded(old.read_exact(&mut buf))
        .await
        .expect("the old connection echoes");
    assert_eq!(&buf, b"still");

    std::fs::write(&cert, "corrupt").expect("corrupt");
    server.signal("-HUP").await;
    let failed = server.line_after("reload failed").await;
    assert!(failed.contains("no certificate"), "{failed}");
    assert_eq!(
        leaf(&connect().await),
        b.chain[0].to_vec(),
        "B still serves"
    );
}

/// acme_server, as the README runs it against Pebble: it obtains a certificate for `a.test`
/// through TLS-ALPN-01 on its own port and curl fetches a page with it; a certificate file
/// added to `--certs` is served after SIGHUP.
#[cfg(feature = "acme")]
#[tokio::test]
async fn acme_server_gets_its_certificate_from_pebble_and_reloads_its_files_on_sighup() {
    use support::{examples::curl_host, pebble};

    if !pebble::available() || !curl_available() || !tools::available(Tool::Kill) {
        return;
    }
    let port = pebble::free_port();
    let pebble = pebble::Pebble::start(port, &[]).await;
    let files = openssl::Files::new();
    let http_root = files.write("pebble-https-root.pem", &pebble.http_root_pem);
    let certs = files.dir.join("certs");
    std::fs::create_dir(&certs).expect("certs dir");
    let cache = files.path("cache");
    let addr = format!("127.0.0.1:{port}");
    let mut server = Running::start(
        "acme_server",
        &[
            "--addr",
            &addr,
            "--directory",
            &pebble.directory,
            "--cache",
            &cache,
            "--name",
            "a.test",
            "--http-root",
            &http_root,
            "--certs",
            &certs.to_string_lossy(),
        ],
    );
    server.listening_addr().await;
    let issued = server.line_containing("certificate for a.test").await;
    assert!(issued.contains("valid until"), "{issued}");
    let root = files.write("pebble-issuing-root.pem", &pebble.issuing_root_pem().await);
    let page = curl_host(&root, "a.test", &port.to_string(), "--http2").await;
    assert!(page.starts_with("hello a.test:"), "{page}");
    assert!(page.trim_end().ends_with('2'), "HTTP/2 by ALPN: {page}");

    // A certificate file for b.test, signed by a CA of our own, served after SIGHUP.
    let ca = support::Ca::new("files CA");
    let b = ca.issue(&["b.test"], support::Leaf::Server);
    std::fs::write(certs.join("b.pem"), format!("{}{}", b.chain_pem, b.key_pem)).expect("write");
    server.signal("-HUP").await;
    let reloaded = server.line_after("reloaded:").await;
    assert_eq!(reloaded, "2 certificates");
    let ca_file = files.write("files-ca.pem", &ca.cert_pem());
    let page = curl_host(&ca_file, "b.test", &port.to_string(), "--http1.1").await;
    assert!(page.starts_with("hello b.test:"), "{page}");
}

/// https_client, as a user runs it, against https_server: the status, HTTP/2 by ALPN, and the
/// handshake's report; a server it does not trust is a typed handshake failure.
#[cfg(feature = "hyper")]
#[tokio::test]
async fn https_client_fetches_from_https_server_and_prints_the_report() {
    let files = openssl::Files::new();
    let ca = files.path("ca.pem");
    let (_server, addr) = Running::server("https_server", &ca, &[]).await;
    let url = format!("https://localhost:{}/", addr.port());
    let mut client = Running::start("https_client", &["--ca", &ca, "--http2", &url]);
    let status = client.line_containing("200").await;
    assert!(status.contains("HTTP/2"), "{status}");
    let tls = client.line_after("tls: ").await;
    assert!(tls.starts_with("client TLSv1_3"), "{tls}");
    assert!(tls.contains("alpn=h2"), "{tls}");
    assert!(client.exits().await, "exits 0");

    let stranger = support::Ca::new("not the server's CA");
    let other = files.write("other.pem", &stranger.cert_pem());
    let mut client = Running::start("https_client", &["--ca", &other, &url]);
    let failed = client.line_after("handshake failed: ").await;
    assert!(failed.contains("UnknownIssuer"), "{failed}");
    assert!(!client.exits().await, "exits 1");
}

/// metrics_server, scraped with curl: a handshake served over HTTPS and a plaintext client
/// appear in Prometheus' text with the documented names and labels.
#[cfg(feature = "metrics")]
#[tokio::test]
async fn metrics_server_is_scraped_with_curl() {
    if !curl_available() {
        return;
    }
    let files = openssl::Files::new();
    let ca = files.path("ca.pem");
    let mut server = Running::start(
        "metrics_server",
        &[
            "--addr",
            "127.0.0.1:0",
            "--metrics-addr",
            "127.0.0.1:0",
            "--ca-out",
            &ca,
        ],
    );
    let metrics_url = server.line_after("metrics on ").await;
    let addr = server.listening_addr().await;
    let page = curl(&ca, &addr.port().to_string(), "--http1.1").await;
    assert!(page.starts_with("hello"), "{page}");
    let mut plaintext = tokio::net::TcpStream::connect(addr).await.expect("connect");
    plaintext
        .write_all(b"GET / HTTP/1.1\r\n\r\n")
        .await
        .expect("write");
    assert!(server
        .line_containing("did not speak tls")
        .await
        .contains("127.0.0.1"));
    let output = tokio::process::Command::new("curl")
        .args(["-sS", "--max-time", "20", &metrics_url])
        .output();
    let output = support::bounded(output).await.expect("run curl");
    let scraped = String::from_utf8_lossy(&output.stdout);
    for line in [
        r#"tls_handshakes_total{role="server",outcome="done",version="tls1.3",alpn="http/1.1"} 1"#,
        r#"tls_handshakes_total{role="server",outcome="not_tls",version="none",alpn="none"} 1"#,
        // Buckets, which a fleet's instances add up (a summary's quantiles cannot be).
        "# TYPE tls_handshake_duration_seconds histogram",
        r#"tls_handshake_duration_seconds_bucket{role="server",outcome="done",le="30"} 1"#,
        "tls_listener_handshakes_in_flight 0",
    ] {
        assert!(scraped.contains(line), "{line} in:\n{scraped}");
    }
}
