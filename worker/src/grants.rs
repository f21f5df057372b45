//! Which client connections may still use their DataTransfer state.
//!
//! A connection enters DataTransfer with a session (`switchState`), and from then on the
//! worker answers its price reads from the cache without asking the master. So the master
//! tells the worker (`dataStateEnded`) when such a session ends, and the worker refuses that
//! connection's data requests from then on. Each DataTransfer state is identified by its
//! *grant*: the request id of the `switchState` forward that opened it.
//!
//! What the master knows is tied to one link: when the link is re-admitted (a new *epoch*),
//! every connection's grant is checked with the master again before it is used.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use papertrader_protocol::{DataStateEnd, ReasonCode};

/// One connection's DataTransfer grant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grant {
    /// The session that opened the state (kept to check it with the master again).
    pub token: String,
    /// The request id of the `switchState` forward that opened it.
    pub grant: u64,
    /// The link epoch in which the master granted it.
    pub epoch: u64,
}

#[derive(Default)]
struct Inner {
    epoch: AtomicU64,
    ended: Mutex<HashMap<u64, (u64, ReasonCode)>>,
}

/// Shared between the master link (which learns of ends) and the client connections.
#[derive(Clone, Default)]
pub struct DataGrants {
    inner: Arc<Inner>,
}

impl DataGrants {
    fn ended(&self) -> std::sync::MutexGuard<'_, HashMap<u64, (u64, ReasonCode)>> {
        self.inner
            .ended
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// The current link epoch (0 before the first admission).
    pub fn epoch(&self) -> u64 {
        self.inner.epoch.load(Ordering::SeqCst)
    }

    /// The link was (re)admitted: grants of earlier epochs must be checked again.
    pub fn new_epoch(&self) {
        let mut ended = self.ended();
        ended.clear();
        self.inner.epoch.fetch_add(1, Ordering::SeqCst);
    }

    /// The master says these DataTransfer states ended.
    pub fn end(&self, ends: &[DataStateEnd]) {
        let mut ended = self.ended();
        for end in ends {
            let entry = ended
                .entry(end.client_connection)
                .or_insert((end.grant, end.reason));
            if end.grant >= entry.0 {
                *entry = (end.grant, end.reason);
            }
        }
    }

    /// Whether `grant` of `client_connection` may be used now.
    pub fn standing(&self, client_connection: u64, grant: &Grant) -> Standing {
        if let Some((up_to, reason)) = self.ended().get(&client_connection) {
            if grant.grant <= *up_to {
                return Standing::Ended(*reason);
            }
        }
        if grant.epoch != self.epoch() {
            return Standing::Unconfirmed;
        }
        Standing::Valid
    }

    /// The connection closed.
    pub fn forget(&self, client_connection: u64) {
        self.ended().remove(&client_connection);
    }
}

/// Whether a connection's grant may be used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Standing {
    /// Yes.
    Valid,
    /// Granted on an earlier link: check with the master again first.
    Unconfirmed,
    /// Its session ended, for this reason.
    Ended(ReasonCode),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_ended_grant_stays_ended_and_a_new_link_needs_a_new_check() {
        let grants = DataGrants::default();
        grants.new_epoch();
        let first = Grant {
            token: "t".into(),
            grant: 5,
            epoch: grants.epoch(),
        };
        assert_eq!(grants.standing(1, &first), Standing::Valid);
        grants.end(&[DataStateEnd {
            client_connection: 1,
            grant: 5,
            reason: ReasonCode::SessionInvalid,
        }]);
        assert_eq!(
            grants.standing(1, &first),
            Standing::Ended(ReasonCode::SessionInvalid)
        );
        // A later switchState on the same connection is a new grant, untouched.
        let second = Grant {
            grant: 9,
            ..first.clone()
        };
        assert_eq!(grants.standing(1, &second), Standing::Valid);
        assert_eq!(
            grants.standing(2, &first),
            Standing::Valid,
            "other connection"
        );
        grants.new_epoch();
        assert_eq!(grants.standing(1, &second), Standing::Unconfirmed);
    }
}
