//! The engine: the one sans-IO core of a TLS connection, from its first byte to its last. The
//! sync step ([`Handshake`](crate::Handshake)), the handshake future and the stream are thin
//! faces over it: they move bytes and wait, it holds the state and the rules. It is the only
//! code that drives rustls' record I/O.
//!
//! - `phase.rs`: where the connection is (`Phase`).
//! - `read.rs`: the one read rule (read, count, watch, process; a fatal error held until due).
//! - `write.rs`: the one write rule (write all queued, then flush; the flush remembered).
//! - `plaintext.rs`: the application's bytes in and out of rustls, close_notify, early data
//!   taken.
//! - `wire.rs`: the transport as the rules see it.
//! - `records.rs`: the watcher over the peer's record headers.
//! - `alert.rs`: the fatal alert on its way out.
//! - `early_data.rs`: a client's early data, sent early or after the handshake.
//! - `report.rs`: `HandshakeReport`, built in one place.
//! - `client_hello.rs`: a server's first phase when it chooses its configuration from the
//!   ClientHello: the same engine over rustls' `Acceptor`, then over the connection.
//! - `side.rs`: the two roles behind one sealed trait.
//! - `ticket_budget.rs`: how many tickets one flight may make the server try to open.

pub(crate) mod alert;
mod client_hello;
mod early_data;
mod phase;
mod plaintext;
mod read;
mod records;
mod report;
mod side;
mod stats;
pub(crate) mod ticket_budget;
pub(crate) mod wire;
mod write;

use std::{io, net::SocketAddr};

use rustls::pki_types::ServerName;
use tokio::time::Instant;

use self::{alert::OutgoingAlert, records::PeerRecords};
pub(crate) use self::{
    early_data::EarlyData, phase::Phase, read::ReadOutcome, report::Facts, write::Flush,
};
pub use self::{
    report::HandshakeReport,
    side::{Role, TlsConnection},
    stats::HandshakeStats,
};
use crate::error::HandshakeError;

/// A TLS connection and everything the crate keeps about it, from the first byte to the last.
pub(crate) struct Engine<C> {
    conn: C,
    phase: Phase,
    /// The watcher over the peer's record headers: is it TLS, a plaintext close_notify, whole
    /// records. Shown every byte while handshaking, and after it until the peer's first
    /// record after the handshake (what `confirm` waits for).
    watcher: PeerRecords,
    /// Whole peer records when the handshake completed; one more is the peer's reaction.
    records_at_handshake: Option<u32>,
    /// Counted while handshaking; the handshake's cost after it.
    stats: HandshakeStats,
    started: Option<Instant>,
    /// The write rule's memory: written and not yet flushed.
    unflushed: bool,
    /// Whether the last transport call that moved bytes was a read (flights are runs of
    /// reads).
    last_moved_was_read: bool,
    /// Bytes read off the transport before the engine began, by a layer in front of TLS; the
    /// read rule takes them first.
    earlier: Vec<u8>,
    /// The peer's end of the stream has been read.
    peer_eof: bool,
    /// A fatal error met by the read rule, held until it is due: at once while handshaking,
    /// after the plaintext read before it once established.
    held: Option<Box<HandshakeError>>,
    /// A write that failed after the handshake completed (a TLS 1.3 server's tickets), for
    /// the stream's first write or flush.
    deferred_write: Option<io::Error>,
    /// The fatal alert rustls queued for the last local error, still to go out.
    alert: Option<Box<OutgoingAlert>>,
    send_alerts: bool,
    /// Client: the name asked for, for the report.
    server_name: Option<ServerName<'static>>,
    early_data: EarlyData,
    /// Whether early data was accepted (the client's by the server, or on a server, there to
    /// read), as the handshake completed.
    early_data_accepted: bool,
    /// The address the connection was forwarded for, as a layer in front of TLS read it, for
    /// the report.
    forwarded_for: Option<Box<SocketAddr>>,
}

/// Where the connection is and what it cost; never the bytes it carries (early data, the
/// peer's plaintext).
impl<C> std::fmt::Debug for Engine<C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine")
            .field("phase", &self.phase)
            .field("stats", &self.stats)
            .field("peer", &self.watcher)
            .field("alert", &self.alert)
            .field("early_data_len", &self.early_data.len())
            .finish_non_exhaustive()
    }
}

