//! [`AcmeConfig`]: which ACME server, which names, where the cache lives, and when to renew.

use std::{fmt, path::PathBuf, sync::Arc, time::Duration};

use rustls::RootCertStore;

/// Let's Encrypt's production directory.
pub const LETS_ENCRYPT: &str = "https://acme-v02.api.letsencrypt.org/directory";
/// Let's Encrypt's staging directory (untrusted certificates, generous rate limits).
pub const LETS_ENCRYPT_STAGING: &str = "https://acme-staging-v02.api.letsencrypt.org/directory";

/// A predicate on names a client asks for that the server may order a certificate for when
/// first asked ([`AcmeConfig::on_demand`]).
pub(super) type OnDemand = Arc<dyn Fn(&str) -> bool + Send + Sync>;

/// What an [`Acme`](crate::acme::Acme) client orders, from where, and where it keeps what it gets.
///
/// # Examples
///
/// ```
/// use tokio_tls_handshake::{acme::{AcmeConfig, LETS_ENCRYPT}};
///
/// let config = AcmeConfig::new(LETS_ENCRYPT, "/var/lib/myserver/acme")
///     .contact("mailto:ops@example.com")
///     .name("example.com")
///     .name("www.example.com");
/// ```
#[derive(Clone)]
pub struct AcmeConfig {
    pub(super) directory: String,
    pub(super) cache_dir: PathBuf,
    pub(super) contact: Vec<String>,
    pub(super) names: Vec<String>,
    pub(super) on_demand: Option<OnDemand>,
    pub(super) max_on_demand: usize,
    pub(super) on_demand_per_hour: usize,
    pub(super) on_demand_attempts: u32,
    pub(super) roots: Option<RootCertStore>,
    pub(super) renew_at: f64,
    pub(super) retry_first: Duration,
    pub(super) retry_max: Duration,
    pub(super) order_timeout: Duration,
    pub(super) concurrent_orders: usize,
    pub(super) fleet: Option<super::fleet::Fleet>,
}

impl fmt::Debug for AcmeConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AcmeConfig")
            .field("directory", &self.directory)
            .field("cache_dir", &self.cache_dir)
            .field("contact", &self.contact)
            .field("names", &self.names)
            .field("on_demand", &self.on_demand.is_some())
            .field("max_on_demand", &self.max_on_demand)
            .field("on_demand_per_hour", &self.on_demand_per_hour)
            .field("on_demand_attempts", &self.on_demand_attempts)
            .field("renew_at", &self.renew_at)
            .field("fleet", &self.fleet.as_ref().map(|fleet| &fleet.storage))
            .finish_non_exhaustive()
    }
}

impl AcmeConfig {
    /// Certificates from the ACME server whose directory is at `directory` (an `https://`
    /// URL, such as [`LETS_ENCRYPT`]), kept in `cache_dir`: the account key in
    /// `acme-account.json` and each certificate with its key in `NAME.pem`, the
    /// [`CertificateStore`](crate::certificates::CertificateStore)'s layout, all readable by the owner only.
    ///
    /// Defaults: no contact, no names, the platform's trusted roots for the ACME server,
    /// renewal at two thirds of a certificate's lifetime, retries after 1 minute doubling up
    /// to 6 hours, 5 minutes per order, 4 orders at once.
    pub fn new(directory: impl Into<String>, cache_dir: impl Into<PathBuf>) -> Self {
        Self {
            directory: directory.into(),
            cache_dir: cache_dir.into(),
            contact: Vec::new(),
            names: Vec::new(),
            on_demand: None,
            max_on_demand: 16,
            on_demand_per_hour: 10,
            on_demand_attempts: 3,
            roots: None,
            renew_at: 2.0 / 3.0,
            retry_first: Duration::from_secs(60),
            retry_max: Duration::from_secs(6 * 3600),
            order_timeout: Duration::from_secs(300),
            concurrent_orders: 4,
            fleet: None,
        }
    }

    /// Shares this client's work with every instance given the same `storage` (a fleet
    /// behind one load balancer):
    ///
    /// - **one order per name**: an instance orders a name only while it holds the name's
    ///   lease in the storage; the others wait for the certificate (no backoff grows), and
    ///   take the name over if the holder dies and its lease expires
    ///   ([`order_lease`](Self::order_lease));
    /// - **any instance answers the challenge**: the ordering instance puts the challenge in
    ///   the storage, waits until every instance has read it (two polls), and only then tells
    ///   the ACME server to validate; every instance's chooser answers it;
    /// - **one account**: the first instance that needs one makes it under a lease and keeps it
    ///   in the storage; the others use it;
    /// - **every instance serves the certificate**: it is put in the storage when issued, and
    ///   every instance checks the storage every [`fleet_poll`](Self::fleet_poll) (2 s by
    ///   default: one read of two small indexes, no more while nothing changes), checks what
    ///   it finds (the chain parses, the key belongs to it, it names the name), writes it to
    ///   its cache and serves it. A value that fails the checks is a typed error, and the
    ///   certificate served before keeps serving.
    ///
    /// The cache directory stays each instance's own copy: an instance that starts while the
    /// storage is down serves what it has cached, and logs that the storage is unavailable.
    pub fn storage(mut self, storage: std::sync::Arc<dyn crate::server::storage::Storage>) -> Self {
        self.fleet = Some(super::fleet::Fleet {
            storage,
            poll: Duration::from_secs(2),
            lease: Duration::from_secs(120),
        });
        self
    }

