//! Where a listener's connections come from: [`Incoming`], implemented for Tokio's
//! `TcpListener` and `UnixListener` and, through [`StreamIncoming`], for any stream of
//! connections.

use std::{
    fmt, io,
    net::{IpAddr, SocketAddr},
    task::{Context, Poll},
};

use futures::stream::{Stream, StreamExt};
use tokio::{
    io::{AsyncRead, AsyncWrite},
    net::{TcpListener, TcpStream},
};

/// What polling a source of connections gives: the next accepted transport and its peer's
/// address, an accept error, or `None` when no more will come.
pub type NextConnection<IO, A = SocketAddr> = Option<io::Result<(IO, A)>>;

pub use crate::server::peer::PeerAddr;

/// The peer of a connection accepted on a Unix domain socket
/// ([`TlsListener::from_unix`](crate::listener::TlsListener::from_unix)): the socket's own address or,
/// behind a load balancer that sends the PROXY protocol (HAProxy in front of a Unix socket),
/// the client's address from the header.
#[cfg(unix)]
#[derive(Debug, Clone)]
pub enum UnixPeer {
    /// The transport's peer (a client's socket is usually unnamed).
    Socket(tokio::net::unix::SocketAddr),
    /// The client behind the load balancer, as its PROXY protocol header gave it.
    Proxied(SocketAddr),
}

#[cfg(unix)]
impl UnixPeer {
    /// The Unix socket address, unless a PROXY protocol header replaced it.
    pub fn as_socket(&self) -> Option<&tokio::net::unix::SocketAddr> {
        match self {
            Self::Socket(addr) => Some(addr),
            Self::Proxied(_) => None,
        }
    }

    /// The client's address from a PROXY protocol header, if one gave it.
    pub fn proxied(&self) -> Option<SocketAddr> {
        match self {
            Self::Socket(_) => None,
            Self::Proxied(addr) => Some(*addr),
        }
    }
}

/// The client's address behind a balancer, or the socket's path (`unix:PATH`, or
/// `unix:(unnamed)`).
#[cfg(unix)]
impl fmt::Display for UnixPeer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Proxied(addr) => write!(f, "{addr}"),
            Self::Socket(addr) => match addr.as_pathname() {
                Some(path) => write!(f, "unix:{}", path.display()),
                None => f.write_str("unix:(unnamed)"),
            },
        }
    }
}

/// A transport's peer on a Unix socket has no IP address: only `TrustedProxies::any()` trusts
/// it to send a PROXY header (the socket's file permissions decide who may connect).
#[cfg(unix)]
impl PeerAddr for UnixPeer {
    fn from_proxied(source: SocketAddr) -> Option<Self> {
        Some(Self::Proxied(source))
    }

    fn ip(&self) -> Option<IpAddr> {
        self.proxied().map(|addr| addr.ip())
    }
}

/// A source of accepted transports, each with its peer's address.
pub trait Incoming: Unpin {
    /// The transport.
    type Io: AsyncRead + AsyncWrite + Unpin + 'static;
    /// The peer's address: `std::net::SocketAddr` for TCP, [`UnixPeer`] for a Unix socket.
    type Addr: PeerAddr;
    /// Polls for the next connection; `Ready(None)` when there will be no more.
    fn poll_incoming(&mut self, cx: &mut Context<'_>)
        -> Poll<NextConnection<Self::Io, Self::Addr>>;
    /// The address connections come to, where there is one.
    fn local_addr(&self) -> io::Result<Self::Addr> {
        Err(io::Error::new(
            io::ErrorKind::Unsupported,
            "this source of connections has no local address",
        ))
    }
}

impl Incoming for TcpListener {
    type Io = TcpStream;
    type Addr = SocketAddr;
    fn poll_incoming(&mut self, cx: &mut Context<'_>) -> Poll<NextConnection<TcpStream>> {
        self.poll_accept(cx).map(Some)
    }
    fn local_addr(&self) -> io::Result<SocketAddr> {
        TcpListener::local_addr(self)
    }
}

#[cfg(unix)]
impl Incoming for tokio::net::UnixListener {
    type Io = tokio::net::UnixStream;
    type Addr = UnixPeer;
    fn poll_incoming(
        &mut self,
        cx: &mut Context<'_>,
    ) -> Poll<NextConnection<Self::Io, Self::Addr>> {
        self.poll_accept(cx)
            .map(|accepted| Some(accepted.map(|(io, addr)| (io, UnixPeer::Socket(addr)))))
    }
    fn local_addr(&self) -> io::Result<Self::Addr> {
        tokio::net::UnixListener::local_addr(self).map(UnixPeer::Socket)
    }
}

/// Any `Stream` of `io::Result<(transport, peer address)>` as an [`Incoming`], for
/// [`TlsListener::from_stream`](crate::listener::TlsListener::from_stream).
#[derive(Debug)]
pub struct StreamIncoming<S>(pub S);

impl<S, IO, A> Incoming for StreamIncoming<S>
where
    S: Stream<Item = io::Result<(IO, A)>> + Unpin,
    IO: AsyncRead + AsyncWrite + Unpin + 'static,
    A: PeerAddr,
{
    type Io = IO;
    type Addr = A;
    fn poll_incoming(&mut self, cx: &mut Context<'_>) -> Poll<NextConnection<IO, A>> {
        self.0.poll_next_unpin(cx)
    }
}
