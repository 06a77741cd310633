//! Session tickets shared by a fleet: a client that got a ticket from one server resumes on
//! another configured with the same keys, in TLS 1.3 and TLS 1.2; after a rotation, old
//! tickets are accepted while their key stays in the file and refused once it is gone (a full
//! handshake, not an error). A ticket opens for its lifetime by the server's clock and no
//! longer, and only on a server with the same client authentication policy; a key file open
//! to others is refused.

use crate::support;

use std::{
    sync::{
        atomic::{AtomicU64, Ordering},
        Arc,
    },
    time::Duration,
};

use rustls::{pki_types::UnixTime, time_provider::TimeProvider};
use support::{bounded, handshake_storing_tickets, name, openssl::Files, tcp_pair, Version, World};
use tokio_tls_handshake::{
    certificates::ReloadableConfig,
    storage::{FileStorage, Storage, StorageError},
    tickets::{FleetTicketKeys, Refreshed, TicketKeyError, TicketKeys, KEY_SET_KEY},
    Acceptor, Connector,
};

fn key_file(keys: &[u8]) -> String {
    let mut text = String::from("tokio-tls-handshake ticket keys v1\n# current first\n");
    for key in keys {
        text.push_str(&format!("{key:02x}").repeat(32));
        text.push('\n');
    }
    text
}

/// A server configuration of its own (its own session store), with `keys` installed.
fn server(world: &World, version: Version, keys: Option<&str>) -> Arc<rustls::ServerConfig> {
    let mut config = (*world.server().version(version).build()).clone();
    if let Some(keys) = keys {
        TicketKeys::parse(keys)
            .expect("key file")
            .install(&mut config)
            .expect("install");
    }
    Arc::new(config)
}

#[tokio::test]
async fn a_ticket_from_one_server_resumes_on_another_with_the_same_keys() {
    let world = World::new();
    let keys = key_file(&[1]);
    for version in [Version::Tls13, Version::Tls12] {
        let client = world.client().version(version).build();
        let (a, b) = (
            server(&world, version, Some(&keys)),
            server(&world, version, Some(&keys)),
        );
        let (first, _) = handshake_storing_tickets(&client, &a).await;
        assert!(!first.is_resumed(), "{version:?}: a full handshake first");
        let (on_b, b_side) = handshake_storing_tickets(&client, &b).await;
        assert!(on_b.is_resumed(), "{version:?}: client on B: {on_b}");
        assert!(b_side.is_resumed(), "{version:?}: server B: {b_side}");
    }
}

/// The control: two servers with rustls' own random ticket keys do not resume each other's
/// tickets, which is what shared keys fix.
#[tokio::test]
async fn without_shared_keys_another_server_does_a_full_handshake() {
    let world = World::new();
    let client = world.client().version(Version::Tls13).build();
    let a = server(&world, Version::Tls13, None);
    let b = server(&world, Version::Tls13, None);
    let (first, _) = handshake_storing_tickets(&client, &a).await;
    assert!(!first.is_resumed());
    let (on_b, _) = handshake_storing_tickets(&client, &b).await;
    assert!(!on_b.is_resumed(), "{on_b}");
}

#[tokio::test]
async fn after_a_rotation_old_tickets_resume_during_the_overlap_and_not_after() {
    let world = World::new();
    for version in [Version::Tls13, Version::Tls12] {
        let client = world.client().version(version).build();
        let before = server(&world, version, Some(&key_file(&[1])));
        // Rotation: the new key first, the old one kept for the overlap...
        let overlap = server(&world, version, Some(&key_file(&[2, 1])));
        // ...then the old one dropped.
        let after = server(&world, version, Some(&key_file(&[2])));

        handshake_storing_tickets(&client, &before).await;
        let (resumed, _) = handshake_storing_tickets(&client, &overlap).await;
        assert!(
            resumed.is_resumed(),
            "{version:?}: an old ticket during the overlap"
        );

        handshake_storing_tickets(&client, &before).await; // a fresh ticket under the old key
        let (full, server_side) = handshake_storing_tickets(&client, &after).await;
        assert!(
            !full.is_resumed() && !server_side.is_resumed(),
            "{version:?}: after the overlap, a full handshake (not an error)"
        );
    }
}

