//! The async layer: a Tokio transport and a task's `Context` as `std::io::Read + Write`, the
//! handshake's one deadline, the handshake future, and the stream. Each moves bytes and waits;
//! the engine below holds the state.
//!
//! - `adapter.rs`: `Poll::Pending` ↔ `WouldBlock`.
//! - `deadline.rs`: the one deadline, its timer boxed on first use.
//! - `handshake.rs`: `AsyncHandshake`; `recoverable.rs`: `Recoverable`, the same future
//!   handing the transport back on failure as `Failed` (`failed.rs`).
//! - `span.rs`: the `tracing` span per handshake, recording its report.
//! - `sending_alert.rs`: a failed handshake's alert on its way out, bounded by the deadline.
//! - `stream.rs`: `TlsStream`; `confirm.rs`: its `confirm`, a TLS 1.3 client waiting for the
//!   server's reaction to its last flight.

pub(crate) mod adapter;
mod confirm;
pub(crate) mod deadline;
mod failed;
mod handshake;
mod recoverable;
pub(crate) mod sending_alert;
mod span;
mod stream;

pub use self::{
    failed::Failed,
    handshake::AsyncHandshake,
    recoverable::Recoverable,
    stream::{ClientTlsStream, ServerTlsStream, TlsStream},
};
