//! [`MaybeHttpsStream`]: what an [`HttpsConnector`](crate::https::HttpsConnector) hands hyper: a
//! plain connection, or TLS over one, with the handshake's report for the responses.

use std::{
    io,
    pin::Pin,
    task::{Context, Poll},
};

use hyper::rt::{Read, ReadBufCursor, Write};
use hyper_util::{
    client::legacy::connect::{Connected, Connection},
    rt::TokioIo,
};

use crate::io::ClientTlsStream;

/// A connection an [`HttpsConnector`](crate::https::HttpsConnector) made: plain (an `http://` URI,
/// when allowed) or TLS over the inner connector's connection.
///
/// As a hyper-util `Connection` it tells the client whether HTTP/2 was agreed by ALPN, and
/// puts the handshake's [`HandshakeReport`](crate::HandshakeReport) in every response's
/// extensions: `response.extensions().get::<HandshakeReport>()`.
#[derive(Debug)]
#[allow(
    clippy::large_enum_variant,
    reason = "HTTPS is the common case; boxing it would cost every connection an allocation to save bytes on plain ones, which live in hyper's connection task either way"
)]
pub enum MaybeHttpsStream<T> {
    /// Plain HTTP.
    Http(T),
    /// TLS over the inner connection.
    Https(TokioIo<ClientTlsStream<TokioIo<T>>>),
}

impl<T: Connection + Read + Write + Unpin> Connection for MaybeHttpsStream<T> {
    fn connected(&self) -> Connected {
        match self {
            Self::Http(io) => io.connected(),
            Self::Https(tls) => {
                let tls = tls.inner();
                let (io, connection) = tls.get_ref();
                let connected = io.inner().connected();
                let connected = match connection.alpn_protocol() {
                    Some(b"h2") => connected.negotiated_h2(),
                    _ => connected,
                };
                connected.extra(tls.report())
            }
        }
    }
}

impl<T: Read + Write + Unpin> Read for MaybeHttpsStream<T> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: ReadBufCursor<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Self::Http(io) => Pin::new(io).poll_read(cx, buf),
            Self::Https(tls) => Pin::new(tls).poll_read(cx, buf),
        }
    }
}

impl<T: Read + Write + Unpin> Write for MaybeHttpsStream<T> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Self::Http(io) => Pin::new(io).poll_write(cx, buf),
            Self::Https(tls) => Pin::new(tls).poll_write(cx, buf),
        }
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Self::Http(io) => Pin::new(io).poll_write_vectored(cx, bufs),
            Self::Https(tls) => Pin::new(tls).poll_write_vectored(cx, bufs),
        }
    }

    fn is_write_vectored(&self) -> bool {
        match self {
            Self::Http(io) => io.is_write_vectored(),
            Self::Https(tls) => tls.is_write_vectored(),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Self::Http(io) => Pin::new(io).poll_flush(cx),
            Self::Https(tls) => Pin::new(tls).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Self::Http(io) => Pin::new(io).poll_shutdown(cx),
            Self::Https(tls) => Pin::new(tls).poll_shutdown(cx),
        }
    }
}
