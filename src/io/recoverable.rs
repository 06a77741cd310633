//! [`Recoverable`]: the handshake future resolving to `Result<TlsStream, Failed<IO>>`, so every
//! failure hands the transport back.

use std::{
    future::Future,
    pin::Pin,
    task::{Context, Poll},
};

use tokio::io::{AsyncRead, AsyncWrite};

use super::{AsyncHandshake, TlsStream};
use crate::{engine::TlsConnection, io::Failed};

/// [`AsyncHandshake`] resolving to `Result<TlsStream, Failed<IO>>`, from
/// [`AsyncHandshake::recoverable`]. `Unpin`, like the handshake.
///
/// # Cancel safety
///
/// As for [`AsyncHandshake`]: dropping it drops the transport.
#[must_use = "futures do nothing unless you `.await` or poll them"]
#[derive(Debug)]
pub struct Recoverable<IO, C> {
    inner: AsyncHandshake<IO, C>,
}

impl<IO, C> Recoverable<IO, C> {
    pub(super) fn new(inner: AsyncHandshake<IO, C>) -> Self {
        Self { inner }
    }

    /// The transport, unless the future has completed.
    pub fn get_ref(&self) -> Option<&IO>
    where
        IO: AsyncRead + AsyncWrite + Unpin,
        C: TlsConnection,
    {
        self.inner.get_ref()
    }
}

impl<IO, C> Future for Recoverable<IO, C>
where
    IO: AsyncRead + AsyncWrite + Unpin,
    C: TlsConnection,
{
    type Output = Result<TlsStream<IO, C>, Failed<IO>>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        Pin::new(&mut self.get_mut().inner).poll_handshake(cx)
    }
}
