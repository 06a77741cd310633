//! What an instance of a fleet picks up from the storage it shares: the challenges other
//! instances are being validated for, and the certificates they obtained.

use std::{
    sync::Arc,
    time::{SystemTime, UNIX_EPOCH},
};

use super::{
    attempts::Attempts,
    fleet::{self, Fleet, CERTIFICATES, CHALLENGES},
    Acme, AcmeError, CertificateInfo,
};
use crate::server::{
    certificates::{check_pem, CertificateError, CertificateSource},
    storage::StorageError,
};

/// Seconds since the Unix epoch of `time`, as the certificates' index writes them.
pub(super) fn unix_secs(time: SystemTime) -> u64 {
    time.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

impl Acme {
    fn fleet(&self) -> Option<&Fleet> {
        self.inner.config.fleet.as_ref()
    }

    /// Picks up now what the fleet shares, as [`run`](Self::run) does every
    /// [`fleet_poll`](super::AcmeConfig::fleet_poll): the challenges other instances are
    /// being validated for, and certificates newer than this instance's (checked, cached,
    /// served). Does nothing without [`storage`](super::AcmeConfig::storage).
    ///
    /// # Errors
    ///
    /// [`AcmeError::Storage`]: the storage is unavailable, or holds a certificate that fails
    /// the checks ([`StorageError::Corrupt`]: it does not parse, its key does not belong to
    /// it, it does not name its name). The certificate served before keeps serving.
    pub async fn refresh(&self) -> Result<(), AcmeError> {
        match self.fleet() {
            Some(fleet) => self.pick_up(fleet).await.map_err(AcmeError::storage),
            None => Ok(()),
        }
    }

    /// Reads the storage every [`fleet_poll`](super::AcmeConfig::fleet_poll), for ever. A
    /// round that fails is logged and counted; what is served keeps serving.
    pub(super) async fn pick_up_for_ever(&self) {
        let Some(fleet) = self.fleet().cloned() else {
            return std::future::pending().await;
        };
        let mut was_down = false;
        loop {
            match self.pick_up(&fleet).await {
                Ok(()) if was_down => {
                    tracing::info!("acme fleet storage is back");
                    was_down = false;
                }
                Ok(()) => {}
                Err(error) => {
                    if !was_down {
                        tracing::warn!(error = %error, "acme fleet storage unavailable; serving the local cache");
                    }
                    was_down = true;
                    crate::measure::storage_failed(error.label());
                }
            }
            tokio::time::sleep(fleet.poll).await;
        }
    }

    /// One round: the challenges in flight, then the certificates newer than this
    /// instance's.
    pub(super) async fn pick_up(&self, fleet: &Fleet) -> Result<(), StorageError> {
        let challenges = fleet.index(CHALLENGES).await?;
        let theirs = &self.inner.fleet_challenges;
        for (name, hex) in &challenges {
            // Its own order answers with its own challenge.
            if self.inner.challenges.get(name).is_some() {
                continue;
            }
            let Some(digest) = fleet::digest_from_hex(hex) else {
                continue;
            };
            if theirs.digest(name).as_ref() != Some(&digest) {
                if let Err(error) = theirs.insert(name, &digest, &self.inner.provider) {
                    tracing::warn!(name, error = %error, "acme fleet: a challenge not answered");
                }
            }
        }
        for name in theirs.names() {
            if !challenges.contains_key(&name) {
                theirs.remove(&name);
            }
        }
        let certificates = fleet.index(CERTIFICATES).await?;
        let mut first_error = None;
        for (name, entry) in certificates {
            let Some(not_after) = fleet::entry_not_after(&entry) else {
                continue;
            };
            if self.seen(&name).as_deref() == Some(entry.as_str()) {
                continue;
            }
            // Never back to an older certificate than the one served.
            let ours = self.cached(&name).map(|c| unix_secs(c.not_after));
            if ours.is_some_and(|ours| ours > not_after) {
                continue;
            }
            match self.adopt(fleet, &name).await {
                Ok(Some(_)) => {
                    self.remember(&name, entry);
                    self.hold_picked_up(&name);
                }
                Ok(None) => {}
                Err(error) => {
                    tracing::warn!(name, error = %error, "acme fleet: a certificate refused; the one served keeps serving");
                    first_error.get_or_insert(error);
                }
            }
        }
        first_error.map_or(Ok(()), Err)
    }

    /// The certificate for `name` in the storage, checked, written to this instance's cache
    /// and served; `None` if there is none.
    ///
    /// # Errors
    ///
    /// The storage's, or [`StorageError::Corrupt`] for contents that do not parse, whose key
    /// does not belong to the certificate, or that do not name `name`.
    pub(super) async fn adopt(
        &self,
        fleet: &Fleet,
        name: &str,
    ) -> Result<Option<CertificateInfo>, StorageError> {
        let key = fleet::certificate_key(name);
        let Some(pem) = fleet.storage.load(&key).await? else {
            return Ok(None);
        };
        let path = self.inner.cache.certificate_path(name);
        let checked = check_pem(&pem, CertificateSource::File(path), &self.inner.provider)
            .map_err(|kind| {
                let error = CertificateError {
                    path: key.clone().into(),
                    kind,
                };
                StorageError::corrupt(&key, error.to_string())
            })?;
        if !checked.names.iter().any(|n| n == name) {
            return Err(StorageError::corrupt(
                &key,
                "the certificate does not name it",
            ));
        }
        let inner = Arc::clone(&self.inner);
        let name = name.to_string();
        let loaded = tokio::task::spawn_blocking(move || {
            let path = inner.cache.save_pem(&name, &pem)?;
            inner
                .store
                .load_file(path)
                .map_err(|e| AcmeError::Certificate(Arc::new(e)))
        })
        .await;
        match loaded {
            Ok(Ok(info)) => Ok(Some(info)),
            Ok(Err(error)) => Err(StorageError::corrupt(&key, error.to_string())),
            Err(joined) => Err(StorageError::unavailable("load", &key, joined)),
        }
    }

    /// The index entry of the certificate for `name` this instance last took or shared.
    fn seen(&self, name: &str) -> Option<String> {
        self.inner
            .fleet_seen
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(name)
            .cloned()
    }

    /// Remembers `entry` as the certificate for `name` this instance serves.
    pub(super) fn remember(&self, name: &str, entry: String) {
        self.inner
            .fleet_seen
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert(name.to_string(), entry);
    }

    /// A name whose certificate came from the fleet is held here too, so that this instance
    /// takes its renewal over if the one that ordered it is gone; its retry is cleared.
    fn hold_picked_up(&self, name: &str) {
        let configured = self.inner.config.names.iter().any(|n| n == name);
        let mut names = self.lock_names();
        let attempts = names.entry(name.to_string()).or_insert_with(|| Attempts {
            on_demand: !configured,
            ..Attempts::default()
        });
        attempts.retry_at = None;
        drop(names);
        self.inner.wake.notify_one();
    }
}
