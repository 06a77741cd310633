//! A client's early data (TLS 1.3 0-RTT): what goes early with the ClientHello, and the rest,
//! sent as application data before the handshake is reported done, so that any size arrives
//! once and in full.

use std::io::Write;

use rustls::ClientConnection;

use super::{Engine, TlsConnection};
use crate::trace;

/// A client's early data, as it goes.
#[derive(Debug)]
pub(crate) enum EarlyData {
    /// None was offered (a server, or a client that sends none).
    None,
    /// Offered with the ClientHello; `early` bytes of `data` went out as early data.
    Offered { data: Vec<u8>, early: usize },
    /// The handshake is complete: what the server did not accept, from `from` on, is being
    /// written as application data. `offered`: some of it went early.
    Resending {
        data: Vec<u8>,
        from: usize,
        offered: bool,
    },
    /// All of it is in rustls' hands. `offered`: some of it went early.
    Sent { offered: bool },
}

impl EarlyData {
    /// Whether some of it went out as early data.
    pub(crate) fn was_offered(&self) -> bool {
        match self {
            EarlyData::None => false,
            EarlyData::Offered { early, .. } => *early > 0,
            EarlyData::Resending { offered, .. } | EarlyData::Sent { offered } => *offered,
        }
    }

    /// Whether some of it is still to be handed to rustls.
    pub(crate) fn is_pending(&self) -> bool {
        matches!(
            self,
            EarlyData::Offered { .. } | EarlyData::Resending { .. }
        )
    }

    /// Shows its length only: early data is application data.
    pub(crate) fn len(&self) -> Option<usize> {
        match self {
            EarlyData::Offered { data, .. } | EarlyData::Resending { data, .. } => Some(data.len()),
            EarlyData::None | EarlyData::Sent { .. } => None,
        }
    }
}

impl Engine<ClientConnection> {
    /// Offers `data` as early data: as much as is safe goes with the ClientHello (see
    /// [`early_data_budget`]), the rest after the handshake.
    pub(crate) fn offer_early_data(&mut self, data: Vec<u8>) {
        let early = match self.conn.early_data() {
            Some(mut early) => {
                let fits = data.len().min(early_data_budget(early.bytes_left()));
                // rustls refuses early data only outside its ready state, which a new
                // connection is in. Were it refused, nothing goes early and all of it goes
                // right after the handshake: the data still arrives once, and the report
                // says none was offered.
                early.write(&data[..fits]).unwrap_or_else(|e| {
                    trace::early_data_refused(&e);
                    0
                })
            }
            None => 0,
        };
        self.early_data = EarlyData::Offered { data, early };
    }
}

impl<C: TlsConnection> Engine<C> {
    /// The handshake is complete: what the server did not accept is to be sent now.
    pub(crate) fn resend_rejected_early_data(&mut self) {
        if let EarlyData::Offered { data, early } =
            std::mem::replace(&mut self.early_data, EarlyData::None)
        {
            let from = if self.conn.early_data_was_accepted() {
                early
            } else {
                0
            };
            self.early_data = EarlyData::Resending {
                data,
                from,
                offered: early > 0,
            };
        }
    }

    /// Hands rustls as much of the early data still to send as its send buffer takes (64 KiB
    /// by default); the rest waits until the buffer has been written out.
    pub(crate) fn queue_early_data(&mut self) {
        let EarlyData::Resending {
            data,
            from,
            offered,
        } = &mut self.early_data
        else {
            return;
        };
        while *from < data.len() {
            match self.conn.writer().write(&data[*from..]) {
                Ok(n) if n > 0 => *from += n,
                _ => break,
            }
        }
        if *from == data.len() {
            self.early_data = EarlyData::Sent { offered: *offered };
        }
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