    /// How often each instance reads the fleet's storage for new certificates and challenges
    /// (default 2 s, at least 100 ms). Needs [`storage`](Self::storage) first.
    pub fn fleet_poll(mut self, every: Duration) -> Self {
        if let Some(fleet) = &mut self.fleet {
            fleet.poll = every.max(Duration::from_millis(100));
        }
        self
    }

    /// How long an instance's lease on a name lasts while it orders it (default 2 minutes; it
    /// is extended every third of that while the order runs). An instance that dies mid-order
    /// holds the name up for at most this long. Needs [`storage`](Self::storage) first.
    pub fn order_lease(mut self, lease: Duration) -> Self {
        if let Some(fleet) = &mut self.fleet {
            fleet.lease = lease.max(Duration::from_secs(1));
        }
        self
    }

    /// A contact URI for the account, such as `mailto:ops@example.com`.
    pub fn contact(mut self, uri: impl Into<String>) -> Self {
        self.contact.push(uri.into());
        self
    }

    /// A DNS name to hold a certificate for (one certificate per name). Wildcards cannot be
    /// validated with TLS-ALPN-01.
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.names.push(name.into().to_ascii_lowercase());
        self
    }

    /// Orders a certificate for a name a client asks for that the store has none for, when
    /// `allowed` says yes. That client is refused (or served the store's default), and later
    /// clients get the new certificate once issued. Keep `allowed` strict (an allow-list, or a
    /// lookup of your own, as Caddy's `ask` endpoint): every name it allows costs orders at
    /// the ACME server, against the account's rate limits. Bounded, whatever `allowed` says:
    ///
    /// - at most [`max_on_demand`](Self::max_on_demand) names held on demand, issued ones
    ///   included (default 16);
    /// - at most [`on_demand_orders_per_hour`](Self::on_demand_orders_per_hour) new names
    ///   taken on per hour (default 10);
    /// - a name whose orders failed [`on_demand_attempts`](Self::on_demand_attempts) times in
    ///   a row (default 3) is forgotten, and its place freed: a later client may ask again;
    /// - [`Acme::forget`](crate::acme::Acme::forget) drops a name at once.
    pub fn on_demand(mut self, allowed: impl Fn(&str) -> bool + Send + Sync + 'static) -> Self {
        self.on_demand = Some(Arc::new(allowed));
        self
    }

    /// The most names held on demand at once, issued or not (default 16). A name asked for
    /// beyond it is not taken on (its client is refused) until one is forgotten.
    pub fn max_on_demand(mut self, names: usize) -> Self {
        self.max_on_demand = names;
        self
    }

    /// The most new names taken on demand within any hour (default 10): the first orders
    /// they cause. Renewals of names already held are not counted.
    pub fn on_demand_orders_per_hour(mut self, orders: usize) -> Self {
        self.on_demand_per_hour = orders;
        self
    }

    /// After this many failed orders in a row (default 3, at least 1), a name taken on demand
    /// is forgotten: no more orders for it, and its place is free.
    pub fn on_demand_attempts(mut self, attempts: u32) -> Self {
        self.on_demand_attempts = attempts.max(1);
        self
    }

    /// Trusts `roots` for the ACME server's own HTTPS certificate instead of the platform's
    /// (a test server such as Pebble has its own).
    pub fn http_roots(mut self, roots: RootCertStore) -> Self {
        self.roots = Some(roots);
        self
    }

    /// Renews a certificate once `fraction` of its lifetime has passed (default two thirds;
    /// `0.0` renews at the next check, whatever the certificate's age). A name is never
    /// renewed twice within the first retry interval ([`retry_backoff`](Self::retry_backoff)).
    pub fn renew_at(mut self, fraction: f64) -> Self {
        self.renew_at = fraction.clamp(0.0, 1.0);
        self
    }

    /// After a failed order, retries after `first`, doubling up to `max`, but never later
    /// than `first` before the current certificate expires. The record of failures is kept
    /// in the cache directory (`acme-attempts.json`), so a restart keeps its backoff.
    pub fn retry_backoff(mut self, first: Duration, max: Duration) -> Self {
        self.retry_first = first;
        self.retry_max = max.max(first);
        self
    }

    /// The longest one order may take, from creating it to the certificate (default 5
    /// minutes).
    pub fn order_timeout(mut self, timeout: Duration) -> Self {
        self.order_timeout = timeout;
        self
    }

    /// How many orders may run at once (default 4, at least 1). Configured names take the
    /// places before names asked for on demand, so a slow or failing order never holds up
    /// every renewal behind it.
    pub fn concurrent_orders(mut self, orders: usize) -> Self {
        self.concurrent_orders = orders.max(1);
        self
    }

    /// The wait before the next attempt after `failures` failed ones in a row.
    pub(super) fn backoff(&self, failures: u32) -> Duration {
        let doublings = failures.saturating_sub(1).min(30);
        self.retry_first
            .saturating_mul(1 << doublings)
            .min(self.retry_max)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retries_double_up_to_the_limit() {
        let config = AcmeConfig::new("https://acme.test/dir", "/tmp")
            .retry_backoff(Duration::from_secs(10), Duration::from_secs(60));
        let waits: Vec<_> = (1..=6).map(|f| config.backoff(f).as_secs()).collect();
        assert_eq!(waits, [10, 20, 40, 60, 60, 60]);
        assert_eq!(config.backoff(u32::MAX).as_secs(), 60, "no overflow");
    }
}
