//! The error type itself: every variant formats, converts and repeats as documented.

use std::{error::Error as StdError, io};

use rustls::AlertDescription;

use super::*;
use crate::io::Failed;

fn every_variant() -> Vec<HandshakeError> {
    vec![
        HandshakeError::PeerClosed {
            close_notify: false,
            received: 0,
        },
        HandshakeError::PeerClosed {
            close_notify: true,
            received: 517,
        },
        HandshakeError::Protocol {
            error: rustls::Error::AlertReceived(AlertDescription::UnknownCA),
            alert_sent: None,
            alert_received: Some(AlertDescription::UnknownCA),
        },
        HandshakeError::Protocol {
            error: rustls::Error::General("bad".into()),
            alert_sent: Some(AlertDescription::HandshakeFailure),
            alert_received: None,
        },
        HandshakeError::transport(io::ErrorKind::ConnectionReset.into()),
        HandshakeError::TimedOut,
        HandshakeError::NotTls {
            prefix: b"GET / HTTP/1.1\r\n".to_vec(),
        },
        HandshakeError::Config(rustls::Error::General("no versions".into())),
        HandshakeError::Refused {
            server_name: Some("unknown.example".into()),
            alert_sent: Some(AlertDescription::UnrecognisedName),
        },
        HandshakeError::Answered { by: "challenge" },
        #[cfg(feature = "proxy-protocol")]
        HandshakeError::ProxyHeader(ProxyHeaderError::TooLong { len: 5000 }),
        #[cfg(feature = "proxy-protocol")]
        HandshakeError::ProxyHeader(ProxyHeaderError::Untrusted),
    ]
}

#[test]
fn is_send_sync_static() {
    fn check<T: Send + Sync + 'static>() {}
    check::<HandshakeError>();
    check::<Failed<std::net::TcpStream>>();
}

#[test]
fn stays_small() {
    let size = std::mem::size_of::<HandshakeError>();
    // rustls::Error is 48 bytes; the alerts and the tag add the rest. A guard against growth.
    assert!(size <= 72, "HandshakeError is {size} bytes");
}

#[test]
fn every_variant_formats_lowercase_without_period() {
    for e in every_variant() {
        let text = e.to_string();
        assert!(!text.is_empty());
        assert!(!text.ends_with('.'), "{text}");
        assert!(text.starts_with(char::is_lowercase), "{text}");
        assert!(!format!("{e:?}").is_empty());
    }
}

#[test]
fn io_error_kinds_fit_and_keep_the_source() {
    let kinds: Vec<io::ErrorKind> = every_variant()
        .into_iter()
        .map(|e| io::Error::from(e).kind())
        .collect();
    use io::ErrorKind::*;
    let mut expected = vec![
        UnexpectedEof,
        UnexpectedEof,
        InvalidData,
        InvalidData,
        ConnectionReset,
        TimedOut,
        InvalidData,
        InvalidInput,
        ConnectionRefused,
        ConnectionAborted,
    ];
    // The PROXY header's variant exists only with its feature.
    if cfg!(feature = "proxy-protocol") {
        expected.extend([InvalidData, InvalidData]);
    }
    assert_eq!(kinds, expected);
    let io_err = io::Error::from(HandshakeError::TimedOut);
    let inner = io_err
        .get_ref()
        .and_then(|e| e.downcast_ref::<HandshakeError>());
    assert!(matches!(inner, Some(HandshakeError::TimedOut)));
}

#[test]
fn a_repeated_error_reads_the_same() {
    for e in every_variant() {
        let again = e.clone();
        assert_eq!(again.to_string(), e.to_string());
        assert_eq!(again.kind(), e.kind());
    }
}

#[test]
fn accessors_and_display_name_alerts() {
    let e = &every_variant()[3];
    assert_eq!(e.alert_sent(), Some(AlertDescription::HandshakeFailure));
    assert!(e.to_string().contains("HandshakeFailure"));
    assert!(every_variant()[0].is_silent_close());
    assert!(!every_variant()[1].is_silent_close());
    assert!(e.source().is_some());
}
