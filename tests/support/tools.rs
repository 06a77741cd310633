//! The real programs the tests use as peers and helpers, and one rule for all of them: under
//! CI (`CI` set; `.ci/run` sets it and installs every tool, failing if it cannot) a missing
//! tool fails the test; elsewhere the test skips and says so where it is seen.

use std::{io::Write, process::Command};

/// A program a test runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tool {
    /// OpenSSL's command line program: `s_client` and `s_server` as real TLS peers.
    Openssl,
    /// curl, as an HTTP client of the HTTPS examples.
    Curl,
    /// HAProxy, a real load balancer sending the PROXY protocol.
    Haproxy,
    /// The `kill` program (procps), to signal examples as a user would.
    Kill,
    /// Pebble, Let's Encrypt's ACME test server (with `pebble-challtestsrv` as its DNS).
    Pebble,
    /// GnuTLS' `gnutls-cli`, a TLS peer on another library than OpenSSL and rustls.
    Gnutls,
    /// `redis-server`, the fleet's shared storage.
    RedisServer,
}

impl Tool {
    fn name(self) -> &'static str {
        match self {
            Tool::Openssl => "openssl",
            Tool::Curl => "curl",
            Tool::Haproxy => "haproxy",
            Tool::Kill => "kill",
            Tool::Pebble => "pebble",
            Tool::Gnutls => "gnutls-cli",
            Tool::RedisServer => "redis-server",
        }
    }

    /// Where to look: PATH, then where Debian puts it (/usr/sbin is not on every PATH).
    fn candidates(self) -> &'static [&'static str] {
        match self {
            Tool::Openssl => &["openssl"],
            Tool::Curl => &["curl"],
            Tool::Haproxy => &["haproxy", "/usr/sbin/haproxy"],
            Tool::Kill => &["kill", "/usr/bin/kill", "/bin/kill"],
            Tool::Pebble => &["pebble"],
            Tool::Gnutls => &["gnutls-cli"],
            Tool::RedisServer => &["redis-server", "/usr/bin/redis-server"],
        }
    }

    /// The argument that makes it print its version and exit 0.
    fn version_arg(self) -> &'static str {
        match self {
            Tool::Openssl => "version",
            Tool::Haproxy => "-v",
            Tool::Pebble => "-h",
            Tool::Curl | Tool::Kill | Tool::Gnutls | Tool::RedisServer => "--version",
        }
    }

    /// The program to run, if it can be run.
    pub fn program(self) -> Option<&'static str> {
        self.candidates().iter().copied().find(|program| {
            Command::new(program)
                .arg(self.version_arg())
                .output()
                .is_ok_and(|o| o.status.success())
        })
    }
}

/// Whether `tool` can be run. Under CI its absence fails the test. Elsewhere the caller skips,
/// and the line saying so is written to the process's stderr directly, past the test
/// harness's capture, so that a skip never shows as a silent `ok`.
pub fn available(tool: Tool) -> bool {
    if tool.program().is_some() {
        return true;
    }
    assert!(
        std::env::var_os("CI").is_none(),
        "the {} program is required under CI (.ci/run installs it)",
        tool.name()
    );
    let test = std::thread::current()
        .name()
        .unwrap_or("a test")
        .to_string();
    let _ = writeln!(
        std::io::stderr(),
        "SKIPPED {test}: the {} program was not found (install it, or run .ci/run)",
        tool.name()
    );
    false
}
