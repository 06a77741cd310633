//! The `tracing` feature's span per handshake: it carries the report's fields, with an event
//! when the handshake completes and one when it fails. Without the feature every call here
//! compiles to nothing. Nothing secret is recorded, and nothing of the peer's beyond what the
//! report holds.

use crate::{engine::HandshakeReport, engine::Role, error::HandshakeError};

#[derive(Debug, Default)]
pub(crate) struct HandshakeSpan {
    #[cfg(feature = "tracing")]
    span: Option<tracing::Span>,
}

#[cfg(feature = "tracing")]
impl HandshakeSpan {
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

#[cfg(not(feature = "tracing"))]
impl HandshakeSpan {
    pub(crate) fn enter(&mut self, _role: Role) {}

    pub(crate) fn is_enabled(&self) -> bool {
        false
    }

    pub(crate) fn completed(&self, _report: &HandshakeReport) {}

    pub(crate) fn failed(&self, _error: &HandshakeError, _report: &HandshakeReport) {}
}
