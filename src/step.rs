//! The sync step: one `SSL_do_handshake(3)` step over any `std::io::Read + Write`, the engine
//! plus the handshake loop.
//!
//! It works the same on a blocking socket (returns only when finished or failed), a
//! nonblocking one (returns [`Step::WantRead`] / [`Step::WantWrite`] where OpenSSL's
//! `SSL_get_error` would say `SSL_ERROR_WANT_READ` / `SSL_ERROR_WANT_WRITE`), or a memory
//! buffer pair.

use std::{
    io::{self, Read, Write},
    sync::Arc,
};

use rustls::{
    pki_types::ServerName, AlertDescription, ClientConfig, ClientConnection, ServerConfig,
    ServerConnection,
};

use crate::{
    engine::HandshakeReport,
    engine::HandshakeStats,
    engine::Role,
    engine::TlsConnection,
    engine::{Engine, Flush, Phase, ReadOutcome},
    error::HandshakeError,
};

/// What a handshake step achieved, and what the caller MUST do next.
///
/// The analogue of `SSL_do_handshake` returning 1, or returning -1 with `SSL_get_error`
/// saying `SSL_ERROR_WANT_READ` / `SSL_ERROR_WANT_WRITE`.
#[must_use = "a handshake step that wants I/O must be called again once the transport is ready"]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// The handshake is complete (`SSL_do_handshake` returned 1). Everything this side had to
    /// send was written and flushed: its handshake messages, a TLS 1.3 server's session
    /// tickets (as OpenSSL's `SSL_do_handshake` writes them), and a client's early data that
    /// still had to go. The caller MAY now take the connection with
    /// [`Handshake::into_connection`]; calling again returns `Done` and does nothing.
    Done,
    /// The transport had nothing to read (`SSL_ERROR_WANT_READ`). The caller MUST wait until
    /// the transport is readable (for a memory transport: feed it more peer bytes), then call
    /// again.
    WantRead,
    /// The transport could not take more bytes or could not finish a flush
    /// (`SSL_ERROR_WANT_WRITE`). The caller MUST wait until the transport is writable (for a
    /// memory transport: drain what it holds to the peer), then call again.
    ///
    /// Before returning it, the step read what the peer had sent (unlike OpenSSL), so a peer
    /// that is itself blocked writing to this side is not left waiting: over a pipe smaller
    /// than a flight, two sides that only wrote would deadlock. A caller using `poll(2)` MAY
    /// also wake on readability; the async future registers both.
    WantWrite,
}

/// One TLS handshake driven step by step, in the manner of `SSL_do_handshake(3)`.
///
/// The role is chosen in advance by the constructor, as with `SSL_set_connect_state` /
/// `SSL_set_accept_state`.
///
/// # Examples
///
/// A blocking client: `do_handshake` returns only `Done` or an error.
///
/// ```no_run
/// # fn run(config: std::sync::Arc<rustls::ClientConfig>) -> Result<(), Box<dyn std::error::Error>> {
/// use tokio_tls_handshake::{Handshake, Step};
///
/// let mut tcp = std::net::TcpStream::connect("127.0.0.1:8443")?;
/// let mut handshake = Handshake::connect(config, "localhost".try_into()?)?;
/// assert_eq!(handshake.do_handshake(&mut tcp)?, Step::Done);
/// let connection = handshake.into_connection();
/// println!("negotiated {:?}", connection.protocol_version());
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct Handshake<C> {
    engine: Engine<C>,
}

impl Handshake<ClientConnection> {
    /// Starts a client handshake with `server_name` (used for SNI and certificate checks).
    ///
    /// # Errors
    ///
    /// [`HandshakeError::Config`] when rustls cannot start a handshake with `config`.
    pub fn connect(
        config: Arc<ClientConfig>,
        server_name: ServerName<'static>,
    ) -> Result<Self, HandshakeError> {
        // A name made from a `&'static str` clones without allocating.
        let conn =
            ClientConnection::new(config, server_name.clone()).map_err(HandshakeError::Config)?;
        Ok(Self::from_connection(conn).with_server_name(Some(server_name)))
    }

