//! The sync core: one `SSL_do_handshake(3)` step over any `std::io::Read + Write`.
//!
//! This is the only code that drives rustls during a handshake. It works the same on a
//! blocking socket (returns only when finished or failed), a nonblocking one (returns
//! [`Step::WantRead`] / [`Step::WantWrite`] where OpenSSL's `SSL_get_error` would say
//! `SSL_ERROR_WANT_READ` / `SSL_ERROR_WANT_WRITE`), or a memory buffer pair.

use std::{
    fmt,
    io::{self, Read, Write},
    sync::Arc,
    time::Duration,
};

use rustls::{
    pki_types::ServerName, AlertDescription, ClientConfig, ClientConnection, ServerConfig,
    ServerConnection,
};
use tokio::time::Instant;

use crate::{
    alert::OutgoingAlert,
    records::PeerRecords,
    trace,
    wire::{read_once, read_peer, write_out, Counted, PeerRead, Prefixed},
    HandshakeError, HandshakeReport, Role, TlsConnection,
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

/// What a handshake cost on the wire, as seen by the step. More figures may come; read the
/// fields, or start from `HandshakeCost::default()`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
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
pub struct Handshake<C> {
    conn: C,
    state: State,
    peer: PeerRecords,
    cost: HandshakeCost,
    /// A write happened that has not yet been flushed; remembered across calls because a
    /// buffered transport's flush may itself block.
    unflushed: bool,
    /// Whether the last transport call that moved bytes was a read.
    reading: bool,
    /// The last write would block; the next step reads first.
    write_blocked: bool,
    /// The connection may hold records read but not yet processed.
    unprocessed: bool,
    /// The peer's end of the stream was read after the handshake (the stream reports it).
    peer_eof: bool,
    /// A write that failed after the handshake completed (a TLS 1.3 server's session
    /// tickets): the stream's first write or flush returns it.
    write_error: Option<io::Error>,
    /// A read that failed while the last writes waited: the stream's first read returns it.
    read_error: Option<io::Error>,
    pub(crate) send_alerts: bool,
    alert: Option<OutgoingAlert>,
    started: Option<Instant>,
    /// The name a client asked for, for its report.
    server_name: Option<ServerName<'static>>,
    early_data: Option<EarlyData>,
    early_data_offered: bool,
    /// TLS bytes read off the transport before the handshake (by a layer in front of it),
    /// read before the transport.
    received: Vec<u8>,
}

/// Client: application data offered with the ClientHello.
enum EarlyData {
    /// Offered; `early` bytes of it went out as TLS 1.3 early data.
    Offered { data: Vec<u8>, early: usize },
    /// The handshake is complete; what the server did not accept, from `from` on, is being
    /// written as ordinary application data.
    Resending { data: Vec<u8>, from: usize },
}

/// Shows what the handshake is doing, never the bytes it carries (early data, the peer's
/// plaintext).
impl<C> fmt::Debug for Handshake<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let early_data = self.early_data.as_ref().map(|early| match early {
            EarlyData::Offered { data, .. } | EarlyData::Resending { data, .. } => data.len(),
        });
        f.debug_struct("Handshake")
            .field("state", &self.state)
            .field("cost", &self.cost)
            .field("peer", &self.peer)
            .field("alert", &self.alert)
            .field("early_data_len", &early_data)
            .finish_non_exhaustive()
    }
}

#[derive(Debug)]
enum State {
    Handshaking,
    Done,
    /// The error the step returned, returned again if it is called again.
    Failed(HandshakeError),
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
        let early = match handshake.conn.early_data() {
            Some(mut early) => {
                let fits = data.len().min(early_data_budget(early.bytes_left()));
                // rustls refuses early data only outside its ready state, which a new
                // connection is in. Were it refused, nothing goes early and all of it goes
                // right after the handshake: the data still arrives once, and the report says
                // none was offered.
                early.write(&data[..fits]).unwrap_or_else(|e| {
                    trace::early_data_refused(&e);
                    0
                })
            }
            None => 0,
        };
        handshake.early_data_offered = early > 0;
        handshake.early_data = Some(EarlyData::Offered { data, early });
        Ok(handshake)
    }
}

