//! The two roles a handshake can take, behind one trait: rustls' `ClientConnection`
//! (`SSL_set_connect_state`) and `ServerConnection` (`SSL_set_accept_state`).

use std::ops::DerefMut;

use rustls::{
    client::ClientConnectionData, server::ServerConnectionData, ClientConnection, ConnectionCommon,
    ServerConnection,
};

/// Which end of the handshake this side is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    /// This side sent the `ClientHello` (OpenSSL: `SSL_set_connect_state`).
    Client,
    /// This side answered it (OpenSSL: `SSL_set_accept_state`).
    Server,
}

impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Role::Client => "client",
            Role::Server => "server",
        })
    }
}

/// A rustls connection this crate can drive: [`ClientConnection`] or [`ServerConnection`].
///
/// Sealed: the two rustls types are the only implementations.
pub trait TlsConnection:
    DerefMut<Target = ConnectionCommon<Self::Data>> + Send + Unpin + sealed::Sealed + 'static
{
    /// rustls' per-side state.
    type Data;
    /// The role this connection plays.
    const ROLE: Role;
}

impl TlsConnection for ClientConnection {
    type Data = ClientConnectionData;
    const ROLE: Role = Role::Client;
}

impl TlsConnection for ServerConnection {
    type Data = ServerConnectionData;
    const ROLE: Role = Role::Server;
}

mod sealed {
    pub trait Sealed {}
    impl Sealed for rustls::ClientConnection {}
    impl Sealed for rustls::ServerConnection {}
}
