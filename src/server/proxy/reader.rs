//! [`ProxyHeaderReader`]: reads a PROXY protocol header off a transport, before TLS, holding
//! at most the longest header plus one read, and deciding at once when a limit is passed.

use std::{
    io::Read,
    net::{IpAddr, SocketAddr},
};

use proxy_header::{ParseConfig, ProxyHeader as Parsed};

use super::{ProxyProtocol, TrustedProxies};
use crate::{engine::wire::read_once, error::HandshakeError, server::proxy::ProxyHeaderError};

/// The longest PROXY v2 header accepted, TLVs included: far above what load balancers send
/// (HAProxy's SSL details, AWS's endpoint id), and a bound on what a peer can make a server
/// buffer.
pub const MAX_PROXY_V2_LEN: usize = 4096;
/// The longest PROXY v1 header, by the specification.
const MAX_V1_LEN: usize = 107;
const V1_SIGNATURE: &[u8] = b"PROXY ";
const V2_SIGNATURE: &[u8] = b"\r\n\r\n\0\r\nQUIT\n";
/// v2: the signature, version and command, family, and the 2-byte length.
const V2_FIXED_LEN: usize = 16;
/// Bytes asked of the transport per read.
const READ_SIZE: usize = 1024;

/// A PROXY protocol header as read: the client's address, and the bytes that followed it in
/// the same read, which belong to TLS.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ProxyHeader {
    /// The client's address (`None`: no header under [`ProxyProtocol::Optional`], a LOCAL
    /// header of the balancer's own connection, or an unknown address family).
    pub source: Option<SocketAddr>,
    /// Bytes read past the header: the start of the TLS stream. Hand them to the handshake
    /// ([`Handshake::with_received`](crate::Handshake::with_received)) before the transport.
    pub received: Vec<u8>,
}

/// Reads a PROXY protocol header from a `std::io::Read` transport, as far as it allows: the
/// layer in front of the sync step. [`Acceptor`](crate::Acceptor) and
/// [`TlsListener`](crate::listener::TlsListener) run it for you, under the handshake's deadline.
///
/// Whatever the peer sends, the reader holds at most the longest header (v1: 107 bytes, v2:
/// [`MAX_PROXY_V2_LEN`]) plus one read of 1 KiB, and refuses as soon as a limit is passed.
///
/// # Examples
///
/// A blocking server behind a balancer at 10.0.0.5:
///
/// ```no_run
/// # fn run(config: std::sync::Arc<rustls::ServerConfig>) -> Result<(), Box<dyn std::error::Error>> {
/// use tokio_tls_handshake::{proxy::{ProxyHeaderReader, ProxyProtocol, TrustedProxies}, Handshake, Step};
///
/// let balancers = TrustedProxies::parse(["10.0.0.5"])?;
/// let listener = std::net::TcpListener::bind("0.0.0.0:8443")?;
/// let (mut tcp, peer) = listener.accept()?;
/// tcp.set_read_timeout(Some(std::time::Duration::from_secs(10)))?;
/// let mut reader = ProxyHeaderReader::new(ProxyProtocol::Required, &balancers, Some(peer.ip()));
/// let header = reader.read(&mut tcp)?.expect("a blocking socket reads the header whole");
/// let mut handshake = Handshake::accept(config)?.with_received(header.received);
/// assert_eq!(handshake.do_handshake(&mut tcp)?, Step::Done);
/// println!("client {:?}", header.source);
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct ProxyHeaderReader {
    mode: ProxyProtocol,
    /// Whether the transport's peer may send a header.
    trusted: bool,
    /// Bytes read so far. Never more than the longest header plus one read.
    buf: Vec<u8>,
}

/// What the bytes read so far are.
enum Seen {
    /// Too few bytes to tell.
    Undecided,
    /// Not a header.
    NotProxy,
    /// A header of `len` bytes from `source` (`None`: a LOCAL header, the balancer's own
    /// connection, or an unknown family).
    Header {
        len: usize,
        source: Option<SocketAddr>,
    },
}

impl ProxyHeaderReader {
    /// A reader under `mode`, for a transport whose peer is `peer` (`None`: not an IP
    /// address, or unknown), trusted to send a header if `trusted` allows it.
    pub fn new(mode: ProxyProtocol, trusted: &TrustedProxies, peer: Option<IpAddr>) -> Self {
        Self {
            mode,
            trusted: trusted.allows(peer),
            buf: Vec::new(),
        }
    }