/// A rotation done on a live server: `ReloadableConfig::reload_ticket_keys`.
#[tokio::test]
async fn a_live_server_rotates_its_keys() {
    let world = World::new();
    let client = world.client().version(Version::Tls13).build();
    let issuer = server(&world, Version::Tls13, Some(&key_file(&[1])));
    let live = ReloadableConfig::new(server(&world, Version::Tls13, Some(&key_file(&[3]))));
    handshake_storing_tickets(&client, &issuer).await;
    let (full, _) = handshake_storing_tickets(&client, &live.current()).await;
    assert!(
        !full.is_resumed(),
        "key 1 is unknown to the live server yet"
    );
    handshake_storing_tickets(&client, &issuer).await;
    let keys = TicketKeys::parse(&key_file(&[3, 1])).expect("keys");
    live.reload_ticket_keys(&keys).expect("reload");
    let (resumed, _) = handshake_storing_tickets(&client, &live.current()).await;
    assert!(resumed.is_resumed(), "after the reload, key 1 is accepted");
}

/// Servers on different crypto providers share tickets: the ticket names its algorithm, and
/// aws-lc-rs and ring seal it alike. Runs with `--features ring` (`.ci/run` does).
#[cfg(all(feature = "aws-lc-rs", feature = "ring"))]
#[tokio::test]
async fn servers_on_aws_lc_rs_and_on_ring_resume_each_others_tickets() {
    let world = World::new();
    let keys = TicketKeys::parse(&key_file(&[4])).expect("keys");
    let on = |provider: rustls::crypto::CryptoProvider, version| {
        let mut config = (*world.server().version(version).provider(provider).build()).clone();
        keys.install(&mut config).expect("install");
        Arc::new(config)
    };
    for version in [Version::Tls13, Version::Tls12] {
        let client = world.client().version(version).build();
        let aws = on(rustls::crypto::aws_lc_rs::default_provider(), version);
        let ring = on(rustls::crypto::ring::default_provider(), version);
        for (from, to, label) in [
            (&aws, &ring, "aws-lc-rs to ring"),
            (&ring, &aws, "ring to aws-lc-rs"),
        ] {
            handshake_storing_tickets(&client, from).await;
            let (client_side, server_side) = handshake_storing_tickets(&client, to).await;
            assert!(
                client_side.is_resumed() && server_side.is_resumed(),
                "{version:?} {label}: {client_side}"
            );
        }
    }
}

/// The system clock moved on by what the test says.
#[derive(Debug, Default)]
struct MovableClock {
    ahead_secs: AtomicU64,
}

impl TimeProvider for MovableClock {
    fn current_time(&self) -> Option<UnixTime> {
        let now = UnixTime::now().as_secs() + self.ahead_secs.load(Ordering::SeqCst);
        Some(UnixTime::since_unix_epoch(Duration::from_secs(now)))
    }
}

/// The attack: a ticket (in TLS 1.2, a session's master secret) used long after its
/// lifetime. With a 60 s lifetime and the server's clock 30 days on, it must not resume.
#[tokio::test]
async fn a_ticket_past_its_lifetime_does_not_resume() {
    let world = World::new();
    let keys = TicketKeys::parse(&key_file(&[1]))
        .expect("keys")
        .with_lifetime(Duration::from_secs(60));
    for version in [Version::Tls13, Version::Tls12] {
        let client = world.client().version(version).build();
        let clock = Arc::new(MovableClock::default());
        let mut config = (*world.server().version(version).build()).clone();
        config.time_provider = clock.clone();
        keys.install(&mut config).expect("install");
        let server = Arc::new(config);
        handshake_storing_tickets(&client, &server).await;
        let (resumed, _) = handshake_storing_tickets(&client, &server).await;
        assert!(resumed.is_resumed(), "{version:?}: within its lifetime");
        clock.ahead_secs.store(30 * 86_400, Ordering::SeqCst);
        let (late, server_side) = handshake_storing_tickets(&client, &server).await;
        assert!(
            !late.is_resumed() && !server_side.is_resumed(),
            "{version:?}: 30 days on, a full handshake: {late}"
        );
    }
}

