//! Running the examples as a user would, and curl against them.

use std::{
    path::PathBuf,
    process::{Command, Stdio},
    sync::Mutex,
    time::Duration,
};

use tokio::io::AsyncBufReadExt;

/// An example binary, built now: cargo is asked every time (once per test process), which
/// costs nothing when the binary is up to date and never leaves an old one to be run. It is
/// built with this test binary's features and profile.
pub fn example(name: &str) -> PathBuf {
    static BUILT: Mutex<Vec<String>> = Mutex::new(Vec::new());
    let exe = std::env::current_exe().expect("test binary path");
    let dir = exe
        .parent()
        .and_then(|deps| deps.parent())
        .expect("target directory");
    // The demo is a crate of its own, built by the README's command (`--example demo` finds it
    // among the workspace's default members); the others are the library's examples.
    let is_demo = name == "demo";
    let path = dir.join("examples").join(name);
    let mut built = BUILT.lock().unwrap_or_else(|e| e.into_inner());
    if built.iter().any(|b| b == name) {
        return path;
    }
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut build = Command::new(cargo);
    build.args(["build", "--quiet", "--example", name]);
    if dir.file_name().is_some_and(|profile| profile == "release") {
        build.arg("--release");
    }
    let features: Vec<&str> = [
        ("acme", cfg!(feature = "acme")),
        ("hyper", cfg!(feature = "hyper")),
        ("metrics", cfg!(feature = "metrics")),
        ("webpki-roots", cfg!(feature = "webpki-roots")),
        ("native-roots", cfg!(feature = "native-roots")),
        ("watch", cfg!(feature = "watch")),
        ("axum", cfg!(feature = "axum")),
        ("proxy-protocol", cfg!(feature = "proxy-protocol")),
        ("tracing", cfg!(feature = "tracing")),
        ("redis", cfg!(feature = "redis")),
    ]
    .into_iter()
    .filter_map(|(name, on)| on.then_some(name))
    .collect();
    if !features.is_empty() && !is_demo {
        build.args(["--features", &features.join(",")]);
    }
    let status = build.status().expect("run cargo build");
    assert!(status.success(), "cargo build --example {name}");
    built.push(name.to_string());
    path
}

/// A running example; killed on drop.
pub struct Running {
    child: tokio::process::Child,
    lines: tokio::io::Lines<tokio::io::BufReader<tokio::process::ChildStdout>>,
}