/// What holds for an engine whatever its connection: a rustls connection, or on a server
/// choosing its configuration, rustls' ClientHello `Acceptor` (`client_hello.rs`).
impl<C> Engine<C> {
    /// An engine over `conn`, before its first step.
    fn fresh(conn: C) -> Self {
        Self {
            conn,
            phase: Phase::Handshaking {
                write_blocked: false,
            },
            watcher: PeerRecords::new(),
            records_at_handshake: None,
            stats: HandshakeStats::default(),
            started: None,
            unflushed: false,
            last_moved_was_read: false,
            earlier: Vec::new(),
            peer_eof: false,
            held: None,
            deferred_write: None,
            alert: None,
            send_alerts: true,
            server_name: None,
            early_data: EarlyData::None,
            early_data_accepted: false,
            forwarded_for: None,
        }
    }

    /// The same engine over the connection `conn` (the server's, once the ClientHello chose
    /// its configuration): everything it counted, watched and read so far goes on.
    fn with_conn<D>(self, conn: D) -> Engine<D> {
        Engine {
            conn,
            phase: self.phase,
            watcher: self.watcher,
            records_at_handshake: self.records_at_handshake,
            stats: self.stats,
            started: self.started,
            unflushed: self.unflushed,
            last_moved_was_read: self.last_moved_was_read,
            earlier: self.earlier,
            peer_eof: self.peer_eof,
            held: self.held,
            deferred_write: self.deferred_write,
            alert: self.alert,
            send_alerts: self.send_alerts,
            server_name: self.server_name,
            early_data: self.early_data,
            early_data_accepted: self.early_data_accepted,
            forwarded_for: self.forwarded_for,
        }
    }

    /// The peer ended the connection before the handshake completed.
    fn peer_closed(&self, close_notify: bool) -> HandshakeError {
        HandshakeError::PeerClosed {
            close_notify,
            received: self.watcher.received(),
        }
    }

    pub(crate) fn conn(&self) -> &C {
        &self.conn
    }

    pub(crate) fn conn_mut(&mut self) -> &mut C {
        &mut self.conn
    }

    pub(crate) fn into_conn(self) -> C {
        self.conn
    }

    pub(crate) fn phase(&self) -> &Phase {
        &self.phase
    }

    pub(crate) fn phase_mut(&mut self) -> &mut Phase {
        &mut self.phase
    }

    pub(crate) fn set_server_name(&mut self, name: Option<ServerName<'static>>) {
        self.server_name = name;
    }

    pub(crate) fn set_send_alerts(&mut self, send: bool) {
        self.send_alerts = send;
    }

    /// Whether fatal alerts go to the peer.
    pub(crate) fn sends_alerts(&self) -> bool {
        self.send_alerts
    }

    /// `alert` is to go out, if alerts are sent.
    fn queue_alert(&mut self, alert: Option<OutgoingAlert>) {
        self.alert = alert.filter(|_| self.send_alerts).map(Box::new);
    }

