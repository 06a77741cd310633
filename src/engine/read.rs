//! The one read rule: read from the transport, count, watch, hand to rustls, process, and hold
//! any fatal error back until it is due. Every read of the peer goes through it: the
//! handshake's, the reads made while this side's last writes wait, the stream's, `confirm`'s.

use std::io::Read;

use rustls::AlertDescription;

use super::{
    records::Verdict,
    wire::{self, count, Received, Tracking},
    Engine, Phase, TlsConnection,
};
use crate::{engine::Role, error::HandshakeError};

/// What one read gave, when it did not end the connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ReadOutcome {
    /// Bytes arrived and were processed: plaintext, if any, waits in rustls' reader; a fatal
    /// error, if any, is held.
    Bytes,
    /// The end of the peer's stream (rustls knows: its reader reports a clean or a truncated
    /// end).
    Eof,
    /// Nothing to read now; the transport registered the waker.
    WouldBlock,
    /// rustls holds all it will until its plaintext is taken.
    Full,
}

impl<C: TlsConnection> Engine<C> {
    /// The one read rule: one read from the peer (bytes read earlier by a layer in front of TLS
    /// first), counted while handshaking, shown to the record watcher while it is wanted,
    /// handed to rustls and processed. A fatal error found in what arrived is held
    /// ([`Engine::take_held`]): the handshake returns it at once, the stream after the
    /// plaintext that came before it.
    ///
    /// # Errors
    ///
    /// What ends the connection at once: the transport's own error; the end of the stream
    /// before rustls completed the handshake (`PeerClosed`); first bytes that are not TLS
    /// (`NotTls`); rustls refusing a handshake message beyond its limit (`Protocol`).
    pub(crate) fn read_from<IO: Read + ?Sized>(
        &mut self,
        io: &mut IO,
    ) -> Result<ReadOutcome, HandshakeError> {
        if self.peer_eof {
            return Ok(ReadOutcome::Eof);
        }
        let handshaking = matches!(self.phase, Phase::Handshaking { .. });
        let counting = self.phase.is_handshake();
        let watching = counting || self.awaiting_reaction();
        let conn = &mut self.conn;
        let tracking = Tracking {
            stats: counting.then_some(&mut self.stats),
            watcher: watching.then_some(&mut self.watcher),
        };
        let received = wire::receive(io, &mut self.earlier, tracking, |rd| conn.read_tls(rd));
        match received.map_err(HandshakeError::transport)? {
            Received::Bytes => {}
            Received::WouldBlock => return Ok(ReadOutcome::WouldBlock),
            Received::Eof => {
                self.peer_eof = true;
                if handshaking {
                    return Err(self.peer_closed(self.watcher.saw_close_notify()));
                }
                return Ok(ReadOutcome::Eof);
            }
            Received::Refused(e) if handshaking => {
                return Err(HandshakeError::protocol(
                    rustls::Error::General(e.to_string()),
                    None,
                ))
            }
            Received::Refused(_) => return Ok(ReadOutcome::Full),
        }
        if counting {
            if self.watcher.verdict() == Verdict::NotTls {
                return Err(HandshakeError::NotTls {
                    prefix: self.watcher.take_not_tls_prefix(),
                });
            }
            if !self.last_moved_was_read {
                self.last_moved_was_read = true;
                count(&mut self.stats.flights_received);
            }
        }
        self.process();
        Ok(ReadOutcome::Bytes)
    }

    /// Reads, through the read rule, what the peer has sent while this side's writes wait,
    /// until the transport has nothing more now, the peer's stream has ended, or rustls is
    /// full: a peer that is itself blocked writing to this side is not left waiting, and
    /// everything read is processed.
    pub(crate) fn read_available<IO: Read + ?Sized>(
        &mut self,
        io: &mut IO,
    ) -> Result<(), HandshakeError> {
        while self.read_from(io)? == ReadOutcome::Bytes {}
        Ok(())
    }

    /// Processes what rustls holds (the one place `process_new_packets` is called). A fatal
    /// error, or the peer ending the connection before the handshake completed, is held.
    pub(crate) fn process(&mut self) {
        let was_handshaking = self.conn.is_handshaking();
        let conn = &mut self.conn;
        let processed = super::ticket_budget::bounded(|| conn.process_new_packets());
        // A close_notify with the peer's last flight ends the connection, not the handshake:
        // the stream reads it as EOF. So what counts is whether rustls is still handshaking
        // once it has processed everything.
        let still_handshaking = self.conn.is_handshaking();
        let error = match processed {
            Ok(state) if state.peer_has_closed() && still_handshaking => {
                Some(self.peer_closed(true))
            }
            // rustls ignores a plaintext close_notify before the versions are agreed; it is
            // still the peer ending the connection (`SSL_do_handshake` returning 0).
            Ok(_) if self.watcher.saw_close_notify() && still_handshaking => {
                Some(self.peer_closed(true))
            }
            Ok(_) => None,
            // rustls answers a close_notify during the handshake with an alert of its own;
            // the peer is gone, so nothing is sent.
            Err(rustls::Error::AlertReceived(AlertDescription::CloseNotify)) if was_handshaking => {
                Some(self.peer_closed(true))
            }
            Err(error) => Some(self.protocol_error(error)),
        };
        if self.held.is_none() {
            self.held = error.map(Box::new);
        }
        if !self.conn.is_handshaking() && self.records_at_handshake.is_none() {
            self.records_at_handshake = Some(self.watcher.complete_records());
        }
    }

    /// The held fatal error, taken: the caller decides when it is due.
    pub(crate) fn take_held(&mut self) -> Option<HandshakeError> {
        self.held.take().map(|held| *held)
    }

    /// Whether a fatal error is held.
    pub(crate) fn has_held(&self) -> bool {
        self.held.is_some()
    }

    /// Holds `error` for later (a server's failed read while its tickets waited).
    pub(crate) fn hold(&mut self, error: HandshakeError) {
        if self.held.is_none() {
            self.held = Some(Box::new(error));
        }
    }

    /// A TLS 1.3 client that has not yet seen the server's reaction to its last flight: the
    /// watcher keeps counting records for `confirm` until one comes.
    pub(crate) fn awaiting_reaction(&self) -> bool {
        C::ROLE == Role::Client
            && self.conn.protocol_version() == Some(rustls::ProtocolVersion::TLSv1_3)
            && self.records_at_handshake.is_some()
            && !self.peer_reacted()
    }
}