/// The attack: in a fleet sharing keys, a client without a certificate gets a ticket from a
/// server that asks for none, then offers it to a server that requires one. It must be asked
/// for its certificate, and refused, instead of resuming with no certificate at all.
#[tokio::test]
async fn a_ticket_from_a_server_without_client_auth_does_not_skip_it_where_required() {
    let world = World::new();
    let keys = key_file(&[1]);
    for version in [Version::Tls13, Version::Tls12] {
        let open = server(&world, version, Some(&keys));
        let requiring = || {
            let mut config = (*world
                .server()
                .version(version)
                .require_client_cert()
                .build())
            .clone();
            TicketKeys::parse(&keys)
                .expect("keys")
                .install(&mut config)
                .expect("install");
            Arc::new(config)
        };
        let anonymous = world.client().version(version).build();
        handshake_storing_tickets(&anonymous, &open).await;

        let (client_tcp, server_tcp) = tcp_pair().await;
        let (_, on_mtls) = bounded(async {
            tokio::join!(
                Connector::from(anonymous.clone()).connect(name("localhost"), client_tcp),
                Acceptor::from(requiring()).accept(server_tcp)
            )
        })
        .await;
        match on_mtls {
            Ok(stream) => panic!(
                "{version:?}: accepted (resumed: {}) with {} client certificates",
                stream.report().is_resumed(),
                stream.get_ref().1.peer_certificates().map_or(0, <[_]>::len)
            ),
            Err(error) => assert!(
                error.to_string().contains("certificate"),
                "{version:?}: refused for want of a certificate: {error}"
            ),
        }

        // The control: servers with the same policy share sessions, the client's
        // certificate restored from the ticket.
        let with_certificate = world
            .client()
            .version(version)
            .identity(&world.client)
            .build();
        handshake_storing_tickets(&with_certificate, &requiring()).await;
        let (resumed, server_side) =
            handshake_storing_tickets(&with_certificate, &requiring()).await;
        assert!(
            resumed.is_resumed() && server_side.is_resumed(),
            "{version:?}: the same policy resumes"
        );
    }
}

#[cfg(unix)]
#[test]
fn a_key_file_others_can_read_is_refused() {
    use std::os::unix::fs::PermissionsExt;
    let files = Files::new();
    let path = files.write("ticket.keys", &key_file(&[1]));
    for (mode, refused) in [
        (0o644, true),
        (0o640, true),
        (0o604, true),
        (0o600, false),
        (0o400, false),
    ] {
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).expect("chmod");
        match TicketKeys::from_file(&path) {
            Err(TicketKeyError::Exposed { mode: seen, .. }) => {
                assert!(refused, "{mode:o} refused");
                assert_eq!(seen, mode);
            }
            Ok(_) => assert!(!refused, "{mode:o} accepted"),
            Err(other) => panic!("{mode:o}: {other}"),
        }
    }
}

#[tokio::test]
async fn a_bad_key_file_is_a_typed_error_that_shows_no_key() {
    let good = "ab".repeat(32);
    type Expected = fn(&TicketKeyError) -> bool;
    let cases: [(String, Expected); 4] = [
        (format!("{good}\n"), |e| {
            matches!(e, TicketKeyError::Format { line: 1, .. })
        }),
        (
            format!("tokio-tls-handshake ticket keys v1\n{good}\nxyz\n"),
            |e| matches!(e, TicketKeyError::Format { line: 3, .. }),
        ),
        ("tokio-tls-handshake ticket keys v1\n# none\n".into(), |e| {
            matches!(e, TicketKeyError::NoKey)
        }),
        (
            format!("tokio-tls-handshake ticket keys v1\n{}\n", &good[..62]),
            |e| matches!(e, TicketKeyError::Format { line: 2, .. }),
        ),
    ];
    for (text, expected) in cases {
        let error = TicketKeys::parse(&text).expect_err("bad");
        assert!(expected(&error), "{error:?}");
        assert!(!error.to_string().contains("abab"), "{error}");
    }
    let missing = TicketKeys::from_file("/nonexistent/ticket.keys").expect_err("missing");
    assert!(matches!(missing, TicketKeyError::Io { .. }));
    let keys = TicketKeys::parse(&key_file(&[0xab])).expect("keys");
    assert!(!format!("{keys:?}").contains("ab"), "{keys:?}");
}

mod fuzz {
    use super::*;
    use proptest::prelude::*;

    fn ticketer() -> Arc<dyn rustls::server::ProducesTickets> {
        TicketKeys::new([9; 32], [[8; 32]])
            .ticketer(&support::provider())
            .expect("a ticketer")
    }

