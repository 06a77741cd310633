//! When and how names are ordered: the loop that renews what is due (configured names
//! first, several orders at once), one order with its account, and the record of how each
//! went, kept with the cache.

use std::{
    collections::BTreeMap,
    sync::{Arc, PoisonError},
    time::{Duration, SystemTime},
};

use futures::StreamExt;
use instant_acme::Account;

use super::{
    attempts::{self, Attempts},
    cache::Cache,
    order, orderable, Acme, AcmeConfig, AcmeError, CertificateInfo, LONGEST_SLEEP,
};

impl Acme {
    /// Holds certificates for every name for as long as it runs: orders the ones missing,
    /// renews each once [`renew_at`](AcmeConfig::renew_at) of its lifetime has passed, retries
    /// failures with backoff, and takes on names asked for on demand. Orders run at once up to
    /// [`concurrent_orders`](AcmeConfig::concurrent_orders), configured names before names
    /// asked for on demand. With [`storage`](AcmeConfig::storage), it also picks up what the
    /// fleet shares, every [`fleet_poll`](AcmeConfig::fleet_poll). Never returns; drop or
    /// abort the task to stop it.
    pub async fn run(self) {
        let renewing = std::pin::pin!(self.renew_for_ever());
        let picking_up = std::pin::pin!(self.pick_up_for_ever());
        futures::future::select(renewing, picking_up).await;
    }

    async fn renew_for_ever(&self) {
        loop {
            let due = self.due_names(SystemTime::now());
            // Each waits for a place in the order (the semaphore is first come, first
            // served), so configured names go first.
            futures::stream::iter(due)
                .for_each_concurrent(None, |name| {
                    let this = self;
                    async move {
                        let _ = this.renew(&name).await;
                    }
                })
                .await;
            let now = SystemTime::now();
            let next = self
                .names()
                .iter()
                .map(|name| self.due_at(name))
                .fold(now + LONGEST_SLEEP, SystemTime::min);
            let sleep = next.duration_since(now).unwrap_or(Duration::ZERO);
            let asked = std::pin::pin!(self.inner.wake.notified());
            let slept = std::pin::pin!(tokio::time::sleep(sleep));
            futures::future::select(asked, slept).await;
        }
    }

    /// The names due at `now`: configured ones first (a renewal the operator asked for is
    /// never held up by names clients asked for), each kind in name order.
    pub(super) fn due_names(&self, now: SystemTime) -> Vec<String> {
        let mut held: Vec<(bool, String)> = self
            .lock_names()
            .iter()
            .map(|(name, a)| (a.on_demand, name.clone()))
            .collect();
        held.retain(|(_, name)| self.due_at(name) <= now);
        held.sort();
        held.into_iter().map(|(_, name)| name).collect()
    }

    /// Orders a new certificate for `name` now, whatever the cached one's age, and serves it
    /// once issued. At most [`concurrent_orders`](AcmeConfig::concurrent_orders) orders run
    /// at once; this one waits for a place. The outcome is recorded in
    /// [`status`](Self::status), kept with the cache, and logged.
    ///
    /// In a fleet ([`storage`](AcmeConfig::storage)) it orders only while holding the name's
    /// lease, and a certificate in the storage that is not yet due (another instance has just
    /// renewed it) is taken instead of ordering again. A failed order is the fleet's: it is
    /// recorded in the storage, and no instance orders the name again before its backoff.
    ///
    /// # Errors
    ///
    /// Why no certificate was obtained; the one served before, if any, keeps serving. In a
    /// fleet, [`AcmeError::OrderedElsewhere`] when another instance holds the lease, and
    /// [`AcmeError::BackingOff`] while the fleet backs off after a failed order.
    pub async fn renew(&self, name: &str) -> Result<CertificateInfo, AcmeError> {
        let name = name.to_ascii_lowercase();
        let outcome = if orderable(&name) {
            // Held from now on (a name forgotten while its order runs stays forgotten).
            self.lock_names().entry(name.clone()).or_default();
            // The semaphore is never closed, so a place always comes.
            let _place = self.inner.orders.acquire().await.ok();
            match &self.inner.config.fleet {
                Some(fleet) => self.order_for_the_fleet(fleet, &name).await,
                None => self.order_in_time(&name).await,
            }
        } else {
            Err(AcmeError::InvalidName(name.clone()))
        };
        self.record(&name, &outcome);
        let inner = Arc::clone(&self.inner);
        if let Ok(Err(error)) =
            tokio::task::spawn_blocking(move || Acme { inner }.save_attempts()).await
        {
            tracing::warn!(error = %error, "acme cache: the attempts were not saved");
        }
        outcome
    }

