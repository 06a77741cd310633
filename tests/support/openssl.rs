//! The `openssl` command line program as a real peer: `s_server` and `s_client` on 127.0.0.1,
//! with certificates from rcgen written to a temporary directory.

use std::{
    io::{BufRead, BufReader},
    net::SocketAddr,
    path::PathBuf,
    process::{Child, Command, Stdio},
    sync::{
        atomic::{AtomicU32, Ordering},
        mpsc, Arc, Mutex,
    },
    time::Duration,
};

/// Whether the `openssl` program can be run; see [`super::tools::available`].
pub fn available() -> bool {
    super::tools::available(super::tools::Tool::Openssl)
}

/// A directory of PEM files, removed on drop.
pub struct Files {
    pub dir: PathBuf,
}

impl Files {
    pub fn new() -> Self {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let dir = std::env::temp_dir().join(format!(
            "tokio-tls-handshake-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&dir).expect("create temp dir");
        Self { dir }
    }

    pub fn write(&self, name: &str, contents: &str) -> String {
        let path = self.dir.join(name);
        std::fs::write(&path, contents).expect("write PEM file");
        path.to_string_lossy().into_owned()
    }

    pub fn path(&self, name: &str) -> String {
        self.dir.join(name).to_string_lossy().into_owned()
    }
}

impl Drop for Files {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A running `openssl s_server`, killed on drop.
pub struct SServer {
    child: Child,
    pub addr: SocketAddr,
    output: Arc<Mutex<String>>,
}

impl SServer {
    /// Starts `openssl s_server -accept 127.0.0.1:0 ARGS` and waits for its `ACCEPT` line
    /// (which carries the port) rather than probing the port.
    pub fn start(args: &[&str]) -> Self {
        let mut child = Command::new("openssl")
            .args(["s_server", "-accept", "127.0.0.1:0"])
            .args(args)
            .stdin(Stdio::piped()) // kept open: s_server stops when its stdin closes
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn openssl s_server");
        let output = Arc::new(Mutex::new(String::new()));
        let (port_tx, port_rx) = mpsc::channel();
        for stream in [
            child
                .stdout
                .take()
                .map(|s| Box::new(s) as Box<dyn std::io::Read + Send>),
            child
                .stderr
                .take()
                .map(|s| Box::new(s) as Box<dyn std::io::Read + Send>),
        ]
        .into_iter()
        .flatten()
        {
            let (output, port_tx) = (output.clone(), port_tx.clone());
            std::thread::spawn(move || {
                for line in BufReader::new(stream).lines().map_while(Result::ok) {
                    if let Some(port) = line
                        .strip_prefix("ACCEPT 127.0.0.1:")
                        .and_then(|p| p.trim().parse::<u16>().ok())
                    {
                        let _ = port_tx.send(port);
                    }
                    if let Ok(mut all) = output.lock() {
                        all.push_str(&line);
                        all.push('\n');
                    }
                }
            });
        }
        let Ok(port) = port_rx.recv_timeout(Duration::from_secs(10)) else {
            let printed = output.lock().map(|o| o.clone()).unwrap_or_default();
            let _ = child.kill();
            panic!("s_server printed no ACCEPT line within 10 s; it printed:\n{printed}");
        };
        Self {
            child,
            addr: SocketAddr::from(([127, 0, 0, 1], port)),
            output,
        }
    }

    /// Everything s_server printed so far.
    pub fn output(&self) -> String {
        self.output.lock().map(|o| o.clone()).unwrap_or_default()
    }
}

impl Drop for SServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// What an `openssl s_client` run printed.
pub struct ClientRun {
    pub stdout: String,
    pub stderr: String,
    pub success: bool,
}

/// Runs `openssl s_client -connect ADDR ARGS`, writing `input` to its stdin, and waits at most
/// 20 s for it to exit.
pub async fn s_client(addr: SocketAddr, args: &[&str], input: &[u8]) -> ClientRun {
    use tokio::io::AsyncWriteExt;
    let mut child = tokio::process::Command::new("openssl")
        .args(["s_client", "-connect", &addr.to_string()])
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("spawn openssl s_client");
    if let Some(mut stdin) = child.stdin.take() {
        let _ = stdin.write_all(input).await;
        // Dropping stdin is EOF; with -ign_eof s_client then waits for the server to close.
    }
    let output = tokio::time::timeout(Duration::from_secs(20), child.wait_with_output())
        .await
        .expect("s_client did not exit within 20 s")
        .expect("s_client output");
    ClientRun {
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        success: output.status.success(),
    }
}
