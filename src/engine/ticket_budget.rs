//! How many session tickets one flight from a client may make the server try to open.
//!
//! rustls tries every PSK identity a ClientHello offers until one opens, and a ClientHello
//! of 64 KiB holds hundreds. Opening a ticket costs a key derivation and an AEAD open, so a
//! forged ClientHello could cost many full handshakes. While the engine has rustls process
//! what a client sent, at most [`PER_FLIGHT`] identities reach a ticketer's cryptography (Go's
//! crypto/tls likewise looks at the first 5); the ticketer asks with [`take_one`]. Outside
//! such a flight (a ticketer in another crate's handshake), nothing is bounded here.

use std::cell::Cell;

/// Ticket openings one flight may cause.
pub(crate) const PER_FLIGHT: u8 = 5;

thread_local! {
    /// Openings left in the flight being processed on this thread; `None` outside one.
    static LEFT: Cell<Option<u8>> = const { Cell::new(None) };
}

/// Runs `process` (rustls processing what a peer sent) with at most [`PER_FLIGHT`] ticket
/// openings allowed on this thread, restoring what was there before, even on a panic.
pub(crate) fn bounded<T>(process: impl FnOnce() -> T) -> T {
    struct Restore(Option<u8>);
    impl Drop for Restore {
        fn drop(&mut self) {
            LEFT.with(|left| left.set(self.0));
        }
    }
    let _restore = Restore(LEFT.with(|left| left.replace(Some(PER_FLIGHT))));
    process()
}

/// Whether one more ticket may be opened now; counts it if so.
pub(crate) fn take_one() -> bool {
    LEFT.with(|left| match left.get() {
        None => true,
        Some(0) => false,
        Some(n) => {
            left.set(Some(n - 1));
            true
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_flight_gets_its_budget_and_nothing_else_is_bounded() {
        assert!((0..100).all(|_| take_one()), "outside a flight");
        let taken = bounded(|| (0..10).filter(|_| take_one()).count());
        assert_eq!(taken, usize::from(PER_FLIGHT));
        assert!(take_one(), "unbounded again after the flight");
        let nested = bounded(|| {
            take_one();
            bounded(|| (0..10).filter(|_| take_one()).count())
        });
        assert_eq!(nested, usize::from(PER_FLIGHT));
    }
}
