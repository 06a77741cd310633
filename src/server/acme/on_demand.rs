//! Names taken on demand, bounded: how many are held, how many are taken on per hour, and
//! forgetting one. (Failed names are forgotten where outcomes are recorded, in `mod.rs`.)

use std::time::{Duration, Instant};

use super::{orderable, Acme, Attempts};
use crate::server::certificates::CertificateSource;

/// The window of [`AcmeConfig::on_demand_orders_per_hour`](super::AcmeConfig::on_demand_orders_per_hour).
const HOUR: Duration = Duration::from_secs(3600);

impl Acme {
    /// A client asked for `name` and the store has no certificate for it: hold it, if the
    /// on-demand predicate allows, fewer than the most names are held on demand, and fewer
    /// than the hourly number were taken on in the last hour.
    pub(super) fn ask_on_demand(&self, name: &str) {
        let Some(allowed) = &self.inner.config.on_demand else {
            return;
        };
        if !orderable(name) || !allowed(name) {
            return;
        }
        {
            let mut names = self.lock_names();
            if names.contains_key(name) {
                return;
            }
            let held = names.values().filter(|a| a.on_demand).count();
            if held >= self.inner.config.max_on_demand {
                tracing::debug!(name, held, "acme on demand: the most names are held");
                return;
            }
            let mut taken = self
                .inner
                .taken_on_demand
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            let now = Instant::now();
            while taken
                .front()
                .is_some_and(|at| now.duration_since(*at) >= HOUR)
            {
                taken.pop_front();
            }
            if taken.len() >= self.inner.config.on_demand_per_hour {
                tracing::debug!(
                    name,
                    "acme on demand: the hourly number of new names is reached"
                );
                return;
            }
            taken.push_back(now);
            names.insert(
                name.to_string(),
                Attempts {
                    on_demand: true,
                    ..Attempts::default()
                },
            );
        }
        self.inner.wake.notify_one();
    }

    /// Stops holding `name`: no more orders or renewals for it, its cached certificate is
    /// deleted and no longer served. `false` if it was not held. A configured name is
    /// forgotten too, until the next start; a name allowed on demand may be taken on again
    /// when a client asks for it.
    ///
    /// Blocking (it deletes a file and rewrites the record of attempts): from async code,
    /// call it in `spawn_blocking`.
    ///
    /// # Errors
    ///
    /// The cached certificate could not be deleted (it is no longer served either way).
    pub fn forget(&self, name: &str) -> std::io::Result<bool> {
        let name = name.trim_end_matches('.').to_ascii_lowercase();
        // Only a name that can be a file name in the cache names a file there.
        if !orderable(&name) {
            return Ok(false);
        }
        let held = self.lock_names().remove(&name).is_some();
        let path = self.inner.cache.certificate_path(&name);
        let removed = match std::fs::remove_file(&path) {
            Ok(()) => Ok(true),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(held),
            Err(e) => Err(e),
        };
        self.inner.store.remove(&CertificateSource::File(path));
        if let Err(error) = self.save_attempts() {
            tracing::warn!(error = %error, "acme cache: the attempts were not saved");
        }
        removed
    }
}