    /// Starts a client handshake that sends `data` as TLS 1.3 early data (0-RTT) with its
    /// ClientHello, when the client resumes a session whose server allows it (and the
    /// configuration has `enable_early_data`). Whatever the server does not accept (all of
    /// it, when early data is not possible or rejected) is sent right after the handshake,
    /// before `Done`; [`HandshakeReport::early_data_accepted`] tells which happened. Any size
    /// arrives once and in full.
    ///
    /// At most half of what the session allows goes early: a rustls server that rejects the
    /// early data can skip no more than that (it counts skipped records by ciphertext, twice).
    ///
    /// Early data can be replayed by an attacker: send only requests that are safe to
    /// repeat.
    ///
    /// # Errors
    ///
    /// [`HandshakeError::Config`] when rustls cannot start a handshake with `config`.
    pub fn connect_with_early_data(
        config: Arc<ClientConfig>,
        server_name: ServerName<'static>,
        data: Vec<u8>,
    ) -> Result<Self, HandshakeError> {
        let mut handshake = Self::connect(config, server_name)?;
        handshake.engine.offer_early_data(data);
        Ok(handshake)
    }
}

impl Handshake<ServerConnection> {
    /// Starts a server handshake.
    ///
    /// # Errors
    ///
    /// [`HandshakeError::Config`] when rustls cannot start a handshake with `config`.
    pub fn accept(config: Arc<ServerConfig>) -> Result<Self, HandshakeError> {
        let conn = ServerConnection::new(config).map_err(HandshakeError::Config)?;
        Ok(Self::from_connection(conn))
    }
}

impl<C: TlsConnection> Handshake<C> {
    /// Drives a rustls connection that has not finished its handshake, for settings the
    /// constructors do not cover (for example `ClientConnection::new_with_alpn`).
    pub fn from_connection(conn: C) -> Self {
        Self {
            engine: Engine::new(conn),
        }
    }

    /// The step over an engine made elsewhere (after a ClientHello was read).
    pub(crate) fn from_engine(engine: Engine<C>) -> Self {
        Self { engine }
    }

    /// Records the server name a client asked for, for its report.
    pub(crate) fn with_server_name(mut self, name: Option<ServerName<'static>>) -> Self {
        self.engine.set_server_name(name);
        self
    }

    /// TLS bytes already received from the peer: read off the transport before the handshake
    /// began, by a layer in front of TLS (a PROXY protocol header reader, a protocol sniffer).
    /// The step reads them before the transport, as if they had just arrived.
    pub fn with_received(mut self, bytes: Vec<u8>) -> Self {
        self.engine.add_earlier(bytes);
        self
    }

    /// What the handshake negotiated so far and what it cost.
    pub fn report(&self) -> HandshakeReport {
        self.engine.report()
    }

    /// Whether a fatal alert is written to the peer when this side rejects it (the default).
    /// Some servers stay silent instead so as to tell a scanner less.
    pub fn with_alerts(mut self, send: bool) -> Self {
        self.engine.set_send_alerts(send);
        self
    }

    pub(crate) fn set_alerts(&mut self, send: bool) {
        self.engine.set_send_alerts(send);
    }

    /// The client's address as a layer in front of TLS gave it, for the report.
    #[cfg(feature = "proxy-protocol")]
    pub(crate) fn set_forwarded_for(&mut self, source: Option<std::net::SocketAddr>) {
        self.engine.set_forwarded_for(source);
    }

    /// The role chosen at construction.
    pub fn role(&self) -> Role {
        C::ROLE
    }

    /// The rustls connection, for inspection while handshaking.
    pub fn connection(&self) -> &C {
        self.engine.conn()
    }

    /// What the handshake has cost so far; while it runs, `duration` is the time since its
    /// first step.
    pub fn stats(&self) -> HandshakeStats {
        self.engine.stats()
    }