    /// Reads until the header is complete, absent (under [`ProxyProtocol::Optional`]), or
    /// wrong. `Ok(None)`: the transport would block; call again once it is readable.
    ///
    /// # Errors
    ///
    /// [`HandshakeError::ProxyHeader`] for a header that is missing, malformed, too long or
    /// from an untrusted peer; [`HandshakeError::PeerClosed`] at the end of the stream before
    /// a verdict; [`HandshakeError::Transport`] for the transport's own errors.
    pub fn read<IO: Read + ?Sized>(
        &mut self,
        io: &mut IO,
    ) -> Result<Option<ProxyHeader>, HandshakeError> {
        if self.mode == ProxyProtocol::Required && !self.trusted {
            return Err(HandshakeError::ProxyHeader(ProxyHeaderError::Untrusted));
        }
        loop {
            let seen = if self.trusted {
                self.seen()?
            } else {
                // Only the signature matters: from an untrusted peer a header is refused as
                // soon as one shows, and anything else is TLS (optional mode).
                self.signature()
            };
            match seen {
                Seen::Header { .. } if !self.trusted => {
                    return Err(HandshakeError::ProxyHeader(ProxyHeaderError::Untrusted))
                }
                Seen::Header { len, source } => {
                    let received = self.buf.split_off(len);
                    return Ok(Some(ProxyHeader { source, received }));
                }
                Seen::NotProxy if self.mode == ProxyProtocol::Optional => {
                    let received = std::mem::take(&mut self.buf);
                    return Ok(Some(ProxyHeader {
                        source: None,
                        received,
                    }));
                }
                Seen::NotProxy => {
                    return Err(HandshakeError::ProxyHeader(ProxyHeaderError::Missing))
                }
                Seen::Undecided => {}
            }
            let mut chunk = [0u8; READ_SIZE];
            match read_once(|| io.read(&mut chunk)).map_err(HandshakeError::transport)? {
                Some(0) => {
                    return Err(HandshakeError::PeerClosed {
                        close_notify: false,
                        received: self.buf.len() as u64,
                    })
                }
                Some(n) => self.buf.extend_from_slice(&chunk[..n.min(chunk.len())]),
                None => return Ok(None),
            }
        }
    }

    /// What the bytes so far are by their signature alone: a whole signature counts as a
    /// header (of unknown length).
    fn signature(&self) -> Seen {
        let (v1, v2) = self.signatures();
        if self.buf.starts_with(V1_SIGNATURE) || self.buf.starts_with(V2_SIGNATURE) {
            Seen::Header {
                len: 0,
                source: None,
            }
        } else if v1 || v2 {
            Seen::Undecided
        } else {
            Seen::NotProxy
        }
    }

    /// Whether the bytes so far could begin a v1 and a v2 header.
    fn signatures(&self) -> (bool, bool) {
        let starts = |signature: &[u8]| {
            let n = self.buf.len().min(signature.len());
            self.buf[..n] == signature[..n]
        };
        (starts(V1_SIGNATURE), starts(V2_SIGNATURE))
    }

