//! Live streams at the worker (PROTOCOL.md §12): quote pushes fan out from the worker's own
//! ticks, with no master work per subscriber; account events come from the master only for
//! the subscriptions this worker holds.
//!
//! [`Streams`] knows every connection that holds a subscription. The master link hands it
//! each tick ([`Streams::publish`]), each batch of account events ([`Streams::deliver`]) and
//! each end of a session ([`Streams::end_grants`]); the connections' routers add and remove
//! subscriptions ([`Subscriptions`]). Nothing here waits on a socket: a slow subscriber only
//! ever costs its own bounded, conflated queue.

mod frames;
mod subscriptions;

pub use frames::{quote_push_frame, EncodedTick};
pub use subscriptions::{PushLimits, Refused, Subscriptions};

use std::collections::HashMap;
use std::sync::{Arc, PoisonError, RwLock};

use papertrader_protocol::stream::AccountEvent;
use papertrader_protocol::{DataStateEnd, Failure, PriceTick};

/// An account subscription the master must stop serving: (client connection, watch id).
pub type Unwatched = (u64, u64);

#[derive(Default)]
struct Inner {
    connections: RwLock<HashMap<u64, Arc<Subscriptions>>>,
    latest: RwLock<Option<Arc<EncodedTick>>>,
}

/// The worker's subscribed connections.
#[derive(Clone)]
pub struct Streams {
    inner: Arc<Inner>,
    limits: PushLimits,
}

impl Streams {
    /// No subscriptions yet; connections' subscriptions get `limits`.
    pub fn new(limits: PushLimits) -> Self {
        Self {
            inner: Arc::default(),
            limits,
        }
    }

    /// A new connection's (empty) subscriptions.
    pub fn subscriptions(&self) -> Arc<Subscriptions> {
        Arc::new(Subscriptions::new(self.limits))
    }

    fn connections(&self) -> std::sync::RwLockReadGuard<'_, HashMap<u64, Arc<Subscriptions>>> {
        self.inner
            .connections
            .read()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// `client_connection` holds subscriptions from now on.
    pub fn register(&self, client_connection: u64, subscriptions: &Arc<Subscriptions>) {
        self.inner
            .connections
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(client_connection, subscriptions.clone());
    }

    /// The connection closed.
    pub fn forget(&self, client_connection: u64) {
        self.inner
            .connections
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&client_connection);
    }

    /// The latest tick, encoded (a new quote subscription's first push).
    pub fn latest(&self) -> Option<Arc<EncodedTick>> {
        self.inner
            .latest
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// A tick arrived: every quote subscription gets its symbols' quotes (conflated with what
    /// it has not sent yet), and its connection is woken at once; connections stuck past the
    /// lag limit are dropped instead. (Waking in paced chunks was measured: it trades push
    /// latency for little or no gain in request latency; see docs/PERFORMANCE.md.)
    pub fn publish(&self, tick: &PriceTick) -> Vec<Unwatched> {
        let encoded = Arc::new(EncodedTick::new(tick));
        *self
            .inner
            .latest
            .write()
            .unwrap_or_else(PoisonError::into_inner) = Some(encoded.clone());
        let mut unwatched = Vec::new();
        for (connection, subscriptions) in self.connections().iter() {
            for id in subscriptions.offer_tick(&encoded) {
                unwatched.push((*connection, id));
            }
        }
        unwatched
    }

    /// Account events from the master for one subscription (by its watch id). `Some` when
    /// the master should stop sending them (the subscription is gone or was just dropped as
    /// too slow).
    pub fn deliver(
        &self,
        client_connection: u64,
        watch: u64,
        events: Vec<AccountEvent>,
    ) -> Option<Unwatched> {
        let subscriptions = self.connections().get(&client_connection).cloned();
        let kept = subscriptions.is_some_and(|s| s.offer_events(watch, events));
        (!kept).then_some((client_connection, watch))
    }

    /// These connections' sessions ended (`dataStateEnded`): their subscriptions made under
    /// those DataTransfer states end with the reason.
    pub fn end_grants(&self, ends: &[DataStateEnd]) -> Vec<Unwatched> {
        let connections = self.connections();
        let mut unwatched = Vec::new();
        for end in ends {
            if let Some(subscriptions) = connections.get(&end.client_connection) {
                let failure = Failure::new(end.reason, "the session of this subscription ended");
                for id in subscriptions.end_all(Some(end.grant), &failure) {
                    unwatched.push((end.client_connection, id));
                }
            }
        }
        unwatched
    }

    /// Ends every subscription of every connection with `failure` (the master link was lost:
    /// sessions can no longer be checked, and account events cannot arrive).
    pub fn end_all(&self, failure: &Failure) {
        for subscriptions in self.connections().values() {
            subscriptions.end_all(None, failure);
        }
    }
}
