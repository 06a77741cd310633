//! The server layer: the listener and its caps, the certificate store, reloads, shared ticket keys, the PROXY protocol (with HAProxy), ACME (against Pebble), axum and metrics.
//!
//! One test binary for the area (each module was a binary of its own); `tests/support/`
//! is shared by all of them.

#[path = "../support/mod.rs"]
mod support;

mod acme;
mod axum;
mod certificates;
mod fleet;
mod haproxy;
mod listener;
mod listener_cap;
mod metrics;
mod proxy_protocol;
mod reload;
mod storage;
mod tickets;
