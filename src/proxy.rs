//! The `proxy-protocol` feature: a PROXY protocol header (HAProxy's v1 text or v2 binary)
//! read before the TLS bytes, parsed by the `proxy-header` crate. The read is bounded (v1: 107
//! bytes; v2: [`MAX_PROXY_V2_LEN`]), happens under the handshake's one deadline, and whatever
//! arrives after the header in the same read goes to TLS untouched.

use std::{io::Read, net::SocketAddr};

use proxy_header::{ParseConfig, ProxyHeader};

use crate::{wire::read_once, HandshakeCost, HandshakeError, ProxyHeaderError};

/// How a server treats a PROXY protocol header before the TLS bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ProxyProtocol {
    /// Every connection must begin with a header: behind a load balancer that always sends
    /// one. A connection without one fails with [`ProxyHeaderError::Missing`].
    Required,
    /// A connection may begin with a header; one that does not goes straight to TLS (a
    /// plaintext peer is still `NotTls`). Only for listeners that clients cannot reach
    /// directly, since a client could then claim any address.
    Optional,
}

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

/// Reads the header, as far as the transport allows.
#[derive(Debug)]
pub(crate) struct ProxyReader {
    mode: ProxyProtocol,
    /// Bytes read so far. Never more than the longest header plus one read.
    buf: Vec<u8>,
}

/// What the header reader achieved.
#[derive(Debug)]
pub(crate) enum ProxyRead {
    /// The header is read (or, optional, absent): the client's address if it carried one,
    /// and the bytes read past it, which belong to TLS.
    Done {
        source: Option<SocketAddr>,
        leftover: Vec<u8>,
    },
    /// Nothing more to read now.
    WouldBlock,
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

impl ProxyReader {
    pub(crate) fn new(mode: ProxyProtocol) -> Self {
        Self {
            mode,
            buf: Vec::new(),
        }
    }

    /// Bytes read so far.
    pub(crate) fn received(&self) -> u64 {
        self.buf.len() as u64
    }

    /// Reads until the header is complete, absent, or wrong.
    pub(crate) fn read<IO: Read + ?Sized>(
        &mut self,
        io: &mut IO,
        cost: &mut HandshakeCost,
    ) -> Result<ProxyRead, HandshakeError> {
        loop {
            match self.seen()? {
                Seen::Header { len, source } => {
                    let leftover = self.buf.split_off(len);
                    return Ok(ProxyRead::Done { source, leftover });
                }
                Seen::NotProxy if self.mode == ProxyProtocol::Optional => {
                    let leftover = std::mem::take(&mut self.buf);
                    return Ok(ProxyRead::Done {
                        source: None,
                        leftover,
                    });
                }
                Seen::NotProxy => {
                    return Err(HandshakeError::ProxyHeader(ProxyHeaderError::Missing))
                }
                Seen::Undecided => {}
            }
            let mut chunk = [0u8; 1024];
            cost.reads += 1;
            match read_once(|| io.read(&mut chunk)).map_err(HandshakeError::Transport)? {
                Some(0) => {
                    return Err(HandshakeError::PeerClosed {
                        close_notify: false,
                        received: self.received(),
                    })
                }
                Some(n) => self.buf.extend_from_slice(&chunk[..n.min(chunk.len())]),
                None => return Ok(ProxyRead::WouldBlock),
            }
        }
    }

    fn seen(&self) -> Result<Seen, HandshakeError> {
        let buf = &self.buf[..];
        let starts = |signature: &[u8]| {
            let n = buf.len().min(signature.len());
            buf[..n] == signature[..n]
        };
        let (v1, v2) = (starts(V1_SIGNATURE), starts(V2_SIGNATURE));
        if !v1 && !v2 {
            return Ok(Seen::NotProxy);
        }
        let complete = if v2 {
            if buf.len() < V2_FIXED_LEN {
                return Ok(Seen::Undecided);
            }
            let len = V2_FIXED_LEN + usize::from(u16::from_be_bytes([buf[14], buf[15]]));
            if len > MAX_PROXY_V2_LEN {
                return Err(HandshakeError::ProxyHeader(ProxyHeaderError::TooLong {
                    len,
                }));
            }
            buf.len() >= len
        } else {
            // Every branch decides once the limit is reached, so the buffer never holds more
            // than the limit plus one read, whatever the peer sends.
            match buf.iter().position(|b| *b == b'\n') {
                Some(end) if end < MAX_V1_LEN => true,
                Some(end) => {
                    return Err(HandshakeError::ProxyHeader(ProxyHeaderError::TooLong {
                        len: end + 1,
                    }))
                }
                None if buf.len() >= MAX_V1_LEN => {
                    let len = buf.len();
                    return Err(HandshakeError::ProxyHeader(ProxyHeaderError::TooLong {
                        len,
                    }));
                }
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
        match ProxyHeader::parse(buf, config) {
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
        let mut reader = ProxyReader::new(mode);
        let mut cost = HandshakeCost::default();
        for chunk in chunks {
            let read = reader.read(&mut Arrived(chunk), &mut cost)?;
            if let ProxyRead::Done { source, leftover } = read {
                return Ok((source, leftover));
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