    /// Bytes of the peer's complete TLS records so far; a partial record does not count.
    pub(crate) fn peer_record_bytes(&self) -> u64 {
        self.engine.peer_record_bytes()
    }

    /// Whether the handshake completed.
    pub fn is_done(&self) -> bool {
        matches!(self.engine.phase(), Phase::Established)
    }

    /// Ends the step and gives the rustls connection back. After [`Step::Done`] it is
    /// established, and any application data the peer sent with its last flight is already
    /// in its plaintext buffer (`connection.reader()`).
    pub fn into_connection(self) -> C {
        self.engine.into_conn()
    }

    /// The engine, to carry on as a stream.
    pub(crate) fn into_engine(self) -> Engine<C> {
        self.engine
    }

    /// Performs as much of the handshake as the transport allows, like `SSL_do_handshake(3)`.
    ///
    /// Writes whatever this side has to send, flushes it, and reads and processes what the
    /// peer sent, until the handshake is complete or the transport would block. On a blocking
    /// transport it returns only `Done` or an error.
    ///
    /// # Errors
    ///
    /// A terminal [`HandshakeError`]. After a local protocol error the fatal alert rustls
    /// queued is written and flushed first, if the transport takes it without blocking; if it
    /// would block, [`Handshake::send_alert`] finishes the job. Calling `do_handshake` again
    /// after an error returns the same error again and does nothing, as `SSL_do_handshake`
    /// keeps failing after a fatal error.
    pub fn do_handshake<IO: Read + Write + ?Sized>(
        &mut self,
        io: &mut IO,
    ) -> Result<Step, HandshakeError> {
        match self.engine.phase() {
            Phase::Established => return Ok(Step::Done),
            Phase::Failed(error) => return Err(HandshakeError::clone(error)),
            Phase::Handshaking { .. } | Phase::Finishing { .. } => {}
        }
        self.engine.start_clock();
        match self.drive(io) {
            Ok(Step::Done) => {
                self.engine.establish();
                Ok(Step::Done)
            }
            Ok(step) => Ok(step),
            Err(mut error) => {
                // Best effort: a transport that blocks leaves the alert for `send_alert`; one
                // that fails loses only the alert.
                let _ = self.engine.send_alert(io, Some(&mut error));
                self.engine.fail(&error);
                Err(error)
            }
        }
    }

    /// Writes and flushes the fatal alert left over from a failed step. Returns `Done` when
    /// there is none or it is out, `WantWrite` when the transport would block.
    ///
    /// # Errors
    ///
    /// The transport's error; the caller should then give up on the alert.
    pub fn send_alert<IO: Write + ?Sized>(&mut self, io: &mut IO) -> io::Result<Step> {
        let sent = self.engine.send_alert(io, None)?;
        Ok(if sent { Step::Done } else { Step::WantWrite })
    }

    /// The fatal alert waiting to be sent after a failed step, if any.
    pub fn pending_alert(&self) -> Option<AlertDescription> {
        self.engine.pending_alert()
    }

    /// A transport error met after the handshake had completed, which did not undo it: a TLS
    /// 1.3 server's session tickets failed to go out, or the read it made while they waited
    /// failed (the client may have sent data with its Finished, and it is kept).
    /// [`TlsStream`](crate::TlsStream) returns a write error from its first write or flush
    /// and a read error from its first read; a sync caller takes them here, the write error
    /// first.
    pub fn take_deferred_error(&mut self) -> Option<io::Error> {
        self.engine.take_deferred_error()
    }

