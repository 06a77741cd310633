//! Pebble, Let's Encrypt's ACME test server, as a real peer: `pebble-challtestsrv` as its DNS
//! server (every name resolves to 127.0.0.1), Pebble validating TLS-ALPN-01 on the port of
//! the server under test, its HTTPS certificate made with rcgen here (the package ships none).

use std::{net::SocketAddr, process::Stdio, time::Duration};

use rustls::{
    pki_types::{pem::PemObject, CertificateDer, ServerName},
    RootCertStore,
};
use tokio::{
    io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader},
    net::TcpStream,
    process::{Child, Command},
    sync::mpsc,
};

use super::{openssl::Files, Ca, Leaf};

/// Whether Pebble can be run; see [`super::tools::available`].
pub fn available() -> bool {
    super::tools::available(super::tools::Tool::Pebble)
}

/// A free port on 127.0.0.1 (bound, then released for the program that will bind it).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

/// A running program whose output lines are watched; killed on drop.
struct Watched {
    child: Child,
    lines: mpsc::UnboundedReceiver<String>,
    seen: String,
}

impl Watched {
    fn spawn(command: &mut Command) -> Self {
        let mut child = command
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("spawn");
        let (tx, lines) = mpsc::unbounded_channel();
        let stdout = child.stdout.take().expect("piped");
        let stderr = child.stderr.take().expect("piped");
        for mut reader in [
            BufReader::new(Box::new(stdout) as Box<dyn tokio::io::AsyncRead + Send + Unpin>),
            BufReader::new(Box::new(stderr) as Box<dyn tokio::io::AsyncRead + Send + Unpin>),
        ] {
            let tx = tx.clone();
            tokio::spawn(async move {
                let mut line = String::new();
                while reader.read_line(&mut line).await.is_ok_and(|n| n > 0) {
                    let _ = tx.send(std::mem::take(&mut line));
                }
            });
        }
        Self {
            child,
            lines,
            seen: String::new(),
        }
    }

    /// Waits (at most 20 s) for a line containing `needle`.
    async fn wait_for(&mut self, needle: &str) {
        let found = tokio::time::timeout(Duration::from_secs(20), async {
            while let Some(line) = self.lines.recv().await {
                self.seen.push_str(&line);
                if line.contains(needle) {
                    return true;
                }
            }
            false
        })
        .await;
        assert!(
            found == Ok(true),
            "no line with {needle:?}; the program printed:\n{}",
            self.seen
        );
    }
}