    fn seen(&self) -> Result<Seen, HandshakeError> {
        let buf = &self.buf[..];
        let (v1, v2) = self.signatures();
        if !v1 && !v2 {
            return Ok(Seen::NotProxy);
        }
        let too_long = |len| {
            Err(HandshakeError::ProxyHeader(ProxyHeaderError::TooLong {
                len,
            }))
        };
        // Every branch decides once its limit is reached, so the buffer never holds more than
        // the limit plus one read, whatever the peer sends.
        let complete = if v2 {
            if buf.len() < V2_FIXED_LEN {
                return Ok(Seen::Undecided);
            }
            let len = V2_FIXED_LEN + usize::from(u16::from_be_bytes([buf[14], buf[15]]));
            if len > MAX_PROXY_V2_LEN {
                return too_long(len);
            }
            buf.len() >= len
        } else {
            match buf.iter().position(|b| *b == b'\n') {
                Some(end) if end < MAX_V1_LEN => true,
                Some(end) => return too_long(end + 1),
                None if buf.len() >= MAX_V1_LEN => return too_long(buf.len()),
                None => false,
            }
        };
        if !complete {
            return Ok(Seen::Undecided);
        }
        let config = ParseConfig {
            include_tlvs: false,
            allow_v1: true,
            allow_v2: true,
        };
        match Parsed::parse(buf, config) {
            Ok((header, len)) => Ok(Seen::Header {
                len,
                source: header.proxied_address().map(|address| address.source),
            }),
            Err(_) => Err(HandshakeError::ProxyHeader(ProxyHeaderError::Malformed)),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::io;

    use super::*;

    /// A read of one chunk, then "would block", as a nonblocking socket.
    struct Arrived<'a>(&'a [u8]);

    impl Read for Arrived<'_> {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            if self.0.is_empty() {
                return Err(io::ErrorKind::WouldBlock.into());
            }
            self.0.read(buf)
        }
    }

    fn read_all(
        mode: ProxyProtocol,
        chunks: &[&[u8]],
    ) -> Result<(Option<SocketAddr>, Vec<u8>), HandshakeError> {
        read_from(mode, &TrustedProxies::any(), chunks)
    }

    fn read_from(
        mode: ProxyProtocol,
        trusted: &TrustedProxies,
        chunks: &[&[u8]],
    ) -> Result<(Option<SocketAddr>, Vec<u8>), HandshakeError> {
        let peer = Some(IpAddr::from([192, 0, 2, 1]));
        let mut reader = ProxyHeaderReader::new(mode, trusted, peer);
        for chunk in chunks {
            if let Some(header) = reader.read(&mut Arrived(chunk))? {
                return Ok((header.source, header.received));
            }
        }
        Err(HandshakeError::TimedOut)
    }

    #[test]
    fn a_v1_header_split_byte_by_byte_leaves_the_tls_bytes() {
        let mut input = b"PROXY TCP4 192.0.2.7 127.0.0.1 5555 443\r\n".to_vec();
        input.extend_from_slice(&[22, 3, 1]);
        let chunks: Vec<&[u8]> = input.chunks(1).collect();
        let (source, leftover) = read_all(ProxyProtocol::Required, &chunks).expect("header");
        assert_eq!(source, Some("192.0.2.7:5555".parse().expect("addr")));
        assert!(
            leftover.is_empty() || leftover == [22],
            "at most what followed in that read"
        );
        let (_, leftover) = read_all(ProxyProtocol::Required, &[&input]).expect("header");
        assert_eq!(
            leftover,
            [22, 3, 1],
            "TLS bytes read with the header are kept"
        );
    }

    #[test]
    fn hostile_headers_end_in_typed_errors() {
        let v1_long = [b"PROXY TCP4 ".as_slice(), &[b'9'; 200]].concat();
        let v1_late_line_end = [b"PROXY ".as_slice(), &[b'x'; 200], b"\r\n"].concat();
        let mut v2_bogus = V2_SIGNATURE.to_vec();
        v2_bogus.extend_from_slice(&[0x21, 0x11, 0xff, 0xff]);
        let mut v2_short = V2_SIGNATURE.to_vec();
        v2_short.extend_from_slice(&[0x21, 0x11, 0, 4, 1, 2, 3, 4]);
        for (input, expected) in [
            (&v1_long[..], "too long"),
            (&v1_late_line_end[..], "too long"),
            (&v2_bogus[..], "too long"),
            (&v2_short[..], "malformed"),
            (b"PROXY TCP9 x y 1 2\r\n", "malformed"),
            (b"\x16\x03\x01\x00", "missing"),
        ] {
            let error = read_all(ProxyProtocol::Required, &[input]).expect_err("refused");
            assert!(error.to_string().contains(expected), "{error}");
        }
    }

    #[test]
    fn optional_lets_tls_through_and_still_reads_a_header() {
        let (source, leftover) =
            read_all(ProxyProtocol::Optional, &[&[22, 3, 1, 0, 5]]).expect("tls");
        assert_eq!((source, leftover), (None, vec![22, 3, 1, 0, 5]));
        let (source, _) = read_all(
            ProxyProtocol::Optional,
            &[b"PROXY TCP6 2001:db8::1 ::1 4000 443\r\n"],
        )
        .expect("header");
        assert_eq!(source, Some("[2001:db8::1]:4000".parse().expect("addr")));
    }
}

#[cfg(test)]
mod trust {
    use super::{tests_support::*, *};

    fn untrusted() -> TrustedProxies {
        TrustedProxies::parse(["10.0.0.0/8"]).expect("range")
    }

    #[test]
    fn required_refuses_an_untrusted_peer_before_reading() {
        let mut reader = ProxyHeaderReader::new(
            ProxyProtocol::Required,
            &untrusted(),
            Some([192, 0, 2, 1].into()),
        );
        let mut io = Counting::default();
        let error = reader.read(&mut io).expect_err("refused");
        assert!(matches!(
            error,
            HandshakeError::ProxyHeader(ProxyHeaderError::Untrusted)
        ));
        assert_eq!(io.reads, 0, "nothing read");
    }

    #[test]
    fn optional_lets_an_untrusted_peer_speak_tls_but_not_send_a_header() {
        let peer = Some(IpAddr::from([192, 0, 2, 1]));
        for header in [
            &b"PROXY TCP4 1.2.3.4 5.6.7.8 1 2\r\n"[..],
            b"PROXY ",
            b"\r\n\r\n\0\r\nQUIT\n\x21",
        ] {
            let mut reader = ProxyHeaderReader::new(ProxyProtocol::Optional, &untrusted(), peer);
            let error = reader.read(&mut &header[..]).expect_err("refused");
            assert!(
                matches!(
                    error,
                    HandshakeError::ProxyHeader(ProxyHeaderError::Untrusted)
                ),
                "{error:?}"
            );
        }
        let mut reader = ProxyHeaderReader::new(ProxyProtocol::Optional, &untrusted(), peer);
        let tls = [22u8, 3, 1, 0, 5];
        let header = reader.read(&mut &tls[..]).expect("tls").expect("decided");
        assert_eq!((header.source, header.received), (None, tls.to_vec()));
    }
}

#[cfg(test)]
mod tests_support {
    use std::io;

    /// Counts reads; every read would block.
    #[derive(Default)]
    pub(super) struct Counting {
        pub(super) reads: u32,
    }

    impl io::Read for Counting {
        fn read(&mut self, _: &mut [u8]) -> io::Result<usize> {
            self.reads += 1;
            Err(io::ErrorKind::WouldBlock.into())
        }
    }
}
