//! What every section shares: one certificate, identical configurations on rustls 0.23 and
//! 0.24 (TLS 1.3 only, TLS13_AES_256_GCM_SHA384, aws-lc-rs' default key exchange with
//! X25519MLKEM768 first, no session tickets), the counting allocator, loopback pairs and the
//! process's CPU time.

use std::{borrow::Cow, io, sync::Arc, time::Duration};

use stats_alloc::{StatsAlloc, INSTRUMENTED_SYSTEM};
use tokio::net::{TcpListener, TcpStream};

/// Every heap allocation in the process is counted, so that a section can tell what a set of
/// connections holds.
#[global_allocator]
pub static GLOBAL: &StatsAlloc<std::alloc::System> = &INSTRUMENTED_SYSTEM;

/// The name the certificate is for.
pub const SERVER_NAME: &str = "localhost";

/// Client and server configurations on both rustls versions.
pub struct Setup {
    pub old_client: Arc<rustls::ClientConfig>,
    pub old_server: Arc<rustls::ServerConfig>,
    pub next_client: Arc<rustls_next::ClientConfig>,
    pub next_server: Arc<rustls_next::ServerConfig>,
}

type Error = Box<dyn std::error::Error>;

impl Setup {
    pub fn new() -> Result<Self, Error> {
        let made = rcgen::generate_simple_self_signed(vec![SERVER_NAME.to_string()])?;
        let cert = made.cert.der().clone();
        let key = made.signing_key.serialize_der();
        Ok(Self {
            old_client: Arc::new(old_client(&cert)?),
            old_server: Arc::new(old_server(&cert, &key)?),
            next_client: Arc::new(next_client(&cert)?),
            next_server: Arc::new(next_server(&cert, &key)?),
        })
    }
}

fn old_provider() -> Arc<rustls::crypto::CryptoProvider> {
    use rustls::crypto::aws_lc_rs;
    Arc::new(rustls::crypto::CryptoProvider {
        cipher_suites: vec![aws_lc_rs::cipher_suite::TLS13_AES_256_GCM_SHA384],
        ..aws_lc_rs::default_provider()
    })
}

fn old_client(
    cert: &rustls::pki_types::CertificateDer<'static>,
) -> Result<rustls::ClientConfig, Error> {
    let mut roots = rustls::RootCertStore::empty();
    roots.add(cert.clone())?;
    Ok(rustls::ClientConfig::builder_with_provider(old_provider())
        .with_protocol_versions(&[&rustls::version::TLS13])?
        .with_root_certificates(roots)
        .with_no_client_auth())
}

fn old_server(
    cert: &rustls::pki_types::CertificateDer<'static>,
    key: &[u8],
) -> Result<rustls::ServerConfig, Error> {
    let key = rustls::pki_types::PrivatePkcs8KeyDer::from(key.to_vec());
    let mut config = rustls::ServerConfig::builder_with_provider(old_provider())
        .with_protocol_versions(&[&rustls::version::TLS13])?
        .with_no_client_auth()
        .with_single_cert(vec![cert.clone()], key.into())?;
    config.send_tls13_tickets = 0;
    Ok(config)
}

fn next_provider() -> Arc<rustls_next::crypto::CryptoProvider> {
    use rustls_aws_lc_rs::cipher_suite::TLS13_AES_256_GCM_SHA384;
    Arc::new(rustls_next::crypto::CryptoProvider {
        tls12_cipher_suites: Cow::Borrowed(&[]),
        tls13_cipher_suites: Cow::Owned(vec![TLS13_AES_256_GCM_SHA384]),
        ..rustls_aws_lc_rs::DEFAULT_PROVIDER
    })
}

fn next_client(
    cert: &rustls::pki_types::CertificateDer<'static>,
) -> Result<rustls_next::ClientConfig, Error> {
    let mut roots = rustls_next::RootCertStore::empty();
    roots.add(cert.clone())?;
    Ok(rustls_next::ClientConfig::builder(next_provider())
        .with_root_certificates(roots)
        .with_no_client_auth()?)
}

fn next_server(
    cert: &rustls::pki_types::CertificateDer<'static>,
    key: &[u8],
) -> Result<rustls_next::ServerConfig, Error> {
    let key = rustls::pki_types::PrivatePkcs8KeyDer::from(key.to_vec());
    let identity = rustls_next::crypto::Identity::from_cert_chain(vec![cert.clone()])
        .map_err(|e| format!("{e:?}"))?;
    let mut config = rustls_next::ServerConfig::builder(next_provider())
        .with_no_client_auth()
        .with_single_cert(Arc::new(identity), key.into())?;
    config.send_tls13_tickets = rustls_next::server::Tls13Tickets { default: 0, max: 0 };
    Ok(config)
}

/// A connected client and server socket over loopback.
pub async fn tcp_pair(listener: &TcpListener) -> io::Result<(TcpStream, TcpStream)> {
    let addr = listener.local_addr()?;
    let (client, accepted) = tokio::join!(TcpStream::connect(addr), listener.accept());
    let (client, server) = (client?, accepted?.0);
    client.set_nodelay(true)?;
    server.set_nodelay(true)?;
    Ok((client, server))
}

/// CPU time this process has used so far, every thread counted (the kernel's scheduler
/// statistics: nanoseconds, not clock ticks).
pub fn cpu_time() -> io::Result<Duration> {
    let mut total = 0u64;
    for task in std::fs::read_dir("/proc/self/task")? {
        let stat = std::fs::read_to_string(task?.path().join("schedstat"));
        // A thread may end between listing and reading.
        let Ok(stat) = stat else { continue };
        let on_cpu = stat
            .split_whitespace()
            .next()
            .and_then(|ns| ns.parse::<u64>().ok());
        total += on_cpu.unwrap_or(0);
    }
    Ok(Duration::from_nanos(total))
}

/// The median of `values` (sorted in place).
pub fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    values.get(values.len() / 2).copied().unwrap_or(f64::NAN)
}
