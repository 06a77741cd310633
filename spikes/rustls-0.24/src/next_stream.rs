//! A Tokio stream on rustls 0.24's `Connection<Side, Tcp>`: the connection owns no buffer;
//! the stream holds the received TLS bytes (an [`Input`]) and the TLS bytes to send (a
//! `Vec`). The output is freed whenever it is sent; the input is freed whenever it is empty
//! with [`Buffers::Released`], and kept (rustls' `VecInput`) with [`Buffers::Kept`].
//!
//! Received records are decrypted in place inside the input; the plaintext is copied once,
//! into the caller's buffer. A spike, not a port: no `AsyncRead` / `AsyncWrite`, no
//! deadline, no typed errors (every rustls error is an `io::Error` of kind `InvalidData`).

use std::{io, sync::Arc};

use rustls_next::{
    pki_types::ServerName, ClientConfig, ClientSide, Connection, ServerConfig, ServerSide,
    SideData, Tcp,
};
use tokio::net::TcpStream;

use crate::input::{Buffers, Input};

/// The most plaintext one record carries.
const MAX_PLAINTEXT: usize = 16 * 1024;

/// One end of a TLS connection on rustls 0.24.
pub struct NextStream<Side: SideData> {
    tcp: TcpStream,
    conn: Connection<Side, Tcp>,
    input: Input,
    /// TLS bytes to send; `out[sent..]` are not sent yet.
    out: Vec<u8>,
    sent: usize,
    /// Plaintext decrypted while the handshake was read, before anyone asked for it.
    pending: Vec<u8>,
}

fn invalid(error: rustls_next::Error) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, error)
}

impl NextStream<ClientSide> {
    /// Connects to `localhost` over `tcp` and completes the handshake.
    pub async fn connect(
        config: &Arc<ClientConfig>,
        name: &str,
        tcp: TcpStream,
        buffers: Buffers,
    ) -> io::Result<Self> {
        let name = ServerName::try_from(name.to_string())
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
        let mut out = Vec::new();
        let conn = config.connect(name).build(&mut out).map_err(invalid)?;
        Self::handshake(tcp, conn, out, buffers).await
    }
}

impl NextStream<ServerSide> {
    /// Accepts a client over `tcp` and completes the handshake.
    pub async fn accept(
        config: &Arc<ServerConfig>,
        tcp: TcpStream,
        buffers: Buffers,
    ) -> io::Result<Self> {
        let conn = Connection::<ServerSide, Tcp>::new(config.clone()).map_err(invalid)?;
        Self::handshake(tcp, conn, Vec::new(), buffers).await
    }
}

impl<Side: SideData> NextStream<Side> {
    async fn handshake(
        tcp: TcpStream,
        conn: Connection<Side, Tcp>,
        out: Vec<u8>,
        buffers: Buffers,
    ) -> io::Result<Self> {
        let mut stream = Self {
            tcp,
            conn,
            input: Input::new(buffers),
            out,
            sent: 0,
            pending: Vec::new(),
        };
        loop {
            stream.flush().await?;
            if !stream.conn.is_handshaking() {
                return Ok(stream);
            }
            if stream.fill().await? == 0 {
                return Err(io::ErrorKind::UnexpectedEof.into());
            }
            stream.process(&mut [])?;
        }
    }

    /// The rustls connection, for what was negotiated.
    pub fn connection(&self) -> &Connection<Side, Tcp> {
        &self.conn
    }

    /// Waits until the socket has bytes, and reads them into the input: how many (0 at the
    /// socket's end).
    async fn fill(&mut self) -> io::Result<usize> {
        loop {
            self.tcp.readable().await?;
            match self.input.read_from(&self.tcp) {
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
                read => return read,
            }
        }
    }

    /// Hands the input to rustls: handshake messages are processed, and application data is
    /// copied into `sink` while a whole record still fits there (the rest waits in the input,
    /// still encrypted). During the handshake every record is processed, and plaintext that
    /// does not fit waits in `pending`. Returns the bytes copied and whether the peer closed.
    fn process(&mut self, sink: &mut [u8]) -> io::Result<(usize, bool)> {
        let Self {
            conn,
            input,
            out,
            pending,
            ..
        } = self;
        let handshaking = conn.is_handshaking();
        let mut handler = conn.read_tls(input.as_dyn(), out);
        let mut filled = 0;
        while handshaking || sink.len() - filled >= MAX_PLAINTEXT {
            match handler.next_payload() {
                None => break,
                Some(Err(error)) => return Err(invalid(error)),
                Some(Ok(payload)) => {
                    let bytes = payload.bytes();
                    let fits = bytes.len().min(sink.len() - filled);
                    sink[filled..filled + fits].copy_from_slice(&bytes[..fits]);
                    pending.extend_from_slice(&bytes[fits..]);
                    filled += fits;
                }
            }
        }
        let closed = handler.state().peer_has_closed();
        input.release_if_empty();
        Ok((filled, closed))
    }

    /// Reads plaintext into `buf` (at least 16 KiB, one record's worth, for the copy to go
    /// straight there): how much, 0 at the end of the stream.
    pub async fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if !self.pending.is_empty() {
            let n = self.pending.len().min(buf.len());
            buf[..n].copy_from_slice(&self.pending[..n]);
            self.pending.drain(..n);
            if self.pending.is_empty() {
                self.pending = Vec::new();
            }
            return Ok(n);
        }
        assert!(buf.len() >= MAX_PLAINTEXT, "a buffer for a whole record");
        loop {
            let (read, closed) = self.process(buf)?;
            // Reading may produce bytes to send (a key update's answer, an alert).
            self.flush().await?;
            if read > 0 || closed {
                return Ok(read);
            }
            if self.fill().await? == 0 {
                return Ok(0);
            }
        }
    }

    /// Encrypts all of `data` and sends it.
    pub async fn write_all(&mut self, data: &[u8]) -> io::Result<()> {
        self.conn
            .write(data.into(), &mut self.out)
            .map_err(invalid)?;
        self.flush().await
    }

    /// Sends every TLS byte waiting, and frees the output buffer.
    pub async fn flush(&mut self) -> io::Result<()> {
        while self.sent < self.out.len() {
            self.tcp.writable().await?;
            match self.tcp.try_write(&self.out[self.sent..]) {
                Ok(written) => self.sent += written,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
                Err(e) => return Err(e),
            }
        }
        self.sent = 0;
        // Freed in both variants: they differ in the receive buffer only.
        self.out = Vec::new();
        Ok(())
    }

    /// Sends close_notify and closes the socket for writing.
    pub async fn shutdown(&mut self) -> io::Result<()> {
        self.conn
            .send_close_notify(&mut self.out)
            .map_err(invalid)?;
        self.flush().await?;
        tokio::io::AsyncWriteExt::shutdown(&mut self.tcp).await
    }
}
