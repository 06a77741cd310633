//! Section 8, ticket keys kept in the fleet's storage (`-- --storage`): resumption with
//! `FleetTicketKeys` on a `FileStorage` and on a real `redis-server` against local
//! `TicketKeys`, and one instance's idle load on Redis (ticket keys, and an ACME client's
//! pick-up), from `INFO commandstats`.

use std::{process::Stdio, sync::Arc, time::Duration};

use rustls::ClientConfig;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio_tls_handshake::{
    acme::{Acme, AcmeConfig},
    certificates::CertificateStore,
    storage::{FileStorage, RedisStorage, Storage},
    tickets::{FleetTicketKeys, TicketKeys},
};

use crate::{common, fleet::resumed_across, setup::*};

/// Where the keys come from.
#[derive(Clone)]
enum Keys {
    Local(TicketKeys),
    Fleet(Arc<dyn Storage>),
}

/// A server resuming with `keys`, for `client` (or a fresh one).
async fn setup(
    keys: &Keys,
    client: Option<&Arc<ClientConfig>>,
) -> Result<Setup, Box<dyn std::error::Error>> {
    let (mut server, mut fresh) = common::configs("bench CA")?;
    match keys {
        Keys::Local(keys) => keys.install(&mut server)?,
        Keys::Fleet(storage) => {
            let fleet = FleetTicketKeys::new(storage.clone());
            fleet.install(&mut server)?;
            fleet.refresh().await?;
        }
    }
    fresh.resumption = rustls::client::Resumption::in_memory_sessions(256);
    Ok(Setup::new(
        Arc::new(server),
        client.cloned().unwrap_or_else(|| Arc::new(fresh)),
        true,
    ))
}

/// A `redis-server` on a free port with a password, and its URL; `None` if it cannot run.
async fn redis_server() -> Option<(tokio::process::Child, String, u16)> {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .ok()?
        .local_addr()
        .ok()?
        .port();
    let password = format!("bench-{port}");
    let mut child = tokio::process::Command::new("redis-server")
        .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
        .args([
            "--requirepass",
            &password,
            "--save",
            "",
            "--appendonly",
            "no",
        ])
        .args(["--logfile", ""])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .ok()?;
    let mut lines = BufReader::new(child.stdout.take()?).lines();
    let ready = tokio::time::timeout(Duration::from_secs(10), async {
        while let Ok(Some(line)) = lines.next_line().await {
            if line.contains("Ready to accept connections") {
                return true;
            }
        }
        false
    });
    if !ready.await.unwrap_or(false) {
        return None;
    }
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    Some((
        child,
        format!("redis://:{password}@127.0.0.1:{port}/"),
        port,
    ))
}

/// The calls Redis counted since the last `CONFIG RESETSTAT`, from `INFO commandstats`.
async fn commands_counted(url: &str) -> Result<u64, Box<dyn std::error::Error>> {
    let client = redis::Client::open(url)?;
    let mut conn = client.get_multiplexed_async_connection().await?;
    let info: String = redis::cmd("INFO")
        .arg("commandstats")
        .query_async(&mut conn)
        .await?;
    // Lines like `cmdstat_get:calls=3,usec=...`; the INFO and RESETSTAT of the count itself
    // are left out.
    Ok(info
        .lines()
        .filter(|line| line.starts_with("cmdstat_") && !line.starts_with("cmdstat_info"))
        .filter(|line| !line.starts_with("cmdstat_config"))
        .filter_map(|line| {
            line.split("calls=")
                .nth(1)?
                .split(',')
                .next()?
                .parse::<u64>()
                .ok()
        })
        .sum())
}

async fn reset_counts(url: &str) -> Result<(), Box<dyn std::error::Error>> {
    let client = redis::Client::open(url)?;
    let mut conn = client.get_multiplexed_async_connection().await?;
    redis::cmd("CONFIG")
        .arg("RESETSTAT")
        .query_async::<()>(&mut conn)
        .await?;
    Ok(())
}