    /// Orders `name` within the order timeout; its challenge is withdrawn after, whatever
    /// the outcome.
    async fn order_in_time(&self, name: &str) -> Result<CertificateInfo, AcmeError> {
        let timeout = self.inner.config.order_timeout;
        let ordered = tokio::time::timeout(timeout, self.order(name)).await;
        self.inner.challenges.remove(name);
        if let Some(fleet) = &self.inner.config.fleet {
            if let Err(error) = fleet.withdraw_challenge(name).await {
                tracing::warn!(name, error = %error, "acme fleet: a challenge not withdrawn");
            }
        }
        ordered.unwrap_or_else(|_| {
            Err(AcmeError::TimedOut {
                name: name.to_string(),
            })
        })
    }

    /// Orders `name` for the fleet: only while holding its lease (extended while the order
    /// runs), unless the storage already has a certificate not yet due; the certificate
    /// issued goes to the storage for every instance.
    async fn order_for_the_fleet(
        &self,
        fleet: &super::fleet::Fleet,
        name: &str,
    ) -> Result<CertificateInfo, AcmeError> {
        let storage = &fleet.storage;
        let lease_name = super::fleet::order_lease(name);
        let Some(lease) = storage
            .try_lock(&lease_name, fleet.lease)
            .await
            .map_err(AcmeError::storage)?
        else {
            return Err(AcmeError::OrderedElsewhere {
                name: name.to_string(),
            });
        };
        // Another instance may have ordered it just before this one took the lease.
        let adopted = self.adopt(fleet, name).await.map_err(AcmeError::storage);
        // The fleet backs off as one client: a failure elsewhere holds this order back.
        let backoff = match fleet.backoff(name).await {
            Ok(backoff) => backoff,
            Err(error) => {
                let _ = storage.unlock(&lease).await;
                return Err(AcmeError::storage(error));
            }
        };
        let failures_before = backoff.map_or(0, |(failures, _)| failures);
        let outcome = match (adopted, backoff.map(|(_, until)| until)) {
            (Ok(Some(info)), _) if self.renewal_point(&info) > SystemTime::now() => Ok(info),
            (_, Some(until)) if until > SystemTime::now() => Err(AcmeError::BackingOff {
                name: name.to_string(),
                failures: failures_before,
                until,
            }),
            _ => {
                let extending = async {
                    loop {
                        tokio::time::sleep(fleet.lease / 3).await;
                        if !matches!(storage.extend(&lease, fleet.lease).await, Ok(true)) {
                            tracing::warn!(name, "acme fleet: the order's lease was lost");
                        }
                    }
                };
                let ordering = std::pin::pin!(self.order_in_time(name));
                let extending = std::pin::pin!(extending);
                match futures::future::select(ordering, extending).await {
                    futures::future::Either::Left((ordered, _)) => ordered,
                    futures::future::Either::Right(((), _)) => unreachable!("extends for ever"),
                }
            }
        };
        if let Ok(info) = &outcome {
            let path = self.inner.cache.certificate_path(name);
            let read = tokio::task::spawn_blocking(move || std::fs::read(path)).await;
            let published = match read.unwrap_or_else(|e| Err(std::io::Error::other(e))) {
                Ok(pem) => {
                    let not_after = super::pickup::unix_secs(info.not_after);
                    fleet
                        .publish_certificate(name, &pem, not_after)
                        .await
                        .map(|entry| self.remember(name, entry))
                }
                Err(e) => Err(crate::server::storage::StorageError::unavailable(
                    "store", name, e,
                )),
            };
            if let Err(error) = published {
                tracing::warn!(name, error = %error, "acme fleet: the certificate was not shared");
                crate::measure::storage_failed(error.label());
            }
        }
        self.share_backoff(fleet, name, &outcome, failures_before)
            .await;
        let _ = storage.unlock(&lease).await;
        outcome
    }

