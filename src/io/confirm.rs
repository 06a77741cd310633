//! `TlsStream::confirm`: a TLS 1.3 client waits for the server's reaction to its last flight,
//! counted by the same record watcher the handshake used.

use std::task::{ready, Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite};

use super::{adapter::PollIo, TlsStream};
use crate::{
    engine::Role,
    engine::TlsConnection,
    engine::{Phase, ReadOutcome},
    error::HandshakeError,
};

impl<IO, C> TlsStream<IO, C>
where
    IO: AsyncRead + AsyncWrite + Unpin,
    C: TlsConnection,
{
    /// Waits for the peer's first record after the handshake, and fails if it is a fatal
    /// alert. See [`TlsStream::confirm`].
    pub fn poll_confirm(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), HandshakeError>> {
        if C::ROLE == Role::Server || !self.engine.is_tls13() {
            return Poll::Ready(Ok(()));
        }
        loop {
            if let Phase::Failed(error) = self.engine.phase() {
                return Poll::Ready(Err(HandshakeError::clone(error)));
            }
            if let Some(mut error) = self.engine.take_held() {
                let _ = self
                    .engine
                    .send_alert(&mut PollIo::new(&mut self.io, cx), Some(&mut error));
                self.engine.fail(&error);
                return Poll::Ready(Err(error));
            }
            if self.engine.peer_reacted() {
                return Poll::Ready(Ok(()));
            }
            match ready!(self.poll_receive(cx)) {
                Ok(ReadOutcome::Eof) => {
                    return Poll::Ready(Err(HandshakeError::PeerClosed {
                        close_notify: false,
                        received: self.engine.received(),
                    }))
                }
                Ok(_) => {}
                Err(e) => return Poll::Ready(Err(e)),
            }
        }
    }

    /// Client side, TLS 1.3: waits until the server has reacted to this client's last
    /// flight, so that a rejected client certificate surfaces here, as
    /// [`HandshakeError::Protocol`] with `alert_received`, instead of on the first read.
    ///
    /// Why: in TLS 1.3 the client's handshake completes when it *sends* its Finished (and
    /// certificate); the server judges them afterwards. Servers that accept send their
    /// session tickets (rustls and OpenSSL do, by default) or application data, and a
    /// rejection is a fatal alert; either way the first record after the handshake tells. It
    /// counts even when it arrived while the handshake's last writes were waiting. In TLS
    /// 1.2, and on a server, it returns at once.
    ///
    /// Data that arrives meanwhile is kept for the next read. A server that sends no tickets
    /// and waits for the client to speak first makes this wait indefinitely: bound it with
    /// `tokio::time::timeout`. A server's early ("0.5-RTT") data, sent before it saw the
    /// client's Finished, would count as its reaction.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: bytes read are kept in the connection.
    pub async fn confirm(&mut self) -> Result<(), HandshakeError> {
        std::future::poll_fn(|cx| self.poll_confirm(cx)).await
    }
}
