//! The one deadline of a handshake: an instant, and the Tokio timer that wakes the task when
//! it passes. The timer is boxed and made on first use, so the futures holding it are `Unpin`
//! and a handshake that completes without ever waiting allocates none.

use std::{
    future::Future,
    pin::Pin,
    task::{Context, Poll},
};

use tokio::time::{Instant, Sleep};

#[derive(Debug, Default)]
pub(crate) struct Deadline {
    at: Option<Instant>,
    timer: Option<Pin<Box<Sleep>>>,
}

impl Deadline {
    pub(crate) fn new(at: Option<Instant>) -> Self {
        Self { at, timer: None }
    }

    /// When it passes, if there is one.
    pub(crate) fn instant(&self) -> Option<Instant> {
        self.at
    }

    /// Whether there is one.
    pub(crate) fn is_set(&self) -> bool {
        self.at.is_some()
    }

    /// `true` once the deadline has passed; otherwise the task is woken when it does. Always
    /// `false` without a deadline.
    ///
    /// # Panics
    ///
    /// Outside a Tokio runtime with the time driver enabled, as `tokio::time::sleep` does.
    pub(crate) fn poll_expired(&mut self, cx: &mut Context<'_>) -> bool {
        let Some(at) = self.at else {
            return false;
        };
        let timer = self
            .timer
            .get_or_insert_with(|| Box::pin(tokio::time::sleep_until(at)));
        matches!(timer.as_mut().poll(cx), Poll::Ready(()))
    }
}
