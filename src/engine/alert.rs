//! The fatal alert on its way out after a local protocol error.
//!
//! rustls queues the alert with its other output and does not say which one it chose. The step
//! takes those bytes out of rustls, learns the description (read from the record when it is
//! plaintext, otherwise the one rustls picks for the error), and writes them itself so that
//! [`HandshakeError::Protocol::alert_sent`](crate::HandshakeError::Protocol) reports only what
//! was really written and flushed.

use std::{
    fmt,
    io::{self, Write},
};

use rustls::{AlertDescription, ConnectionCommon};

use super::{
    records::{ALERT, APPLICATION_DATA, HEADER_LEN},
    wire::{write_out, TlsOutput},
};
use crate::error::HandshakeError;

/// Length of a TLS 1.3 record holding an encrypted alert: the alert, its inner content type
/// and the 16-byte AEAD tag (rustls adds no padding).
const TLS13_ENCRYPTED_ALERT_LEN: usize = 2 + 1 + 16;

pub(crate) struct OutgoingAlert {
    bytes: Vec<u8>,
    written: usize,
    unflushed: bool,
    description: AlertDescription,
}

/// The description and progress only: the bytes are TLS records, nothing to show.
impl fmt::Debug for OutgoingAlert {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OutgoingAlert")
            .field("description", &self.description)
            .field("written", &self.written)
            .field("len", &self.bytes.len())
            .finish()
    }
}

impl TlsOutput for OutgoingAlert {
    fn wants_write(&self) -> bool {
        self.written < self.bytes.len()
    }

    fn write_tls(&mut self, io: &mut dyn Write) -> io::Result<usize> {
        let n = io.write(&self.bytes[self.written..])?;
        self.written += n;
        Ok(n)
    }
}

impl OutgoingAlert {
    /// Takes the alert rustls queued for `error`, if it queued one. What rustls queued is
    /// taken either way (records of a handshake that failed are of no use to anyone).
    pub(crate) fn take<D>(conn: &mut ConnectionCommon<D>, error: &rustls::Error) -> Option<Self> {
        if !TlsOutput::wants_write(conn) {
            return None;
        }
        let mut bytes = Vec::with_capacity(64);
        while TlsOutput::wants_write(conn) {
            // Writing into a Vec cannot fail.
            if TlsOutput::write_tls(conn, &mut bytes).is_err() {
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

    /// An alert is there only if rustls sent one for `error` (never for the peer's own alert)
    /// and the last record queued is an alert: plaintext, TLS 1.2 encrypted (its record type
    /// still says alert), or a TLS 1.3 record of an encrypted alert's length. Anything else
    /// (a TLS 1.3 client's compatibility ChangeCipherSpec, say) is no alert.
    fn from_bytes(bytes: Vec<u8>, error: &rustls::Error) -> Option<Self> {
        if matches!(error, rustls::Error::AlertReceived(_)) {
            return None;
        }
        // The alert is the last record queued; records before it (a TLS 1.3 server's
        // ServerHello, say) must go out too, or the peer cannot read it.
        let description = match last_record(&bytes) {
            [ALERT, _, _, 0, 2, _, description] => AlertDescription::from(*description),
            [ALERT, ..] => description_for(error),
            [APPLICATION_DATA, _, _, _, _, body @ ..]
                if body.len() == TLS13_ENCRYPTED_ALERT_LEN =>
            {
                description_for(error)
            }
            _ => return None,
        };
        Some(Self {
            bytes,
            written: 0,
            unflushed: false,
            description,
        })
    }

    /// A fatal alert of this server's own choosing, before anything is negotiated: a
    /// plaintext record (content type 21, legacy version 3.3, length 2, level fatal).
    pub(crate) fn plaintext(description: AlertDescription) -> Self {
        const FATAL: u8 = 2;
        Self {
            bytes: vec![ALERT, 3, 3, 0, 2, FATAL, u8::from(description)],
            written: 0,
            unflushed: false,
            description,
        }
    }

    pub(crate) fn description(&self) -> AlertDescription {
        self.description
    }

    /// Writes and flushes the rest of the alert; once it is all out, records it in `error`
    /// (`alert_sent`). `Ok(true)`: out; `Ok(false)`: the transport would block.
    pub(crate) fn send(
        &mut self,
        io: &mut dyn Write,
        error: Option<&mut HandshakeError>,
    ) -> io::Result<bool> {
        let mut unflushed = self.unflushed;
        let sent = write_out(self, io, &mut unflushed, true);
        self.unflushed = unflushed;
        let sent = sent?;
        match (sent, error) {
            (true, Some(HandshakeError::Protocol { alert_sent, .. }))
            | (true, Some(HandshakeError::Refused { alert_sent, .. })) => {
                *alert_sent = Some(self.description);
            }
            _ => {}
        }
        Ok(sent)
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
    fn only_an_alert_record_is_an_alert() {
        let error = rustls::Error::General("x".into());
        let ccs = vec![20, 3, 3, 0, 1, 1];
        assert!(
            OutgoingAlert::from_bytes(ccs, &error).is_none(),
            "a compatibility ChangeCipherSpec is no alert"
        );
        let plaintext = vec![21, 3, 3, 0, 2, 2, 40];
        let alert = OutgoingAlert::from_bytes(plaintext, &error).expect("an alert");
        assert_eq!(alert.description(), AlertDescription::HandshakeFailure);
        let mut encrypted = vec![23, 3, 3, 0, 19];
        encrypted.extend([0; 19]);
        assert!(OutgoingAlert::from_bytes(encrypted.clone(), &error).is_some());
        encrypted[4] = 40;
        encrypted.extend([0; 21]);
        assert!(
            OutgoingAlert::from_bytes(encrypted, &error).is_none(),
            "a longer record is not an encrypted alert"
        );
        let received = rustls::Error::AlertReceived(AlertDescription::NoApplicationProtocol);
        let alert = vec![21, 3, 3, 0, 2, 2, 120];
        assert!(
            OutgoingAlert::from_bytes(alert, &received).is_none(),
            "rustls sends no alert for the peer's own"
        );
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
