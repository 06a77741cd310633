//! The README's first command, `cargo run --example demo`: a real TLS handshake on loopback
//! with tokio-tls-handshake. The demo is this crate's example (`examples/demo.rs`); the crate
//! exists so that the example compiles only what it needs: the library, tokio, rustls and
//! rcgen, none of the library's test or benchmark dependencies.
