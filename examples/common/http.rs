//! hyper's server builder as a server facing the Internet needs it: with a timer, so that a
//! client that finished its TLS handshake quickly cannot then hold the connection by sending
//! its request headers slowly (a slowloris one layer up).

use std::time::Duration;

use hyper_util::{
    rt::{TokioExecutor, TokioTimer},
    server::conn::auto,
};

/// How long a client has to send a request's headers, by default.
pub(crate) const DEFAULT_HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);

/// HTTP/1.1 and HTTP/2 (by ALPN): HTTP/1.1 headers must arrive within `header_read_timeout`;
/// HTTP/2 connections are pinged when idle and closed when the pings go unanswered.
pub(crate) fn builder(header_read_timeout: Duration) -> auto::Builder<TokioExecutor> {
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(header_read_timeout);
    builder
        .http2()
        .timer(TokioTimer::new())
        .keep_alive_interval(Some(Duration::from_secs(30)))
        .keep_alive_timeout(Duration::from_secs(10));
    builder
}