pub(crate) fn storage_section(quick: bool) -> Result<(), Box<dyn std::error::Error>> {
    let reps = if quick { 3 } else { 5 };
    let count = if quick { 200 } else { 1000 };
    println!("fleet storage: {reps} repetitions of {count} resumed handshakes, one at a time");
    println!();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let dir = std::env::temp_dir().join(format!("bench-storage-{}", std::process::id()));
        let mut contenders: Vec<(&str, Keys)> = vec![
            ("local `TicketKeys`", Keys::Local(TicketKeys::new([7; 32], []))),
            (
                "`FleetTicketKeys` on a `FileStorage`",
                Keys::Fleet(Arc::new(FileStorage::new(&dir))),
            ),
        ];
        let redis = redis_server().await;
        if let Some((_, url, _)) = &redis {
            contenders.push((
                "`FleetTicketKeys` on Redis (`RedisStorage`)",
                Keys::Fleet(Arc::new(RedisStorage::connect(url)?)),
            ));
        } else {
            println!("(redis-server was not found: the Redis rows are left out)");
        }
        let mut rates = vec![Vec::new(); contenders.len()];
        for _ in 0..reps {
            for ((_, keys), rates) in contenders.iter().zip(rates.iter_mut()) {
                let a = setup(keys, None).await?;
                let b = setup(keys, Some(&a.client)).await?;
                rates.push(resumed_across(&[&a, &b], count).await?);
            }
        }
        println!("| two acceptors alternating, resumed TLS 1.3 hs/s | hs/s | / local keys |");
        println!("|---|---|---|");
        let local = median(&mut rates[0].clone());
        for ((label, _), rates) in contenders.iter().zip(rates.iter_mut()) {
            let rate = median(rates);
            println!("| {label} | {rate:.0} | {:.2} |", rate / local);
        }
        println!();
        if let Some((_child, url, _)) = &redis {
            // One instance's load on Redis: the commands of one refresh round (a set not due),
            // at the default reload interval.
            let storage: Arc<dyn Storage> = Arc::new(RedisStorage::connect(url)?);
            let keys = FleetTicketKeys::new(storage);
            keys.refresh().await?;
            let rounds = 10;
            reset_counts(url).await?;
            for _ in 0..rounds {
                keys.refresh().await?;
            }
            let per_round = commands_counted(url).await? as f64 / f64::from(rounds);
            let interval = keys.reload_interval().as_secs_f64();
            println!("| one instance's idle load on Redis | value |");
            println!("|---|---|");
            println!("| commands per refresh round (INFO commandstats, {rounds} rounds) | {per_round:.1} |");
            println!("| default reload interval | {interval:.0} s |");
            println!("| commands per second per instance | {:.4} |", per_round / interval);
            println!();
            // And an ACME client's: one round of picking up what the fleet shares (nothing
            // new), at the default fleet poll.
            let cache = dir.join("acme-cache");
            let config = AcmeConfig::new("https://127.0.0.1:1/dir", &cache)
                .name("a.test")
                .storage(Arc::new(RedisStorage::connect(url)?));
            let acme = Acme::new(config, CertificateStore::new())?;
            acme.refresh().await?;
            reset_counts(url).await?;
            for _ in 0..rounds {
                acme.refresh().await?;
            }
            let per_round = commands_counted(url).await? as f64 / f64::from(rounds);
            println!("| one ACME client's idle load on Redis (`Acme::refresh`) | value |");
            println!("|---|---|");
            println!("| commands per round (INFO commandstats, {rounds} rounds) | {per_round:.1} |");
            println!("| default fleet poll | 2 s |");
            println!("| commands per second per instance | {:.2} |", per_round / 2.0);
        }
        let _ = std::fs::remove_dir_all(&dir);
        Ok::<(), Box<dyn std::error::Error>>(())
    })
}