    /// Keeps the fleet's record of `name`'s failed orders (`before` of them until this one):
    /// forgotten after a success, one more after a failure, with the next try no sooner than
    /// the backoff allows. Outcomes that are not the ACME server's verdict (the storage,
    /// another instance's lease, a backoff) leave it as it is.
    async fn share_backoff(
        &self,
        fleet: &super::fleet::Fleet,
        name: &str,
        outcome: &Result<CertificateInfo, AcmeError>,
        before: u32,
    ) {
        let shared = match outcome {
            Ok(_) if before > 0 => fleet.clear_backoff(name).await,
            Ok(_)
            | Err(
                AcmeError::Storage(_)
                | AcmeError::OrderedElsewhere { .. }
                | AcmeError::BackingOff { .. },
            ) => Ok(()),
            Err(_) => {
                let failures = before.saturating_add(1);
                let now = SystemTime::now();
                let certificate = self.cached(name);
                let retry_at =
                    attempts::retry_at(&self.inner.config, failures, now, certificate.as_ref());
                fleet.save_backoff(name, failures, retry_at).await
            }
        };
        if let Err(error) = shared {
            tracing::warn!(name, error = %error, "acme fleet: the backoff was not shared");
            crate::measure::storage_failed(error.label());
        }
    }

    async fn order(&self, name: &str) -> Result<CertificateInfo, AcmeError> {
        let mut fresh = false;
        let mut nonce_retries = 3;
        loop {
            let account = self.account(fresh).await?;
            let inner = &self.inner;
            let ordered = order::order(
                &account,
                name,
                &inner.challenges,
                inner.config.fleet.as_ref(),
                &inner.provider,
                inner.config.order_timeout,
            )
            .await;
            match ordered {
                // The server does not know the saved account: make a new one, once.
                Err(e) if !fresh && order::account_unknown(&e) => fresh = true,
                Err(e) if nonce_retries > 0 && order::bad_nonce(&e) => nonce_retries -= 1,
                Err(e) => return Err(e),
                Ok(issued) => return self.keep(name, issued).await,
            }
        }
    }

    /// The account orders share: the one made (or loaded) already, or a new one (`fresh`:
    /// a new one whatever is saved).
    async fn account(&self, fresh: bool) -> Result<Account, AcmeError> {
        let mut slot = self.inner.account.lock().await;
        if let (Some(account), false) = (slot.as_ref(), fresh) {
            return Ok(account.clone());
        }
        let inner = &self.inner;
        let made = order::account(&inner.config, &inner.cache, &inner.provider, fresh).await?;
        *slot = Some(made.clone());
        Ok(made)
    }

    /// Writes an issued certificate to the cache and serves it, off the runtime's workers
    /// (the write is synced to disk, and the store's lock may be held by a reload).
    async fn keep(&self, name: &str, issued: order::Issued) -> Result<CertificateInfo, AcmeError> {
        let inner = Arc::clone(&self.inner);
        let name = name.to_string();
        let dir = inner.cache.dir().to_path_buf();
        tokio::task::spawn_blocking(move || {
            let path = inner
                .cache
                .save_certificate(&name, &issued.chain_pem, &issued.key_pem)?;
            inner
                .store
                .load_file(path)
                .map_err(|e| AcmeError::Certificate(Arc::new(e)))
        })
        .await
        .unwrap_or_else(|e| Err(AcmeError::cache(dir, std::io::Error::other(e))))
    }

    /// When `name` is next due: a retry after a failure, else its certificate's renewal
    /// point (never within the retry interval of the last success), else now.
    pub(super) fn due_at(&self, name: &str) -> SystemTime {
        let attempts = self.lock_names().get(name).cloned().unwrap_or_default();
        if let Some(retry_at) = attempts.retry_at {
            return retry_at;
        }
        let renewal = self
            .cached(name)
            .map_or(SystemTime::UNIX_EPOCH, |c| self.renewal_point(&c));
        match attempts.succeeded_at {
            Some(at) => renewal.max(at + self.inner.config.retry_first),
            None => renewal,
        }
    }

