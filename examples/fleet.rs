//! One server of a fleet behind a load balancer: it reads the PROXY protocol header that
//! HAProxy (or an AWS NLB, Envoy, ...) puts in front of each connection, so it logs and serves
//! the real client's address, and it shares session-ticket keys with the other instances, so a
//! client resumes on whichever instance it reaches.
//!
//! - `cargo run --example fleet --features proxy-protocol -- --init demo` writes `demo/`: a CA
//!   and a certificate for `localhost` (`ca.pem`, `cert.pem`, `key.pem`), a fresh ticket key
//!   file (`ticket.keys`), and `haproxy.cfg` for two instances behind 127.0.0.1:8443. The
//!   secrets (`key.pem`, `ticket.keys`) are created readable by their owner only (mode 0600
//!   from the start, never wider for a moment), and no existing file is overwritten unless
//!   `--force` is given.
//! - `... -- --addr 127.0.0.1:9001 --cert demo/cert.pem --key demo/key.pem --ticket-keys
//!   demo/ticket.keys --proxy-protocol required` serves echo; a second instance on :9002.
//!   Only the balancers `--proxy-from` lists (CIDR ranges or addresses, comma-separated;
//!   127.0.0.1 by default) may send a header: anyone else could claim any client address.
//! - `... -- --redis redis://:PASSWORD@127.0.0.1:6379/` (built with `--features
//!   proxy-protocol,redis`) instead of `--ticket-keys`: the ticket keys live in Redis, shared
//!   by every instance given the same server, and the fleet rotates them itself every
//!   `--rotation-secs N` (12 hours by default). An instance that starts while Redis is down
//!   says so, serves without tickets, and picks the keys up once Redis is back.
//! - `... -- --acme URL --name example.com --cache DIR --redis URL` (features
//!   `proxy-protocol,acme,redis`) instead of `--cert` / `--key`: certificates from the ACME
//!   server at `URL` (Let's Encrypt's staging directory, or Pebble's with `--acme-roots
//!   PEM` for its HTTPS), shared through Redis: each name ordered once by the fleet, the
//!   TLS-ALPN-01 validation answered by whichever instance the balancer picks, every
//!   instance serving the certificate within seconds. `--cache DIR` is this instance's own
//!   copy (served at once on a restart, and while Redis is down).
//! - `haproxy -f demo/haproxy.cfg` in front of both.
//! - each connection is logged as `connection from ADDR: REPORT` (full or resumed);
//! - SIGHUP reloads the certificate and the ticket keys (rotation), keeping the old ones if a
//!   file is bad;
//! - bounded after the handshake: at most 1024 connections served at once (`--max-open N`)
//!   and 60 s of silence per connection (`--idle-timeout-ms N`), as in `echo_server`.

mod common;

use std::{error::Error, io::Write, path::Path, sync::Arc, time::Duration};

use rustls::pki_types::{pem::PemObject, CertificateDer, PrivateKeyDer};
use tokio_tls_handshake::{
    certificates::ReloadableConfig,
    listener::{ListenError, TlsListener},
    proxy::{ProxyProtocol, TrustedProxies},
    tickets::{TicketKeys, TICKET_KEYS_HEADER},
    Acceptor,
};

#[derive(Default)]
struct Args {
    init: Option<String>,
    addr: Option<String>,
    cert: Option<String>,
    key: Option<String>,
    ticket_keys: Option<String>,
    proxy: Option<ProxyProtocol>,
    proxy_from: Option<String>,
    force: bool,
    max_open: Option<usize>,
    idle_timeout: Option<Duration>,
    redis: Option<String>,
    rotation: Option<Duration>,
    acme: Option<String>,
    names: Vec<String>,
    cache: Option<String>,
    acme_roots: Option<String>,
    fleet_poll: Option<Duration>,
    order_lease: Option<Duration>,
}

