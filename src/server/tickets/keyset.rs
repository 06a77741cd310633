//! The ticket key set a fleet keeps in its storage: its text form, and rotating it.

use std::fmt::Write as _;

use super::{hex_key, TICKET_KEY_LEN};

/// The first line of a stored key set.
pub(super) const KEY_SET_HEADER: &str = "tokio-tls-handshake ticket key set v1";

/// The fleet's ticket keys at one moment: `current` seals; it, `next` and `previous` open.
/// `next` is in storage one rotation before it seals, so that every instance can open its
/// tickets by the time any instance seals with it.
#[derive(Clone, PartialEq, Eq)]
pub(super) struct KeySet {
    /// When `current` began to seal, in seconds since the Unix epoch.
    pub(super) rotated: u64,
    pub(super) next: [u8; TICKET_KEY_LEN],
    pub(super) current: [u8; TICKET_KEY_LEN],
    /// Newest first.
    pub(super) previous: Vec<[u8; TICKET_KEY_LEN]>,
}

impl KeySet {
    /// A first set: `current` seals from `now`, `next` waits.
    pub(super) fn first(
        now: u64,
        current: [u8; TICKET_KEY_LEN],
        next: [u8; TICKET_KEY_LEN],
    ) -> Self {
        Self {
            rotated: now,
            next,
            current,
            previous: Vec::new(),
        }
    }

    /// The next set: `next` seals from `now`, `current` joins the previous keys (at most
    /// `keep` of them), and `fresh` waits as the next.
    pub(super) fn rotated(&self, now: u64, fresh: [u8; TICKET_KEY_LEN], keep: usize) -> Self {
        let mut previous = Vec::with_capacity(keep);
        previous.push(self.current);
        previous.extend(self.previous.iter().copied());
        previous.truncate(keep);
        Self {
            rotated: now,
            next: fresh,
            current: self.next,
            previous,
        }
    }

    /// Whether it is due for rotation at `now`, every `every` seconds.
    pub(super) fn is_due(&self, now: u64, every: u64) -> bool {
        now >= self.rotated.saturating_add(every)
    }

    /// The keys in the order a ticketer takes them: the sealing key first, then every key
    /// that opens.
    pub(super) fn keys(&self) -> Vec<[u8; TICKET_KEY_LEN]> {
        let mut keys = vec![self.current, self.next];
        keys.extend(self.previous.iter().copied());
        keys
    }

    pub(super) fn to_text(&self) -> String {
        let mut text = format!("{KEY_SET_HEADER}\nrotated {}\n", self.rotated);
        let mut line = |label: &str, key: &[u8; TICKET_KEY_LEN]| {
            text.push_str(label);
            text.push(' ');
            for byte in key {
                let _ = write!(text, "{byte:02x}");
            }
            text.push('\n');
        };
        line("next", &self.next);
        line("current", &self.current);
        for key in &self.previous {
            line("previous", key);
        }
        text
    }

    /// Parses a stored set.
    ///
    /// # Errors
    ///
    /// What is wrong with it, for [`StorageError::Corrupt`](crate::server::storage::StorageError::Corrupt).
    pub(super) fn parse(bytes: &[u8]) -> Result<Self, &'static str> {
        let text = std::str::from_utf8(bytes).map_err(|_| "not UTF-8")?;
        let mut lines = text.lines();
        if lines.next() != Some(KEY_SET_HEADER) {
            return Err("the first line is not the key set header");
        }
        let (mut rotated, mut next, mut current) = (None, None, None);
        let mut previous = Vec::new();
        for line in lines {
            let (label, value) = line.split_once(' ').ok_or("a line without a value")?;
            let key = || hex_key(value).ok_or("a key is not 64 hex digits");
            match label {
                "rotated" => rotated = Some(value.parse().map_err(|_| "a bad rotation time")?),
                "next" if next.is_none() => next = Some(key()?),
                "current" if current.is_none() => current = Some(key()?),
                "previous" if previous.len() < MAX_PREVIOUS => previous.push(key()?),
                _ => return Err("an unknown, repeated or extra line"),
            }
        }
        Ok(Self {
            rotated: rotated.ok_or("no rotation time")?,
            next: next.ok_or("no next key")?,
            current: current.ok_or("no current key")?,
            previous,
        })
    }
}

/// The most previous keys a stored set may hold: a bound on what a hostile store can make an
/// instance hold and try per ticket.
pub(super) const MAX_PREVIOUS: usize = 64;

#[cfg(test)]
mod tests {
    use super::*;

    fn key(n: u8) -> [u8; TICKET_KEY_LEN] {
        [n; TICKET_KEY_LEN]
    }

    #[test]
    fn a_set_rotates_next_into_current_and_keeps_the_previous() {
        let set = KeySet::first(100, key(1), key(2));
        assert!(!set.is_due(150, 60));
        assert!(set.is_due(160, 60));
        let once = set.rotated(160, key(3), 2);
        assert_eq!(
            (once.current, once.next, once.previous.clone()),
            (key(2), key(3), vec![key(1)])
        );
        let thrice = once.rotated(220, key(4), 2).rotated(280, key(5), 2);
        assert_eq!(thrice.previous, vec![key(3), key(2)]);
        assert_eq!(thrice.keys()[..2], [key(4), key(5)]);
    }

    #[test]
    fn a_set_reads_back_and_garbage_is_refused() {
        let set = KeySet::first(100, key(1), key(2)).rotated(200, key(3), 4);
        assert!(KeySet::parse(set.to_text().as_bytes()) == Ok(set.clone()));
        let text = set.to_text();
        for bad in [
            &b""[..],
            b"\xff\xfe",
            b"tokio-tls-handshake ticket keys v1\n",
            &text.as_bytes()[..text.len() - 10],
            format!("{text}current {}\n", "00".repeat(32)).as_bytes(),
            text.replace("rotated 200", "rotated soon").as_bytes(),
            format!("{text}unknown x\n").as_bytes(),
        ] {
            assert!(
                KeySet::parse(bad).is_err(),
                "{:?}",
                String::from_utf8_lossy(bad)
            );
        }
        let many = format!(
            "{text}{}",
            format!("previous {}\n", "ab".repeat(32)).repeat(70)
        );
        assert!(KeySet::parse(many.as_bytes()).is_err());
    }
}
