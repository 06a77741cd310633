//! Where a listener's connections come from: [`Incoming`], implemented for Tokio's
//! `TcpListener` and `UnixListener` and, through [`StreamIncoming`], for any stream of
//! connections.

use std::{
    fmt, io,
    net::SocketAddr,
    task::{Context, Poll},
};

use futures::stream::{Stream, StreamExt};
use tokio::{
    io::{AsyncRead, AsyncWrite},
    net::{TcpListener, TcpStream},
};

/// An accepted transport and its peer's address; `None` when no more will come.
pub type Connection<IO, A = SocketAddr> = Option<io::Result<(IO, A)>>;

/// A peer address a listener reports. With the PROXY protocol (the `proxy-protocol` feature),
/// the client address a header carried replaces the transport's when the type can hold it.
pub trait PeerAddr: Clone + fmt::Debug + Send + Sync + Unpin + 'static {
    /// `source` as this type, if it can be one (`None` by default: the transport's address
    /// stays).
    fn from_proxied(source: SocketAddr) -> Option<Self> {
        let _ = source;
        None
    }
}

impl PeerAddr for SocketAddr {
    fn from_proxied(source: SocketAddr) -> Option<Self> {
        Some(source)
    }
}

#[cfg(unix)]
impl PeerAddr for tokio::net::unix::SocketAddr {}

/// A source of accepted transports, each with its peer's address.
pub trait Incoming: Unpin {
    /// The transport.
    type Io: AsyncRead + AsyncWrite + Unpin + 'static;
    /// The peer's address: `std::net::SocketAddr` for TCP, `tokio::net::unix::SocketAddr`
    /// for a Unix socket.
    type Addr: PeerAddr;
    /// Polls for the next connection; `Ready(None)` when there will be no more.
    fn poll_incoming(&mut self, cx: &mut Context<'_>) -> Poll<Connection<Self::Io, Self::Addr>>;
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
    fn poll_incoming(&mut self, cx: &mut Context<'_>) -> Poll<Connection<TcpStream>> {
        self.poll_accept(cx).map(Some)
    }
    fn local_addr(&self) -> io::Result<SocketAddr> {
        TcpListener::local_addr(self)
    }
}

#[cfg(unix)]
impl Incoming for tokio::net::UnixListener {
    type Io = tokio::net::UnixStream;
    type Addr = tokio::net::unix::SocketAddr;
    fn poll_incoming(&mut self, cx: &mut Context<'_>) -> Poll<Connection<Self::Io, Self::Addr>> {
        self.poll_accept(cx).map(Some)
    }
    fn local_addr(&self) -> io::Result<Self::Addr> {
        tokio::net::UnixListener::local_addr(self)
    }
}

/// Any `Stream` of `io::Result<(transport, peer address)>` as an [`Incoming`], for
/// [`TlsListener::from_stream`](crate::TlsListener::from_stream).
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
    fn poll_incoming(&mut self, cx: &mut Context<'_>) -> Poll<Connection<IO, A>> {
        self.0.poll_next_unpin(cx)
    }
}
