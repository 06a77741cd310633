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

/// What differs between the two sides, for this crate only (the module is private, so the
/// trait cannot be named or implemented outside).
pub(crate) mod sealed {
    pub trait Sealed {
        /// The server name a server received (SNI); `None` on a client.
        fn received_server_name(&self) -> Option<&str>;
        /// Whether TLS 1.3 early data was accepted: the client's by the server, or (server)
        /// the client's early data is there to read.
        fn early_data_was_accepted(&mut self) -> bool;
    }

    impl Sealed for rustls::ClientConnection {
        fn received_server_name(&self) -> Option<&str> {
            None
        }
        fn early_data_was_accepted(&mut self) -> bool {
            self.is_early_data_accepted()
        }
    }

    impl Sealed for rustls::ServerConnection {
        fn received_server_name(&self) -> Option<&str> {
            self.server_name()
        }
        fn early_data_was_accepted(&mut self) -> bool {
            self.early_data().is_some()
        }
    }
}
