//! The async layer: a Tokio transport and a task's `Context` as `std::io::Read + Write`, the
//! handshake's one deadline, the handshake future, and the stream. Each moves bytes and waits;
//! the engine below holds the state.
//!
//! - `adapter.rs`: `Poll::Pending` ↔ `WouldBlock`.
//! - `deadline.rs`: the one deadline, its timer boxed on first use.
//! - `handshake.rs`: [`AsyncHandshake`] and [`Recoverable`].
//! - `sending_alert.rs`: a failed handshake's alert on its way out, bounded by the deadline.
//! - `stream.rs`: [`TlsStream`].

pub(crate) mod adapter;
pub(crate) mod deadline;
mod handshake;
pub(crate) mod sending_alert;
mod stream;

pub use self::{
    handshake::{AsyncHandshake, Recoverable},
    stream::{ClientTlsStream, ServerTlsStream, TlsStream},
};
