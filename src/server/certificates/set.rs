//! The certificates a store serves at one moment, indexed by name: replaced whole on every
//! change, never edited in place, so a handshake always sees one consistent set.

use std::{
    collections::{BTreeMap, HashMap},
    sync::Arc,
};

use super::{
    file::Stored,
    info::{CertificateInfo, CertificateSource},
};

/// Certificates by source, and the index a handshake looks names up in.
#[derive(Debug, Default)]
pub(super) struct CertificateSet {
    by_source: BTreeMap<CertificateSource, Arc<Stored>>,
    /// Exact names.
    exact: HashMap<Box<str>, Arc<Stored>>,
    /// Wildcards, by what follows `*.`.
    wildcard: HashMap<Box<str>, Arc<Stored>>,
}

impl CertificateSet {
    /// The set of `by_source`. Where two certificates claim one name, the one that expires
    /// later serves it (a renewed certificate added beside the old one takes over); on a tie,
    /// the source that sorts first.
    pub(super) fn new(by_source: BTreeMap<CertificateSource, Arc<Stored>>) -> Self {
        let mut exact: HashMap<Box<str>, Arc<Stored>> = HashMap::new();
        let mut wildcard: HashMap<Box<str>, Arc<Stored>> = HashMap::new();
        for stored in by_source.values() {
            for name in &stored.info.names {
                let (index, key) = match name.strip_prefix("*.") {
                    Some(parent) => (&mut wildcard, parent),
                    None => (&mut exact, name.as_str()),
                };
                let slot = index.entry(key.into()).or_insert_with(|| stored.clone());
                if stored.info.not_after > slot.info.not_after {
                    *slot = stored.clone();
                }
            }
        }
        Self {
            by_source,
            exact,
            wildcard,
        }
    }

    /// The certificate for `name` (lowercase): the exact name first, then a wildcard for its
    /// parent (one label only: `*.example.com` serves `a.example.com`, not `example.com` or
    /// `a.b.example.com`).
    pub(super) fn find(&self, name: &str) -> Option<&Arc<Stored>> {
        if let Some(stored) = self.exact.get(name) {
            return Some(stored);
        }
        let (first, parent) = name.split_once('.')?;
        if first.is_empty() {
            return None;
        }
        self.wildcard.get(parent)
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
                not_before: SystemTime::UNIX_EPOCH,
                not_after: SystemTime::UNIX_EPOCH + Duration::from_secs(days * 86_400),
            },
            key: Arc::new(rustls::sign::CertifiedKey::new(vec![], Arc::new(NoKey))),
            stamp: None,
        })
    }

    fn set(all: &[Arc<Stored>]) -> CertificateSet {
        CertificateSet::new(
            all.iter()
                .map(|s| (s.info.source.clone(), s.clone()))
                .collect(),
        )
    }

    fn found(set: &CertificateSet, name: &str) -> Option<String> {
        set.find(name).map(|s| s.info.source.to_string())
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
}
