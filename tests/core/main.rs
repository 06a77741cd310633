//! The handshake core: the sync step, the future and the stream against tokio-rustls, OpenSSL and GnuTLS; the error matrix; faulty and hostile transports; reports, early data and tracing.
//!
//! One test binary for the area (each module was a binary of its own); `tests/support/`
//! is shared by all of them.

#[path = "../support/mod.rs"]
mod support;

mod bug_classes;
mod early_data;
mod errors;
mod faults;
mod fuzz;
mod hostile;
mod interop;
mod layers;
mod openssl;
mod report;
mod sync_step;
mod transports;
