//! The sync core: one `SSL_do_handshake(3)` step over any `std::io::Read + Write`.
//!
//! This is the only code that drives rustls during a handshake. It works the same on a
//! blocking socket (returns only when finished or failed), a nonblocking one (returns
//! [`Step::WantRead`] / [`Step::WantWrite`] where OpenSSL's `SSL_get_error` would say
//! `SSL_ERROR_WANT_READ` / `SSL_ERROR_WANT_WRITE`), or a memory buffer pair.

use std::{
    io::{self, Read, Write},
    sync::Arc,
    time::{Duration, Instant},
};

use rustls::{
    pki_types::ServerName, AlertDescription, ClientConfig, ClientConnection, ServerConfig,
    ServerConnection,
};

use crate::{
    alert::OutgoingAlert,
    records::PeerRecords,
    wire::{read_peer, Counted, PeerRead},
    HandshakeError, HandshakeReport, Role, TlsConnection,
};

/// What a handshake step achieved, and what the caller MUST do next.
///
/// The analogue of `SSL_do_handshake` returning 1, or returning -1 with `SSL_get_error`
/// saying `SSL_ERROR_WANT_READ` / `SSL_ERROR_WANT_WRITE`.
#[must_use = "a handshake step that wants I/O must be called again once the transport is ready"]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// The handshake is complete (`SSL_do_handshake` returned 1). Every handshake message this
    /// side had to send was written and flushed. The caller MAY now take the connection with
    /// [`Handshake::into_connection`]; calling again returns `Done` and does nothing.
    ///
    /// A TLS 1.3 server's session tickets are not handshake messages: they are still queued
    /// in the connection (`wants_write()`), and the caller MUST write them with its first
    /// application data or flush ([`TlsStream`](crate::TlsStream) does).
    Done,
    /// The transport had nothing to read (`SSL_ERROR_WANT_READ`). The caller MUST wait until
    /// the transport is readable (for a memory transport: feed it more peer bytes), then call
    /// again.
    WantRead,
    /// The transport could not take more bytes or could not finish a flush
    /// (`SSL_ERROR_WANT_WRITE`). The caller MUST wait until the transport is writable (for a
    /// memory transport: drain what it holds to the peer), then call again.
    WantWrite,
}

/// What a handshake cost on the wire, as seen by the step.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct HandshakeCost {
    /// Bytes read from the transport.
    pub bytes_read: u64,
    /// Bytes written to the transport.
    pub bytes_written: u64,
    /// `read` calls made on the transport, including those that would have blocked.
    pub reads: u32,
    /// `write` / `write_vectored` calls made on the transport, including those that would have
    /// blocked.
    pub writes: u32,
    /// `flush` calls made on the transport.
    pub flushes: u32,
    /// Flights received: runs of reads that were separated by a write of ours (round trips
    /// this side waited for).
    pub flights_received: u32,
    /// Time from the first step to completion or failure.
    pub duration: Duration,
}

/// Retries of a transport call that returned `Interrupted` before the step gives up on it.
const MAX_INTERRUPTED: u32 = 64;

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
    conn: C,
    state: State,
    peer: PeerRecords,
    cost: HandshakeCost,
    /// A write happened that has not yet been flushed; remembered across calls because a
    /// buffered transport's flush may itself block.
    needs_flush: bool,
    /// Whether the last transport call that moved bytes was a read.
    reading: bool,
    send_alerts: bool,
    alert: Option<OutgoingAlert>,
    started: Option<Instant>,
    /// The name a client asked for, for its report.
    server_name: Option<ServerName<'static>>,
    /// Client: application data offered as TLS 1.3 early data, and how much of it went out
    /// as early data. Whatever the server did not accept is sent after the handshake.
    early_data: Option<(Vec<u8>, usize)>,
    early_data_offered: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Handshaking,
    Done,
    Failed,
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

impl Handshake<ClientConnection> {
    /// Starts a client handshake that sends `data` as TLS 1.3 early data (0-RTT) with its
    /// ClientHello, when the client resumes a session whose server allows it (and the
    /// configuration has `enable_early_data`). Whatever the server does not accept (all of
    /// it, when early data is not possible or rejected) is sent right after the handshake,
    /// before `Done`; [`HandshakeReport::early_data_accepted`] tells which happened.
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
        let sent = match handshake.conn.early_data() {
            Some(mut early) => early.write(&data).unwrap_or(0),
            None => 0,
        };
        handshake.early_data_offered = sent > 0;
        handshake.early_data = Some((data, sent));
        Ok(handshake)
    }
}

impl Handshake<ServerConnection> {
    /// Continues on a connection made from a ClientHello the caller already read and
    /// inspected, keeping what reading it cost.
    pub(crate) fn after_client_hello(
        conn: ServerConnection,
        peer: PeerRecords,
        cost: HandshakeCost,
        started: Option<Instant>,
    ) -> Self {
        Self {
            peer,
            cost,
            started,
            reading: true,
            ..Self::from_connection(conn)
        }
    }
}