/// Waits until `addr` accepts connections: Pebble logs its addresses a moment before it binds
/// them, so the log line alone does not say it is ready. Polls the condition (a connect) every
/// 10 ms, for at most 10 s.
async fn accepting(addr: SocketAddr, pebble: &mut Watched) {
    for _ in 0..1000 {
        if TcpStream::connect(addr).await.is_ok() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("Pebble never accepted on {addr}:\n{}", pebble.seen);
}

/// A running Pebble and its DNS server, stopped on drop.
pub struct Pebble {
    _dns: Watched,
    pebble: Watched,
    _files: Files,
    /// The ACME directory URL.
    pub directory: String,
    /// Roots that trust Pebble's own HTTPS certificate (for the ACME client).
    pub http_roots: RootCertStore,
    /// The same root, PEM.
    pub http_root_pem: String,
    management: SocketAddr,
    /// pebble-challtestsrv's management port (plain HTTP): the DNS answers Pebble gets.
    dns_management: SocketAddr,
    ca: Ca,
}

impl Pebble {
    /// Starts Pebble validating TLS-ALPN-01 challenges on 127.0.0.1:`tls_port`, refusing to
    /// issue for the names in `blocked`.
    pub async fn start(tls_port: u16, blocked: &[&str]) -> Self {
        let ca = Ca::new("pebble's own https CA");
        let https = ca.issue(&["localhost", "127.0.0.1"], Leaf::Server);
        let files = Files::new();
        let cert = files.write("cert.pem", &https.chain_pem);
        let key = files.write("key.pem", &https.key_pem);
        let (listen, management) = (free_port(), free_port());
        let (dns, dns_management) = (free_port(), free_port());
        let blocked: Vec<String> = blocked.iter().map(|name| format!("{name:?}")).collect();
        let config = format!(
            r#"{{"pebble": {{
                "listenAddress": "127.0.0.1:{listen}",
                "managementListenAddress": "127.0.0.1:{management}",
                "certificate": {cert:?},
                "privateKey": {key:?},
                "httpPort": 1,
                "tlsPort": {tls_port},
                "ocspResponderURL": "",
                "externalAccountBindingRequired": false,
                "domainBlocklist": [{}]
            }}}}"#,
            blocked.join(", ")
        );
        let config = files.write("pebble.json", &config);

        let mut dns_server = Watched::spawn(Command::new("pebble-challtestsrv").args([
            "-dns01",
            &format!("127.0.0.1:{dns}"),
            "-http01",
            "",
            "-https01",
            "",
            "-tlsalpn01",
            "",
            "-defaultIPv4",
            "127.0.0.1",
            "-defaultIPv6",
            "",
            "-management",
            &format!("127.0.0.1:{dns_management}"),
        ]));
        dns_server.wait_for("Starting management server").await;
        let mut pebble = Watched::spawn(
            Command::new("pebble")
                .args(["-config", &config])
                .args(["-dnsserver", &format!("127.0.0.1:{dns}")])
                .arg("-strict=false")
                .env("PEBBLE_VA_NOSLEEP", "1"),
        );
        pebble.wait_for("ACME directory available at").await;
        let management = SocketAddr::from(([127, 0, 0, 1], management));
        for port in [listen, management.port()] {
            accepting(SocketAddr::from(([127, 0, 0, 1], port)), &mut pebble).await;
        }
        Self {
            _dns: dns_server,
            pebble,
            _files: files,
            directory: format!("https://127.0.0.1:{listen}/dir"),
            http_roots: ca.roots(),
            http_root_pem: ca.cert_pem(),
            management,
            dns_management: SocketAddr::from(([127, 0, 0, 1], dns_management)),
            ca,
        }
    }

    /// Makes Pebble's DNS answer `host` with `ip` (pebble-challtestsrv's `/add-a`), so that
    /// its validation of `host` connects there instead of 127.0.0.1.
    pub async fn resolve(&self, host: &str, ip: &str) {
        let body = format!(r#"{{"host":{host:?},"addresses":[{ip:?}]}}"#);
        let request = format!(
            "POST /add-a HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n\
             Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        );
        let mut tcp = TcpStream::connect(self.dns_management)
            .await
            .expect("challtestsrv management");
        tcp.write_all(request.as_bytes()).await.expect("request");
        let mut answer = Vec::new();
        let _ = super::bounded(tcp.read_to_end(&mut answer)).await;
        let answer = String::from_utf8_lossy(&answer);
        assert!(answer.starts_with("HTTP/1.1 200"), "add-a: {answer}");
    }

    /// Roots that trust the certificates Pebble issues.
    pub async fn issuing_roots(&self) -> RootCertStore {
        let pem = self.issuing_root_pem().await;
        let root = CertificateDer::from_pem_slice(pem.as_bytes()).expect("a certificate");
        let mut roots = RootCertStore::empty();
        roots.add(root).expect("the issuing root");
        roots
    }

    /// The root of the certificates Pebble issues, PEM, from its management port
    /// (`/roots/0`), as a client of the issued certificates would get it.
    pub async fn issuing_root_pem(&self) -> String {
        let tcp = TcpStream::connect(self.management).await.expect("connect");
        let client = std::sync::Arc::new(
            rustls::ClientConfig::builder_with_provider(super::provider())
                .with_safe_default_protocol_versions()
                .expect("versions")
                .with_root_certificates(self.ca.roots())
                .with_no_client_auth(),
        );
        let host = ServerName::IpAddress(self.management.ip().into());
        let mut tls = tokio_tls_handshake::Connector::from(client)
            .connect(host, tcp)
            .await
            .expect("pebble's management port");
        tls.write_all(b"GET /roots/0 HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
            .await
            .expect("request");
        let mut answer = Vec::new();
        let _ = super::bounded(tls.read_to_end(&mut answer)).await;
        let answer = String::from_utf8_lossy(&answer);
        let begin = answer
            .find("-----BEGIN CERTIFICATE-----")
            .expect("a PEM certificate in the answer");
        let end = answer[begin..]
            .find("-----END CERTIFICATE-----")
            .map(|at| begin + at + "-----END CERTIFICATE-----".len())
            .expect("the end of the certificate");
        format!("{}\n", &answer[begin..end])
    }

    /// Everything Pebble printed so far (for a failure's message).
    pub fn log(&mut self) -> String {
        while let Ok(line) = self.pebble.lines.try_recv() {
            self.pebble.seen.push_str(&line);
        }
        self.pebble.seen.clone()
    }

    /// Stops Pebble: from now on its directory is unreachable.
    pub async fn stop(&mut self) {
        let _ = self.pebble.child.kill().await;
    }
}
