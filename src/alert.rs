//! The fatal alert on its way out after a local protocol error.
//!
//! rustls queues the alert with its other output and does not say which one it chose. The step
//! takes those bytes out of rustls, learns the description (read from the record when it is
//! plaintext, otherwise the one rustls picks for the error), and writes them itself so that
//! [`HandshakeError::Protocol::alert_sent`](crate::HandshakeError::Protocol) reports only what
//! was really written and flushed.

use std::io::{self, Write};

use rustls::{AlertDescription, ConnectionCommon};

use crate::{HandshakeError, Step};

const ALERT: u8 = 21;
const HEADER_LEN: usize = 5;

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
        Self::from_bytes(bytes, error)
    }

    /// Takes the alert rustls' `Acceptor` produced for a bad ClientHello, if there is one.
    pub(crate) fn from_accepted(
        mut alert: rustls::server::AcceptedAlert,
        error: &rustls::Error,
    ) -> Option<Self> {
        let mut bytes = Vec::new();
        // Writing into a Vec cannot fail.
        alert.write_all(&mut bytes).ok()?;
        Self::from_bytes(bytes, error)
    }

    fn from_bytes(bytes: Vec<u8>, error: &rustls::Error) -> Option<Self> {
        if bytes.is_empty() {
            return None;
        }
        // The alert is the last record queued; records before it (a TLS 1.3 server's
        // ServerHello, say) must go out too, or the peer cannot read it.
        let description = match last_record(&bytes) {
            [ALERT, _, _, 0, 2, _, description] => AlertDescription::from(*description),
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

    /// Sends the rest of the alert and, once it is all out, records it in `error`.
    pub(crate) fn send_for(
        &mut self,
        io: &mut dyn Write,
        error: &mut HandshakeError,
    ) -> io::Result<Step> {
        let step = self.send(io)?;
        if let (Step::Done, HandshakeError::Protocol { alert_sent, .. }) = (step, error) {
            *alert_sent = Some(self.description);
        }
        Ok(step)
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

/// The last whole record in `bytes` (empty if there is none).
fn last_record(mut bytes: &[u8]) -> &[u8] {
    let mut last: &[u8] = &[];
    while bytes.len() >= HEADER_LEN {
        let len = HEADER_LEN + usize::from(u16::from_be_bytes([bytes[3], bytes[4]]));
        let Some(record) = bytes.get(..len) else {
            break;
        };
        last = record;
        bytes = &bytes[len..];
    }
    last
}

/// The alert rustls sends for `error`, for alerts that went out encrypted. Certificate
/// errors (the common case in TLS 1.3) map exactly, as rustls maps them.
fn description_for(error: &rustls::Error) -> AlertDescription {
    use rustls::Error::*;
    match error {
        InvalidCertificate(e) => e.clone().into(),
        NoCertificatesPresented => AlertDescription::CertificateRequired,
        NoApplicationProtocol => AlertDescription::NoApplicationProtocol,
        InvalidMessage(_) => AlertDescription::DecodeError,
        DecryptError => AlertDescription::BadRecordMac,
        InappropriateMessage { .. } | InappropriateHandshakeMessage { .. } => {
            AlertDescription::UnexpectedMessage
        }
        PeerMisbehaved(_) => AlertDescription::IllegalParameter,
        _ => AlertDescription::HandshakeFailure,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_last_record_is_found_after_others() {
        let server_hello = [22, 3, 3, 0, 2, 9, 9];
        let ccs = [20, 3, 3, 0, 1, 1];
        let alert = [21, 3, 3, 0, 2, 2, 120];
        let all: Vec<u8> = [&server_hello[..], &ccs, &alert].concat();
        assert_eq!(last_record(&all), alert);
        assert_eq!(
            last_record(&all[..all.len() - 1]),
            ccs,
            "a partial record is not one"
        );
        assert!(last_record(&[21, 3]).is_empty());
    }

    #[test]
    fn encrypted_alerts_are_described_as_rustls_chooses() {
        assert_eq!(
            description_for(&rustls::Error::NoApplicationProtocol),
            AlertDescription::NoApplicationProtocol
        );
        let expired = rustls::Error::InvalidCertificate(rustls::CertificateError::Expired);
        assert_eq!(
            description_for(&expired),
            AlertDescription::CertificateExpired
        );
    }
}