    /// The address the connection was forwarded for, as a layer in front of TLS read it.
    #[cfg_attr(
        not(feature = "proxy-protocol"),
        allow(
            dead_code,
            reason = "no layer in front of TLS reads one without the feature"
        )
    )]
    pub(crate) fn set_forwarded_for(&mut self, source: Option<SocketAddr>) {
        self.forwarded_for = source.map(Box::new);
    }

    pub(crate) fn forwarded_for(&self) -> Option<SocketAddr> {
        self.forwarded_for.as_deref().copied()
    }

    /// Bytes already read off the transport, to be read before it.
    pub(crate) fn add_earlier(&mut self, bytes: Vec<u8>) {
        if self.earlier.is_empty() {
            self.earlier = bytes;
        } else {
            self.earlier.extend_from_slice(&bytes);
        }
    }

    /// The clock starts at the first step.
    pub(crate) fn start_clock(&mut self) -> Instant {
        *self.started.get_or_insert_with(Instant::now)
    }

    /// Whether early data was accepted, as the handshake completed.
    pub(crate) fn early_data_accepted(&self) -> bool {
        self.early_data_accepted
    }

    /// The connection failed with `error`: every later call returns it again. A handshake's
    /// stats keep what it cost until then.
    pub(crate) fn fail(&mut self, error: &HandshakeError) {
        if matches!(self.phase, Phase::Failed(_)) {
            return;
        }
        if self.phase.is_handshake() {
            self.stats = self.stats();
        }
        self.phase = Phase::Failed(Box::new(error.clone()));
    }

    /// What the handshake has cost so far; while it runs, `duration` is the time since its
    /// first step and `bytes_read` what the peer has sent.
    pub(crate) fn stats(&self) -> HandshakeStats {
        let mut stats = self.stats;
        if self.phase.is_handshake() {
            stats.bytes_read = self.watcher.received();
            if let Some(started) = self.started {
                stats.duration = started.elapsed();
            }
        }
        stats
    }

    /// Bytes of the peer's complete TLS records so far; a partial record does not count.
    pub(crate) fn peer_record_bytes(&self) -> u64 {
        self.watcher.complete_bytes()
    }

    /// Whether the peer has sent a whole record since the handshake completed: its reaction
    /// to this side's last flight (`confirm`).
    pub(crate) fn peer_reacted(&self) -> bool {
        self.records_at_handshake
            .is_some_and(|at| self.watcher.complete_records() > at)
    }

    /// The peer's bytes received so far.
    pub(crate) fn received(&self) -> u64 {
        self.watcher.received()
    }

    /// The fatal alert waiting to go out, if any.
    pub(crate) fn pending_alert(&self) -> Option<rustls::AlertDescription> {
        self.alert.as_ref().map(|alert| alert.description())
    }

    /// The fatal alert, taken out to be sent by a future that waits for it.
    pub(crate) fn take_alert(&mut self) -> Option<OutgoingAlert> {
        self.alert.take().map(|alert| *alert)
    }

    /// A transport error met after the handshake completed, which did not undo it: the
    /// failed write of a TLS 1.3 server's tickets first, then a failed read held for the
    /// stream.
    pub(crate) fn take_deferred_error(&mut self) -> Option<io::Error> {
        if let Some(error) = self.deferred_write.take() {
            return Some(error);
        }
        match self.held.take().map(|held| *held) {
            Some(HandshakeError::Transport(error)) if matches!(self.phase, Phase::Established) => {
                Some(crate::error::unshare(error))
            }
            other => {
                self.held = other.map(Box::new);
                None
            }
        }
    }

    /// The deferred write error, for the stream's first write or flush.
    pub(crate) fn take_deferred_write(&mut self) -> Option<io::Error> {
        self.deferred_write.take()
    }

    /// Keeps a write error that did not undo the completed handshake, for the stream.
    pub(crate) fn defer_write_error(&mut self, error: io::Error) {
        self.deferred_write = Some(error);
    }

    /// Whether a client's early data is still to be handed to rustls.
    pub(crate) fn early_data_pending(&self) -> bool {
        self.early_data.is_pending()
    }
}

impl<C: TlsConnection> Engine<C> {
    pub(crate) fn new(conn: C) -> Self {
        Self::fresh(conn)
    }

    /// The handshake has completed (`Step::Done`): counting stops, and the stats keep what
    /// it cost.
    pub(crate) fn establish(&mut self) {
        self.stats = self.stats();
        self.early_data_accepted = self.conn.early_data_was_accepted();
        self.phase = Phase::Established;
    }

    /// What the handshake negotiated and cost, built here and nowhere else.
    pub(crate) fn report(&self) -> HandshakeReport {
        let name = self.server_name.as_ref().map(ServerName::to_str);
        HandshakeReport::build(
            Some(&self.conn),
            Facts {
                role: C::ROLE,
                server_name: name.as_deref(),
                early_data_offered: self.early_data.was_offered(),
                early_data_accepted: self.early_data_accepted,
                forwarded_for: self.forwarded_for(),
                stats: self.stats(),
            },
        )
    }

    /// A fatal error from rustls: its alert taken out to be sent (if alerts are sent), and
    /// the typed error.
    pub(crate) fn protocol_error(&mut self, error: rustls::Error) -> HandshakeError {
        let alert = OutgoingAlert::take(&mut *self.conn, &error);
        self.queue_alert(alert);
        HandshakeError::protocol(error, None)
    }
}
