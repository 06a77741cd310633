//! How ordering each name has gone: failures in a row, when to try again, the last success.
//! Kept with the cache (`acme-attempts.json`), so that a restart neither forgets a backoff
//! (a crash-looping server re-ordering every name at each start) nor the names taken on
//! demand, which it must go on renewing.

use std::{
    collections::BTreeMap,
    sync::Arc,
    time::{Duration, SystemTime},
};

use serde_json::{json, Map, Value};

use super::{AcmeConfig, AcmeError, CertificateInfo};

/// How ordering a name has gone.
#[derive(Debug, Clone, Default)]
pub(super) struct Attempts {
    pub(super) failures: u32,
    /// Not kept across restarts: the error's type holds what no file can.
    pub(super) last_error: Option<Arc<AcmeError>>,
    /// After a failure: not before then.
    pub(super) retry_at: Option<SystemTime>,
    /// The last order that succeeded: the next is not made within the retry interval of it,
    /// whatever the renewal point says.
    pub(super) succeeded_at: Option<SystemTime>,
    pub(super) on_demand: bool,
}

/// When to try again after `failures` failed orders in a row: after the backoff, but never
/// later than the retry interval before `certificate` expires, so that a long backoff does
/// not let a certificate lapse; and never sooner than the first retry interval.
pub(super) fn retry_at(
    config: &AcmeConfig,
    failures: u32,
    now: SystemTime,
    certificate: Option<&CertificateInfo>,
) -> SystemTime {
    let backoff = now + config.backoff(failures);
    let soonest = now + config.retry_first;
    let latest = certificate
        .and_then(|c| c.not_after.checked_sub(config.retry_first))
        .unwrap_or(backoff);
    backoff.min(latest).max(soonest)
}

fn secs(time: SystemTime) -> u64 {
    time.duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

fn time(secs: &Value) -> Option<SystemTime> {
    SystemTime::UNIX_EPOCH.checked_add(Duration::from_secs(secs.as_u64()?))
}

/// The names held and how their orders went, as the cache keeps them.
pub(super) fn to_json(names: &BTreeMap<String, Attempts>) -> Value {
    let names: Map<String, Value> = names
        .iter()
        .map(|(name, a)| {
            let record = json!({
                "failures": a.failures,
                "retry_at": a.retry_at.map(secs),
                "succeeded_at": a.succeeded_at.map(secs),
                "on_demand": a.on_demand,
            });
            (name.clone(), record)
        })
        .collect();
    json!({ "version": 1, "names": names })
}

/// What [`to_json`] wrote. A record that does not parse is left out, never an error: the
/// worst it costs is an order made sooner.
pub(super) fn from_json(saved: &Value) -> BTreeMap<String, Attempts> {
    let Some(names) = saved.get("names").and_then(Value::as_object) else {
        return BTreeMap::new();
    };
    names
        .iter()
        .filter(|(name, _)| super::orderable(name))
        .map(|(name, record)| {
            let attempts = Attempts {
                failures: record
                    .get("failures")
                    .and_then(Value::as_u64)
                    .and_then(|n| u32::try_from(n).ok())
                    .unwrap_or(0),
                last_error: None,
                retry_at: record.get("retry_at").and_then(time),
                succeeded_at: record.get("succeeded_at").and_then(time),
                on_demand: record
                    .get("on_demand")
                    .and_then(Value::as_bool)
                    .unwrap_or(false),
            };
            (name.clone(), attempts)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> AcmeConfig {
        AcmeConfig::new("https://acme.test/dir", "/tmp")
            .retry_backoff(Duration::from_secs(60), Duration::from_secs(6 * 3600))
    }

    fn expiring_in(now: SystemTime, after: Duration) -> CertificateInfo {
        CertificateInfo {
            source: crate::server::certificates::CertificateSource::Inserted("t".into()),
            names: vec!["a.test".into()],
            not_before: now - Duration::from_secs(86_400),
            not_after: now + after,
        }
    }

    #[test]
    fn a_backoff_never_passes_the_certificates_expiry() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000);
        let config = config();
        let hours = |h: u64| Duration::from_secs(h * 3600);
        // Ten failures: the backoff is at its 6 h cap.
        assert_eq!(retry_at(&config, 10, now, None), now + hours(6));
        let soon = expiring_in(now, hours(2));
        assert_eq!(
            retry_at(&config, 10, now, Some(&soon)),
            now + hours(2) - Duration::from_secs(60),
            "a minute before it expires"
        );
        let expired = expiring_in(now, Duration::ZERO);
        assert_eq!(
            retry_at(&config, 10, now, Some(&expired)),
            now + Duration::from_secs(60),
            "an expired certificate: the first retry interval, never a tight loop"
        );
    }

    #[test]
    fn records_survive_the_file_and_a_bad_one_is_left_out() {
        let at = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let mut names = BTreeMap::new();
        names.insert(
            "a.test".to_string(),
            Attempts {
                failures: 3,
                retry_at: Some(at),
                on_demand: true,
                ..Attempts::default()
            },
        );
        let read = from_json(&to_json(&names));
        let a = read.get("a.test").expect("kept");
        assert_eq!((a.failures, a.retry_at, a.on_demand), (3, Some(at), true));
        let hostile = json!({ "names": { "../x": {}, "b.test": { "failures": "many" } } });
        let read = from_json(&hostile);
        assert_eq!(read.keys().collect::<Vec<_>>(), ["b.test"]);
        assert_eq!(read["b.test"].failures, 0);
        assert!(from_json(&json!("nonsense")).is_empty());
    }
}