impl Running {
    pub fn start(name: &str, args: &[&str]) -> Self {
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

    /// A server example on an ephemeral port of 127.0.0.1, writing its CA to `ca`, with
    /// `extra` arguments; and the address it listens on.
    pub async fn server(name: &str, ca: &str, extra: &[&str]) -> (Self, std::net::SocketAddr) {
        let mut args = vec!["--addr", "127.0.0.1:0", "--ca-out", ca];
        args.extend_from_slice(extra);
        let mut running = Self::start(name, &args);
        let addr = running.listening_addr().await;
        (running, addr)
    }

    /// The rest of the first printed line starting with `prefix`.
    pub async fn line_after(&mut self, prefix: &str) -> String {
        let line = self
            .line_where(prefix, |line| line.starts_with(prefix))
            .await;
        line[prefix.len()..].trim().to_string()
    }

    /// The first printed line containing `needle`.
    pub async fn line_containing(&mut self, needle: &str) -> String {
        self.line_where(needle, |line| line.contains(needle)).await
    }

    /// The address a server example printed as `listening on ADDR`.
    pub async fn listening_addr(&mut self) -> std::net::SocketAddr {
        self.line_after("listening on ")
            .await
            .parse()
            .expect("an address")
    }

    /// The first printed line for which `wanted` holds (`what` names it in a failure).
    async fn line_where(&mut self, what: &str, wanted: impl Fn(&str) -> bool) -> String {
        loop {
            let line = super::bounded(self.lines.next_line())
                .await
                .expect("example output")
                .unwrap_or_else(|| panic!("no line with {what:?}"));
            if wanted(&line) {
                return line;
            }
        }
    }

    /// Sends SIGINT, as Ctrl-C in a terminal does.
    pub async fn interrupt(&self) {
        self.signal("-INT").await;
    }

    /// Sends a signal (`-INT`, `-HUP`) with the `kill` program.
    pub async fn signal(&self, which: &str) {
        let pid = self.child.id().expect("still running").to_string();
        let kill = super::tools::Tool::Kill
            .program()
            .expect("the kill program");
        let status = tokio::process::Command::new(kill)
            .args([which, &pid])
            .status()
            .await
            .expect("run kill");
        assert!(status.success(), "kill {which} {pid}");
    }

    /// Waits (bounded) for the example to exit by itself.
    pub async fn exits(mut self) -> bool {
        match tokio::time::timeout(Duration::from_secs(10), self.child.wait()).await {
            Ok(Ok(status)) => status.success(),
            _ => false,
        }
    }
}

/// Runs curl against `https://localhost:PORT/` with `ca`; returns its stdout.
pub async fn curl(ca: &str, port: &str, flag: &str) -> String {
    curl_host(ca, "localhost", port, flag).await
}

/// Runs curl against `https://HOST:PORT/` (HOST resolving to 127.0.0.1) with `ca`; returns
/// its stdout.
pub async fn curl_host(ca: &str, host: &str, port: &str, flag: &str) -> String {
    let output = tokio::process::Command::new("curl")
        .args([
            "-sS",
            "--max-time",
            "20",
            "--cacert",
            ca,
            flag,
            "-w",
            "\n%{http_version}",
        ])
        .args(["--resolve", &format!("{host}:{port}:127.0.0.1")])
        .arg(format!("https://{host}:{port}/"))
        .kill_on_drop(true)
        .output();
    let output = super::bounded(output).await.expect("run curl");
    assert!(
        output.status.success(),
        "curl {flag}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// Whether curl can be run; see [`super::tools::available`].
pub fn curl_available() -> bool {
    super::tools::available(super::tools::Tool::Curl)
}

/// Drips an endless request line into `tls`, a byte every 100 ms for at most 10 s, while
/// reading what the server sends. `Some(())` once the server closes the connection (whatever
/// it said first, a 408 say); `None` if the drip ran out first.
pub async fn drip_until_closed<S: tokio::io::AsyncRead + tokio::io::AsyncWrite>(
    tls: S,
) -> Option<()> {
    let (mut reader, mut writer) = tokio::io::split(tls);
    let closed = async {
        let mut said = Vec::new();
        let _ = tokio::io::AsyncReadExt::read_to_end(&mut reader, &mut said).await;
    };
    let drip = async {
        let line = [b"GET /".as_slice(), &[b'a'; 100]].concat();
        for byte in line {
            if tokio::io::AsyncWriteExt::write_all(&mut writer, &[byte])
                .await
                .is_err()
            {
                // The server closed: the reader sees it too.
                std::future::pending::<()>().await;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
    };
    tokio::select! {
        () = closed => Some(()),
        () = drip => None,
    }
}

/// A tokio-rustls client trusting the PEM CA `pem`, offering `alpn`.
pub async fn connect_trusting(
    pem: &[u8],
    addr: std::net::SocketAddr,
    alpn: &[u8],
) -> tokio_rustls::client::TlsStream<tokio::net::TcpStream> {
    use rustls::pki_types::{pem::PemObject, CertificateDer};
    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(CertificateDer::from_pem_slice(pem).expect("CA PEM"))
        .expect("root");
    let mut config = rustls::ClientConfig::builder_with_provider(super::provider())
        .with_safe_default_protocol_versions()
        .expect("versions")
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = vec![alpn.to_vec()];
    let tcp = tokio::net::TcpStream::connect(addr).await.expect("connect");
    super::bounded(
        tokio_rustls::TlsConnector::from(std::sync::Arc::new(config))
            .connect(super::name("localhost"), tcp),
    )
    .await
    .expect("handshake")
}
