//! The one write rule: write out everything rustls has queued, then flush, with a flush that
//! would block remembered across calls. Every write of TLS records goes through it: the
//! handshake's flights, a TLS 1.3 server's tickets, a client's late early data, the stream's
//! records, its close_notify. (A fatal alert, taken out of rustls, goes through the same
//! `wire::write_out`.)

use std::io::Write;

use super::{
    wire::{self, CountingTransport, Tracking},
    Engine, TlsConnection,
};
use crate::error::HandshakeError;

/// Whether a write also flushes the transport.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Flush {
    /// Only write.
    No,
    /// Flush what was written and not yet flushed, this time or before.
    IfWritten,
    /// Flush the transport whatever was written (the stream's `poll_flush`).
    Always,
}

impl<C: TlsConnection> Engine<C> {
    /// The one write rule: writes everything rustls has queued to `io`, counted while
    /// handshaking, then flushes as `flush` says. `Ok(true)`: all out (and flushed);
    /// `Ok(false)`: the transport would block.
    ///
    /// # Errors
    ///
    /// The transport's error; a write that returned 0 is `WriteZero`.
    pub(crate) fn write_to<IO: Write + ?Sized>(
        &mut self,
        io: &mut IO,
        flush: Flush,
    ) -> std::io::Result<bool> {
        if flush == Flush::Always {
            self.unflushed = true;
        }
        let counting = self.phase.is_handshake();
        let before = self.stats.bytes_written;
        let mut transport = CountingTransport {
            io,
            tracking: Tracking {
                stats: counting.then_some(&mut self.stats),
                watcher: None,
            },
            failed: false,
        };
        let written = wire::write_out(
            &mut *self.conn,
            &mut transport,
            &mut self.unflushed,
            flush != Flush::No,
        );
        if self.stats.bytes_written > before {
            self.last_moved_was_read = false;
        }
        written
    }

    /// Writes and flushes the rest of the fatal alert, if there is one; records it in `error`
    /// once it is out. `Ok(true)`: out, or none; `Ok(false)`: the transport would block.
    ///
    /// # Errors
    ///
    /// The transport's error; the alert is then given up.
    pub(crate) fn send_alert<IO: Write + ?Sized>(
        &mut self,
        io: &mut IO,
        error: Option<&mut HandshakeError>,
    ) -> std::io::Result<bool> {
        let Some(alert) = &mut self.alert else {
            return Ok(true);
        };
        let counting = self.phase.is_handshake();
        let mut transport = CountingTransport {
            io,
            tracking: Tracking {
                stats: counting.then_some(&mut self.stats),
                watcher: None,
            },
            failed: false,
        };
        let sent = alert.send(&mut transport, error);
        match &sent {
            Ok(false) => {}
            Ok(true) => self.alert = None,
            Err(e) => {
                crate::trace::alert_not_sent(e);
                self.alert = None;
            }
        }
        sent
    }
}
