//! The `tracing` feature: a span per handshake carrying its report's fields, an event when it
//! completes and one when it fails. Without the feature every call here compiles to nothing.
//! Nothing secret is recorded, and nothing of the peer's beyond what the report holds.

use crate::{engine::HandshakeReport, engine::Role, error::HandshakeError};

#[derive(Debug, Default)]
pub(crate) struct Trace {
    #[cfg(feature = "tracing")]
    span: Option<tracing::Span>,
}

#[cfg(feature = "tracing")]
impl Trace {
    /// Enters the handshake's span (made on first use) for one poll.
    pub(crate) fn enter(&mut self, role: Role) -> tracing::span::EnteredSpan {
        use tracing::field::Empty;
        self.span
            .get_or_insert_with(|| {
                tracing::info_span!(
                    "tls_handshake",
                    role = %role,
                    version = Empty,
                    cipher_suite = Empty,
                    key_exchange = Empty,
                    alpn = Empty,
                    sni = Empty,
                    kind = Empty,
                    duration_us = Empty,
                    bytes_read = Empty,
                    bytes_written = Empty,
                    flights = Empty,
                )
            })
            .clone()
            .entered()
    }

    /// Whether anyone listens; reports are only built then.
    pub(crate) fn is_enabled(&self) -> bool {
        self.span.as_ref().is_some_and(|s| !s.is_disabled())
    }

    fn record(&self, report: &HandshakeReport) {
        let Some(span) = &self.span else { return };
        use tracing::field::display;
        let debug = |v: &dyn std::fmt::Debug| display(format!("{v:?}"));
        if let Some(v) = report.version {
            span.record("version", debug(&v));
        }
        if let Some(v) = report.cipher_suite {
            span.record("cipher_suite", debug(&v));
        }
        if let Some(v) = report.key_exchange {
            span.record("key_exchange", debug(&v));
        }
        if let Some(alpn) = &report.alpn {
            span.record("alpn", display(String::from_utf8_lossy(alpn)));
        }
        if let Some(name) = &report.server_name {
            span.record("sni", display(name));
        }
        if let Some(kind) = report.kind {
            span.record("kind", debug(&kind));
        }
        let cost = &report.stats;
        span.record("duration_us", cost.duration.as_micros() as u64);
        span.record("bytes_read", cost.bytes_read);
        span.record("bytes_written", cost.bytes_written);
        span.record("flights", cost.flights_received);
    }

    pub(crate) fn completed(&self, report: &HandshakeReport) {
        self.record(report);
        tracing::info!(report = %report, "tls handshake completed");
    }

    /// A warn event, or a debug one for a peer that left without a byte (a health check or
    /// a port scanner, not worth a warning).
    pub(crate) fn failed(&self, error: &HandshakeError, report: &HandshakeReport) {
        self.record(report);
        if error.is_silent_close() {
            tracing::debug!(error = %error, report = %report, "tls handshake failed");
        } else {
            tracing::warn!(error = %error, report = %report, "tls handshake failed");
        }
    }
}

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

#[cfg(not(feature = "tracing"))]
impl Trace {
    pub(crate) fn enter(&mut self, _role: Role) {}

    pub(crate) fn is_enabled(&self) -> bool {
        false
    }

    pub(crate) fn completed(&self, _report: &HandshakeReport) {}

    pub(crate) fn failed(&self, _error: &HandshakeError, _report: &HandshakeReport) {}
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