    fn record(&self, name: &str, outcome: &Result<CertificateInfo, AcmeError>) {
        let certificate = self.cached(name);
        {
            let mut names = self.lock_names();
            // A name forgotten while its order ran stays forgotten.
            if let Some(attempts) = names.get_mut(name) {
                match outcome {
                    Ok(certificate) => {
                        tracing::info!(name, not_after = ?certificate.not_after, "acme certificate issued");
                        *attempts = Attempts {
                            on_demand: attempts.on_demand,
                            succeeded_at: Some(SystemTime::now()),
                            ..Attempts::default()
                        };
                    }
                    Err(AcmeError::OrderedElsewhere { .. }) => {
                        // Not a failure: look again once the holder's lease could expire;
                        // the certificate, when it comes, clears this (pickup).
                        let lease = self
                            .inner
                            .config
                            .fleet
                            .as_ref()
                            .map_or(self.inner.config.retry_first, |fleet| fleet.lease);
                        attempts.retry_at = Some(SystemTime::now() + lease);
                        tracing::info!(name, "acme order left to another instance of the fleet");
                    }
                    Err(
                        error @ AcmeError::BackingOff {
                            failures, until, ..
                        },
                    ) => {
                        // The fleet's failures, not this instance's: taken as they are.
                        attempts.failures = *failures;
                        attempts.retry_at = Some(*until);
                        attempts.last_error = Some(Arc::new(error.clone()));
                        tracing::info!(name, until = ?until, "acme order held back: the fleet is backing off");
                    }
                    Err(error) => {
                        if let AcmeError::Storage(storage) = error {
                            crate::measure::storage_failed(storage.label());
                        }
                        attempts.failures = attempts.failures.saturating_add(1);
                        let config = &self.inner.config;
                        let forget =
                            attempts.on_demand && attempts.failures >= config.on_demand_attempts;
                        let now = SystemTime::now();
                        let retry_at = attempts::retry_at(
                            config,
                            attempts.failures,
                            now,
                            certificate.as_ref(),
                        );
                        attempts.retry_at = Some(retry_at);
                        attempts.last_error = Some(Arc::new(error.clone()));
                        if forget {
                            tracing::warn!(
                                name,
                                error = %error,
                                failures = attempts.failures,
                                "acme order failed; the name asked for on demand is forgotten"
                            );
                            names.remove(name);
                        } else {
                            tracing::warn!(
                                name,
                                error = %error,
                                retry_in_s = retry_at.duration_since(now).map_or(0, |d| d.as_secs()),
                                "acme order failed; the current certificate, if any, keeps serving"
                            );
                        }
                    }
                }
            }
        }
        self.inner.attempts.send_modify(|n| *n += 1);
    }

    /// Writes the names held and how their orders went to the cache. Blocking: called from
    /// `spawn_blocking`, or from [`forget`](Self::forget).
    pub(super) fn save_attempts(&self) -> Result<(), AcmeError> {
        let _one_at_a_time = self
            .inner
            .saving
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let saved = attempts::to_json(&self.lock_names());
        self.inner.cache.save_attempts(&saved)
    }

    /// The names held at start: the configured ones, and the names taken on demand before
    /// (while the predicate still allows them, up to the bound), each with the record of its
    /// orders kept in the cache, so that a restart keeps its backoff and renews what clients
    /// asked for.
    pub(super) fn held_at_start(config: &AcmeConfig, cache: &Cache) -> BTreeMap<String, Attempts> {
        let saved = match cache.attempts() {
            Ok(saved) => saved
                .map(|saved| attempts::from_json(&saved))
                .unwrap_or_default(),
            Err(error) => {
                tracing::warn!(error = %error, "acme cache: the attempts were not read");
                BTreeMap::new()
            }
        };
        let mut held: BTreeMap<String, Attempts> = config
            .names
            .iter()
            .map(|name| {
                let mut attempts = saved.get(name).cloned().unwrap_or_default();
                attempts.on_demand = false;
                (name.clone(), attempts)
            })
            .collect();
        if let Some(allowed) = &config.on_demand {
            let on_demand = saved
                .into_iter()
                .filter(|(name, a)| a.on_demand && !held.contains_key(name) && allowed(name))
                .take(config.max_on_demand)
                .collect::<Vec<_>>();
            held.extend(on_demand);
        }
        held
    }
}
