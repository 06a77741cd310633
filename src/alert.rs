//! The fatal alert on its way out after a local protocol error.
//!
//! rustls queues the alert with its other output and does not say which one it chose. The step
//! takes those bytes out of rustls, learns the description (read from the record when it is
//! plaintext, otherwise the one rustls picks for the error), and writes them itself so that
//! [`HandshakeError::Protocol::alert_sent`](crate::HandshakeError::Protocol) reports only what
//! was really written and flushed.

use std::io::{self, Write};

use rustls::{AlertDescription, ConnectionCommon};

use crate::Step;

const ALERT: u8 = 21;
/// A plaintext alert record: 5 header bytes, level, description.
const PLAINTEXT_ALERT_LEN: usize = 7;

#[derive(Debug)]
pub(crate) struct OutgoingAlert {
    bytes: Vec<u8>,
    written: usize,
    needs_flush: bool,
    description: AlertDescription,
}

impl OutgoingAlert {
    /// Takes the alert rustls queued for `error`, if it queued one.
    pub(crate) fn take<D>(conn: &mut ConnectionCommon<D>, error: &rustls::Error) -> Option<Self> {
        if !conn.wants_write() {
            return None;
        }
        let mut bytes = Vec::with_capacity(64);
        while conn.wants_write() {
            // Writing into a Vec cannot fail.
            if conn.write_tls(&mut bytes).is_err() {
                return None;
            }
        }
        let description = match bytes.as_slice() {
            [ALERT, _, _, 0, 2, _, description] if bytes.len() == PLAINTEXT_ALERT_LEN => {
                AlertDescription::from(*description)
            }
            _ => description_for(error),
        };
        Some(Self {
            bytes,
            written: 0,
            needs_flush: false,
            description,
        })
    }

    pub(crate) fn description(&self) -> AlertDescription {
        self.description
    }

    /// Writes and flushes the rest of the alert. `Done` once it is all out.
    pub(crate) fn send(&mut self, io: &mut dyn Write) -> io::Result<Step> {
        while self.written < self.bytes.len() {
            match io.write(&self.bytes[self.written..]) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(n) => {
                    self.written += n;
                    self.needs_flush = true;
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(Step::WantWrite),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        if self.needs_flush {
            match io.flush() {
                Ok(()) => self.needs_flush = false,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(Step::WantWrite),
                Err(e) => return Err(e),
            }
        }
        Ok(Step::Done)
    }
}

/// The alert rustls sends for `error`, for alerts that went out encrypted. Certificate
/// errors (the common case in TLS 1.3) map exactly, as rustls maps them.
fn description_for(error: &rustls::Error) -> AlertDescription {
    use rustls::Error::*;
    match error {
        InvalidCertificate(e) => e.clone().into(),
        NoCertificatesPresented => AlertDescription::CertificateRequired,
        InvalidMessage(_) => AlertDescription::DecodeError,
        DecryptError => AlertDescription::BadRecordMac,
        InappropriateMessage { .. } | InappropriateHandshakeMessage { .. } => {
            AlertDescription::UnexpectedMessage
        }
        PeerMisbehaved(_) => AlertDescription::IllegalParameter,
        _ => AlertDescription::HandshakeFailure,
    }
}
