//! The `metrics` feature: handshakes and the listener recorded through the `metrics` crate's
//! facade, so any exporter (Prometheus, StatsD, OpenTelemetry) sees them: the metric names,
//! their label values and [`describe`]. The crate records each event with one call
//! (`src/measure.rs`), which compiles to nothing without the feature.
//!
//! Every label value comes from a fixed set named here, never from the peer: no SNI, and an
//! ALPN protocol outside the known ones is `other`, so no peer can create a time series.

use rustls::ProtocolVersion;

use crate::{HandshakeError, Role};

/// Counter: handshakes ended, by `role`, `outcome`, `version` and `alpn`.
pub const HANDSHAKES: &str = "tls_handshakes_total";
/// Histogram, seconds: how long handshakes took, by `role` and `outcome`.
pub const HANDSHAKE_DURATION: &str = "tls_handshake_duration_seconds";
/// Gauge: handshakes running in `TlsListener`s now.
pub const LISTENER_IN_FLIGHT: &str = "tls_listener_handshakes_in_flight";
/// Counter: handshakes a `TlsListener` shed to make room for a new connection.
pub const LISTENER_EVICTIONS: &str = "tls_listener_evictions_total";
/// Counter: drains begun.
pub const LISTENER_DRAINS: &str = "tls_listener_drains_total";
/// Counter: handshakes a drain cut off when its grace period ended.
pub const LISTENER_DRAIN_CUT_OFFS: &str = "tls_listener_drain_cut_offs_total";
/// Counter: accept errors, by `kind` (`resource_exhaustion` or `connection`).
pub const LISTENER_ACCEPT_ERRORS: &str = "tls_listener_accept_errors_total";

/// The `outcome` label of a handshake that failed with `error`.
pub fn outcome(error: &HandshakeError) -> &'static str {
    error.label()
}

/// The `outcome` label of a handshake the listener ended itself: `evicted`, `drained` or
/// `panicked` (an accept error is none).
pub fn listener_outcome<IO, A>(error: &crate::listener::ListenError<IO, A>) -> &'static str {
    use crate::listener::ListenError;
    match error {
        ListenError::Handshake { error, .. } => outcome(error),
        ListenError::Evicted { .. } => "evicted",
        ListenError::Drained { .. } => "drained",
        ListenError::Panicked { .. } => "panicked",
        _ => "accept",
    }
}

/// The `version` label: `tls1.3`, `tls1.2`, `none` (not agreed) or `other`.
pub fn version(version: Option<ProtocolVersion>) -> &'static str {
    match version {
        Some(ProtocolVersion::TLSv1_3) => "tls1.3",
        Some(ProtocolVersion::TLSv1_2) => "tls1.2",
        None => "none",
        Some(_) => "other",
    }
}

/// The `alpn` label: `h2`, `http/1.1`, `acme-tls/1`, `none` (not agreed) or `other`.
pub fn alpn(protocol: Option<&[u8]>) -> &'static str {
    match protocol {
        None => "none",
        Some(b"h2") => "h2",
        Some(b"http/1.1") => "http/1.1",
        Some(b"acme-tls/1") => "acme-tls/1",
        Some(_) => "other",
    }
}

pub(crate) fn role(role: Role) -> &'static str {
    match role {
        Role::Client => "client",
        Role::Server => "server",
    }
}

/// Registers every metric's description and unit with the installed recorder, for exporters
/// that show them (Prometheus' `# HELP`). Optional: metrics are recorded without it.
pub fn describe() {
    use metrics::{describe_counter, describe_gauge, describe_histogram, Unit};
    describe_counter!(
        HANDSHAKES,
        Unit::Count,
        "TLS handshakes ended, by role, outcome, version and ALPN"
    );
    describe_histogram!(
        HANDSHAKE_DURATION,
        Unit::Seconds,
        "How long TLS handshakes took, by role and outcome"
    );
    describe_gauge!(
        LISTENER_IN_FLIGHT,
        Unit::Count,
        "TLS handshakes running in TlsListeners"
    );
    describe_counter!(
        LISTENER_EVICTIONS,
        Unit::Count,
        "Handshakes a full TlsListener shed (the slowest peer)"
    );
    describe_counter!(LISTENER_DRAINS, Unit::Count, "TlsListener drains begun");
    describe_counter!(
        LISTENER_DRAIN_CUT_OFFS,
        Unit::Count,
        "Handshakes a drain cut off at the end of its grace period"
    );
    describe_counter!(
        LISTENER_ACCEPT_ERRORS,
        Unit::Count,
        "Accept errors, by kind (resource_exhaustion, connection)"
    );
}
