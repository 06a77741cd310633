//! HAProxy as a real load balancer in front of our servers: TCP mode, each connection
//! forwarded with a PROXY protocol header.

use std::{net::SocketAddr, process::Command};

use super::openssl::Files;

use super::tools::Tool;

/// Whether the `haproxy` program can be run; see [`super::tools::available`].
pub fn available() -> bool {
    super::tools::available(Tool::Haproxy)
}

fn program() -> Option<&'static str> {
    Tool::Haproxy.program()
}

/// A running HAProxy; stopped on drop.
pub struct HaProxy {
    /// Where clients connect.
    pub addr: SocketAddr,
    pid: String,
    _files: Files,
}

impl HaProxy {
    /// HAProxy in TCP mode on 127.0.0.1, forwarding each connection round-robin to
    /// `backends` (`127.0.0.1:PORT`, or `unix@PATH` for a Unix socket), each `server` line
    /// ending with `options` (`send-proxy`, `send-proxy-v2`).
    ///
    /// HAProxy cannot bind port 0, so a free port is picked and, if another process takes it
    /// first, another one. `-D` returns once HAProxy has bound its port (or failed to), so no
    /// waiting is needed.
    pub async fn start(backends: &[impl std::fmt::Display], options: &str) -> Self {
        let files = Files::new();
        for _ in 0..10 {
            let port = std::net::TcpListener::bind("127.0.0.1:0")
                .and_then(|l| l.local_addr())
                .expect("a free port")
                .port();
            let servers: String = backends
                .iter()
                .enumerate()
                .map(|(i, b)| format!("    server s{i} {b} {options}\n"))
                .collect();
            let config = format!(
                "defaults\n    mode tcp\n    timeout connect 5s\n    timeout client 30s\n    \
                 timeout server 30s\nfrontend fe\n    bind 127.0.0.1:{port}\n    \
                 default_backend be\nbackend be\n    balance roundrobin\n{servers}"
            );
            let config_path = files.write("haproxy.cfg", &config);
            let pid_path = files.path("haproxy.pid");
            let started = tokio::process::Command::new(program().expect("haproxy"))
                .args(["-D", "-q", "-f", &config_path, "-p", &pid_path])
                .status()
                .await
                .expect("run haproxy");
            if started.success() {
                let pid = std::fs::read_to_string(&pid_path).expect("pid file");
                return Self {
                    addr: SocketAddr::from(([127, 0, 0, 1], port)),
                    pid: pid.trim().to_string(),
                    _files: files,
                };
            }
        }
        panic!("haproxy did not start in 10 attempts");
    }
}

impl Drop for HaProxy {
    fn drop(&mut self) {
        let _ = Command::new("kill").arg(&self.pid).status();
    }
}