fn args() -> Result<Args, Box<dyn Error>> {
    let mut args = Args::default();
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        if flag == "--force" {
            args.force = true;
            continue;
        }
        let value = it.next().ok_or(format!("{flag} needs a value"))?;
        match flag.as_str() {
            "--init" => args.init = Some(value),
            "--addr" => args.addr = Some(value),
            "--cert" => args.cert = Some(value),
            "--key" => args.key = Some(value),
            "--ticket-keys" => args.ticket_keys = Some(value),
            "--redis" => args.redis = Some(value),
            "--acme" => args.acme = Some(value),
            "--name" => args.names.push(value),
            "--cache" => args.cache = Some(value),
            "--acme-roots" => args.acme_roots = Some(value),
            "--fleet-poll-ms" => args.fleet_poll = Some(Duration::from_millis(value.parse()?)),
            "--order-lease-secs" => args.order_lease = Some(Duration::from_secs(value.parse()?)),
            "--rotation-secs" => args.rotation = Some(Duration::from_secs(value.parse()?)),
            "--proxy-from" => args.proxy_from = Some(value),
            "--max-open" => args.max_open = Some(value.parse()?),
            "--idle-timeout-ms" => args.idle_timeout = Some(Duration::from_millis(value.parse()?)),
            "--proxy-protocol" => {
                args.proxy = Some(match value.as_str() {
                    "required" => ProxyProtocol::Required,
                    "optional" => ProxyProtocol::Optional,
                    other => {
                        return Err(format!(
                            "--proxy-protocol takes required or optional, not {other}"
                        )
                        .into())
                    }
                })
            }
            other => return Err(format!("unknown argument {other}").into()),
        }
    }
    Ok(args)
}

