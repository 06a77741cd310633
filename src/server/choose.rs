//! [`ChooseConfig`]: what an [`Acceptor`](crate::Acceptor) does with a ClientHello before the
//! handshake goes on: serve it with a configuration, refuse it with an alert, or answer a
//! challenge and close.
//!
//!
//! # Guide
//!
//! **Choosing the configuration from the ClientHello** (a certificate per SNI name, ALPN,
//! versions): `Acceptor::start(io)` is a `LazyConfigAcceptor` that reads the ClientHello and
//! gives a `StartHandshake` exposing it (`server_name()`, `alpn()`, `cipher_suites()`,
//! `signature_schemes()`); its `into_stream(config)` continues the handshake with the
//! configuration chosen (tokio-rustls' names for the same roles). The acceptor's own
//! configuration is not used; its deadline covers both steps, and the choice in between may
//! await. For a choice made the same way on every connection (certificates by name, refusals),
//! give the acceptor a chooser instead: `Acceptor::with_chooser(impl ChooseConfig)` runs on
//! every `accept` and in a `TlsListener`, and answers each ClientHello with a configuration
//! (`Choice::Serve`), a refusal with the alert of your choice (`Choice::Refuse`, in the clear;
//! `HandshakeError::Refused`) or an ACME challenge (`Choice::AnswerChallenge`). A
//! `CertificateStore` and an `Acme` client are choosers (see Certificates below), and so is a
//! closure `|hello, config| -> Choice`.
//!
//! ```rust,no_run
//! use std::sync::Arc;
//! use tokio_tls_handshake::{Acceptor, ServerTlsStream};
//!
//! async fn route(
//!     acceptor: &Acceptor,
//!     tcp: tokio::net::TcpStream,
//!     a: Arc<rustls::ServerConfig>,
//!     b: Arc<rustls::ServerConfig>,
//! ) -> std::io::Result<ServerTlsStream<tokio::net::TcpStream>> {
//!     let hello = acceptor.start(tcp).await?;
//!     let config = match hello.client_hello().server_name() {
//!         Some("b.example") => b,
//!         _ => a,
//!     };
//!     Ok(hello.into_stream(config).await?)
//! }
//! ```

use std::{fmt, sync::Arc};

pub use super::client_hello::{LazyConfigAcceptor, StartHandshake};

use rustls::{server::ClientHello, AlertDescription, ServerConfig};

/// How a server answers one ClientHello, as a [`ChooseConfig`] decides.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum Choice {
    /// Go on with this configuration (often the acceptor's own, passed to
    /// [`ChooseConfig::choose`]).
    Serve(Arc<ServerConfig>),
    /// Refuse the client with this fatal alert, sent in the clear (nothing is negotiated yet):
    /// nginx's `ssl_reject_handshake` sends `UnrecognisedName`. The handshake fails with
    /// [`HandshakeError::Refused`](crate::HandshakeError::Refused).
    Refuse(AlertDescription),
    /// Complete the handshake with this configuration, then close the connection: it exists
    /// only to see the certificate, as an ACME server's TLS-ALPN-01 validation does (RFC
    /// 8737). The handshake resolves to
    /// [`HandshakeError::ChallengeAnswered`](crate::HandshakeError::ChallengeAnswered), so
    /// the connection never reaches the application.
    AnswerChallenge(Arc<ServerConfig>),
}

/// Chooses, from a client's ClientHello, how the server answers it: the hook an
/// [`Acceptor`](crate::Acceptor) runs before every handshake once given one
/// ([`Acceptor::with_chooser`](crate::Acceptor::with_chooser)).
///
/// It runs after the ClientHello is read and before rustls sees it, under the handshake's
/// deadline, on the task driving the handshake: keep it quick (a map lookup), as the
/// [`CertificateStore`](crate::certificates::CertificateStore) does. Closures of the same signature are
/// choosers too.
///
/// # Examples
///
/// Refusing every client that asks for no name, or one this server does not have:
///
/// ```
/// use std::sync::Arc;
/// use rustls::{server::ClientHello, AlertDescription, ServerConfig};
/// use tokio_tls_handshake::{Acceptor, choose::Choice};
///
/// # fn run(config: Arc<ServerConfig>) {
/// let acceptor = Acceptor::from(config).with_chooser(
///     |hello: &ClientHello<'_>, config: &Arc<ServerConfig>| match hello.server_name() {
///         Some("example.com") => Choice::Serve(config.clone()),
///         _ => Choice::Refuse(AlertDescription::UnrecognisedName),
///     },
/// );
/// # }
/// ```
pub trait ChooseConfig: Send + Sync + 'static {
    /// How to answer `hello`; `config` is the acceptor's configuration for this handshake.
    fn choose(&self, hello: &ClientHello<'_>, config: &Arc<ServerConfig>) -> Choice;
}

impl<F> ChooseConfig for F
where
    F: Fn(&ClientHello<'_>, &Arc<ServerConfig>) -> Choice + Send + Sync + 'static,
{
    fn choose(&self, hello: &ClientHello<'_>, config: &Arc<ServerConfig>) -> Choice {
        self(hello, config)
    }
}

/// An acceptor's chooser, shared by every handshake it starts.
#[derive(Clone)]
pub(crate) struct Chooser(pub(crate) Arc<dyn ChooseConfig>);

impl fmt::Debug for Chooser {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Chooser")
    }
}
