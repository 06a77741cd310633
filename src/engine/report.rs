//! [`HandshakeReport`]: what a handshake negotiated and what it cost, for logs and metrics.

use std::{fmt, net::SocketAddr};

use rustls::{CipherSuite, HandshakeKind, NamedGroup, ProtocolVersion};

use super::{HandshakeStats, Role, TlsConnection};

/// What one handshake negotiated and what it cost. Available from
/// [`TlsStream::report`](crate::TlsStream::report) and from every failure
/// ([`Failed::report`](crate::Failed::report)), where the fields not reached yet are `None`.
///
/// It holds nothing secret and nothing of the peer's beyond its certificate subject, the
/// server name and the ALPN protocol. `Display` renders one log-friendly line:
///
/// ```text
/// client TLSv1_3 TLS13_AES_256_GCM_SHA384 X25519 alpn=h2 sni=localhost full peer_certs=2 peer="CN=localhost" 1.52ms read=1091B/2 wrote=341B/2 flights=1
/// ```
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct HandshakeReport {
    /// Which side this was.
    pub role: Role,
    /// The protocol version, once agreed.
    pub version: Option<ProtocolVersion>,
    /// The cipher suite, once agreed.
    pub cipher_suite: Option<CipherSuite>,
    /// The key-exchange group, once agreed.
    pub key_exchange: Option<NamedGroup>,
    /// The ALPN protocol agreed, if any.
    pub alpn: Option<Vec<u8>>,
    /// The server name (SNI): the one asked for (client) or received (server).
    pub server_name: Option<String>,
    /// Full, full with a HelloRetryRequest, or resumed.
    pub kind: Option<HandshakeKind>,
    /// How many certificates the peer presented (0 for a server whose client sent none).
    pub peer_certificates: usize,
    /// The subject of the peer's end-entity certificate, as `CN=..., O=...`.
    pub peer_subject: Option<String>,
    /// Client: whether it sent TLS 1.3 early data (0-RTT) with its ClientHello.
    pub early_data_offered: bool,
    /// Whether TLS 1.3 early data (0-RTT) was accepted: the client's by the server, or on a
    /// server, the client's early data is there to read (`TlsStream::take_early_data`).
    pub early_data_accepted: bool,
    /// Server behind a proxy: the address the connection was forwarded for, as a layer in
    /// front of TLS read it (a PROXY protocol header, with the `proxy-protocol` feature).
    /// `None` when nothing in front said.
    pub forwarded_for: Option<SocketAddr>,
    /// Bytes, transport calls, flights and duration.
    pub stats: HandshakeStats,
}

/// What the engine knows of a handshake beyond its rustls connection.
pub(crate) struct Facts<'a> {
    pub(crate) role: Role,
    /// The name a client asked for.
    pub(crate) server_name: Option<&'a str>,
    pub(crate) early_data_offered: bool,
    pub(crate) early_data_accepted: bool,
    pub(crate) forwarded_for: Option<SocketAddr>,
    pub(crate) stats: HandshakeStats,
}

impl Facts<'_> {
    /// Nothing known yet, beyond the role.
    pub(crate) fn none(role: Role) -> Self {
        Self {
            role,
            server_name: None,
            early_data_offered: false,
            early_data_accepted: false,
            forwarded_for: None,
            stats: HandshakeStats::default(),
        }
    }
}

impl HandshakeReport {
    /// The one place a report is built: from the connection, if there is one yet (a
    /// ClientHello reader and a configuration error have none), and what else is known.
    pub(crate) fn build<C: TlsConnection>(conn: Option<&C>, facts: Facts<'_>) -> Self {
        let peer = conn.and_then(|c| c.peer_certificates());
        Self {
            role: facts.role,
            version: conn.and_then(|c| c.protocol_version()),
            cipher_suite: conn
                .and_then(|c| c.negotiated_cipher_suite())
                .map(|s| s.suite()),
            key_exchange: conn
                .and_then(|c| c.negotiated_key_exchange_group())
                .map(|g| g.name()),
            alpn: conn.and_then(|c| c.alpn_protocol()).map(<[u8]>::to_vec),
            server_name: facts
                .server_name
                .or_else(|| conn.and_then(|c| c.received_server_name()))
                .map(str::to_owned),
            kind: conn.and_then(|c| c.handshake_kind()),
            peer_certificates: peer.map_or(0, <[_]>::len),
            peer_subject: peer
                .and_then(|certs| certs.first())
                .and_then(|leaf| subject(leaf)),
            early_data_offered: facts.early_data_offered,
            early_data_accepted: facts.early_data_accepted,
            forwarded_for: facts.forwarded_for,
            stats: facts.stats,
        }
    }

    /// A report of a handshake that has no connection: a configuration error, or a
    /// ClientHello not read whole.
    pub(crate) fn without_connection(facts: Facts<'_>) -> Self {
        Self::build::<rustls::ServerConnection>(None, facts)
    }

