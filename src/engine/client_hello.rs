//! A server's first phase when it chooses its configuration from the ClientHello
//! (`SSL_CTX_set_client_hello_cb`): the engine over rustls' ClientHello `Acceptor` until the
//! hello is whole, then the same engine over the connection the chosen configuration makes.
//! The hello is read through the read rule's transport path (`wire::receive`: counted,
//! watched, earlier bytes first), so plaintext peers, EOF and limits end as they do later,
//! and what reading it cost carries on into the handshake's stats.

use std::{io::Read, sync::Arc};

use rustls::{
    server::{Accepted, Acceptor},
    AlertDescription, ServerConfig, ServerConnection,
};

use super::{
    alert::OutgoingAlert,
    records::Verdict,
    wire::{self, count, Received, Tracking},
    Engine, Facts,
};
use crate::{engine::HandshakeReport, engine::Role, error::HandshakeError};

impl Engine<Acceptor> {
    /// A server engine that reads the ClientHello before it has a configuration.
    pub(crate) fn reading_client_hello() -> Self {
        Self::fresh(Acceptor::default())
    }

    /// Reads until the ClientHello is whole (`Ok(Some)`) or the transport has nothing more now
    /// (`Ok(None)`).
    ///
    /// # Errors
    ///
    /// What ends the handshake before a configuration is chosen: the transport's error, a
    /// peer that left or is not speaking TLS, a malformed hello (its alert, if alerts are
    /// sent, waits in [`Engine::take_alert`]).
    pub(crate) fn read_client_hello<IO: Read + ?Sized>(
        &mut self,
        io: &mut IO,
    ) -> Result<Option<Accepted>, HandshakeError> {
        self.start_clock();
        loop {
            let acceptor = &mut self.conn;
            let tracking = Tracking {
                stats: Some(&mut self.stats),
                watcher: Some(&mut self.watcher),
            };
            let received =
                wire::receive(io, &mut self.earlier, tracking, |rd| acceptor.read_tls(rd));
            match received.map_err(HandshakeError::transport)? {
                Received::Bytes if !self.last_moved_was_read => {
                    self.last_moved_was_read = true;
                    count(&mut self.stats.flights_received);
                }
                Received::Bytes => {}
                Received::WouldBlock => return Ok(None),
                Received::Eof => {
                    self.peer_eof = true;
                    return Err(self.peer_closed(self.watcher.saw_close_notify()));
                }
                Received::Refused(e) => {
                    let error = rustls::Error::General(e.to_string());
                    return Err(HandshakeError::protocol(error, None));
                }
            }
            if self.watcher.verdict() == Verdict::NotTls {
                let prefix = self.watcher.take_not_tls_prefix();
                return Err(HandshakeError::NotTls { prefix });
            }
            // A plaintext close_notify before the hello: the peer ended the connection
            // (`SSL_do_handshake` returning 0), whatever rustls makes of it.
            if self.watcher.saw_close_notify() {
                return Err(self.peer_closed(true));
            }
            match self.conn.accept() {
                Ok(None) => {}
                Ok(Some(accepted)) => return Ok(Some(accepted)),
                Err((rustls::Error::AlertReceived(AlertDescription::CloseNotify), _)) => {
                    return Err(self.peer_closed(true));
                }
                Err((error, alert)) => {
                    self.queue_alert(OutgoingAlert::from_accepted(alert, &error));
                    return Err(HandshakeError::protocol(error, None));
                }
            }
        }
    }

    /// The handshake goes on with `config`: the engine over the connection it makes, with the
    /// records that came with the hello processed (an error among them is held for the first
    /// step).
    ///
    /// # Errors
    ///
    /// `config` cannot serve this client (no common cipher suite, say): the engine back, for
    /// its report and its alert, and the error.
    #[allow(
        clippy::result_large_err,
        reason = "the engine goes back whole on the rare failure; boxing it would cost every success"
    )]
    pub(crate) fn into_server(
        mut self,
        accepted: Accepted,
        config: Arc<ServerConfig>,
    ) -> Result<Engine<ServerConnection>, (Self, HandshakeError)> {
        // rustls reads the ClientHello's tickets here, before the engine's first process.
        match super::ticket_budget::bounded(|| accepted.into_connection(config)) {
            Ok(conn) => {
                let mut engine = self.with_conn(conn);
                engine.process();
                Ok(engine)
            }
            Err((error, alert)) => {
                self.queue_alert(OutgoingAlert::from_accepted(alert, &error));
                Err((self, HandshakeError::protocol(error, None)))
            }
        }
    }

    /// Refuses the client by policy with the fatal `alert`, queued in the clear (nothing is
    /// negotiated yet) if alerts are sent.
    pub(crate) fn refuse(
        &mut self,
        server_name: Option<String>,
        alert: AlertDescription,
    ) -> HandshakeError {
        self.queue_alert(Some(OutgoingAlert::plaintext(alert)));
        HandshakeError::Refused {
            server_name,
            alert_sent: None,
        }
    }

    /// What reading the hello cost, with the name the client asked for: nothing is
    /// negotiated yet.
    pub(crate) fn hello_report(&self, server_name: Option<&str>) -> HandshakeReport {
        HandshakeReport::without_connection(Facts {
            server_name,
            forwarded_for: self.forwarded_for(),
            stats: self.stats(),
            ..Facts::none(Role::Server)
        })
    }
}
