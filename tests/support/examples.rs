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
        ("axum", cfg!(feature = "axum")),
        ("proxy-protocol", cfg!(feature = "proxy-protocol")),
        ("tracing", cfg!(feature = "tracing")),
    ]
    .into_iter()
    .filter_map(|(name, on)| on.then_some(name))
    .collect();
    if !features.is_empty() {
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

    /// The rest of the first printed line starting with `prefix`.
    pub async fn line_after(&mut self, prefix: &str) -> String {
        loop {
            let line = super::bounded(self.lines.next_line())
                .await
                .expect("example output")
                .unwrap_or_else(|| panic!("no line starting with {prefix:?}"));
            if let Some(rest) = line.strip_prefix(prefix) {
                return rest.trim().to_string();
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
        .args(["--resolve", &format!("localhost:{port}:127.0.0.1")])
        .arg(format!("https://localhost:{port}/"))
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
