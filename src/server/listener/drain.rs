//! The graceful drain: stop accepting, let the handshakes in flight finish for a grace period,
//! cut off the rest, and tell the handles when the listener is done.

use std::{future::Future, pin::Pin, task::Context};

use tokio::time::Sleep;

use super::{DrainReport, Incoming, TlsListener};

/// A drain in progress.
#[derive(Debug)]
pub(super) struct Drain<A> {
    pub(super) grace: Pin<Box<Sleep>>,
    pub(super) cut: bool,
    pub(super) report: DrainReport<A>,
}

impl<I: Incoming, S> TlsListener<I, S> {
    /// Starts a drain if one was asked for; cuts off the handshakes still running once its
    /// grace period is over.
    pub(super) fn poll_drain(&mut self, cx: &mut Context<'_>) {
        if self.core.drain.is_none() {
            let Some(grace) = self.core.state.take_drain_request() else {
                return;
            };
            // Closing the listening socket refuses new connections; one accepted but not yet
            // started is closed too.
            self.core.incoming = None;
            self.core.waiting = None;
            crate::measure::listener_drain_begun();
            self.core.drain = Some(Drain {
                grace: Box::pin(tokio::time::sleep(grace)),
                cut: false,
                report: DrainReport::default(),
            });
        }
        let core = &mut self.core;
        if let Some(drain) = &mut core.drain {
            if !drain.cut && drain.grace.as_mut().poll(cx).is_ready() {
                drain.cut = true;
                drain.report.cut_off = core.registry.cut_all();
                crate::measure::listener_cut_off(drain.report.cut_off.len());
            }
        }
    }

    /// The listener has nothing more to yield: tell the handles.
    pub(super) fn finish(&mut self) {
        self.core.finished = true;
        let report = self.core.drain.take().map(|d| d.report).unwrap_or_default();
        self.core.finished_signal.send_replace(Some(report));
    }
}
