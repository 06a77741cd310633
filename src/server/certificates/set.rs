//! The certificates a store serves at one moment, indexed by name: replaced whole on every
//! change, never edited in place, so a handshake always sees one consistent set.

use std::{
    collections::{BTreeMap, HashMap},
    sync::Arc,
    time::SystemTime,
};

use super::{
    file::Stored,
    info::{CertificateInfo, CertificateSource},
};

/// Certificates by source, and the index a handshake looks names up in.
#[derive(Debug, Default)]
pub(super) struct CertificateSet {
    by_source: BTreeMap<CertificateSource, Arc<Stored>>,
    /// Exact names, each with every certificate claiming it, the latest `notAfter` first.
    exact: HashMap<Box<str>, Vec<Arc<Stored>>>,
    /// Wildcards, by what follows `*.`, as `exact`.
    wildcard: HashMap<Box<str>, Vec<Arc<Stored>>>,
}

impl CertificateSet {
    /// The set of `by_source`. Where certificates claim one name, the one valid now that
    /// expires last serves it ([`find`](Self::find) decides at each handshake, so a renewal
    /// staged ahead of its `notBefore` takes over once valid, with no reload); on a tie, the
    /// source that sorts first.
    pub(super) fn new(by_source: BTreeMap<CertificateSource, Arc<Stored>>) -> Self {
        let mut exact: HashMap<Box<str>, Vec<Arc<Stored>>> = HashMap::new();
        let mut wildcard: HashMap<Box<str>, Vec<Arc<Stored>>> = HashMap::new();
        for stored in by_source.values() {
            for name in &stored.info.names {
                let (index, key) = match name.strip_prefix("*.") {
                    Some(parent) => (&mut wildcard, parent),
                    None => (&mut exact, name.as_str()),
                };
                index.entry(key.into()).or_default().push(stored.clone());
            }
        }
        for claims in exact.values_mut().chain(wildcard.values_mut()) {
            // Stable: on a tie, the source that sorts first stays first.
            claims.sort_by_key(|stored| std::cmp::Reverse(stored.info.not_after));
        }
        Self {
            by_source,
            exact,
            wildcard,
        }
    }

    /// The certificate for `name` (lowercase) at `now`: the exact name first, then a
    /// wildcard for its parent (one label only: `*.example.com` serves `a.example.com`, not
    /// `example.com` or `a.b.example.com`). Of the certificates claiming it, the one valid at
    /// `now` that expires last; when none is valid (all expired, or none valid yet), the one
    /// that expires last, so that the client sees why.
    pub(super) fn find(&self, name: &str, now: SystemTime) -> Option<&Arc<Stored>> {
        let claims = match self.exact.get(name) {
            Some(claims) => claims,
            None => {
                let (first, parent) = name.split_once('.')?;
                if first.is_empty() {
                    return None;
                }
                self.wildcard.get(parent)?
            }
        };
        claims
            .iter()
            .find(|stored| stored.info.not_before <= now && now <= stored.info.not_after)
            .or_else(|| claims.first())
    }

    pub(super) fn sources(&self) -> &BTreeMap<CertificateSource, Arc<Stored>> {
        &self.by_source
    }

    pub(super) fn infos(&self) -> impl Iterator<Item = &CertificateInfo> {
        self.by_source.values().map(|stored| &stored.info)
    }

    pub(super) fn len(&self) -> usize {
        self.by_source.len()
    }
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, SystemTime};

    use super::*;

    /// A stored certificate for `names`, expiring `days` from the epoch; its key is a
    /// placeholder (the index never looks at it).
    fn stored(source: &str, names: &[&str], days: u64) -> Arc<Stored> {
        stored_from(source, names, 0, days)
    }

    /// As [`stored`], valid from `from` days after the epoch.
    fn stored_from(source: &str, names: &[&str], from: u64, days: u64) -> Arc<Stored> {
        #[derive(Debug)]
        struct NoKey;
        impl rustls::sign::SigningKey for NoKey {
            fn choose_scheme(
                &self,
                _: &[rustls::SignatureScheme],
            ) -> Option<Box<dyn rustls::sign::Signer>> {
                None
            }
            fn algorithm(&self) -> rustls::SignatureAlgorithm {
                rustls::SignatureAlgorithm::ECDSA
            }
        }
        Arc::new(Stored {
            info: CertificateInfo {
                source: CertificateSource::Inserted(source.into()),
                names: names.iter().map(|n| n.to_string()).collect(),
                not_before: day(from),
                not_after: day(days),
            },
            key: Arc::new(rustls::sign::CertifiedKey::new(vec![], Arc::new(NoKey))),
            stamp: None,
        })
    }

    fn day(n: u64) -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(n * 86_400)
    }

    fn set(all: &[Arc<Stored>]) -> CertificateSet {
        CertificateSet::new(
            all.iter()
                .map(|s| (s.info.source.clone(), s.clone()))
                .collect(),
        )
    }

    fn found(set: &CertificateSet, name: &str) -> Option<String> {
        found_at(set, name, day(1))
    }

    fn found_at(set: &CertificateSet, name: &str, now: SystemTime) -> Option<String> {
        set.find(name, now).map(|s| s.info.source.to_string())
    }

    #[test]
    fn exact_names_first_then_a_wildcard_of_one_label() {
        let both = set(&[
            stored("apex", &["example.com"], 10),
            stored("star", &["*.example.com"], 10),
            stored("www", &["www.example.com"], 10),
        ]);
        assert_eq!(
            found(&both, "www.example.com").as_deref(),
            Some("inserted \"www\"")
        );
        assert_eq!(
            found(&both, "a.example.com").as_deref(),
            Some("inserted \"star\"")
        );
        assert_eq!(
            found(&both, "example.com").as_deref(),
            Some("inserted \"apex\"")
        );
        assert_eq!(found(&both, "a.b.example.com"), None, "one label only");
        assert_eq!(
            found(&both, ".example.com"),
            None,
            "an empty label is no label"
        );
        assert_eq!(found(&both, "example.org"), None);
    }

    #[test]
    fn of_two_claims_on_a_name_the_later_expiry_serves() {
        let newer = set(&[
            stored("a-new", &["a.test"], 90),
            stored("b-old", &["a.test"], 30),
        ]);
        assert_eq!(
            found(&newer, "a.test").as_deref(),
            Some("inserted \"a-new\"")
        );
        let tie = set(&[stored("b", &["a.test"], 30), stored("a", &["a.test"], 30)]);
        assert_eq!(
            found(&tie, "a.test").as_deref(),
            Some("inserted \"a\""),
            "tie: first source"
        );
    }

    /// The defect: a renewal staged ahead of its `notBefore` took over at once, and every
    /// client of the name failed. Now it takes over when it becomes valid, with no reload.
    #[test]
    fn a_certificate_not_yet_valid_waits_for_its_not_before() {
        let both = set(&[
            stored_from("current", &["a.test"], 0, 30),
            stored_from("staged", &["a.test"], 20, 110),
        ]);
        assert_eq!(
            found_at(&both, "a.test", day(10)).as_deref(),
            Some("inserted \"current\""),
            "the staged one is not valid yet"
        );
        assert_eq!(
            found_at(&both, "a.test", day(20)).as_deref(),
            Some("inserted \"staged\""),
            "valid from its notBefore on"
        );
        assert_eq!(
            found_at(&both, "a.test", day(200)).as_deref(),
            Some("inserted \"staged\""),
            "none valid: the one that expires last"
        );
    }
}
