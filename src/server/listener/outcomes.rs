//! What the listener yields: a finished handshake task, turned into an established stream or
//! a [`ListenError`], with the same kind of peer address for every item.

use std::net::SocketAddr;

use rustls::ServerConnection;
use tokio::task::{Id, JoinError};

use super::{registry::TaskStatus, task::Outcome, Incoming, ListenError, PeerAddr, TlsListener};
use crate::io::{Failed, TlsStream};

/// What one finished handshake yields: the stream and the peer's address.
pub type Established<IO, A = SocketAddr> = (TlsStream<IO, ServerConnection>, A);

/// A handshake task as the `JoinSet` gives it back: its id and outcome, or why it has none.
pub(super) type Joined<IO, A> = Result<(Id, Outcome<IO, A>), JoinError>;

/// What the listener yields: an established stream, or why there is none this time.
pub(super) type Item<IO, A> = Result<Established<IO, A>, ListenError<IO, A>>;

impl<I: Incoming, S> TlsListener<I, S> {
    /// Turns a finished task into what the listener yields. The peer is the same kind of
    /// address for every item: the client's, when a PROXY protocol header gave one the peer
    /// type can hold (also for a handshake evicted, cut off or panicked after its header was
    /// read), else the transport's. `None` only for an aborted task the registry does not know,
    /// which cannot happen (every task is booked as it is spawned) and returned nothing.
    pub(super) fn item_from(
        &mut self,
        joined: Joined<I::Io, I::Addr>,
    ) -> Option<Item<I::Io, I::Addr>> {
        let (id, outcome) = match joined {
            Ok((id, outcome)) => (id, Ok(outcome)),
            Err(error) => (error.id(), Err(error)),
        };
        let entry = self.core.registry.remove(id);
        let client = |proxied: Option<std::net::SocketAddr>, transport: I::Addr| {
            proxied.and_then(I::Addr::from_proxied).unwrap_or(transport)
        };
        let item = match outcome {
            // A finished task hands its peer back with its result: nothing depends on the registry.
            Ok((Ok(tls), transport)) => {
                let peer = client(tls.forwarded_for(), transport);
                Ok((tls, peer))
            }
            Ok((Err(Failed { error, io, report }), transport)) => Err(ListenError::Handshake {
                peer: client(report.forwarded_for, transport),
                error,
                io,
                report,
            }),
            Err(join_error) => {
                let Some(entry) = &entry else {
                    debug_assert!(false, "a handshake task missing from the registry: {id}");
                    crate::trace::unbooked_task(&join_error);
                    self.core.state.count_failed(false);
                    return None;
                };
                let peer = entry.client();
                let error = if join_error.is_panic() {
                    ListenError::Panicked { peer }
                } else if entry.status == TaskStatus::Evicted {
                    ListenError::Evicted { peer }
                } else {
                    ListenError::Drained { peer }
                };
                // The task ended without its handshake's result: the listener reports it.
                crate::measure::handshake_ended_by_listener(
                    error.outcome(),
                    entry.handshake_time(),
                );
                Err(error)
            }
        };
        match &item {
            Ok(_) => self.core.state.count_established(),
            Err(ListenError::Evicted { .. }) => self.core.state.count_failed(true),
            Err(
                ListenError::Handshake { .. }
                | ListenError::Drained { .. }
                | ListenError::Panicked { .. },
            ) => self.core.state.count_failed(false),
            Err(ListenError::Accept(_)) => {}
        }
        if let Some(drain) = &mut self.core.drain {
            if entry.is_none_or(|entry| entry.status != TaskStatus::CutOff) {
                drain.report.completed += 1;
            }
        }
        Some(item)
    }
}