/// How much early data to send when the session allows `allowed` bytes: at most half, so
/// that a server which rejects it can skip it all. A rejecting rustls server counts the
/// records it skips by ciphertext (plaintext plus a content type byte and a 16-byte tag), and
/// in practice counts each one twice against the same limit: with a 16 KiB limit, 8,175 bytes
/// of rejected early data are skipped and 8,180 end the handshake in `DecryptError` (measured
/// with rustls 0.23.46 alone, in memory). What is not sent early goes right after the
/// handshake, so the data still arrives once, in full.
fn early_data_budget(allowed: usize) -> usize {
    const RECORD_PLAINTEXT: usize = 16 * 1024;
    const RECORD_OVERHEAD: usize = 1 + 16;
    let half = allowed / 2;
    half.saturating_sub(RECORD_OVERHEAD * (half / RECORD_PLAINTEXT + 1))
}

impl Handshake<ServerConnection> {
    /// Continues on a connection made from a ClientHello the caller already read and
    /// inspected, keeping what reading it cost.
    pub(crate) fn after_client_hello(
        conn: ServerConnection,
        peer: PeerRecords,
        cost: HandshakeCost,
        started: Option<Instant>,
        received: Vec<u8>,
    ) -> Self {
        Self {
            peer,
            cost,
            started,
            received,
            reading: true,
            // Records that came in the same read as the hello wait in the connection.
            unprocessed: true,
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
            unflushed: false,
            reading: false,
            write_blocked: false,
            unprocessed: false,
            peer_eof: false,
            write_error: None,
            read_error: None,
            send_alerts: true,
            alert: None,
            started: None,
            server_name: None,
            early_data: None,
            early_data_offered: false,
            received: Vec::new(),
        }
    }

