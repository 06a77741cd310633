//! A watcher over the peer's byte stream at the TLS record layer, during the handshake.
//!
//! rustls decides what the records mean; this only answers two questions rustls does not:
//! are the peer's first bytes TLS at all (so a plaintext HTTP request ends as
//! [`HandshakeError::NotTls`](crate::HandshakeError::NotTls) with its bytes, and no alert goes
//! out), and did the peer send a plaintext `close_notify` (which rustls ignores during a
//! handshake, before a version is agreed). It reads record headers only and allocates nothing
//! unless the peer is not speaking TLS.

/// Record content types a TLS peer may send: change_cipher_spec, alert, handshake,
/// application_data.
const TLS_CONTENT_TYPES: std::ops::RangeInclusive<u8> = 20..=23;
/// The alert record type.
pub(crate) const ALERT: u8 = 21;
/// The application_data record type (every encrypted TLS 1.3 record).
pub(crate) const APPLICATION_DATA: u8 = 23;
/// A record header: type, version, length.
pub(crate) const HEADER_LEN: usize = 5;
const CLOSE_NOTIFY: u8 = 0;

/// What the peer's first bytes say about it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// Too few bytes to tell.
    Undecided,
    /// A TLS record header (content type 20..=23, major version 3).
    Tls,
    /// Not TLS; the bytes are kept.
    NotTls,
}

pub(crate) struct PeerRecords {
    verdict: Verdict,
    received: u64,
    header: [u8; HEADER_LEN],
    header_len: usize,
    /// Body bytes of the current record still to skip.
    body_left: usize,
    /// Whether the current record is a two-byte plaintext alert, and how much of it is seen.
    alert_seen: Option<usize>,
    close_notify: bool,
    not_tls_prefix: Vec<u8>,
    /// Records whose last byte has been seen.
    complete: u32,
    /// Bytes of those records, headers included.
    complete_bytes: u64,
    /// Length of the current record, header included.
    record_len: u64,
}

/// Counts and verdicts only, never the peer's bytes.
impl std::fmt::Debug for PeerRecords {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PeerRecords")
            .field("verdict", &self.verdict)
            .field("received", &self.received)
            .field("complete_records", &self.complete)
            .field("close_notify", &self.close_notify)
            .finish_non_exhaustive()
    }
}

impl PeerRecords {
    pub(crate) fn new() -> Self {
        Self {
            verdict: Verdict::Undecided,
            received: 0,
            header: [0; HEADER_LEN],
            header_len: 0,
            body_left: 0,
            alert_seen: None,
            close_notify: false,
            not_tls_prefix: Vec::new(),
            complete: 0,
            complete_bytes: 0,
            record_len: 0,
        }
    }

    /// Bytes the peer has sent so far.
    pub(crate) fn received(&self) -> u64 {
        self.received
    }

    pub(crate) fn verdict(&self) -> Verdict {
        self.verdict
    }

    /// How many whole records the peer has sent.
    pub(crate) fn complete_records(&self) -> u32 {
        self.complete
    }

    /// Bytes of the peer's complete records: progress that dripping bytes cannot fake, since a
    /// record counts only once its last byte has arrived.
    pub(crate) fn complete_bytes(&self) -> u64 {
        self.complete_bytes
    }

    /// Whether a plaintext `close_notify` alert has been seen.
    pub(crate) fn saw_close_notify(&self) -> bool {
        self.close_notify
    }

    /// The bytes that showed the peer is not speaking TLS.
    pub(crate) fn take_not_tls_prefix(&mut self) -> Vec<u8> {
        std::mem::take(&mut self.not_tls_prefix)
    }

    /// Looks at the next bytes from the peer, in order.
    pub(crate) fn observe(&mut self, bytes: &[u8]) {
        let before = self.received;
        self.received += bytes.len() as u64;
        if self.verdict == Verdict::NotTls {
            return;
        }
        if self.verdict == Verdict::Undecided {
            self.decide(before, bytes);
            if self.verdict == Verdict::NotTls {
                return;
            }
        }
        self.walk_records(bytes);
    }

    fn decide(&mut self, before: u64, bytes: &[u8]) {
        // Only the first two bytes decide; `before` is 0 or 1 here.
        let seen = before as usize;
        let mut head = [0u8; 2];
        head[..seen].copy_from_slice(&self.header[..seen]);
        let available = (seen + bytes.len()).min(2);
        head[seen..available].copy_from_slice(&bytes[..available - seen]);
        let content_type_ok = available >= 1 && TLS_CONTENT_TYPES.contains(&head[0]);
        let version_ok = available >= 2 && head[1] == 3;
        self.verdict = match (available, content_type_ok, version_ok) {
            (0, ..) => Verdict::Undecided,
            (_, false, _) => Verdict::NotTls,
            (1, true, _) => Verdict::Undecided,
            (_, true, true) => Verdict::Tls,
            (_, true, false) => Verdict::NotTls,
        };
        if self.verdict == Verdict::NotTls {
            self.not_tls_prefix.extend_from_slice(&head[..seen]);
            self.not_tls_prefix.extend_from_slice(bytes);
        }
    }

