//! [`Failed`]: a failed handshake with its transport handed back.

use std::{error::Error as StdError, fmt, io};

use crate::{engine::HandshakeReport, error::HandshakeError};

/// A failed handshake together with its transport, so the caller can still use it: answer a
/// plaintext peer (HTTP 400, a redirect), log, or close it its own way.
///
/// Produced by [`AsyncHandshake::recoverable`](crate::AsyncHandshake::recoverable); match it
/// with `Failed { error, io, .. }` (more may come), or build one with [`Failed::new`].
#[derive(Debug)]
#[non_exhaustive]
pub struct Failed<IO> {
    /// Why the handshake failed.
    pub error: HandshakeError,
    /// The transport, as the handshake left it. After [`HandshakeError::NotTls`] it is
    /// positioned just after [`HandshakeError::NotTls::prefix`].
    pub io: IO,
    /// What the handshake had negotiated and cost when it failed.
    pub report: Box<HandshakeReport>,
}

impl<IO> Failed<IO> {
    /// A failure of `error` on `io`, with what the handshake had `report`ed, for code that
    /// wraps handshakes of its own.
    pub fn new(error: HandshakeError, io: IO, report: HandshakeReport) -> Self {
        Self {
            error,
            io,
            report: Box::new(report),
        }
    }

    /// Drops the transport and keeps the error.
    pub fn into_error(self) -> HandshakeError {
        self.error
    }
}

impl<IO> fmt::Display for Failed<IO> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.error, f)
    }
}

impl<IO: fmt::Debug> StdError for Failed<IO> {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        self.error.source()
    }
}

/// Keeps the error and drops the transport, so `?` works in `io::Result` code.
impl<IO> From<Failed<IO>> for io::Error {
    fn from(failed: Failed<IO>) -> Self {
        failed.error.into()
    }
}

impl<IO> From<Failed<IO>> for HandshakeError {
    fn from(failed: Failed<IO>) -> Self {
        failed.error
    }
}
