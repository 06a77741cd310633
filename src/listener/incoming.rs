//! Where a listener's connections come from: [`Incoming`], implemented for Tokio's
//! `TcpListener` and, through [`StreamIncoming`], for any stream of connections.

use std::{
    io,
    net::SocketAddr,
    task::{Context, Poll},
};

use futures::stream::{Stream, StreamExt};
use tokio::{
    io::{AsyncRead, AsyncWrite},
    net::{TcpListener, TcpStream},
};

/// An accepted transport and its peer's address; `None` when no more will come.
pub type Connection<IO> = Option<io::Result<(IO, SocketAddr)>>;

/// A source of accepted transports, each with its peer's address.
pub trait Incoming: Unpin {
    /// The transport.
    type Io: AsyncRead + AsyncWrite + Unpin + 'static;
    /// Polls for the next connection; `Ready(None)` when there will be no more.
    fn poll_incoming(&mut self, cx: &mut Context<'_>) -> Poll<Connection<Self::Io>>;
}

impl Incoming for TcpListener {
    type Io = TcpStream;
    fn poll_incoming(&mut self, cx: &mut Context<'_>) -> Poll<Connection<TcpStream>> {
        self.poll_accept(cx).map(Some)
    }
}

/// Any `Stream` of `io::Result<(transport, peer address)>` as an [`Incoming`], for
/// [`TlsListener::from_stream`](crate::TlsListener::from_stream).
#[derive(Debug)]
pub struct StreamIncoming<S>(pub S);

impl<S, IO> Incoming for StreamIncoming<S>
where
    S: Stream<Item = io::Result<(IO, SocketAddr)>> + Unpin,
    IO: AsyncRead + AsyncWrite + Unpin + 'static,
{
    type Io = IO;
    fn poll_incoming(&mut self, cx: &mut Context<'_>) -> Poll<Connection<IO>> {
        self.0.poll_next_unpin(cx)
    }
}
