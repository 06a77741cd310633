//! The `tracing` feature's events that any layer may raise (an alert not sent, a certificate
//! not loaded, a storage round failed) and the listener's span per connection. The span per
//! handshake, which records the report, is `io/span.rs`. Without the feature every call here
//! compiles to nothing. Nothing secret is recorded.

/// A fatal alert could not be written: the primary error stands, with no `alert_sent`; why
/// the alert did not go out is said here.
#[cfg(feature = "tracing")]
pub(crate) fn alert_not_sent(error: &std::io::Error) {
    tracing::debug!(error = %error, "tls alert not sent: the transport failed");
}

#[cfg(not(feature = "tracing"))]
pub(crate) fn alert_not_sent(_error: &std::io::Error) {}

/// rustls refused early data on a new connection (it cannot): all of it goes after the
/// handshake instead.
#[cfg(feature = "tracing")]
pub(crate) fn early_data_refused(error: &std::io::Error) {
    tracing::warn!(error = %error, "tls early data refused by rustls; sent after the handshake");
}

#[cfg(not(feature = "tracing"))]
pub(crate) fn early_data_refused(_error: &std::io::Error) {}

/// A handshake task ended without a result and the listener had no record of it (it cannot
/// happen: every task is booked as it is spawned). Said, never silently dropped.
#[cfg(feature = "tracing")]
pub(crate) fn unbooked_task(error: &tokio::task::JoinError) {
    tracing::error!(error = %error, "tls listener: a handshake task it has no record of ended");
}

#[cfg(not(feature = "tracing"))]
pub(crate) fn unbooked_task(_error: &tokio::task::JoinError) {}

/// The fleet's storage failed `what` (the ticket keys' round, say): what was loaded keeps
/// serving, and the next round retries.
#[cfg(feature = "tracing")]
pub(crate) fn storage_failed(what: &str, error: &dyn std::error::Error) {
    tracing::warn!(what, error = %error, "fleet storage failed; serving what was loaded");
}

#[cfg(not(feature = "tracing"))]
pub(crate) fn storage_failed(_what: &str, _error: &dyn std::error::Error) {}

/// A listener's `tls_connection{peer}` span around each handshake it runs, so the handshake's
/// span and events say which peer they are about.
#[derive(Debug)]
pub(crate) struct ConnectionSpan {
    #[cfg(feature = "tracing")]
    span: tracing::Span,
}

#[cfg(feature = "tracing")]
impl ConnectionSpan {
    pub(crate) fn new(peer: &dyn std::fmt::Debug) -> Self {
        Self {
            span: tracing::info_span!("tls_connection", peer = ?peer),
        }
    }

    pub(crate) fn enter(&self) -> tracing::span::Entered<'_> {
        self.span.enter()
    }
}

#[cfg(not(feature = "tracing"))]
impl ConnectionSpan {
    pub(crate) fn new(_peer: &dyn std::fmt::Debug) -> Self {
        Self {}
    }

    pub(crate) fn enter(&self) {}
}

/// A certificate file the store could not load; the last good version keeps serving.
#[cfg(feature = "tracing")]
pub(crate) fn certificate_not_loaded(path: &std::path::Path, error: &dyn std::fmt::Display) {
    tracing::warn!(path = %path.display(), error = %error, "tls certificate not loaded");
}

#[cfg(not(feature = "tracing"))]
pub(crate) fn certificate_not_loaded(_path: &std::path::Path, _error: &dyn std::fmt::Display) {}

/// The file watcher reported an error; the store reloads anyway.
#[cfg(all(feature = "tracing", feature = "watch"))]
pub(crate) fn watch_failed(error: &notify_debouncer_mini::notify::Error) {
    tracing::warn!(error = %error, "tls certificate watcher error; reloading anyway");
}

#[cfg(all(not(feature = "tracing"), feature = "watch"))]
pub(crate) fn watch_failed(_error: &notify_debouncer_mini::notify::Error) {}