    proptest! {
        /// Random bytes, with or without the format and an algorithm in front: never opened,
        /// never a panic.
        #[test]
        fn random_tickets_never_open(
            header in proptest::option::of((1u8..=2).prop_map(|alg| vec![3, alg])),
            body in proptest::collection::vec(any::<u8>(), 0..600),
        ) {
            let mut ticket = header.unwrap_or_default();
            ticket.extend_from_slice(&body);
            prop_assert_eq!(ticketer().decrypt(&ticket), None);
        }

        /// A real ticket with bytes changed, cut or added: never opened (the tag covers every
        /// byte, the header included).
        #[test]
        fn a_changed_real_ticket_never_opens(
            plain in proptest::collection::vec(any::<u8>(), 0..300),
            changes in proptest::collection::vec((any::<usize>(), 1u8..=255), 1..4),
            cut in proptest::option::of(any::<usize>()),
        ) {
            let ticketer = ticketer();
            let ticket = ticketer.encrypt(&plain).expect("sealed");
            prop_assert_eq!(ticketer.decrypt(&ticket), Some(plain.clone()));
            let mut changed = ticket.clone();
            for (at, flip) in changes {
                let at = at % changed.len();
                changed[at] ^= flip;
            }
            // Two flips of one byte can cancel out: only a ticket that differs must not open.
            if changed != ticket {
                prop_assert_eq!(ticketer.decrypt(&changed), None);
            }
            if let Some(cut) = cut {
                let cut = cut % ticket.len();
                prop_assert_eq!(ticketer.decrypt(&ticket[..cut]), None);
            }
            let mut longer = ticket.clone();
            longer.push(0);
            prop_assert_eq!(ticketer.decrypt(&longer), None);
        }
    }
}

/// Three instances of a fleet, each with its own configuration and its own handle on the
/// shared storage, serving tickets with `FleetTicketKeys`; one clock for their rotations.
struct Fleet {
    instances: Vec<(Arc<rustls::ServerConfig>, FleetTicketKeys)>,
    clock: Arc<MovableClock>,
}

/// A rotation of one hour, kept apart from the tickets' own lifetime (the servers' clock).
const ROTATION: Duration = Duration::from_secs(3600);

impl Fleet {
    fn new(world: &World, storages: Vec<Arc<dyn Storage>>) -> Self {
        let clock = Arc::new(MovableClock::default());
        let instances = storages
            .into_iter()
            .map(|storage| {
                let keys = FleetTicketKeys::new(storage)
                    .with_rotation(ROTATION)
                    .with_time_provider(clock.clone());
                let mut config = (*world.server().version(Version::Tls13).build()).clone();
                keys.install(&mut config).expect("install");
                (Arc::new(config), keys)
            })
            .collect();
        Self { instances, clock }
    }

    /// One refresh round on every instance, in order: what each did.
    async fn refresh(&self) -> Vec<Result<Refreshed, StorageError>> {
        let mut done = Vec::new();
        for (_, keys) in &self.instances {
            done.push(bounded(keys.refresh()).await);
        }
        done
    }

    fn server(&self, i: usize) -> &Arc<rustls::ServerConfig> {
        &self.instances[i].0
    }
}

/// A session from one instance resumes on the other two, before and after a rotation, and
/// the fleet rotates once per interval, whichever instance finds it due.
async fn a_fleet_resumes_everywhere_and_rotates_once(world: &World, fleet: &Fleet) {
    let client = world.client().version(Version::Tls13).build();
    let (before, _) = handshake_storing_tickets(&client, fleet.server(0)).await;
    assert!(
        !before.is_resumed(),
        "no keys loaded yet: no ticket, a full handshake"
    );
    let first = fleet.refresh().await;
    assert_eq!(
        first
            .iter()
            .filter(|r| matches!(r, Ok(Refreshed::Rotated)))
            .count(),
        1,
        "one instance writes the first set: {first:?}"
    );
    assert!(first.iter().all(Result::is_ok), "{first:?}");
    let (full, _) = handshake_storing_tickets(&client, fleet.server(0)).await;
    assert!(!full.is_resumed());
    for i in [1, 2] {
        let (on_other, server_side) = handshake_storing_tickets(&client, fleet.server(i)).await;
        assert!(
            on_other.is_resumed() && server_side.is_resumed(),
            "instance {i}: {on_other}"
        );
    }
    // A ticket sealed before the rotation, by instance 2, still in the client's cache.
    fleet
        .clock
        .ahead_secs
        .store(ROTATION.as_secs(), Ordering::SeqCst);
    let rotated = fleet.refresh().await;
    assert_eq!(
        rotated
            .iter()
            .filter(|r| matches!(r, Ok(Refreshed::Rotated)))
            .count(),
        1,
        "one rotation for the fleet: {rotated:?}"
    );
    for i in [0, 1] {
        let (after, _) = handshake_storing_tickets(&client, fleet.server(i)).await;
        assert!(
            after.is_resumed(),
            "instance {i}, after the rotation: {after}"
        );
    }
    let (newest, _) = handshake_storing_tickets(&client, fleet.server(2)).await;
    assert!(
        newest.is_resumed(),
        "a ticket sealed with the new key resumes too: {newest}"
    );
}