    fn walk_records(&mut self, mut bytes: &[u8]) {
        while !bytes.is_empty() {
            if self.body_left > 0 {
                let n = self.body_left.min(bytes.len());
                if let Some(seen) = self.alert_seen {
                    // A two-byte plaintext alert: level then description.
                    if seen + n == 2 && bytes[n - 1] == CLOSE_NOTIFY {
                        self.close_notify = true;
                    }
                    self.alert_seen = Some(seen + n);
                }
                self.body_left -= n;
                bytes = &bytes[n..];
                if self.body_left == 0 {
                    self.record_complete();
                }
                continue;
            }
            let n = (HEADER_LEN - self.header_len).min(bytes.len());
            self.header[self.header_len..self.header_len + n].copy_from_slice(&bytes[..n]);
            self.header_len += n;
            bytes = &bytes[n..];
            if self.header_len == HEADER_LEN {
                self.header_len = 0;
                self.body_left = usize::from(u16::from_be_bytes([self.header[3], self.header[4]]));
                self.record_len = (HEADER_LEN + self.body_left) as u64;
                // An encrypted alert is longer than two bytes; only plaintext ones are read.
                self.alert_seen = (self.header[0] == ALERT && self.body_left == 2).then_some(0);
                if self.body_left == 0 {
                    self.record_complete();
                }
            }
        }
    }

    fn record_complete(&mut self) {
        self.complete += 1;
        self.complete_bytes += self.record_len;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn watch(chunks: &[&[u8]]) -> PeerRecords {
        let mut records = PeerRecords::new();
        for chunk in chunks {
            records.observe(chunk);
        }
        records
    }

    #[test]
    fn a_tls_record_header_is_tls() {
        let r = watch(&[&[22, 3, 1, 0, 200, 1]]);
        assert_eq!(r.verdict(), Verdict::Tls);
        assert_eq!(r.received(), 6);
    }

    #[test]
    fn one_byte_at_a_time_still_decides() {
        let r = watch(&[&[22], &[3], &[1]]);
        assert_eq!(r.verdict(), Verdict::Tls);
        let r = watch(&[&[22]]);
        assert_eq!(r.verdict(), Verdict::Undecided);
    }

    #[test]
    fn http_is_not_tls_and_keeps_every_byte() {
        let mut r = watch(&[b"GET / HTTP/1.1\r\n"]);
        assert_eq!(r.verdict(), Verdict::NotTls);
        assert_eq!(r.take_not_tls_prefix(), b"GET / HTTP/1.1\r\n");
    }

    #[test]
    fn a_bad_version_after_a_split_header_keeps_both_reads() {
        let mut r = watch(&[&[22], &[2, 0]]);
        assert_eq!(r.verdict(), Verdict::NotTls);
        assert_eq!(r.take_not_tls_prefix(), [22, 2, 0]);
    }

    #[test]
    fn sslv2_hello_and_zeros_are_not_tls() {
        assert_eq!(watch(&[&[0x80, 0x2e, 1]]).verdict(), Verdict::NotTls);
        assert_eq!(watch(&[&[0; 8]]).verdict(), Verdict::NotTls);
    }

    #[test]
    fn plaintext_close_notify_is_seen_across_splits() {
        let server_hello = [22, 3, 3, 0, 3, 9, 9, 9];
        let close = [21, 3, 3, 0, 2, 1, 0];
        let r = watch(&[&server_hello, &close[..6], &close[6..]]);
        assert!(r.saw_close_notify());
        let fatal_other = [21, 3, 3, 0, 2, 2, 40];
        assert!(!watch(&[&fatal_other]).saw_close_notify());
    }

    #[test]
    fn whole_records_are_counted_across_splits() {
        let two = [23, 3, 3, 0, 2, 1, 2, 23, 3, 3, 0, 0];
        let r = watch(&[&two[..6], &two[6..9], &two[9..]]);
        assert_eq!(r.complete_records(), 2);
        assert_eq!(r.complete_bytes(), 12);
        let partial = watch(&[&two[..6]]);
        assert_eq!(partial.complete_records(), 0);
        assert_eq!(
            partial.complete_bytes(),
            0,
            "a partial record is no progress"
        );
    }

    #[test]
    fn encrypted_alerts_are_not_read() {
        let encrypted = [21, 3, 3, 0, 3, 0, 0, 0];
        assert!(!watch(&[&encrypted]).saw_close_notify());
    }
}
