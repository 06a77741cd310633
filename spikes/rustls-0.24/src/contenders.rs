//! The four contenders, behind one interface: rustls 0.24 with its buffers released while
//! empty, rustls 0.24 with `VecInput` kept, this crate today (rustls 0.23's buffered
//! connection under its engine) and tokio-rustls (rustls 0.23 buffered, the peer every
//! figure is compared with).

use std::{future::Future, io, sync::Arc};

use rustls_next::{ClientSide, ServerSide};
use tokio::{
    io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt},
    net::TcpStream,
};

use crate::{
    input::Buffers,
    next_stream::NextStream,
    setup::{Setup, SERVER_NAME},
};

/// One end of an established connection, as the sections use it.
pub trait Tls: Send + 'static {
    /// Reads plaintext into `buf` (64 KiB in the sections): how much, 0 at the end.
    fn read(&mut self, buf: &mut [u8]) -> impl Future<Output = io::Result<usize>> + Send;
    /// Sends all of `data`.
    fn write_all(&mut self, data: &[u8]) -> impl Future<Output = io::Result<()>> + Send;
    /// Sends close_notify.
    fn shutdown(&mut self) -> impl Future<Output = io::Result<()>> + Send;
}

/// Both sides' streams (each side's state is `Send`; a generic side's is not known to be).
macro_rules! next_tls {
    ($side:ty) => {
        impl Tls for NextStream<$side> {
            async fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
                NextStream::read(self, buf).await
            }
            async fn write_all(&mut self, data: &[u8]) -> io::Result<()> {
                NextStream::write_all(self, data).await
            }
            async fn shutdown(&mut self) -> io::Result<()> {
                NextStream::shutdown(self).await
            }
        }
    };
}
next_tls!(ClientSide);
next_tls!(ServerSide);

/// A Tokio stream (this crate's, tokio-rustls').
pub struct Async<S>(pub S);

impl<S: AsyncRead + AsyncWrite + Unpin + Send + 'static> Tls for Async<S> {
    async fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.0.read(buf).await
    }
    async fn write_all(&mut self, data: &[u8]) -> io::Result<()> {
        self.0.write_all(data).await?;
        self.0.flush().await
    }
    async fn shutdown(&mut self) -> io::Result<()> {
        self.0.shutdown().await
    }
}

/// A TLS stack that both ends of a connection run.
pub trait Contender: Clone + Send + Sync + 'static {
    type Client: Tls;
    type Server: Tls;
    /// Its name in the tables.
    const NAME: &'static str;
    fn connect(&self, tcp: TcpStream) -> impl Future<Output = io::Result<Self::Client>> + Send;
    fn accept(&self, tcp: TcpStream) -> impl Future<Output = io::Result<Self::Server>> + Send;
}

/// rustls 0.24.0-dev.2 through [`NextStream`].
#[derive(Clone)]
pub struct Next<const RELEASED: bool> {
    client: Arc<rustls_next::ClientConfig>,
    server: Arc<rustls_next::ServerConfig>,
}

impl<const RELEASED: bool> Next<RELEASED> {
    pub fn new(setup: &Setup) -> Self {
        Self {
            client: setup.next_client.clone(),
            server: setup.next_server.clone(),
        }
    }

    fn buffers() -> Buffers {
        if RELEASED {
            Buffers::Released
        } else {
            Buffers::Kept
        }
    }
}

/// rustls 0.24, the receive buffer freed while empty.
pub type NextReleased = Next<true>;
/// rustls 0.24, `VecInput` kept.
pub type NextKept = Next<false>;

impl<const RELEASED: bool> Contender for Next<RELEASED> {
    type Client = NextStream<ClientSide>;
    type Server = NextStream<ServerSide>;
    const NAME: &'static str = if RELEASED {
        "rustls 0.24, input released when empty"
    } else {
        "rustls 0.24, VecInput kept"
    };

    fn connect(&self, tcp: TcpStream) -> impl Future<Output = io::Result<Self::Client>> + Send {
        let config = self.client.clone();
        async move { NextStream::connect(&config, SERVER_NAME, tcp, Self::buffers()).await }
    }

    fn accept(&self, tcp: TcpStream) -> impl Future<Output = io::Result<Self::Server>> + Send {
        let config = self.server.clone();
        async move { NextStream::accept(&config, tcp, Self::buffers()).await }
    }
}

/// This crate as it is: its engine on rustls 0.23's buffered connection.
#[derive(Clone)]
pub struct Ours {
    connector: tokio_tls_handshake::Connector,
    acceptor: tokio_tls_handshake::Acceptor,
}

impl Ours {
    pub fn new(setup: &Setup) -> Self {
        Self {
            connector: tokio_tls_handshake::Connector::from(setup.old_client.clone()),
            acceptor: tokio_tls_handshake::Acceptor::from(setup.old_server.clone()),
        }
    }
}

fn name() -> rustls::pki_types::ServerName<'static> {
    rustls::pki_types::ServerName::try_from(SERVER_NAME).expect("a DNS name")
}

impl Contender for Ours {
    type Client = Async<tokio_tls_handshake::ClientTlsStream<TcpStream>>;
    type Server = Async<tokio_tls_handshake::ServerTlsStream<TcpStream>>;
    const NAME: &'static str = "this crate today (rustls 0.23 buffered)";

    fn connect(&self, tcp: TcpStream) -> impl Future<Output = io::Result<Self::Client>> + Send {
        let connector = self.connector.clone();
        async move {
            let stream = connector
                .connect(name(), tcp)
                .await
                .map_err(io::Error::other)?;
            Ok(Async(stream))
        }
    }

    fn accept(&self, tcp: TcpStream) -> impl Future<Output = io::Result<Self::Server>> + Send {
        let acceptor = self.acceptor.clone();
        async move {
            let stream = acceptor.accept(tcp).await.map_err(io::Error::other)?;
            Ok(Async(stream))
        }
    }
}

/// tokio-rustls 0.26 on rustls 0.23's buffered connection.
#[derive(Clone)]
pub struct TokioRustls {
    connector: tokio_rustls::TlsConnector,
    acceptor: tokio_rustls::TlsAcceptor,
}

impl TokioRustls {
    pub fn new(setup: &Setup) -> Self {
        Self {
            connector: tokio_rustls::TlsConnector::from(setup.old_client.clone()),
            acceptor: tokio_rustls::TlsAcceptor::from(setup.old_server.clone()),
        }
    }
}

impl Contender for TokioRustls {
    type Client = Async<tokio_rustls::client::TlsStream<TcpStream>>;
    type Server = Async<tokio_rustls::server::TlsStream<TcpStream>>;
    const NAME: &'static str = "tokio-rustls (rustls 0.23 buffered)";

    fn connect(&self, tcp: TcpStream) -> impl Future<Output = io::Result<Self::Client>> + Send {
        let connector = self.connector.clone();
        async move { Ok(Async(connector.connect(name(), tcp).await?)) }
    }

    fn accept(&self, tcp: TcpStream) -> impl Future<Output = io::Result<Self::Server>> + Send {
        let acceptor = self.acceptor.clone();
        async move { Ok(Async(acceptor.accept(tcp).await?)) }
    }
}