    /// Whether this was a resumed handshake.
    pub fn is_resumed(&self) -> bool {
        self.kind == Some(HandshakeKind::Resumed)
    }

    /// Server side: whether the client presented a certificate.
    pub fn client_certificate_given(&self) -> bool {
        self.role == Role::Server && self.peer_certificates > 0
    }
}

impl fmt::Display for HandshakeReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fn or_dash<T: fmt::Debug>(value: &Option<T>) -> String {
            value
                .as_ref()
                .map_or_else(|| "-".into(), |v| format!("{v:?}"))
        }
        write!(
            f,
            "{} {} {} {}",
            self.role,
            or_dash(&self.version),
            or_dash(&self.cipher_suite),
            or_dash(&self.key_exchange)
        )?;
        if let Some(alpn) = &self.alpn {
            write!(f, " alpn={}", String::from_utf8_lossy(alpn))?;
        }
        if let Some(name) = &self.server_name {
            write!(f, " sni={name}")?;
        }
        let kind = match self.kind {
            Some(HandshakeKind::Full) => "full",
            Some(HandshakeKind::FullWithHelloRetryRequest) => "full+hrr",
            Some(HandshakeKind::Resumed) => "resumed",
            None => "incomplete",
        };
        write!(f, " {kind} peer_certs={}", self.peer_certificates)?;
        if let Some(subject) = &self.peer_subject {
            write!(f, " peer={subject:?}")?;
        }
        if let Some(source) = &self.forwarded_for {
            write!(f, " forwarded_for={source}")?;
        }
        match (self.early_data_offered, self.early_data_accepted) {
            (_, true) => f.write_str(" early_data=accepted")?,
            (true, false) => f.write_str(" early_data=rejected")?,
            (false, false) => {}
        }
        let c = &self.stats;
        write!(
            f,
            " {:.2?} read={}B/{} wrote={}B/{} flights={}",
            c.duration, c.bytes_read, c.reads, c.bytes_written, c.writes, c.flights_received
        )
    }
}

/// The subject of an X.509 certificate as `CN=..., O=...`, for the attributes worth a log
/// line. Reads DER defensively: anything unexpected gives `None`, never a panic.
fn subject(der: &[u8]) -> Option<String> {
    let (_, certificate, _) = tlv(der)?;
    let (_, tbs, _) = tlv(certificate)?;
    let mut rest = tbs;
    // [0] version (optional), serialNumber, signature, issuer, validity, subject
    let (tag, _, after) = tlv(rest)?;
    if tag == 0xa0 {
        rest = after;
    }
    for _ in 0..4 {
        rest = tlv(rest)?.2;
    }
    let (_, name, _) = tlv(rest)?;
    let mut parts = Vec::new();
    let mut sets = name;
    while !sets.is_empty() {
        let (_, set, next) = tlv(sets)?;
        sets = next;
        let (_, attribute, _) = tlv(set)?;
        let (_, oid, value) = tlv(attribute)?;
        let (_, text, _) = tlv(value)?;
        let label = match oid {
            [0x55, 0x04, 0x03] => "CN",
            [0x55, 0x04, 0x0a] => "O",
            [0x55, 0x04, 0x0b] => "OU",
            [0x55, 0x04, 0x06] => "C",
            _ => continue,
        };
        parts.push(format!("{label}={}", String::from_utf8_lossy(text)));
    }
    Some(parts.join(", "))
}

/// One DER tag-length-value: (tag, value, what follows).
fn tlv(input: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (&tag, rest) = input.split_first()?;
    let (&first, rest) = rest.split_first()?;
    let (len, rest) = if first < 0x80 {
        (usize::from(first), rest)
    } else {
        let count = usize::from(first & 0x7f);
        if count == 0 || count > 4 || rest.len() < count {
            return None;
        }
        let len = rest[..count]
            .iter()
            .fold(0usize, |acc, b| (acc << 8) | usize::from(*b));
        (len, &rest[count..])
    };
    if rest.len() < len {
        return None;
    }
    Some((tag, &rest[..len], &rest[len..]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn truncated_or_garbage_der_gives_none() {
        assert_eq!(subject(&[]), None);
        assert_eq!(subject(&[0x30, 0x84, 0xff, 0xff, 0xff, 0xff]), None);
        assert_eq!(subject(&[0x30, 0x03, 0x30, 0x01]), None);
        for len in 0..64 {
            let bytes: Vec<u8> = (0..len).map(|i| (i * 37) as u8).collect();
            let _ = subject(&bytes);
        }
    }

    #[test]
    fn tlv_reads_long_lengths() {
        let mut der = vec![0x04, 0x82, 0x01, 0x00];
        der.extend(std::iter::repeat_n(7u8, 256));
        let (tag, value, rest) = tlv(&der).expect("tlv");
        assert_eq!((tag, value.len(), rest.len()), (0x04, 256, 0));
    }
}