impl<C: TlsConnection> Handshake<C> {
    /// Drives a rustls connection that has not finished its handshake, for settings the
    /// constructors do not cover (for example `ClientConnection::new_with_alpn`).
    pub fn from_connection(conn: C) -> Self {
        Self {
            conn,
            state: State::Handshaking,
            peer: PeerRecords::new(),
            cost: HandshakeCost::default(),
            needs_flush: false,
            reading: false,
            send_alerts: true,
            alert: None,
            started: None,
            server_name: None,
            early_data: None,
            early_data_offered: false,
        }
    }

    /// Records the server name a client asked for, for its report.
    pub(crate) fn with_server_name(mut self, name: Option<ServerName<'static>>) -> Self {
        self.server_name = name;
        self
    }

    /// What the handshake negotiated so far and what it cost.
    pub fn report(&self) -> HandshakeReport {
        let name = self.server_name.as_ref().map(ServerName::to_str);
        let mut report = HandshakeReport::new(&self.conn, name.as_deref(), false, self.cost());
        report.early_data_offered = self.early_data_offered;
        report
    }

    pub(crate) fn early_data_offered(&self) -> bool {
        self.early_data_offered
    }

    pub(crate) fn server_name(&self) -> Option<&ServerName<'static>> {
        self.server_name.as_ref()
    }

    /// Whether a fatal alert is written to the peer when this side rejects it (the default).
    /// Some servers stay silent instead so as to tell a scanner less.
    pub fn set_send_alerts(&mut self, send: bool) {
        self.send_alerts = send;
    }

    /// The role chosen at construction.
    pub fn role(&self) -> Role {
        C::ROLE
    }

    /// The rustls connection, for inspection while handshaking.
    pub fn connection(&self) -> &C {
        &self.conn
    }

    /// What the handshake has cost so far.
    pub fn cost(&self) -> HandshakeCost {
        let mut cost = self.cost;
        cost.bytes_read = self.peer.received();
        cost
    }

    /// Bytes of the peer's complete TLS records so far; a partial record does not count.
    pub(crate) fn peer_record_bytes(&self) -> u64 {
        self.peer.complete_bytes()
    }

    /// Whether the handshake completed.
    pub fn is_done(&self) -> bool {
        self.state == State::Done
    }

    /// Ends the step and gives the rustls connection back. After [`Step::Done`] it is
    /// established, and any application data the peer sent with its last flight is already
    /// in its plaintext buffer (`connection.reader()`).
    pub fn into_connection(self) -> C {
        self.conn
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
    /// after an error returns a [`HandshakeError::Transport`] error and does nothing.
    pub fn do_handshake<IO: Read + Write + ?Sized>(
        &mut self,
        io: &mut IO,
    ) -> Result<Step, HandshakeError> {
        match self.state {
            State::Done => return Ok(Step::Done),
            State::Failed => {
                return Err(HandshakeError::Transport(io::Error::other(
                    "do_handshake called again after the handshake failed",
                )))
            }
            State::Handshaking => {}
        }
        let started = *self.started.get_or_insert_with(Instant::now);
        let mut result = self.drive(io);
        if let (Err(error), Some(alert)) = (&mut result, &mut self.alert) {
            // Best effort: a transport that blocks leaves it for `send_alert`; one that fails
            // loses only the alert.
            let mut counted = Counted::new(io, &mut self.cost, &mut self.peer);
            match alert.send_for(&mut counted, error) {
                Ok(Step::WantRead | Step::WantWrite) => {}
                _ => self.alert = None,
            }
        }
        match &result {
            Ok(Step::Done) => self.state = State::Done,
            Ok(_) => {}
            Err(_) => self.state = State::Failed,
        }
        if !matches!(result, Ok(Step::WantRead | Step::WantWrite)) {
            self.cost.duration = started.elapsed();
        }
        result
    }

    /// Writes and flushes the fatal alert left over from a failed step. Returns `Done` when
    /// there is none or it is out, `WantWrite` when the transport would block.
    ///
    /// # Errors
    ///
    /// The transport's error; the caller should then give up on the alert.
    pub fn send_alert<IO: Write + ?Sized>(&mut self, io: &mut IO) -> io::Result<Step> {
        let Some(alert) = &mut self.alert else {
            return Ok(Step::Done);
        };
        let mut counted = Counted::new(io, &mut self.cost, &mut self.peer);
        alert.send(&mut counted)
    }

    /// The fatal alert waiting to be sent after a failed step, if any.
    pub fn pending_alert(&self) -> Option<AlertDescription> {
        self.alert.as_ref().map(OutgoingAlert::description)
    }

    fn drive<IO: Read + Write + ?Sized>(&mut self, io: &mut IO) -> Result<Step, HandshakeError> {
        let mut interrupted = 0;
        loop {
            if let Some(step) = self.write_and_flush(io)? {
                return Ok(step);
            }
            if !self.conn.is_handshaking() {
                return Ok(Step::Done);
            }
            let conn = &mut self.conn;
            let read = read_peer(io, &mut self.peer, &mut self.cost, |rd| conn.read_tls(rd))?;
            match read {
                PeerRead::Bytes => {
                    if !self.reading {
                        self.reading = true;
                        self.cost.flights_received += 1;
                    }
                    self.process()?;
                    if !self.conn.is_handshaking() {
                        self.send_early_data_again();
                    }
                    if self.only_post_handshake_output_left() {
                        return Ok(Step::Done);
                    }
                }
                PeerRead::WouldBlock => return Ok(Step::WantRead),
                PeerRead::Interrupted if interrupted < MAX_INTERRUPTED => interrupted += 1,
                PeerRead::Interrupted => {
                    return Err(HandshakeError::Transport(io::ErrorKind::Interrupted.into()))
                }
            }
        }
    }

    /// Writes all queued TLS output and flushes it. `Some(WantWrite)` if the transport blocked.
    fn write_and_flush<IO: Write + ?Sized>(
        &mut self,
        io: &mut IO,
    ) -> Result<Option<Step>, HandshakeError> {
        let mut interrupted = 0;
        while self.conn.wants_write() {
            let mut counted = Counted::new(io, &mut self.cost, &mut self.peer);
            match self.conn.write_tls(&mut counted) {
                Ok(0) => {
                    return Err(HandshakeError::Transport(io::ErrorKind::WriteZero.into()));
                }
                Ok(n) => {
                    self.cost.bytes_written += n as u64;
                    self.needs_flush = true;
                    self.reading = false;
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    return Ok(Some(Step::WantWrite))
                }
                Err(e)
                    if e.kind() == io::ErrorKind::Interrupted && interrupted < MAX_INTERRUPTED =>
                {
                    interrupted += 1;
                }
                Err(e) => return Err(HandshakeError::Transport(e)),
            }
        }
        if self.needs_flush {
            let mut counted = Counted::new(io, &mut self.cost, &mut self.peer);
            match counted.flush() {
                Ok(()) => self.needs_flush = false,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    return Ok(Some(Step::WantWrite))
                }
                Err(e) => return Err(HandshakeError::Transport(e)),
            }
        }
        Ok(None)
    }

    fn process(&mut self) -> Result<(), HandshakeError> {
        match self.conn.process_new_packets() {
            // A close_notify in the same read as the peer's last flight ends the connection,
            // not the handshake: the stream reads it as EOF.
            Ok(state) if state.peer_has_closed() && self.conn.is_handshaking() => {
                Err(self.peer_closed(true))
            }
            Ok(_) => Ok(()),
            Err(rustls::Error::AlertReceived(AlertDescription::CloseNotify)) => {
                // rustls answers a close_notify during the handshake with an alert of its own;
                // the peer is gone, so nothing is sent.
                Err(self.peer_closed(true))
            }
            Err(error) => Err(self.protocol_error(error)),
        }
    }

    /// A TLS 1.3 server is finished once it has read the client's Finished; what it queues
    /// then (session tickets) is not part of the handshake. It stays in rustls and goes out
    /// with the first application write or flush: one write fewer, and a handshake that does
    /// not wait for a client that is not reading yet.
    ///
    /// Except after accepting a client certificate: then the tickets go at once, because a
    /// client can only learn that its certificate was accepted from the server's next record
    /// ([`TlsStream::confirm`](crate::TlsStream::confirm)).
    fn only_post_handshake_output_left(&self) -> bool {
        C::ROLE == Role::Server
            && !self.conn.is_handshaking()
            && self.conn.protocol_version() == Some(rustls::ProtocolVersion::TLSv1_3)
            && self.conn.peer_certificates().is_none_or(<[_]>::is_empty)
    }

    /// Once the handshake is complete: queue the early data the server did not take, so it
    /// goes out with the final flight.
    fn send_early_data_again(&mut self) {
        let Some((data, sent)) = self.early_data.take() else {
            return;
        };
        let from = if self.conn.early_data_was_accepted() {
            sent
        } else {
            0
        };
        if from < data.len() {
            // rustls buffers it (its limit is far above an early-data budget).
            let _ = self.conn.writer().write_all(&data[from..]);
        }
    }

    fn peer_closed(&self, close_notify: bool) -> HandshakeError {
        HandshakeError::PeerClosed {
            close_notify,
            received: self.peer.received(),
        }
    }

    fn protocol_error(&mut self, error: rustls::Error) -> HandshakeError {
        let alert = OutgoingAlert::take(&mut self.conn, &error);
        self.alert = alert.filter(|_| self.send_alerts);
        HandshakeError::protocol(error, None)
    }

    /// The fatal alert left over from a failed step, taken out to be sent by the caller.
    pub(crate) fn take_alert(&mut self) -> Option<OutgoingAlert> {
        self.alert.take()
    }
}
