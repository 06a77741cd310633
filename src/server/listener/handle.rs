//! [`ListenerHandle`]: a cloneable view of a running [`TlsListener`](crate::listener::TlsListener), and
//! the graceful drain it can start.

use std::{fmt, net::SocketAddr, sync::Arc, time::Duration};

use tokio::sync::watch;

use super::state::{ListenerState, ListenerStats};

/// How the listener tells its handles it has finished.
pub(crate) type FinishedSignal<A> = Arc<watch::Sender<Option<DrainReport<A>>>>;

/// A handle on a [`TlsListener`](crate::listener::TlsListener), for other tasks: a signal handler, a
/// metrics exporter. Cheap to clone; it does not keep the listener alive.
///
/// # Examples
///
/// Draining on Ctrl-C while the accept loop runs:
///
/// ```no_run
/// # async fn run(mut listener: tokio_tls_handshake::listener::TlsListener<tokio::net::TcpListener>) {
/// use std::time::Duration;
///
/// let handle = listener.handle();
/// tokio::spawn({
///     let handle = handle.clone();
///     async move {
///         let _ = tokio::signal::ctrl_c().await;
///         handle.drain(Duration::from_secs(5));
///     }
/// });
/// // The loop ends once the drain is done.
/// while let Some(next) = listener.accept().await {
///     if let Ok((tls, _peer)) = next {
///         tokio::spawn(async move { /* serve tls */ });
///     }
/// }
/// let report = handle.drained().await;
/// eprintln!("{report}");
/// # }
/// ```
pub struct ListenerHandle<A = SocketAddr> {
    state: Arc<ListenerState>,
    finished_signal: FinishedSignal<A>,
}

impl<A> Clone for ListenerHandle<A> {
    fn clone(&self) -> Self {
        Self {
            state: self.state.clone(),
            finished_signal: self.finished_signal.clone(),
        }
    }
}

impl<A> fmt::Debug for ListenerHandle<A> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ListenerHandle")
            .field("in_flight", &self.in_flight())
            .field("stats", &self.stats())
            .finish()
    }
}

impl<A> ListenerHandle<A> {
    pub(crate) fn new(state: Arc<ListenerState>, finished_signal: FinishedSignal<A>) -> Self {
        Self {
            state,
            finished_signal,
        }
    }

    /// What the listener has done so far.
    pub fn stats(&self) -> ListenerStats {
        self.state.stats()
    }

    /// Handshakes running now.
    pub fn in_flight(&self) -> usize {
        self.state.live()
    }

    /// Starts a graceful drain: the listener stops accepting at once (a `TcpListener` is
    /// closed, so new connections are refused), lets the handshakes in flight finish for up
    /// to `grace`, then stops those still running (reported as [`ListenError::Drained`]
    /// and in [`DrainReport::cut_off`]). The listener's stream then ends. Later calls do
    /// nothing.
    ///
    /// The drain proceeds as the listener is polled, so keep the accept loop running until
    /// `accept` returns `None`.
    ///
    /// [`ListenError::Drained`]: crate::listener::ListenError::Drained
    pub fn drain(&self, grace: Duration) {
        self.state.request_drain(grace);
    }

    /// Whether the listener has finished.
    pub fn is_finished(&self) -> bool {
        self.finished_signal.borrow().is_some()
    }
}

impl<A: Clone> ListenerHandle<A> {
    /// Waits until the listener has finished: drained, its incoming connections ended, or
    /// dropped. Returns at once if it already has.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe.
    pub async fn drained(&self) -> DrainReport<A> {
        let mut done = self.finished_signal.subscribe();
        // This handle keeps the sender alive: waiting cannot fail.
        let report = match done.wait_for(Option::is_some).await {
            Ok(report) => report.clone(),
            Err(_) => None,
        };
        report.unwrap_or_default()
    }
}

/// How a listener finished.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct DrainReport<A = SocketAddr> {
    /// Handshakes that ended (established or failed) after the drain began, within the grace
    /// period.
    pub completed: u64,
    /// Peers whose handshakes were still running when the grace period ended (or when the
    /// listener was dropped): stopped, their transports closed.
    pub cut_off: Vec<A>,
}

impl<A> Default for DrainReport<A> {
    fn default() -> Self {
        Self {
            completed: 0,
            cut_off: Vec::new(),
        }
    }
}

impl<A> fmt::Display for DrainReport<A> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "listener drained: {} handshakes completed during the grace period, {} cut off",
            self.completed,
            self.cut_off.len()
        )
    }
}
