//! An echo service with the bounds a server facing the Internet needs after the handshake:
//! a cap on open connections, and an idle timeout.

use std::{sync::Arc, time::Duration};

use tokio::{
    io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt},
    sync::{OwnedSemaphorePermit, Semaphore},
};

/// How long a connection may stay silent before the server closes it, by default.
pub(crate) const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(60);
/// How many connections may be open at once, by default.
pub(crate) const DEFAULT_MAX_OPEN: usize = 1024;

/// The open-connection cap: take a slot before accepting, so that a full server stops
/// accepting (the listener's backlog holds newcomers) instead of holding more sockets.
#[derive(Clone)]
pub(crate) struct OpenConnections(Arc<Semaphore>);

impl OpenConnections {
    pub(crate) fn new(max: usize) -> Self {
        Self(Arc::new(Semaphore::new(max.max(1))))
    }

    /// Waits for a free slot; it frees itself when dropped.
    pub(crate) async fn slot(&self) -> OwnedSemaphorePermit {
        self.0
            .clone()
            .acquire_owned()
            .await
            .expect("the semaphore is never closed")
    }
}

/// Why an echo connection ended.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Ended {
    /// The peer closed it.
    Closed,
    /// The peer sent nothing for the idle timeout.
    Idle,
}

/// Echoes what `tls` sends until the peer closes, or stays silent for `idle`; then shuts the
/// connection down (close_notify). An I/O error ends it too.
pub(crate) async fn echo<S: AsyncRead + AsyncWrite + Unpin>(
    tls: &mut S,
    idle: Duration,
) -> std::io::Result<Ended> {
    let mut buf = vec![0u8; 16 * 1024];
    let ended = loop {
        match tokio::time::timeout(idle, tls.read(&mut buf)).await {
            Err(_) => break Ended::Idle,
            Ok(Ok(0)) => break Ended::Closed,
            Ok(Ok(n)) => tls.write_all(&buf[..n]).await?,
            Ok(Err(e)) => return Err(e),
        }
    };
    // Best effort: a peer that is gone makes this fail, and the connection is over anyway.
    let _ = tls.shutdown().await;
    Ok(ended)
}
