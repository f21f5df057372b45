//! Which worker client connections are in DataTransfer state on the strength of which session.
//!
//! A worker answers price reads from its cache without asking the master, so when a session
//! ends (logout, revocation, its connection closed, expiry) the master must tell every worker
//! whose connections entered DataTransfer with it. A connection holds at most one such
//! *grant*: the request id of the `switchState` that opened its DataTransfer state.

use std::collections::{BTreeSet, HashMap};

/// One client connection's DataTransfer grant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Grant {
    /// The worker link the connection is on.
    pub link_id: u64,
    /// The worker's id for the client connection.
    pub client_connection: u64,
    /// The `requestId` of the `switchState` forward that opened the state.
    pub grant: u64,
}

/// The grants of live sessions.
#[derive(Debug, Default)]
pub struct DataStates {
    by_session: HashMap<i64, Vec<Grant>>,
    by_connection: HashMap<(u64, u64), i64>,
    expires_at: HashMap<i64, i64>,
    expiry: BTreeSet<(i64, i64)>,
}

impl DataStates {
    /// Records `grant` for `session_id` (which expires at `expires_at`, ms); the connection's
    /// earlier grant, if any, is replaced.
    pub fn open(&mut self, session_id: i64, expires_at: i64, grant: Grant) {
        self.close(grant.link_id, grant.client_connection);
        self.by_connection
            .insert((grant.link_id, grant.client_connection), session_id);
        self.by_session.entry(session_id).or_default().push(grant);
        if self.expires_at.insert(session_id, expires_at).is_none() {
            self.expiry.insert((expires_at, session_id));
        }
    }

    /// The connection left DataTransfer state or closed.
    pub fn close(&mut self, link_id: u64, client_connection: u64) {
        let Some(session_id) = self.by_connection.remove(&(link_id, client_connection)) else {
            return;
        };
        if let Some(grants) = self.by_session.get_mut(&session_id) {
            grants.retain(|g| (g.link_id, g.client_connection) != (link_id, client_connection));
            if grants.is_empty() {
                self.forget(session_id);
            }
        }
    }

    /// A worker link closed: its connections' grants are gone with it.
    pub fn close_link(&mut self, link_id: u64) {
        let connections: Vec<(u64, u64)> = self
            .by_connection
            .keys()
            .filter(|(link, _)| *link == link_id)
            .copied()
            .collect();
        for (link, connection) in connections {
            self.close(link, connection);
        }
    }

    /// The session ended: its grants, to tell their workers.
    pub fn take_session(&mut self, session_id: i64) -> Vec<Grant> {
        let grants = self.by_session.remove(&session_id).unwrap_or_default();
        for grant in &grants {
            self.by_connection
                .remove(&(grant.link_id, grant.client_connection));
        }
        if let Some(at) = self.expires_at.remove(&session_id) {
            self.expiry.remove(&(at, session_id));
        }
        grants
    }

    /// Takes the grants of every session that has expired by `now_ms`.
    pub fn take_expired(&mut self, now_ms: i64) -> Vec<Grant> {
        let expired: Vec<i64> = self
            .expiry
            .range(..(now_ms.saturating_add(1), i64::MIN))
            .map(|(_, id)| *id)
            .collect();
        expired
            .into_iter()
            .flat_map(|id| self.take_session(id))
            .collect()
    }

    /// Grants held now.
    pub fn len(&self) -> usize {
        self.by_connection.len()
    }

    /// True when no connection holds a grant.
    pub fn is_empty(&self) -> bool {
        self.by_connection.is_empty()
    }

    fn forget(&mut self, session_id: i64) {
        self.by_session.remove(&session_id);
        if let Some(at) = self.expires_at.remove(&session_id) {
            self.expiry.remove(&(at, session_id));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grant(link_id: u64, client_connection: u64, grant: u64) -> Grant {
        Grant {
            link_id,
            client_connection,
            grant,
        }
    }

    #[test]
    fn grants_follow_their_connections_and_sessions() {
        let mut states = DataStates::default();
        states.open(1, 1_000, grant(10, 1, 100));
        states.open(1, 1_000, grant(11, 7, 5));
        states.open(2, 5_000, grant(10, 2, 101));
        // A connection switching again with another session moves to it.
        states.open(2, 5_000, grant(10, 1, 102));
        assert_eq!(states.take_session(1), vec![grant(11, 7, 5)]);
        assert_eq!(states.len(), 2);
        // A closed link drops its connections' grants.
        states.close_link(10);
        assert!(states.is_empty());
        assert!(states.take_session(2).is_empty());
    }

    #[test]
    fn expiry_takes_exactly_the_expired_sessions() {
        let mut states = DataStates::default();
        states.open(1, 1_000, grant(1, 1, 1));
        states.open(2, 2_000, grant(1, 2, 2));
        assert!(states.take_expired(999).is_empty());
        assert_eq!(states.take_expired(1_000), vec![grant(1, 1, 1)]);
        states.close(1, 2);
        assert!(
            states.take_expired(10_000).is_empty(),
            "closed: nothing left"
        );
    }
}
