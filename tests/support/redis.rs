//! A real `redis-server` (Debian's), started by the test on a free loopback port with a
//! password and no persistence, stopped on drop; stopped and started again on the same port
//! for the tests of a store that goes away.

use std::process::Stdio;

use tokio::{
    io::{AsyncBufReadExt, BufReader},
    process::{Child, Command},
};

use super::tools::{self, Tool};

/// Whether `redis-server` can be run; see [`tools::available`].
pub fn available() -> bool {
    tools::available(Tool::RedisServer)
}

/// A running Redis server on 127.0.0.1.
pub struct Redis {
    pub port: u16,
    pub password: String,
    child: Option<Child>,
    /// With TLS: its certificate, key and CA files (and the CA's PEM, for clients).
    tls: Option<Tls>,
}

struct Tls {
    files: super::openssl::Files,
    ca_pem: String,
}

impl Redis {
    /// A server on a free port, requiring `password`.
    pub async fn start() -> Self {
        let mut redis = Self::start_with(None).await;
        redis.run().await;
        redis
    }

    /// A server that speaks TLS only, with a certificate for 127.0.0.1 from a CA of its own.
    pub async fn start_tls() -> Self {
        let ca = super::Ca::new("redis test CA");
        let identity = ca.issue(&["localhost", "127.0.0.1"], super::Leaf::Server);
        let files = super::openssl::Files::new();
        files.write("redis.crt", &identity.chain_pem);
        files.write("redis.key", &identity.key_pem);
        let ca_pem = ca.cert_pem();
        files.write("ca.crt", &ca_pem);
        let mut redis = Self::start_with(Some(Tls { files, ca_pem })).await;
        redis.run().await;
        redis
    }

    async fn start_with(tls: Option<Tls>) -> Self {
        let port = {
            let probe = std::net::TcpListener::bind("127.0.0.1:0").expect("a free port");
            probe.local_addr().expect("its address").port()
        };
        Self {
            port,
            password: format!("pw-{port}-{}", std::process::id()),
            child: None,
            tls,
        }
    }

    /// `rediss://:PASSWORD@127.0.0.1:PORT/`, for a TLS server.
    pub fn tls_url(&self) -> String {
        format!("rediss://:{}@127.0.0.1:{}/", self.password, self.port)
    }

    /// The PEM of the CA a TLS server's certificate chains to.
    pub fn ca_pem(&self) -> &str {
        &self.tls.as_ref().expect("a TLS server").ca_pem
    }

    /// `redis://:PASSWORD@127.0.0.1:PORT/`.
    pub fn url(&self) -> String {
        format!("redis://:{}@127.0.0.1:{}/", self.password, self.port)
    }

    /// `redis://USER:PASSWORD@127.0.0.1:PORT/`.
    pub fn url_as(&self, user: &str, password: &str) -> String {
        format!("redis://{user}:{password}@127.0.0.1:{}/", self.port)
    }

    /// Starts the server and returns once it logs that it accepts connections.
    async fn run(&mut self) {
        let program = Tool::RedisServer.program().expect("redis-server");
        let port = self.port.to_string();
        let mut command = Command::new(program);
        match &self.tls {
            None => command.args(["--port", &port]),
            Some(tls) => command
                .args(["--port", "0", "--tls-port", &port])
                .args(["--tls-cert-file", &tls.files.path("redis.crt")])
                .args(["--tls-key-file", &tls.files.path("redis.key")])
                .args(["--tls-ca-cert-file", &tls.files.path("ca.crt")])
                .args(["--tls-auth-clients", "no"]),
        };
        let mut child = command
            .args(["--bind", "127.0.0.1"])
            .args(["--requirepass", &self.password])
            .args(["--save", "", "--appendonly", "no", "--logfile", ""])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("start redis-server");
        let stdout = child.stdout.take().expect("its output");
        let mut lines = BufReader::new(stdout).lines();
        super::bounded(async {
            while let Some(line) = lines.next_line().await.expect("read redis-server's log") {
                if line.contains("Ready to accept connections") {
                    return;
                }
            }
            panic!("redis-server exited before it was ready");
        })
        .await;
        // The rest of its log is read and dropped, so that it never blocks on a full pipe.
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        self.child = Some(child);
    }

    /// Stops the server (SIGKILL: as a crash, nothing saved), and waits until it is gone.
    pub async fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            child.kill().await.expect("stop redis-server");
        }
    }

    /// Starts it again on the same port, empty.
    pub async fn restart(&mut self) {
        self.stop().await;
        self.run().await;
    }

    /// A command as the default user, for the test's own set-up (ACL users, inspection).
    pub async fn admin(&self, args: &[&str]) -> redis::Value {
        let client = redis::Client::open(self.url()).expect("the url");
        let mut conn = super::bounded(client.get_multiplexed_async_connection())
            .await
            .expect("connect as admin");
        let mut cmd = redis::cmd(args[0]);
        for arg in &args[1..] {
            cmd.arg(*arg);
        }
        super::bounded(cmd.query_async(&mut conn))
            .await
            .expect("an admin command")
    }
}
