//! Metrics events: one call per event, with no `cfg` where they happen. With the `metrics`
//! feature each records through the `metrics` crate's facade, under the names and label
//! values of the public [`metrics`](crate::metrics) module; without it each compiles to
//! nothing, as `trace.rs` does for `tracing`.

#[cfg(not(feature = "metrics"))]
pub(crate) use self::off::*;
#[cfg(feature = "metrics")]
pub(crate) use self::on::*;

#[cfg(feature = "metrics")]
mod on {
    use std::time::Duration;

    use rustls::ProtocolVersion;

    use crate::{engine::Role, error::HandshakeError, metrics};

    /// A handshake ended: `error` if it failed; what it agreed (none if it failed before) and
    /// how long it took.
    pub(crate) fn handshake_ended(
        side: Role,
        error: Option<&HandshakeError>,
        agreed: Option<ProtocolVersion>,
        protocol: Option<&[u8]>,
        duration: Duration,
    ) {
        let outcome = error.map_or("done", metrics::outcome);
        ::metrics::counter!(metrics::HANDSHAKES,
            "role" => metrics::role(side),
            "outcome" => outcome,
            "version" => metrics::version(agreed),
            "alpn" => metrics::alpn(protocol),
        )
        .increment(1);
        ::metrics::histogram!(metrics::HANDSHAKE_DURATION, "role" => metrics::role(side), "outcome" => outcome)
            .record(duration.as_secs_f64());
    }

    /// A handshake the listener ended itself (evicted, drained, panicked): `outcome` is its
    /// label.
    pub(crate) fn handshake_ended_by_listener(outcome: &'static str, duration: Duration) {
        let side = metrics::role(Role::Server);
        ::metrics::counter!(metrics::HANDSHAKES,
            "role" => side,
            "outcome" => outcome,
            "version" => metrics::version(None),
            "alpn" => metrics::alpn(None),
        )
        .increment(1);
        ::metrics::histogram!(metrics::HANDSHAKE_DURATION, "role" => side, "outcome" => outcome)
            .record(duration.as_secs_f64());
    }

    pub(crate) fn listener_task_started() {
        ::metrics::gauge!(metrics::LISTENER_IN_FLIGHT).increment(1.0);
    }

    pub(crate) fn listener_task_ended() {
        ::metrics::gauge!(metrics::LISTENER_IN_FLIGHT).decrement(1.0);
    }

    pub(crate) fn listener_evicted() {
        ::metrics::counter!(metrics::LISTENER_EVICTIONS).increment(1);
    }

    pub(crate) fn listener_drain_begun() {
        ::metrics::counter!(metrics::LISTENER_DRAINS).increment(1);
    }

    pub(crate) fn listener_cut_off(count: usize) {
        ::metrics::counter!(metrics::LISTENER_DRAIN_CUT_OFFS).increment(count as u64);
    }

    pub(crate) fn listener_accept_error(resource_exhaustion: bool) {
        let kind = if resource_exhaustion {
            "resource_exhaustion"
        } else {
            "connection"
        };
        ::metrics::counter!(metrics::LISTENER_ACCEPT_ERRORS, "kind" => kind).increment(1);
    }

    /// A round of fleet work found the storage failing: `kind` is the error's label.
    pub(crate) fn storage_failed(kind: &'static str) {
        ::metrics::counter!(metrics::STORAGE_ERRORS, "kind" => kind).increment(1);
    }
}

#[cfg(not(feature = "metrics"))]
mod off {
    use std::time::Duration;

    use rustls::ProtocolVersion;

    use crate::{engine::Role, error::HandshakeError};

    /// A handshake ended.
    pub(crate) fn handshake_ended(
        _side: Role,
        _error: Option<&HandshakeError>,
        _agreed: Option<ProtocolVersion>,
        _protocol: Option<&[u8]>,
        _duration: Duration,
    ) {
    }
    /// A handshake the listener ended itself.
    pub(crate) fn handshake_ended_by_listener(_outcome: &'static str, _duration: Duration) {}
    pub(crate) fn listener_task_started() {}
    pub(crate) fn listener_task_ended() {}
    pub(crate) fn listener_evicted() {}
    pub(crate) fn listener_drain_begun() {}
    pub(crate) fn listener_cut_off(_count: usize) {}
    pub(crate) fn listener_accept_error(_resource_exhaustion: bool) {}
    pub(crate) fn storage_failed(_kind: &'static str) {}
}