#[tokio::test]
async fn a_fleet_on_file_storage_resumes_everywhere_and_rotates_once() {
    let world = World::new();
    let dir = Files::new();
    let root = dir.path("fleet");
    let storages: Vec<Arc<dyn Storage>> = (0..3)
        .map(|_| Arc::new(FileStorage::new(&root)) as Arc<dyn Storage>)
        .collect();
    let fleet = Fleet::new(&world, storages);
    a_fleet_resumes_everywhere_and_rotates_once(&world, &fleet).await;
}

/// The tickets' rules hold across the fleet: instances that share keys but bind tickets to
/// another context do not resume each other's tickets, and a ticket past its lifetime
/// resumes on no instance, whichever sealed it.
#[tokio::test]
async fn a_fleet_keeps_the_tickets_context_and_lifetime() {
    let world = World::new();
    let dir = Files::new();
    let storage: Arc<dyn Storage> = Arc::new(FileStorage::new(dir.path("fleet")));
    let clock = Arc::new(MovableClock::default());
    let lifetime = Duration::from_secs(2 * 3600);
    let instances = [b"app-a", b"app-a", b"app-b"]
        .into_iter()
        .map(|context| {
            let keys = FleetTicketKeys::new(storage.clone())
                .with_rotation(ROTATION)
                .with_lifetime(lifetime)
                .with_context(context.to_vec())
                .with_time_provider(clock.clone());
            let mut config = (*world.server().version(Version::Tls13).build()).clone();
            // The servers' clock, which judges a ticket's age, moves with the fleet's.
            config.time_provider = clock.clone();
            keys.install(&mut config).expect("install");
            (Arc::new(config), keys)
        })
        .collect();
    let fleet = Fleet { instances, clock };
    assert!(fleet.refresh().await.iter().all(Result::is_ok));

    let same_context = world.client().version(Version::Tls13).build();
    handshake_storing_tickets(&same_context, fleet.server(0)).await;
    let (resumed, _) = handshake_storing_tickets(&same_context, fleet.server(1)).await;
    assert!(resumed.is_resumed(), "same context, same keys: {resumed}");

    let other_context = world.client().version(Version::Tls13).build();
    handshake_storing_tickets(&other_context, fleet.server(0)).await;
    let (refused, server_side) = handshake_storing_tickets(&other_context, fleet.server(2)).await;
    assert!(
        !refused.is_resumed() && !server_side.is_resumed(),
        "the same keys, another context: a full handshake: {refused}"
    );

    let late = world.client().version(Version::Tls13).build();
    handshake_storing_tickets(&late, fleet.server(0)).await;
    fleet
        .clock
        .ahead_secs
        .store(lifetime.as_secs() + 60, Ordering::SeqCst);
    assert!(fleet.refresh().await.iter().all(Result::is_ok));
    let (expired, server_side) = handshake_storing_tickets(&late, fleet.server(1)).await;
    assert!(
        !expired.is_resumed() && !server_side.is_resumed(),
        "past its lifetime, on another instance: a full handshake: {expired}"
    );
}

