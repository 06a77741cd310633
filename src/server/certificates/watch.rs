//! The `watch` feature: a store that reloads when its files change, through the `notify`
//! crate's debounced watcher (`notify-debouncer-mini`).

use std::{sync::Arc, time::Duration};

use notify_debouncer_mini::{new_debouncer, notify, DebounceEventResult, Debouncer};
use tokio::sync::watch;

use super::{CertificateStore, StoreLoadError};

/// How long a change must be followed by quiet before the store reloads: long enough that a
/// certificate and its key written one after the other are read together.
pub const DEFAULT_WATCH_DELAY: Duration = Duration::from_millis(500);

/// What the last reload a [`StoreWatcher`] made did.
#[derive(Debug, Clone)]
pub struct WatchEvent {
    /// How many reloads the watcher has made (0 before the first).
    pub reloads: u64,
    /// What the last one reported: the files it could not load, each still serving its last
    /// good version.
    pub result: Result<(), Arc<StoreLoadError>>,
}

/// Reloads a [`CertificateStore`] whenever files in its directories change, until dropped.
/// Made by [`CertificateStore::watch`].
pub struct StoreWatcher {
    _debouncer: Debouncer<notify::RecommendedWatcher>,
    events: watch::Receiver<WatchEvent>,
}

impl std::fmt::Debug for StoreWatcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoreWatcher")
            .field("last", &*self.events.borrow())
            .finish_non_exhaustive()
    }
}

impl StoreWatcher {
    /// The watcher's reloads as they happen: `changed().await` on it waits for the next.
    pub fn events(&self) -> watch::Receiver<WatchEvent> {
        self.events.clone()
    }
}

impl CertificateStore {
    /// Reloads this store whenever a file in one of its directories (or a file it loaded on
    /// its own) changes, once changes have been quiet for [`DEFAULT_WATCH_DELAY`]. A chain
    /// found shortened ([`ChainShortened`](super::CertificateErrorKind::ChainShortened)) is
    /// looked at again after one more quiet period, and taken if unchanged. A reload
    /// that fails for a file keeps that file's last good version serving, logs a `tracing`
    /// event (feature `tracing`) and is reported in [`StoreWatcher::events`]. Directories
    /// added later are not watched.
    ///
    /// # Errors
    ///
    /// The platform's watcher could not be started, or a directory could not be watched.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # fn run() -> Result<(), Box<dyn std::error::Error>> {
    /// use tokio_tls_handshake::certificates::CertificateStore;
    ///
    /// let store = CertificateStore::from_dir("/etc/tls/certificates")?;
    /// let watcher = store.watch()?; // keep it: dropping it stops the watching
    /// # Ok(()) }
    /// ```
    pub fn watch(&self) -> Result<StoreWatcher, notify::Error> {
        self.watch_with_delay(DEFAULT_WATCH_DELAY)
    }

    /// As [`watch`](Self::watch), reloading once changes have been quiet for `delay`.
    ///
    /// # Errors
    ///
    /// As [`watch`](Self::watch).
    pub fn watch_with_delay(&self, delay: Duration) -> Result<StoreWatcher, notify::Error> {
        let (events_tx, events) = watch::channel(WatchEvent {
            reloads: 0,
            result: Ok(()),
        });
        let store = self.clone();
        let mut reloads = 0;
        let mut debouncer = new_debouncer(delay, move |changes: DebounceEventResult| {
            if let Err(e) = &changes {
                crate::trace::watch_failed(e);
            }
            reloads += 1;
            let mut result = store.reload();
            // A chain found shortened is taken only if a later reload finds the same file: one
            // more quiet period, then look again (a write still going on brings its own event).
            let shortened = |r: &Result<(), StoreLoadError>| {
                r.as_ref().is_err_and(|e| {
                    e.errors.iter().any(|e| {
                        matches!(e.kind, super::CertificateErrorKind::ChainShortened { .. })
                    })
                })
            };
            if shortened(&result) {
                events_tx.send_replace(WatchEvent {
                    reloads,
                    result: result.map_err(Arc::new),
                });
                std::thread::sleep(delay);
                reloads += 1;
                result = store.reload();
            }
            events_tx.send_replace(WatchEvent {
                reloads,
                result: result.map_err(Arc::new),
            });
        })?;
        let watched: Vec<_> = {
            let sources = self.lock_sources();
            let files = sources.files.iter().filter_map(|f| f.parent());
            sources
                .dirs
                .iter()
                .map(|d| d.to_path_buf())
                .chain(files.map(|d| d.to_path_buf()))
                .collect()
        };
        for dir in watched {
            debouncer
                .watcher()
                .watch(&dir, notify::RecursiveMode::NonRecursive)?;
        }
        Ok(StoreWatcher {
            _debouncer: debouncer,
            events,
        })
    }
}
