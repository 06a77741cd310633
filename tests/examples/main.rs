//! Every example run as a user would run it.
//!
//! One test binary for the area (each module was a binary of its own); `tests/support/`
//! is shared by all of them.

#[path = "../support/mod.rs"]
mod support;

mod examples;