/// The attack: a hostile or broken store hands back a key set that does not parse. It is
/// refused with a typed error, the last good keys keep serving, and the instance that finds
/// it writes the last good set back.
#[tokio::test]
async fn a_corrupt_key_set_is_refused_and_the_last_good_one_serves() {
    let world = World::new();
    let dir = Files::new();
    let storage: Arc<dyn Storage> = Arc::new(FileStorage::new(dir.path("fleet")));
    let fleet = Fleet::new(&world, vec![storage.clone(), storage.clone()]);
    let client = world.client().version(Version::Tls13).build();
    assert!(fleet.refresh().await.iter().all(Result::is_ok));
    handshake_storing_tickets(&client, fleet.server(0)).await;
    let good = storage
        .load(KEY_SET_KEY)
        .await
        .expect("load")
        .expect("a set");
    let cut = &good[..good.len() / 2];
    for bad in [&b"not a key set"[..], cut, b"\xff\xfe\xfd"] {
        storage.store(KEY_SET_KEY, bad).await.expect("store");
        let refused = fleet.refresh().await;
        assert!(
            matches!(refused[0], Err(StorageError::Corrupt { .. })),
            "the first instance to read it reports it: {refused:?}"
        );
        assert_eq!(
            storage.load(KEY_SET_KEY).await.expect("load").as_deref(),
            Some(&good[..]),
            "and writes the last good set back"
        );
        let (resumed, _) = handshake_storing_tickets(&client, fleet.server(1)).await;
        assert!(resumed.is_resumed(), "the last good keys serve: {resumed}");
    }
    // Bad while a rotation is due: the last good set, rotated, goes back.
    storage.store(KEY_SET_KEY, b"garbage").await.expect("store");
    fleet
        .clock
        .ahead_secs
        .store(ROTATION.as_secs(), Ordering::SeqCst);
    let healed = fleet.refresh().await;
    assert!(
        matches!(healed[0], Err(StorageError::Corrupt { .. })),
        "{healed:?}"
    );
    let stored = storage
        .load(KEY_SET_KEY)
        .await
        .expect("load")
        .expect("a set");
    assert!(stored.starts_with(b"tokio-tls-handshake ticket key set v1\n") && stored != good);
    assert_eq!(
        fleet.refresh().await.iter().filter(|r| r.is_err()).count(),
        0
    );
    let (resumed, _) = handshake_storing_tickets(&client, fleet.server(0)).await;
    assert!(
        resumed.is_resumed(),
        "the rotation continued the last good set: {resumed}"
    );
}

#[cfg(feature = "redis")]
mod fleet_on_redis {
    use super::*;
    use support::redis::Redis;
    use tokio_tls_handshake::storage::RedisStorage;

    fn handles(redis: &Redis) -> Vec<Arc<dyn Storage>> {
        (0..3)
            .map(|_| {
                let storage = RedisStorage::connect(&redis.url())
                    .expect("url")
                    .with_timeout(Duration::from_millis(500));
                Arc::new(storage) as Arc<dyn Storage>
            })
            .collect()
    }

    #[tokio::test]
    async fn a_fleet_on_redis_resumes_everywhere_and_rotates_once() {
        if !support::redis::available() {
            return;
        }
        let redis = Redis::start().await;
        let world = World::new();
        let fleet = Fleet::new(&world, handles(&redis));
        a_fleet_resumes_everywhere_and_rotates_once(&world, &fleet).await;
    }

    /// Redis is down for longer than a rotation interval: every instance keeps serving and
    /// resuming with the keys it has, each round fails with a typed error, and once Redis is
    /// back (empty: it was killed) the fleet rotates from its last good set, so sessions
    /// from before still resume.
    #[tokio::test]
    async fn redis_down_for_longer_than_a_rotation_stops_nothing() {
        if !support::redis::available() {
            return;
        }
        let mut redis = Redis::start().await;
        let world = World::new();
        let fleet = Fleet::new(&world, handles(&redis));
        let client = world.client().version(Version::Tls13).build();
        assert!(fleet.refresh().await.iter().all(Result::is_ok));
        handshake_storing_tickets(&client, fleet.server(0)).await;

        redis.stop().await;
        fleet
            .clock
            .ahead_secs
            .store(2 * ROTATION.as_secs(), Ordering::SeqCst);
        let down = fleet.refresh().await;
        assert!(
            down.iter()
                .all(|r| matches!(r, Err(StorageError::Unavailable { .. }))),
            "{down:?}"
        );
        for i in [1, 2, 0] {
            let (resumed, _) = handshake_storing_tickets(&client, fleet.server(i)).await;
            assert!(
                resumed.is_resumed(),
                "instance {i} while Redis is down: {resumed}"
            );
        }

        redis.restart().await;
        let back = bounded(async {
            loop {
                let round = fleet.refresh().await;
                if round.iter().all(Result::is_ok) {
                    return round;
                }
                tokio::task::yield_now().await;
            }
        })
        .await;
        assert!(
            back.iter().any(|r| matches!(r, Ok(Refreshed::Rotated))),
            "{back:?}"
        );
        for i in [0, 1, 2] {
            let (resumed, _) = handshake_storing_tickets(&client, fleet.server(i)).await;
            assert!(
                resumed.is_resumed(),
                "instance {i} after Redis is back: {resumed}"
            );
        }
    }
}
