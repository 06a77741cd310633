//! What the store knows of a certificate: where it came from, the DNS names it serves and
//! when it is valid, read from the leaf's DER with the `x509-cert` crate.

use std::{
    fmt,
    path::PathBuf,
    time::{Duration, SystemTime},
};

use rustls::pki_types::CertificateDer;
use x509_cert::{der::Decode, ext::pkix::name::GeneralName, ext::pkix::SubjectAltName};

use super::error::CertificateErrorKind;

/// Where a stored certificate came from.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum CertificateSource {
    /// A file: the PEM file holding the chain (its key is in it or beside it).
    File(PathBuf),
    /// Added in memory with [`CertificateStore::insert`](crate::certificates::CertificateStore::insert),
    /// under this label.
    Inserted(String),
}

impl fmt::Display for CertificateSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::File(path) => write!(f, "{}", path.display()),
            Self::Inserted(label) => write!(f, "inserted {label:?}"),
        }
    }
}

/// A certificate in a [`CertificateStore`](crate::certificates::CertificateStore): its source, the names it
/// is chosen for, and its validity.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertificateInfo {
    /// Where it came from.
    pub source: CertificateSource,
    /// The DNS names of its subject alternative names, lowercase; a wildcard
    /// (`*.example.com`) matches exactly one label.
    pub names: Vec<String>,
    /// Its `notBefore`.
    pub not_before: SystemTime,
    /// Its `notAfter`: it expires then.
    pub not_after: SystemTime,
}

impl CertificateInfo {
    /// Reads the names and validity of the leaf certificate `leaf`.
    pub(super) fn read(
        source: CertificateSource,
        leaf: &CertificateDer<'_>,
    ) -> Result<Self, CertificateErrorKind> {
        let certificate = x509_cert::Certificate::from_der(leaf)
            .map_err(|e| CertificateErrorKind::Unparsable(e.to_string()))?;
        let tbs = &certificate.tbs_certificate;
        let validity = &tbs.validity;
        let names = match tbs.get::<SubjectAltName>() {
            Ok(Some((_, alt_names))) => dns_names(&alt_names),
            Ok(None) => Vec::new(),
            Err(e) => return Err(CertificateErrorKind::Unparsable(e.to_string())),
        };
        if names.is_empty() {
            return Err(CertificateErrorKind::NoDnsNames);
        }
        Ok(Self {
            source,
            names,
            not_before: validity.not_before.to_system_time(),
            not_after: validity.not_after.to_system_time(),
        })
    }

    /// The moment `fraction` of its lifetime has passed (`0.0` is `not_before`, `1.0`
    /// `not_after`): renewal is due then.
    pub fn lifetime_point(&self, fraction: f64) -> SystemTime {
        let lifetime = self
            .not_after
            .duration_since(self.not_before)
            .unwrap_or(Duration::ZERO);
        self.not_before + lifetime.mul_f64(fraction.clamp(0.0, 1.0))
    }
}

/// The DNS names of a subject alternative name extension, lowercase, keeping only names a
/// client can match: labels of letters, digits and hyphens, and a wildcard only as the whole
/// leftmost label.
fn dns_names(alt_names: &SubjectAltName) -> Vec<String> {
    let mut names: Vec<String> = alt_names
        .0
        .iter()
        .filter_map(|name| match name {
            GeneralName::DnsName(dns) => Some(dns.as_str().to_ascii_lowercase()),
            _ => None,
        })
        .filter(|name| is_matchable(name))
        .collect();
    names.sort();
    names.dedup();
    names
}

fn is_matchable(name: &str) -> bool {
    let plain = name.strip_prefix("*.").unwrap_or(name);
    !plain.is_empty()
        && plain.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_names_a_client_can_match_are_kept() {
        for good in ["example.com", "*.example.com", "a-b.c", "localhost"] {
            assert!(is_matchable(good), "{good}");
        }
        for bad in [
            "",
            "*",
            "*.",
            "a*.example.com",
            "a..b",
            "ex ample.com",
            "*.*.a",
        ] {
            assert!(!is_matchable(bad), "{bad}");
        }
    }
}