    /// TLS bytes already received from the peer: read off the transport before the handshake
    /// began, by a layer in front of TLS (a PROXY protocol header reader, a protocol sniffer).
    /// The step reads them before the transport, as if they had just arrived.
    pub fn with_received(mut self, bytes: Vec<u8>) -> Self {
        if self.received.is_empty() {
            self.received = bytes;
        } else {
            self.received.extend_from_slice(&bytes);
        }
        self
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
    pub fn with_alerts(mut self, send: bool) -> Self {
        self.send_alerts = send;
        self
    }

    /// The role chosen at construction.
    pub fn role(&self) -> Role {
        C::ROLE
    }

    /// The rustls connection, for inspection while handshaking.
    pub fn connection(&self) -> &C {
        &self.conn
    }

    /// What the handshake has cost so far; while it runs, `duration` is the time since its
    /// first step.
    pub fn cost(&self) -> HandshakeCost {
        let mut cost = self.cost;
        cost.bytes_read = self.peer.received();
        if let (State::Handshaking, Some(started)) = (&self.state, self.started) {
            cost.duration = started.elapsed();
        }
        cost
    }

    /// Bytes of the peer's complete TLS records so far; a partial record does not count.
    pub(crate) fn peer_record_bytes(&self) -> u64 {
        self.peer.complete_bytes()
    }

    /// Whether the handshake completed.
    pub fn is_done(&self) -> bool {
        matches!(self.state, State::Done)
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
    /// after an error returns the same error again and does nothing, as `SSL_do_handshake`
    /// keeps failing after a fatal error.
    pub fn do_handshake<IO: Read + Write + ?Sized>(
        &mut self,
        io: &mut IO,
    ) -> Result<Step, HandshakeError> {
        match &self.state {
            State::Done => return Ok(Step::Done),
            State::Failed(error) => return Err(error.repeat()),
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
                Ok(Step::Done) => self.alert = None,
                Err(e) => {
                    // The primary error stands; `alert_sent` stays `None`, and why is logged.
                    trace::alert_not_sent(&e);
                    self.alert = None;
                }
            }
        }
        match &result {
            Ok(Step::Done) => self.state = State::Done,
            Ok(_) => {}
            Err(error) => self.state = State::Failed(error.repeat()),
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
        if std::mem::take(&mut self.unprocessed) {
            self.process()?;
        }
        loop {
            if !self.conn.is_handshaking() {
                return self.finish(io);
            }
            // After a write that would block, read first: a peer blocked writing to this side
            // waits for the read (see `Step::WantWrite`). Then write again.
            if std::mem::take(&mut self.write_blocked) && self.read(io)? == PeerRead::Bytes {
                continue;
            }
            let written = self.write_out(io)?;
            self.write_blocked = !written;
            match self.read(io)? {
                PeerRead::Bytes => {}
                PeerRead::WouldBlock if written => return Ok(Step::WantRead),
                PeerRead::WouldBlock => return Ok(Step::WantWrite),
            }
        }
    }

    /// Reads once from the peer and processes what arrived.
    fn read<IO: Read + Write + ?Sized>(&mut self, io: &mut IO) -> Result<PeerRead, HandshakeError> {
        let conn = &mut self.conn;
        let mut io = Prefixed::new(&mut self.received, io);
        let read = read_peer(&mut io, &mut self.peer, &mut self.cost, |rd| {
            conn.read_tls(rd)
        })?;
        if read == PeerRead::Bytes {
            if !self.reading {
                self.reading = true;
                crate::wire::count(&mut self.cost.flights_received);
            }
            self.process()?;
        }
        Ok(read)
    }

    /// The handshake is complete on this side: writes and flushes what is left of it (the
    /// final flight, a TLS 1.3 server's session tickets, early data to send again).
    fn finish<IO: Read + Write + ?Sized>(&mut self, io: &mut IO) -> Result<Step, HandshakeError> {
        if let Some(EarlyData::Offered { data, early }) = self.early_data.take() {
            let from = if self.conn.early_data_was_accepted() {
                early
            } else {
                0
            };
            self.early_data = Some(EarlyData::Resending { data, from });
        }
        if std::mem::take(&mut self.write_blocked) {
            self.absorb(io)?;
        }
        loop {
            // A server whose peer's side failed while its tickets waited: complete, and the
            // stream reads the failure after what arrived before it.
            if self.read_error.is_some() {
                return Ok(Step::Done);
            }
            self.queue_early_data();
            match self.write_out(io) {
                Ok(true) if self.early_data.is_none() => return Ok(Step::Done),
                Ok(true) => {}
                Ok(false) => {
                    self.write_blocked = true;
                    self.absorb(io)?;
                    if self.read_error.is_some() {
                        return Ok(Step::Done);
                    }
                    return Ok(Step::WantWrite);
                }
                // Only a TLS 1.3 server's session tickets were left: the handshake is complete
                // whatever became of them, and the peer may have sent data with its Finished.
                // The error goes to the stream's first write or flush (or
                // `take_deferred_error`).
                Err(HandshakeError::Transport(e)) if self.only_tickets_left() => {
                    self.write_error = Some(e);
                    return Ok(Step::Done);
                }
                Err(error) => return Err(error),
            }
        }
    }

    /// A transport error met after the handshake had completed, which did not undo it: a TLS
    /// 1.3 server's session tickets failed to go out, or the read it made while they waited
    /// failed (the client may have sent data with its Finished, and it is kept).
    /// [`TlsStream`](crate::TlsStream) returns a write error from its first write or flush
    /// and a read error from its first read; a sync caller takes them here, the write error
    /// first.
    pub fn take_deferred_error(&mut self) -> Option<io::Error> {
        self.write_error.take().or_else(|| self.read_error.take())
    }

    /// What failed after the handshake completed and is owed to the stream: a write (the
    /// tickets) and a read (while they waited).
    pub(crate) fn take_deferred_errors(&mut self) -> (Option<io::Error>, Option<io::Error>) {
        (self.write_error.take(), self.read_error.take())
    }

    /// Whether all that is left to send after the handshake is a TLS 1.3 server's session
    /// tickets (a TLS 1.2 server's last flight comes after the client's, and is its own).
    fn only_tickets_left(&self) -> bool {
        C::ROLE == Role::Server
            && self.conn.protocol_version() == Some(rustls::ProtocolVersion::TLSv1_3)
    }

    /// Hands rustls as much of the early data still to send as its send buffer takes (64 KiB
    /// by default); the rest waits until the buffer has been written out.
    fn queue_early_data(&mut self) {
        let Some(EarlyData::Resending { data, from }) = &mut self.early_data else {
            return;
        };
        while *from < data.len() {
            match self.conn.writer().write(&data[*from..]) {
                Ok(n) if n > 0 => *from += n,
                _ => break,
            }
        }
        if *from == data.len() {
            self.early_data = None;
        }
    }

    /// While the last writes wait on a full transport, takes in what the peer sends, so a
    /// peer that is itself blocked writing to this side is not left waiting. The bytes wait in
    /// rustls, unprocessed, for the stream; rustls bounds how much it holds (a full buffer
    /// ends the reading), and the peer's EOF is read once.
    ///
    /// # Errors
    ///
    /// The transport's read error, unless only a TLS 1.3 server's tickets are left to write:
    /// the handshake is then complete, and the stream's first read returns the error.
    fn absorb<IO: Read + ?Sized>(&mut self, io: &mut IO) -> Result<(), HandshakeError> {
        let mut io = Watched { io, failed: false };
        while !self.peer_eof && self.read_error.is_none() {
            match read_once(|| self.conn.read_tls(&mut io)) {
                Ok(Some(0)) => self.peer_eof = true,
                Ok(Some(_)) => {}
                // Would block: the waker is registered.
                Ok(None) => break,
                Err(e) if io.failed && self.only_tickets_left() => self.read_error = Some(e),
                Err(e) if io.failed => return Err(HandshakeError::Transport(e)),
                // rustls holds all it will until the stream processes it.
                Err(_) => break,
            }
        }
        Ok(())
    }

    /// Writes all queued TLS output and flushes it. `false` if the transport would block.
    fn write_out<IO: Write + ?Sized>(&mut self, io: &mut IO) -> Result<bool, HandshakeError> {
        let before = self.cost.bytes_written;
        let mut counted = Counted::new(io, &mut self.cost, &mut self.peer);
        let written = write_out(&mut *self.conn, &mut counted, &mut self.unflushed, true);
        if self.cost.bytes_written > before {
            self.reading = false;
        }
        written.map_err(HandshakeError::Transport)
    }

    fn process(&mut self) -> Result<(), HandshakeError> {
        match self.conn.process_new_packets() {
            // A close_notify in the same read as the peer's last flight ends the connection,
            // not the handshake: the stream reads it as EOF.
            Ok(state) if state.peer_has_closed() && self.conn.is_handshaking() => {
                Err(self.peer_closed(true))
            }
            // rustls ignores a plaintext close_notify before the versions are agreed; it is
            // still the peer ending the connection (`SSL_do_handshake` returning 0).
            Ok(_) if self.peer.saw_close_notify() && self.conn.is_handshaking() => {
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

/// A transport that remembers whether it failed, to tell its errors from rustls refusing to
/// take more.
struct Watched<'a, IO: ?Sized> {
    io: &'a mut IO,
    failed: bool,
}

impl<IO: Read + ?Sized> Read for Watched<'_, IO> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let result = self.io.read(buf);
        if matches!(&result, Err(e) if e.kind() != io::ErrorKind::WouldBlock) {
            self.failed = true;
        }
        result
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn early_data_stays_within_what_a_rejecting_server_skips() {
        // Measured with rustls alone: 8,175 bytes skipped, 8,180 refused, for a 16 KiB limit.
        assert_eq!(early_data_budget(16 * 1024), 8175);
        assert_eq!(early_data_budget(0), 0);
        assert_eq!(early_data_budget(20), 0);
    }
}