    /// The handshake loop, over the engine's read and write rules.
    fn drive<IO: Read + Write + ?Sized>(&mut self, io: &mut IO) -> Result<Step, HandshakeError> {
        loop {
            if matches!(self.engine.phase(), Phase::Finishing { .. }) {
                return self.finish(io);
            }
            if let Some(error) = self.engine.take_held() {
                return Err(error);
            }
            if !self.engine.is_handshaking() {
                let write_blocked = self.engine.phase_mut().take_write_blocked();
                *self.engine.phase_mut() = Phase::Finishing { write_blocked };
                self.engine.resend_rejected_early_data();
                continue;
            }
            // After a write that would block, read first: a peer blocked writing to this side
            // waits for the read (see `Step::WantWrite`). Then write again.
            if self.engine.phase_mut().take_write_blocked()
                && self.engine.read_from(io)? == ReadOutcome::Bytes
            {
                continue;
            }
            let written = self
                .engine
                .write_to(io, Flush::IfWritten)
                .map_err(HandshakeError::transport)?;
            self.engine.phase_mut().set_write_blocked(!written);
            match self.engine.read_from(io)? {
                ReadOutcome::Bytes => {}
                ReadOutcome::WouldBlock if written => return Ok(Step::WantRead),
                ReadOutcome::WouldBlock => return Ok(Step::WantWrite),
                // The handshake reads `Eof` as `PeerClosed`, and `Full` as a protocol error.
                ReadOutcome::Eof | ReadOutcome::Full => {}
            }
        }
    }

    /// rustls has completed the handshake: write what is left of it (the final flight, a TLS
    /// 1.3 server's session tickets, early data to send after all), reading what the peer
    /// sends meanwhile through the same read rule, so nothing it sends waits unprocessed.
    fn finish<IO: Read + Write + ?Sized>(&mut self, io: &mut IO) -> Result<Step, HandshakeError> {
        if self.engine.phase_mut().take_write_blocked() {
            self.read_while_writes_wait(io)?;
        }
        loop {
            if self.engine.has_held() && !self.only_tickets_left() {
                return Err(self.engine.take_held().expect("checked above"));
            }
            self.engine.queue_early_data();
            match self.engine.write_to(io, Flush::IfWritten) {
                Ok(true) if !self.engine.early_data_pending() => return Ok(Step::Done),
                Ok(true) => {}
                Ok(false) => {
                    self.engine.phase_mut().set_write_blocked(true);
                    self.read_while_writes_wait(io)?;
                    // A server whose client's side failed while its tickets waited is done:
                    // its stream reads the failure after what arrived before it.
                    if self.engine.has_held() && self.only_tickets_left() {
                        return Ok(Step::Done);
                    }
                    if self.engine.has_held() {
                        continue;
                    }
                    return Ok(Step::WantWrite);
                }
                // Only a TLS 1.3 server's session tickets were left: the handshake is complete
                // whatever became of them, and the peer may have sent data with its Finished.
                // The error goes to the stream's first write or flush (or
                // `take_deferred_error`).
                Err(error) if self.only_tickets_left() => {
                    self.engine.defer_write_error(error);
                    return Ok(Step::Done);
                }
                Err(error) => return Err(HandshakeError::transport(error)),
            }
        }
    }

    /// While this side's last writes wait on a full transport, reads what the peer sends
    /// (through the read rule: counted, watched, processed). A transport error there ends a
    /// handshake that still has its own messages to deliver; a TLS 1.3 server with only its
    /// tickets left keeps it for the stream.
    fn read_while_writes_wait<IO: Read + ?Sized>(
        &mut self,
        io: &mut IO,
    ) -> Result<(), HandshakeError> {
        match self.engine.read_available(io) {
            Err(error @ HandshakeError::Transport(_)) if self.only_tickets_left() => {
                self.engine.hold(error);
                Ok(())
            }
            other => other,
        }
    }

    /// Whether all that is left to send after the handshake is a TLS 1.3 server's session
    /// tickets (a TLS 1.2 server's last flight comes after the client's, and is its own).
    fn only_tickets_left(&self) -> bool {
        C::ROLE == Role::Server && self.engine.is_tls13()
    }

    /// The fatal alert left over from a failed step, taken out to be sent by the caller.
    pub(crate) fn take_alert(&mut self) -> Option<crate::engine::alert::OutgoingAlert> {
        self.engine.take_alert()
    }

    pub(crate) fn engine(&self) -> &Engine<C> {
        &self.engine
    }
}
