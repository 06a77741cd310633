//! [`SendingAlert`]: a failed handshake whose fatal alert is still going out, for every future
//! that fails with one (the handshake future, and the ClientHello reader's).

use std::task::{Context, Poll};

use tokio::io::AsyncWrite;

use super::{adapter::PollIo, deadline::Deadline};
use crate::{
    engine::alert::OutgoingAlert, engine::HandshakeReport, error::HandshakeError, io::Failed,
};

/// A failed handshake whose fatal alert is still going out: best effort, bounded by the
/// deadline, and never replacing the error. Used by every future that fails with an alert.
#[derive(Debug)]
pub(crate) struct SendingAlert<IO> {
    pub(super) io: IO,
    pub(super) alert: OutgoingAlert,
    pub(super) error: HandshakeError,
    pub(super) report: Box<HandshakeReport>,
}

impl<IO> SendingAlert<IO> {
    pub(crate) fn io(&self) -> &IO {
        &self.io
    }

    pub(crate) fn io_mut(&mut self) -> &mut IO {
        &mut self.io
    }
}

impl<IO: AsyncWrite + Unpin> SendingAlert<IO> {
    pub(crate) fn new(
        io: IO,
        alert: OutgoingAlert,
        error: HandshakeError,
        report: Box<HandshakeReport>,
    ) -> Self {
        Self {
            io,
            alert,
            error,
            report,
        }
    }

    /// `Ready` once the alert is out (recorded in the error's `alert_sent`), the transport
    /// failed (logged), or the deadline passed; without a deadline, after one attempt.
    pub(crate) fn poll_sent(&mut self, cx: &mut Context<'_>, deadline: &mut Deadline) -> Poll<()> {
        let mut io = PollIo::new(&mut self.io, cx);
        match self.alert.send(&mut io, Some(&mut self.error)) {
            Ok(false) if deadline.is_set() && !deadline.poll_expired(cx) => Poll::Pending,
            Ok(_) => Poll::Ready(()),
            Err(e) => {
                crate::trace::alert_not_sent(&e);
                Poll::Ready(())
            }
        }
    }

    pub(crate) fn into_failed(self) -> Failed<IO> {
        Failed {
            error: self.error,
            io: self.io,
            report: self.report,
        }
    }
}
