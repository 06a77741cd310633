//! [`ChooseConfig`]: what an [`Acceptor`](crate::Acceptor) does with a ClientHello before the
//! handshake goes on: serve it with a configuration, refuse it with an alert, or answer a
//! challenge and close.

use std::{fmt, sync::Arc};

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
    /// [`HandshakeError::Answered`](crate::HandshakeError::Answered) with `by:`
    /// [`CHALLENGE`](crate::accept::CHALLENGE), so the connection never reaches the
    /// application.
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
/// use tokio_tls_handshake::{accept::Choice, Acceptor};
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
