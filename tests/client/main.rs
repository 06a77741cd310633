//! The client layer: the HTTPS connector for hyper-util's Client.
//!
//! One test binary for the area (each module was a binary of its own); `tests/support/`
//! is shared by all of them.

#[path = "../support/mod.rs"]
mod support;

mod https_client;