/// Writes `contents` to `path`: a new file, unless `force`; a secret is created with mode
/// 0600, so it is never readable by others, not even for a moment.
fn write_new(
    path: &Path,
    contents: &[u8],
    secret: bool,
    force: bool,
) -> Result<(), Box<dyn Error>> {
    if force && path.exists() {
        std::fs::remove_file(path)?;
    }
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    if secret {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    #[cfg(not(unix))]
    let _ = secret;
    let mut file = options.open(path).map_err(|e| match e.kind() {
        std::io::ErrorKind::AlreadyExists => format!(
            "{} exists; not overwriting it (--force replaces it)",
            path.display()
        ),
        _ => format!("{}: {e}", path.display()),
    })?;
    file.write_all(contents)?;
    Ok(())
}

/// `--init DIR`: everything two instances and HAProxy need, made now.
fn init(dir: &Path, force: bool) -> Result<(), Box<dyn Error>> {
    std::fs::create_dir_all(dir)?;
    let ca = common::pki::Ca::new("fleet CA")?;
    let leaf = ca.issue(&["localhost", "127.0.0.1"])?;
    // 32 random bytes from the crypto provider configurations get by default, as 64 hex
    // digits (`openssl rand -hex 32` makes one too).
    let mut key = [0u8; 32];
    rustls::ServerConfig::builder()
        .crypto_provider()
        .secure_random
        .fill(&mut key)
        .map_err(|_| "no random bytes from the crypto provider")?;
    let hex: String = key.iter().map(|b| format!("{b:02x}")).collect();
    let haproxy = "defaults\n    mode tcp\n    timeout connect 5s\n    timeout client 30s\n    \
         timeout server 30s\nfrontend tls\n    bind 127.0.0.1:8443\n    default_backend fleet\n\
         backend fleet\n    balance roundrobin\n    server a 127.0.0.1:9001 send-proxy-v2\n    \
         server b 127.0.0.1:9002 send-proxy-v2\n";
    let files: [(&str, Vec<u8>, bool); 5] = [
        ("ca.pem", ca.cert_pem().into_bytes(), false),
        ("cert.pem", leaf.cert_pem().as_bytes().to_vec(), false),
        ("key.pem", leaf.key_pem().as_bytes().to_vec(), true),
        (
            "ticket.keys",
            format!("{TICKET_KEYS_HEADER}\n{hex}\n").into_bytes(),
            true,
        ),
        ("haproxy.cfg", haproxy.as_bytes().to_vec(), false),
    ];
    // Refuse before writing anything, rather than leave half a set.
    if !force {
        if let Some((name, ..)) = files.iter().find(|(name, ..)| dir.join(name).exists()) {
            return Err(format!(
                "{} exists; not overwriting it (--force replaces it)",
                dir.join(name).display()
            )
            .into());
        }
    }
    for (name, contents, secret) in &files {
        write_new(&dir.join(name), contents, *secret, force)?;
    }
    println!("wrote {}", dir.display());
    Ok(())
}

fn server_config(args: &Args) -> Result<rustls::ServerConfig, Box<dyn Error>> {
    let (Some(cert), Some(key)) = (&args.cert, &args.key) else {
        return Err("--cert and --key are needed (make them with --init DIR), or --acme".into());
    };
    let chain = CertificateDer::pem_file_iter(cert)?.collect::<Result<Vec<_>, _>>()?;
    let mut config = rustls::ServerConfig::builder()
        .with_no_client_auth()
        .with_single_cert(chain, PrivateKeyDer::from_pem_file(key)?)?;
    if let Some(keys) = &args.ticket_keys {
        TicketKeys::from_file(keys)?.install(&mut config)?;
    }
    Ok(config)
}

/// `--redis URL`: the fleet's ticket keys, kept in Redis and rotated by the fleet, installed
/// in `config`; the first set loaded before serving, and kept fresh by a task.
#[cfg(feature = "redis")]
async fn fleet_ticket_keys(
    config: &mut rustls::ServerConfig,
    url: &str,
    rotation: Option<Duration>,
) -> Result<(), Box<dyn Error>> {
    use tokio_tls_handshake::{storage::RedisStorage, tickets::FleetTicketKeys};
    let storage = Arc::new(RedisStorage::connect(url)?);
    let mut keys = FleetTicketKeys::new(storage);
    if let Some(rotation) = rotation {
        keys = keys.with_rotation(rotation);
    }
    keys.install(config)?;
    match keys.refresh().await {
        Ok(done) => println!("ticket keys: the fleet's, from redis ({done:?})"),
        Err(e) => println!("ticket keys: redis unavailable ({e}); no tickets until it is back"),
    }
    tokio::spawn(keys.run());
    Ok(())
}

/// `--acme URL`: certificates from an ACME server, shared with the fleet through `--redis`;
/// the configuration resolves from the store, and the chooser answers validations.
#[cfg(all(feature = "acme", feature = "redis"))]
fn fleet_acme(
    args: &Args,
) -> Result<(rustls::ServerConfig, tokio_tls_handshake::acme::Acme), Box<dyn Error>> {
    use tokio_tls_handshake::{
        acme::{Acme, AcmeConfig},
        certificates::CertificateStore,
        storage::RedisStorage,
    };
    let (Some(directory), Some(cache), Some(url)) = (&args.acme, &args.cache, &args.redis) else {
        return Err("--acme needs --cache DIR and --redis URL".into());
    };
    let mut config =
        AcmeConfig::new(directory, cache).storage(Arc::new(RedisStorage::connect(url)?));
    for name in &args.names {
        config = config.name(name);
    }
    if let Some(every) = args.fleet_poll {
        config = config.fleet_poll(every);
    }
    if let Some(lease) = args.order_lease {
        config = config.order_lease(lease);
    }
    if let Some(path) = &args.acme_roots {
        use rustls::pki_types::{pem::PemObject, CertificateDer};
        let mut roots = rustls::RootCertStore::empty();
        for cert in CertificateDer::pem_file_iter(path)? {
            roots.add(cert?)?;
        }
        config = config.http_roots(roots);
    }
    let store = CertificateStore::new();
    let acme = Acme::new(config, store.clone())?;
    let server = rustls::ServerConfig::builder()
        .with_no_client_auth()
        .with_cert_resolver(Arc::new(store));
    Ok((server, acme))
}

#[cfg(not(feature = "redis"))]
async fn fleet_ticket_keys(
    _: &mut rustls::ServerConfig,
    _: &str,
    _: Option<Duration>,
) -> Result<(), Box<dyn Error>> {
    Err("--redis needs the redis feature (cargo run --example fleet --features proxy-protocol,redis)".into())
}

/// Reads the certificate and the ticket keys again on each SIGHUP.
#[cfg(unix)]
async fn reload_on_hangup(
    config: ReloadableConfig,
    cert: String,
    key: String,
    keys: Option<String>,
) {
    use tokio::signal::unix::{signal, SignalKind};
    let Ok(mut hangups) = signal(SignalKind::hangup()) else {
        return;
    };
    while hangups.recv().await.is_some() {
        if let Err(e) = config.reload_pem_files(&cert, &key) {
            println!("certificate reload failed, keeping the previous one: {e}");
        }
        if let Some(path) = &keys {
            let rotated = TicketKeys::from_file(path).and_then(|k| config.reload_ticket_keys(&k));
            match rotated {
                Ok(()) => println!("ticket keys reloaded"),
                Err(e) => println!("ticket key reload failed, keeping the previous ones: {e}"),
            }
        }
    }
}

#[cfg(not(unix))]
async fn reload_on_hangup(_: ReloadableConfig, _: String, _: String, _: Option<String>) {}

#[tokio::main]
async fn main() -> Result<(), Box<dyn Error>> {
    let args = args()?;
    if let Some(dir) = &args.init {
        return init(Path::new(dir), args.force);
    }
    #[cfg(all(feature = "acme", feature = "redis"))]
    let (mut config, acme) = match &args.acme {
        Some(_) => {
            let (config, acme) = fleet_acme(&args)?;
            (config, Some(acme))
        }
        None => (server_config(&args)?, None),
    };
    #[cfg(not(all(feature = "acme", feature = "redis")))]
    let mut config = match &args.acme {
        Some(_) => return Err("--acme needs the features proxy-protocol,acme,redis".into()),
        None => server_config(&args)?,
    };
    if let Some(url) = &args.redis {
        if args.ticket_keys.is_some() {
            return Err("--redis and --ticket-keys: one source of ticket keys".into());
        }
        fleet_ticket_keys(&mut config, url, args.rotation).await?;
    }
    let config = ReloadableConfig::new(Arc::new(config));
    if let (Some(cert), Some(key)) = (args.cert.clone(), args.key.clone()) {
        tokio::spawn(reload_on_hangup(
            config.clone(),
            cert,
            key,
            args.ticket_keys.clone(),
        ));
    }
    let mut acceptor = Acceptor::from(config);
    #[cfg(all(feature = "acme", feature = "redis"))]
    if let Some(acme) = acme {
        tokio::spawn(acme.clone().run());
        acceptor = acceptor.with_chooser(acme);
    }
    if let Some(mode) = args.proxy {
        let ranges = args.proxy_from.as_deref().unwrap_or("127.0.0.1");
        let balancers = TrustedProxies::parse(ranges.split(','))?;
        acceptor = acceptor.with_proxy_protocol(mode, balancers);
    }
    let tcp =
        tokio::net::TcpListener::bind(args.addr.as_deref().unwrap_or("127.0.0.1:9001")).await?;
    println!("listening on {}", tcp.local_addr()?);
    let mut listener = TlsListener::new(tcp, acceptor);
    let open =
        common::echo::OpenConnections::new(args.max_open.unwrap_or(common::echo::DEFAULT_MAX_OPEN));
    let idle = args
        .idle_timeout
        .unwrap_or(common::echo::DEFAULT_IDLE_TIMEOUT);
    let mut connections = tokio::task::JoinSet::new();
    loop {
        // A slot first: a full server stops accepting until a connection closes.
        let slot = open.slot().await;
        let Some(next) = listener.accept().await else {
            break;
        };
        while connections.try_join_next().is_some() {}
        match next {
            Ok((mut tls, client)) => {
                println!("connection from {client}: {}", tls.report());
                connections.spawn(async move {
                    let _slot = slot;
                    if let Err(e) = common::echo::echo(&mut tls, idle).await {
                        println!("{client}: {e}");
                    }
                });
            }
            Err(ListenError::Handshake { peer, error, .. }) => println!("{peer}: failed: {error}"),
            Err(e) => println!("{e}"),
        }
    }
    Ok(())
}
