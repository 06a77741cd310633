//! The `metrics` feature: handshakes and the listener recorded through the `metrics` crate's
//! facade, so any exporter (Prometheus, StatsD, OpenTelemetry) sees them: the metric names,
//! their label values and [`describe`]. The crate records each event with one call
//! (`src/measure.rs`), which compiles to nothing without the feature.
//!
//! Every label value comes from a fixed set named here, never from the peer: no SNI, and an
//! ALPN protocol outside the known ones is `other`, so no peer can create a time series.
//!
//! # Guide
//!
//! Handshakes and the listener are recorded through the [`metrics`](https://crates.io/crates/metrics)
//! crate's facade, so any exporter works (Prometheus, StatsD, OpenTelemetry). Label values come
//! from the fixed sets below, never from the peer: no SNI is recorded, and an ALPN protocol
//! outside the known ones is `other`, so no client can create a time series.
//! `tokio_tls_handshake::metrics::describe()` registers units and descriptions with the
//! recorder (optional).
//!
//! | metric | type | unit | labels |
//! |---|---|---|---|
//! | `tls_handshakes_total` | counter | handshakes | `role` (`client`, `server`), `outcome` (`done`, `peer_closed`, `protocol`, `transport`, `timed_out`, `not_tls`, `config`, `evicted`, `panicked`, `drained`, `proxy_header`, `refused`; an answered ACME challenge completed its handshake: `done`, with `alpn` `acme-tls/1`), `version` (`tls1.3`, `tls1.2`, `none`, `other`), `alpn` (`h2`, `http/1.1`, `acme-tls/1`, `none`, `other`) |
//! | `tls_handshake_duration_seconds` | histogram | seconds | `role`, `outcome`; buckets [`HANDSHAKE_DURATION_BUCKETS`] (1 ms to 30 s), which add up across a fleet |
//! | `tls_listener_handshakes_in_flight` | gauge | handshakes | none (all listeners of the process) |
//! | `tls_listener_evictions_total` | counter | handshakes | none |
//! | `tls_listener_drains_total` | counter | drains | none |
//! | `tls_listener_drain_cut_offs_total` | counter | handshakes | none |
//! | `tls_listener_accept_errors_total` | counter | errors | `kind` (`resource_exhaustion`, `connection`) |
//! | `tls_storage_errors_total` | counter | errors | `kind` (`unavailable`, `invalid_key`, `corrupt`): a round of fleet work (ticket keys) that found the shared storage failing |
//!
//! Every handshake a future runs (`Connector::connect`, `Acceptor::accept`, a `TlsListener`, the
//! `HttpsConnector`) is counted once when it ends: completed, failed, or (in a listener)
//! evicted, cut off by a drain, or panicked. A handshake future dropped before it ended, and the
//! sync step, record nothing. `tests/server/metrics.rs` checks every outcome once with these labels
//! (with `metrics-util`'s debugging recorder), and `examples/metrics_server.rs` serves them
//! for Prometheus (`metrics-exporter-prometheus`), scraped with curl in `tests/examples/examples.rs`:
//!
//! ```sh
//! cargo run --example metrics_server --features metrics -- \
//!   --addr 127.0.0.1:8443 --metrics-addr 127.0.0.1:9100 --ca-out ca.pem
//! curl --cacert ca.pem --resolve localhost:8443:127.0.0.1 https://localhost:8443/
//! curl -s http://127.0.0.1:9100/metrics | grep '^tls_'
//! # tls_handshakes_total{role="server",outcome="done",version="tls1.3",alpn="http/1.1"} 1
//! ```

use rustls::ProtocolVersion;

use crate::{engine::Role, error::HandshakeError};

/// Counter: handshakes ended, by `role`, `outcome`, `version` and `alpn`.
pub const HANDSHAKES: &str = "tls_handshakes_total";
/// Histogram, seconds: how long handshakes took, by `role` and `outcome`.
pub const HANDSHAKE_DURATION: &str = "tls_handshake_duration_seconds";

/// The buckets (upper bounds, seconds) to give [`HANDSHAKE_DURATION`] when an exporter
/// renders histograms as buckets: 1 ms (a handshake over loopback) to 30 s (past the
/// server's default deadline of 10 s), about 2.5x apart. Buckets add up across instances, so
/// a fleet's percentiles come from the sum of every instance's counts; a summary's quantiles
/// (`metrics-exporter-prometheus`' default rendering) cannot be combined. With that exporter:
/// `PrometheusBuilder::new().set_buckets_for_metric(Matcher::Full(HANDSHAKE_DURATION.into()),
/// &HANDSHAKE_DURATION_BUCKETS)`.
pub const HANDSHAKE_DURATION_BUCKETS: [f64; 14] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];
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
/// Counter: rounds of fleet work (ticket-key rotation) that found the shared storage failing,
/// by `kind` (`unavailable`, `invalid_key`, `corrupt`).
pub const STORAGE_ERRORS: &str = "tls_storage_errors_total";

/// The `outcome` label of a handshake that failed with `error`.
pub fn outcome(error: &HandshakeError) -> &'static str {
    error.label()
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
    describe_counter!(
        STORAGE_ERRORS,
        Unit::Count,
        "Rounds of fleet work that found the shared storage failing, by kind"
    );
}
