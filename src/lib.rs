//! TLS handshakes with the semantics of OpenSSL's `SSL_do_handshake(3)`, on rustls, for Tokio.
//!
//! One handshake *step* ([`Handshake::do_handshake`]) reports [`Step::WantRead`] /
//! [`Step::WantWrite`] exactly where `SSL_do_handshake` + `SSL_get_error` report
//! `SSL_ERROR_WANT_READ` / `SSL_ERROR_WANT_WRITE` on a nonblocking BIO. The
//! [`AsyncHandshake`] future maps those onto Tokio readiness, so a nonblocking retry is
//! `Poll::Pending`, and `.await` resolves only to an established [`TlsStream`] or a typed
//! [`HandshakeError`] that says why the handshake failed, and can hand the transport back
//! ([`Failed`]).
//!
//! # The man page, mapped
//!
//! | `SSL_do_handshake(3)` | this crate |
//! |---|---|
//! | `SSL_set_connect_state` / `SSL_set_accept_state`, set in advance | the constructor chooses the role: `Handshake::connect` / `Connector::connect` (client), `Handshake::accept` / `Acceptor::accept` (server) |
//! | returns 1: handshake completed | `Ok(TlsStream)` from `.await`; `Step::Done` from the sync step |
//! | returns 0: shut down controlled by the protocol | `HandshakeError::PeerClosed` (close_notify or EOF before the handshake finished) |
//! | < 0, `SSL_ERROR_WANT_READ` / `SSL_ERROR_WANT_WRITE` | sync: `Ok(Step::WantRead)` / `Ok(Step::WantWrite)`; async: never surfaces, it is `Poll::Pending` with the transport's waker registered |
//! | < 0, `SSL_ERROR_SSL` | `HandshakeError::Protocol { error, alert_sent, alert_received }` |
//! | < 0, `SSL_ERROR_SYSCALL` | `HandshakeError::Transport(io::Error)` |
//! | (no equivalent) | `HandshakeError::TimedOut`, `HandshakeError::NotTls { prefix }`, `HandshakeError::Config` |
//! | `SSL_CTX_set_client_hello_cb` / servername callback, returning a fatal alert | `Acceptor::with_chooser` (a `ChooseConfig`): serve with a configuration, `Choice::Refuse(alert)` (`HandshakeError::Refused`), or answer an ACME challenge and close |
//! | blocking BIO: returns only when finished or failed | `do_handshake` on a blocking `std` stream returns `Done` or an error (`examples/blocking.rs`) |
//! | nonblocking BIO + `select()` | `do_handshake` on a nonblocking stream returns `Want*`; wait with `poll(2)` and call again (`examples/nonblocking.rs`) |
//! | BIO pair (memory) | `WantRead`: feed more peer bytes in; `WantWrite`: drain output (`examples/memory_pair.rs`) |
//!
//! # Errors
//!
//! | `HandshakeError` | cause | alert | `io::ErrorKind` |
//! |---|---|---|---|
//! | `PeerClosed { close_notify, received }` | peer left before the handshake finished; `received == 0` (`is_silent_close()`): it never sent a byte (health check, scanner) | none | `UnexpectedEof` |
//! | `Protocol { error, alert_sent, alert_received }` | certificate rejected, no common parameters, malformed message; or the peer's fatal alert | the one rustls chose, written and flushed best effort within the deadline (`alert_sent`) | `InvalidData` |
//! | `Transport(io::Error)` | reset, broken pipe, a write that returned 0 | none | the transport's |
//! | `TimedOut` | the deadline passed | none | `TimedOut` |
//! | `NotTls { prefix }` | the first bytes are not a TLS record (`GET / HTTP/1.1`); `prefix` holds them | none, so a plaintext answer is possible | `InvalidData` |
//! | `Config(rustls::Error)` | the configuration cannot start a handshake | none | `InvalidInput` |
//! | `ProxyHeader(Missing \| Malformed \| TooLong \| Untrusted)` | the server reads a PROXY protocol header first (feature `proxy-protocol`) and this one was absent, bad, too long, or from a peer that is not a trusted balancer | none | `InvalidData` |
//! | `Refused { server_name, alert_sent }` | the server's chooser (`Acceptor::with_chooser`) refused the ClientHello, for example a name the `CertificateStore` has no certificate for; or `StartHandshake::refuse` | the one chosen (`unrecognized_name` for an unknown name), in the clear, flushed best effort within the deadline | `ConnectionRefused` |
//! | `Answered { by }` | a layer above the core answered the connection itself after the handshake and closed it, nothing for the application: `by` is `accept::CHALLENGE` for an ACME server's TLS-ALPN-01 validation (`Choice::AnswerChallenge`), which got the challenge certificate | none (close_notify) | `ConnectionAborted` |
//!
//! `io::Error::from(HandshakeError)` keeps the `HandshakeError` as its inner error
//! (`err.get_ref()?.downcast_ref::<HandshakeError>()`), so `?` works in `io::Result` code. After
//! the handshake, a fatal error on read (for example a TLS 1.3 server rejecting the client's
//! certificate, which the client learns only then) is an `InvalidData` `io::Error` whose inner
//! error is a `HandshakeError::Protocol`, and every later read and write gets the same typed
//! error. Called again after a failure, the sync step returns the same error again (as
//! `SSL_do_handshake` keeps failing), not a made-up one.
//!
//! # Examples
//!
//! A client and a server, as with tokio-rustls:
//!
//! ```no_run
//! # async fn run(client: std::sync::Arc<rustls::ClientConfig>, server: std::sync::Arc<rustls::ServerConfig>) -> std::io::Result<()> {
//! use tokio::io::{AsyncReadExt, AsyncWriteExt};
//! use tokio_tls_handshake::{Acceptor, Connector};
//!
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
//! let addr = listener.local_addr()?;
//! let acceptor = Acceptor::from(server); // 10 s deadline by default
//! tokio::spawn(async move {
//!     let (tcp, _) = listener.accept().await?;
//!     let mut tls = acceptor.accept(tcp).await?;
//!     let mut buf = [0u8; 5];
//!     tls.read_exact(&mut buf).await?;
//!     tls.write_all(&buf).await?;
//!     tls.shutdown().await
//! });
//!
//! let tcp = tokio::net::TcpStream::connect(addr).await?;
//! let name = "localhost".try_into().expect("valid name");
//! let mut tls = Connector::from(client).connect(name, tcp).await?;
//! tls.write_all(b"hello").await?;
//! # Ok(()) }
//! ```
//!
//! # Servers
//!
//! [`TlsListener`] is the front door: it accepts connections and runs each handshake as a task
//! of its own, so handshake crypto uses every worker of the runtime, each under the
//! [`Acceptor`]'s deadline. Its cap on handshakes in flight sheds the *slowest peer* rather
//! than refusing new connections or shedding ones not yet read, and open transports stay
//! bounded however fast connections arrive and however slowly results are taken. A cloneable
//! [`ListenerHandle`] reads its stats and starts a graceful drain.
//! [`Acceptor::start`] reads the ClientHello first, so the configuration can be chosen from
//! it.
//!
//! ```no_run
//! # async fn run(config: std::sync::Arc<rustls::ServerConfig>) -> std::io::Result<()> {
//! use std::time::Duration;
//! use tokio_tls_handshake::{listener::{ListenError, TlsListener}, Acceptor};
//!
//! let tcp = tokio::net::TcpListener::bind("127.0.0.1:8443").await?;
//! let mut listener = TlsListener::new(tcp, Acceptor::from(config)).with_max_in_flight(1024);
//! let handle = listener.handle();
//! tokio::spawn(async move {
//!     let _ = tokio::signal::ctrl_c().await;
//!     handle.drain(Duration::from_secs(5)); // the loop below ends when the drain is done
//! });
//! while let Some(next) = listener.accept().await {
//!     match next {
//!         Ok((tls, peer)) => { tokio::spawn(async move { /* serve tls */ }); }
//!         Err(ListenError::Handshake { peer, error, .. }) => eprintln!("{peer}: {error}"),
//!         Err(e) => eprintln!("{e}"),
//!     }
//! }
//! # Ok(()) }
//! ```
//!
//! # Serving HTTPS
//!
//! - **hyper**: hand each established stream to `hyper_util`'s auto builder (HTTP/1.1 and
//!   HTTP/2 by ALPN):
//!
//! ```no_run
//! # async fn run(mut config: rustls::ServerConfig) -> std::io::Result<()> {
//! use hyper::{body::Incoming, service::service_fn, Request, Response};
//! use hyper_util::{rt::{TokioExecutor, TokioIo, TokioTimer}, server::conn::auto};
//! use tokio_tls_handshake::{Acceptor, listener::TlsListener};
//!
//! config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
//! let tcp = tokio::net::TcpListener::bind("127.0.0.1:8443").await?;
//! let mut listener = TlsListener::new(tcp, Acceptor::from(std::sync::Arc::new(config)));
//! // A timer and a header-read timeout, so that a client cannot drip its request for ever.
//! let mut http = auto::Builder::new(TokioExecutor::new());
//! http.http1()
//!     .timer(TokioTimer::new())
//!     .header_read_timeout(std::time::Duration::from_secs(10));
//! while let Some(next) = listener.accept().await {
//!     let Ok((tls, _peer)) = next else { continue };
//!     let http = http.clone();
//!     tokio::spawn(async move {
//!         let hello = service_fn(|_: Request<Incoming>| async {
//!             Ok::<_, std::convert::Infallible>(Response::new("hello\n".to_string()))
//!         });
//!         let _ = http.serve_connection(TokioIo::new(tls), hello).await;
//!     });
//! }
//! # Ok(()) }
//! ```
//!
//! - **axum** (feature `axum`): `TlsListener` implements `axum::serve::Listener`, so
//!   `axum::serve(listener, router)` serves HTTPS; `TlsConnectInfo` gives handlers the peer
//!   and the handshake's report. `axum::serve` (axum 0.8) sets no header-read timeout; a
//!   server clients reach directly serves the router with hyper-util's builder as above
//!   (`TlsConnectInfo::new` for its handlers), as `examples/axum_server.rs` does.
//! - **Certificate reload**: [`ReloadableConfig`] replaces the configuration new handshakes
//!   use, from a signal handler say; `reload_pem_files` reads a new certificate and key and
//!   keeps the old ones serving if they are bad.
//! - **Many certificates, chosen by name**: [`CertificateStore`] loads directories of
//!   certificates, chooses by SNI (exact, then wildcard, then a default or a refusal with
//!   `unrecognized_name` through [`Acceptor::with_chooser`]), reloads on demand or when files
//!   change (feature `watch`), keeps the last good version of a bad file, and knows expiry.
//! - **ACME** (feature `acme`): `Acme` obtains and renews certificates from an ACME server,
//!   answering TLS-ALPN-01 on the serving port, cached on disk in the store's layout.
//! - **Graceful drain**: [`ListenerHandle::drain`], shown above.
//! - **Unix domain sockets**: [`TlsListener::from_unix`]; the listener's peer address type
//!   follows its source ([`Incoming::Addr`]).
//! - **Accept errors by kind**: running out of descriptors or memory pauses accepting;
//!   one connection's failure does not ([`ListenError::is_resource_exhaustion`]).
//! - **Behind a load balancer** (feature `proxy-protocol`): `Acceptor::with_proxy_protocol`
//!   reads HAProxy's PROXY header (v1 or v2) in front of TLS, from trusted balancers only
//!   (`TrustedProxies`), bounded and under the handshake's deadline, and reports the client
//!   behind it.
//! - **Across a fleet**: [`TicketKeys`] gives every server the same session-ticket keys, so a
//!   client resumes on any of them; they rotate from a file or from one shared secret.
//!
//! # Moving from tokio-rustls
//!
//! | tokio-rustls | this crate |
//! |---|---|
//! | `TlsConnector::from(config)`, `TlsAcceptor::from(config)` | `Connector::from(config)`, `Acceptor::from(config)` |
//! | `connector.connect(name, io)`, `acceptor.accept(io)` | the same |
//! | `client::TlsStream<IO>`, `server::TlsStream<IO>` | `ClientTlsStream<IO>`, `ServerTlsStream<IO>` |
//! | `tls.get_ref()` / `get_mut()` / `into_inner()`: the transport and the connection | the same |
//! | the futures resolve to `io::Result<TlsStream>` | `Result<TlsStream, HandshakeError>`: `?` in an `io::Result` function and `.kind()` work unchanged; `io::Error::from(e)` (or `.map_err(io::Error::from)`) where an `io::Error` value is needed |
//! | no deadline | an `Acceptor` has a 10 s deadline by default (`without_timeout()` removes it); a `Connector` has none unless `with_timeout` |
//! | `LazyConfigAcceptor::new(Acceptor::default(), io)`, then `start.into_stream(config)` | `acceptor.start(io)` (a `LazyConfigAcceptor`), then `hello.into_stream(config)` (on a `StartHandshake`): the same names for the same roles |
//! | `TlsConnector::early_data(true)`, data written after `connect` | `connector.connect_with_early_data(name, data, io)` |
//!
//! The same server and client, before and after (compiled as a doc test):
//!
//! ```rust,no_run
//! use std::{io, sync::Arc};
//! use rustls::pki_types::ServerName;
//! use tokio::{io::AsyncWriteExt, net::TcpStream};
//!
//! // Before: tokio-rustls.
//! async fn serve_before(config: Arc<rustls::ServerConfig>, tcp: TcpStream) -> io::Result<()> {
//!     let acceptor = tokio_rustls::TlsAcceptor::from(config);
//!     let mut tls: tokio_rustls::server::TlsStream<TcpStream> = acceptor.accept(tcp).await?;
//!     let (_tcp, conn) = tls.get_ref();
//!     println!("ALPN {:?}", conn.alpn_protocol());
//!     tls.write_all(b"hello").await?;
//!     tls.shutdown().await
//! }
//!
//! // After: only the names change.
//! async fn serve_after(config: Arc<rustls::ServerConfig>, tcp: TcpStream) -> io::Result<()> {
//!     let acceptor = tokio_tls_handshake::Acceptor::from(config);
//!     let mut tls: tokio_tls_handshake::ServerTlsStream<TcpStream> = acceptor.accept(tcp).await?;
//!     let (_tcp, conn) = tls.get_ref();
//!     println!("ALPN {:?}", conn.alpn_protocol());
//!     tls.write_all(b"hello").await?;
//!     tls.shutdown().await
//! }
//!
//! // A client that keeps the handshake's result as an `io::Result`: one `map_err`.
//! async fn connect_after(
//!     config: Arc<rustls::ClientConfig>,
//!     name: ServerName<'static>,
//!     tcp: TcpStream,
//! ) -> io::Result<tokio_tls_handshake::ClientTlsStream<TcpStream>> {
//!     let connecting = tokio_tls_handshake::Connector::from(config).connect(name, tcp);
//!     let result: io::Result<_> = connecting.await.map_err(io::Error::from);
//!     result
//! }
//! ```
//!
//! # Reports, tracing, resumption, early data, key logs
//!
//! **What each handshake negotiated and cost.** `tls.report()` (and `failed.report` on every
//! failure, `report` in `ListenError::Handshake`) is a `HandshakeReport`: role, version, cipher
//! suite, key-exchange group, ALPN, SNI, full / full with HelloRetryRequest / resumed, the peer's
//! certificate count and leaf subject, early data offered and accepted, duration, bytes and
//! transport calls each way, and flights received (round trips). `Display` is one log line:
//!
//! ```text
//! client TLSv1_3 TLS13_AES_256_GCM_SHA384 X25519MLKEM768 alpn=h2 sni=localhost full peer_certs=2 peer="CN=localhost" 1.52ms read=2178B/2 wrote=1561B/2 flights=1
//! ```
//!
//! **`tracing` feature** (off by default): a `tls_handshake` span per handshake with the report's
//! fields, an info event on completion and a warn event with the typed cause on failure; nothing
//! secret is recorded. Its test runs with `cargo test --features tracing --test tracing`.
//!
//! **Session resumption**: reuse the same `Arc<ClientConfig>` (rustls keeps sessions in it);
//! `cargo run --example resumption` shows a full handshake, then a resumed one. In TLS 1.2 the
//! resumed handshake takes one round trip fewer (`flights` 2 → 1); in TLS 1.3 it skips the
//! certificate. Tested between this crate's ends and against `openssl s_server` / `s_client`.
//!
//! **TLS 1.3 early data (0-RTT)**: `Connector::connect_with_early_data(name, data, io)` sends
//! `data` with the ClientHello when resuming a session whose server allows it (client config
//! `enable_early_data = true`); whatever the server does not accept is sent right after the
//! handshake, before the handshake future resolves, so it arrives exactly once and in full
//! whatever its size (tested from 64 KiB - 1 to 1 MiB, accepted, rejected and without a session),
//! and `tls.early_data_accepted()` says which. At most half of what the session allows goes early:
//! a rustls server that rejects early data skips no more than that (it counts skipped records by
//! ciphertext, and in practice twice: with a 16 KiB limit, 8,175 rejected bytes are skipped and
//! 8,180 end the handshake in `DecryptError`, measured with rustls alone).
//! A server with `max_early_data_size > 0` reads it with `tls.take_early_data()?`; the ordinary read
//! path never returns it. **Replay**: an attacker can resend captured early data, so act on it
//! only when doing it twice is harmless. Tested both ways between this crate's ends and with
//! `openssl s_server -early_data` / `s_client -early_data`.
//!
//! **Client certificates in TLS 1.3: `confirm`.** A TLS 1.3 client finishes its handshake when it
//! sends its certificate; the server judges it afterwards. `tls.confirm().await` waits for the
//! server's first record after the handshake: its session tickets when it accepted (rustls,
//! OpenSSL and this crate send them as part of the handshake), its alert when it refused, which
//! then surfaces as `HandshakeError::Protocol { alert_received: Some(CertificateRequired), .. }`
//! instead of on the first read. Bound it with a timeout against servers that send no tickets.
//!
//! **Session tickets are part of a TLS 1.3 server's handshake**, as OpenSSL's
//! `SSL_do_handshake` and tokio-rustls have it: the server's handshake completes once its tickets
//! are written and flushed. So `confirm` completes against this crate's server even when it never
//! writes, a server that only reads still issues tickets, and none are left behind in
//! `into_inner()`. The cost is one write per handshake when tickets are on: `strace -f -c
//! target/release/bench --only ours --tickets` counts 4 `writev` per handshake, the same
//! as `--only tokio-rustls --tickets` (3 each without tickets). If writing them fails (the client
//! already left), the handshake still completes and the stream's first write or flush reports
//! it. Over a transport with less room than the tickets, the client must read for the server's
//! handshake to finish.
//!
//! **Key logs for Wireshark**: `Connector::with_key_log_from_env()` /
//! `Acceptor::with_key_log_from_env()` log TLS secrets to the file named by `SSLKEYLOGFILE`
//! through rustls' `KeyLogFile`, and do nothing when it is unset; the demo uses it
//! (`SSLKEYLOGFILE=keys.log cargo run --example demo`). Debugging only.
//!
//! [`TlsListener`]: listener::TlsListener
//! [`TlsListener::from_unix`]: listener::TlsListener::from_unix
//! [`ListenerHandle`]: listener::ListenerHandle
//! [`ListenerHandle::drain`]: listener::ListenerHandle::drain
//! [`ListenError::is_resource_exhaustion`]: listener::ListenError::is_resource_exhaustion
//! [`Incoming::Addr`]: listener::Incoming::Addr
//! [`CertificateStore`]: certificates::CertificateStore
//! [`ReloadableConfig`]: certificates::ReloadableConfig
//! [`TicketKeys`]: tickets::TicketKeys
//!
//! # Features
//!
//! From `Cargo.toml`, where each is documented once:
//!
#![doc = document_features::document_features!()]
#![forbid(unsafe_code)]
#![deny(missing_docs)]
// On docs.rs (nightly, `--cfg docsrs`): each item gated by a feature says which.
#![cfg_attr(docsrs, feature(doc_cfg))]

mod client;
mod engine;
mod error;
mod io;
mod key_log;
mod measure;
#[cfg(feature = "metrics")]
pub mod metrics;
mod server;
mod step;
mod trace;

// The core, at the root.
pub use client::Connector;
pub use engine::{HandshakeReport, HandshakeStats, Role, TlsConnection};
pub use error::HandshakeError;
pub use io::Failed;
pub use io::{AsyncHandshake, ClientTlsStream, Recoverable, ServerTlsStream, TlsStream};
pub use server::Acceptor;
pub use step::{Handshake, Step};

// The layers above it, as modules.
#[cfg(feature = "hyper")]
pub use client::https;
#[cfg(feature = "acme")]
pub use server::acme;
#[cfg(feature = "proxy-protocol")]
pub use server::proxy;
pub use server::{accept, certificates, listener, storage, tickets};

pub use rustls;

/// The README's Rust examples compile as doc tests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
