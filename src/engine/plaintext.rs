//! The application's bytes through the engine: plaintext rustls has decrypted, handed out and
//! consumed; plaintext queued for encryption; close_notify queued; a server's early data
//! taken. With record I/O (`read.rs`, `write.rs`), these are every call the crate makes on
//! rustls' connection, so that moving to another rustls API changes this directory only.

use std::io::{self, BufRead};

use rustls::ServerConnection;

use super::{side::TlsConnection, Engine};

impl<C: TlsConnection> Engine<C> {
    /// The first chunk of decrypted plaintext rustls holds: `WouldBlock` when it holds none
    /// (and the peer has not closed), an empty slice at the peer's close_notify.
    pub(crate) fn plaintext(&mut self) -> io::Result<&[u8]> {
        self.conn.reader().into_first_chunk()
    }

    /// Marks `n` bytes of [`plaintext`](Self::plaintext) as read.
    pub(crate) fn consume(&mut self, n: usize) {
        self.conn.reader().consume(n);
    }

    /// Hands plaintext to rustls for encryption with `write` (which calls `write` or
    /// `write_vectored` on what it is given): the bytes rustls accepted, 0 when its send
    /// buffer is full.
    pub(crate) fn queue_plaintext(
        &mut self,
        write: impl FnOnce(&mut dyn io::Write) -> io::Result<usize>,
    ) -> io::Result<usize> {
        write(&mut self.conn.writer())
    }

    /// Queues close_notify; it goes out with the next write of TLS records.
    pub(crate) fn queue_close_notify(&mut self) {
        self.conn.send_close_notify();
    }

    /// Whether TLS 1.3 was negotiated.
    pub(crate) fn is_tls13(&self) -> bool {
        self.conn.protocol_version() == Some(rustls::ProtocolVersion::TLSv1_3)
    }

    /// Whether rustls is still in its handshake.
    pub(crate) fn is_handshaking(&self) -> bool {
        self.conn.is_handshaking()
    }
}

impl Engine<ServerConnection> {
    /// The TLS 1.3 early data the server accepted, whole, if any; taken once.
    pub(crate) fn take_early_data(&mut self) -> io::Result<Option<Vec<u8>>> {
        let Some(mut early) = self.conn.early_data() else {
            return Ok(None);
        };
        let mut data = Vec::new();
        io::Read::read_to_end(&mut early, &mut data)?;
        Ok(Some(data))
    }
}
