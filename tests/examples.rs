//! The server examples, run as a user would: `https_server` against curl (HTTP/1.1 and
//! HTTP/2 by ALPN) when curl is present, and `echo_server` against `openssl s_client` and a
//! tokio-rustls client.

mod support;

use std::{
    path::PathBuf,
    process::{Command, Stdio},
    sync::Arc,
    time::Duration,
};

use support::{name, openssl};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt};

/// An example binary: `cargo test` builds the examples next to the test binaries; a run of
/// this test file alone builds the one it needs.
fn example(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("test binary path");
    let dir = exe
        .parent()
        .and_then(|deps| deps.parent())
        .expect("target directory");
    let path = dir.join("examples").join(name);
    if !path.exists() {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let built = Command::new(cargo)
            .args(["build", "--quiet", "--example", name])
            .status()
            .expect("run cargo build");
        assert!(built.success(), "cargo build --example {name}");
    }
    path
}

/// A running example; killed on drop.
struct Running {
    child: tokio::process::Child,
    lines: tokio::io::Lines<tokio::io::BufReader<tokio::process::ChildStdout>>,
}

impl Running {
    fn start(name: &str, args: &[&str]) -> Self {
        let mut child = tokio::process::Command::new(example(name))
            .args(args)
            .stdout(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .unwrap_or_else(|e| panic!("run example {name} (built by cargo test): {e}"));
        let stdout = child.stdout.take().expect("piped stdout");
        let lines = tokio::io::BufReader::new(stdout).lines();
        Self { child, lines }
    }

    /// The rest of the first printed line starting with `prefix`.
    async fn line_after(&mut self, prefix: &str) -> String {
        loop {
            let line = support::bounded(self.lines.next_line())
                .await
                .expect("example output")
                .unwrap_or_else(|| panic!("no line starting with {prefix:?}"));
            if let Some(rest) = line.strip_prefix(prefix) {
                return rest.trim().to_string();
            }
        }
    }

    /// Waits (bounded) for the example to exit by itself.
    async fn exits(mut self) -> bool {
        match tokio::time::timeout(Duration::from_secs(10), self.child.wait()).await {
            Ok(Ok(status)) => status.success(),
            _ => false,
        }
    }
}

fn curl_available() -> bool {
    Command::new("curl")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
}

#[tokio::test]
async fn https_server_answers_curl_over_http1_and_http2() {
    if !curl_available() {
        eprintln!("skipping: curl was not found on PATH");
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
        let output = tokio::process::Command::new("curl")
            .args([
                "-sS",
                "--max-time",
                "20",
                "--cacert",
                &ca,
                flag,
                "-w",
                "\n%{http_version}",
            ])
            .args(["--resolve", &format!("localhost:{port}:127.0.0.1")])
            .arg(format!("https://localhost:{port}/"))
            .kill_on_drop(true)
            .output();
        let output = support::bounded(output).await.expect("run curl");
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert!(
            output.status.success(),
            "curl {flag}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
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

#[tokio::test]
async fn echo_server_works_with_s_client_and_a_rustls_client() {
    let mut server = Running::start(
        "echo_server",
        &["--addr", "127.0.0.1:0", "--max-connections", "2"],
    );
    let addr: std::net::SocketAddr = server
        .line_after("listening on ")
        .await
        .parse()
        .expect("address");
    let ca_path = server
        .line_after("generated a certificate for localhost; its CA is in ")
        .await;

    if openssl::available() {
        let run = openssl::s_client(
            addr,
            &["-CAfile", &ca_path, "-servername", "localhost", "-brief"],
            b"",
        )
        .await;
        assert!(run.stderr.contains("Verification: OK"), "{}", run.stderr);
    } else {
        // Count the connection anyway so the example exits.
        let _ = tokio::net::TcpStream::connect(addr).await;
    }

    let pem = std::fs::read(&ca_path).expect("CA file");
    let mut roots = rustls::RootCertStore::empty();
    use rustls::pki_types::{pem::PemObject, CertificateDer};
    roots
        .add(CertificateDer::from_pem_slice(&pem).expect("CA PEM"))
        .expect("root");
    let config = rustls::ClientConfig::builder_with_provider(support::provider())
        .with_safe_default_protocol_versions()
        .expect("versions")
        .with_root_certificates(roots)
        .with_no_client_auth();
    let tcp = tokio::net::TcpStream::connect(addr).await.expect("connect");
    let mut tls = support::bounded(
        tokio_rustls::TlsConnector::from(Arc::new(config)).connect(name("localhost"), tcp),
    )
    .await
    .expect("handshake with echo_server");
    tls.write_all(b"echo me").await.expect("write");
    let mut buf = [0u8; 7];
    support::bounded(tls.read_exact(&mut buf))
        .await
        .expect("echo");
    assert_eq!(&buf, b"echo me");
    tls.shutdown().await.expect("close_notify");
    drop(tls);
    assert!(
        server.exits().await,
        "echo_server exits after --max-connections"
    );
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
