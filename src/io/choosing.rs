//! A server handshake that reads the ClientHello first, so that the acceptor's chooser decides
//! how it goes on: serve with a configuration, refuse with an alert, or answer a challenge.

use std::{
    future::Future,
    pin::Pin,
    sync::Arc,
    task::{ready, Context, Poll},
};

use rustls::{ServerConfig, ServerConnection};
use tokio::io::{AsyncRead, AsyncWrite};

use super::handshake::AsyncHandshake;
use crate::{
    choose::{Choice, LazyConfigAcceptor, StartHandshake},
    server::choose::Chooser,
    Failed,
};

/// The ClientHello reader, the chooser, the acceptor's configuration, and how to go on (for
/// the server role only: `then` is given where the role is known).
#[derive(Debug)]
pub(crate) struct ChoosingConfig<IO, C> {
    start: LazyConfigAcceptor<IO>,
    chooser: Chooser,
    config: Arc<ServerConfig>,
    then: GoOn<IO, C>,
}

/// How a handshake goes on once the ClientHello is read and the chooser has decided.
type GoOn<IO, C> = fn(StartHandshake<IO>, &Chooser, &Arc<ServerConfig>) -> AsyncHandshake<IO, C>;

impl<IO: AsyncRead + AsyncWrite + Unpin> ChoosingConfig<IO, ServerConnection> {
    /// Reads the ClientHello with `start` (which carries the deadline, the alert policy and
    /// any PROXY header reader), then goes on as `chooser` decides.
    pub(crate) fn new(
        start: LazyConfigAcceptor<IO>,
        chooser: Chooser,
        config: Arc<ServerConfig>,
    ) -> Self {
        Self {
            start,
            chooser,
            config,
            then: continue_as_chosen,
        }
    }
}

impl<IO: AsyncRead + AsyncWrite + Unpin, C> ChoosingConfig<IO, C> {
    /// The ClientHello reader, for the transport, stats and PROXY source while it reads.
    pub(crate) fn reader(&self) -> &LazyConfigAcceptor<IO> {
        &self.start
    }

    pub(crate) fn reader_mut(&mut self) -> &mut LazyConfigAcceptor<IO> {
        &mut self.start
    }

    /// Polls the ClientHello reader; once it has read the ClientHello, the handshake as the
    /// chooser decided.
    pub(crate) fn poll_chosen(
        &mut self,
        cx: &mut Context<'_>,
    ) -> Poll<Result<AsyncHandshake<IO, C>, Failed<IO>>> {
        let hello = ready!(Pin::new(&mut self.start).poll(cx))?;
        Poll::Ready(Ok((self.then)(hello, &self.chooser, &self.config)))
    }
}

/// Goes on with the ClientHello as the chooser decides (the server's `then`).
fn continue_as_chosen<IO: AsyncRead + AsyncWrite + Unpin>(
    hello: StartHandshake<IO>,
    chooser: &Chooser,
    config: &Arc<ServerConfig>,
) -> AsyncHandshake<IO, ServerConnection> {
    let choice = chooser.0.choose(&hello.client_hello(), config);
    match choice {
        Choice::Serve(config) => hello.into_stream(config),
        Choice::Refuse(alert) => hello.refuse(alert),
        Choice::AnswerChallenge(config) => hello.into_stream(config).answering_challenge(),
    }
}
