//! Sessions that have ended (logout, revocation, their connection closed) and may still be
//! read back as active by a database read that started before the end was stored.
//!
//! The session actor ends a session in memory at once and stores the end afterwards; a read of
//! the sessions table that began before that store can come back with the row still active.
//! Every such read takes a [`LoadTicket`]; a session stays here until its end is stored *and*
//! every read that began before that has finished, so no stale row can revive it. Ends whose
//! store failed stay until a retry succeeds.

use std::collections::{BTreeSet, HashMap};

/// A database read of sessions in progress.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct LoadTicket(u64);

/// Where an ended session's end stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stored {
    /// Not yet (or the store failed): keep it.
    No,
    /// Stored when reads numbered from this one on had not begun.
    Before(u64),
}

/// The ended sessions and the reads in flight.
#[derive(Debug, Default)]
pub struct EndedSessions {
    ended: HashMap<i64, Stored>,
    next_load: u64,
    in_flight: BTreeSet<u64>,
}

impl EndedSessions {
    /// Records that `session_id` has ended (before its end is stored).
    pub fn end(&mut self, session_id: i64) {
        self.ended.insert(session_id, Stored::No);
    }

    /// True when `session_id` has ended in this process.
    pub fn is_ended(&self, session_id: i64) -> bool {
        self.ended.contains_key(&session_id)
    }

    /// The end of these sessions is stored: they can be forgotten once every read that began
    /// before now has finished.
    pub fn stored(&mut self, session_ids: &[i64]) {
        let mark = Stored::Before(self.next_load);
        for id in session_ids {
            if let Some(stored) = self.ended.get_mut(id) {
                *stored = mark;
            }
        }
        self.prune();
    }

    /// Sessions whose end is not stored yet (to retry).
    pub fn unstored(&self) -> Vec<i64> {
        self.ended
            .iter()
            .filter(|(_, s)| **s == Stored::No)
            .map(|(id, _)| *id)
            .collect()
    }

    /// A read of sessions begins.
    pub fn begin_load(&mut self) -> LoadTicket {
        let ticket = self.next_load;
        self.next_load += 1;
        self.in_flight.insert(ticket);
        LoadTicket(ticket)
    }

    /// A read of sessions has finished (whatever it found).
    pub fn finish_load(&mut self, ticket: LoadTicket) {
        self.in_flight.remove(&ticket.0);
        self.prune();
    }

    /// Ended sessions remembered now.
    pub fn len(&self) -> usize {
        self.ended.len()
    }

    /// True when none is remembered.
    pub fn is_empty(&self) -> bool {
        self.ended.is_empty()
    }

    fn prune(&mut self) {
        let oldest_read = self.in_flight.first().copied().unwrap_or(u64::MAX);
        self.ended.retain(|_, stored| match stored {
            Stored::No => true,
            // Reads older than the store may still be in flight: keep.
            Stored::Before(first_safe) => oldest_read < *first_safe,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_end_outlives_every_read_that_began_before_it_was_stored() {
        let mut ended = EndedSessions::default();
        let early = ended.begin_load(); // may return the row still active
        ended.end(7);
        assert!(ended.is_ended(7));
        ended.stored(&[7]);
        let late = ended.begin_load(); // began after the store: sees it inactive
        assert!(ended.is_ended(7), "the early read is still in flight");
        ended.finish_load(late);
        assert!(ended.is_ended(7));
        ended.finish_load(early);
        assert!(!ended.is_ended(7), "no read can revive it any more");
        assert!(ended.is_empty());
    }

    #[test]
    fn an_end_that_was_never_stored_is_kept_and_offered_for_retry() {
        let mut ended = EndedSessions::default();
        ended.end(1);
        ended.end(2);
        ended.stored(&[2]);
        assert_eq!(ended.unstored(), vec![1]);
        assert!(ended.is_ended(1));
        assert!(
            !ended.is_ended(2),
            "stored with no read in flight: forgotten"
        );
        let t = ended.begin_load();
        ended.finish_load(t);
        assert!(ended.is_ended(1));
    }
}
