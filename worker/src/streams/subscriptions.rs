//! One client connection's subscriptions and what they have ready to push.
//!
//! Bounds, per connection: a quote subscription keeps at most one update waiting — a newer
//! tick replaces it, symbol by symbol (conflation), so its sequence number skips; an account
//! subscription keeps at most `max_events` events waiting and ends (`SlowConsumer`) past
//! that, since account events are never dropped silently. A connection whose pushes have
//! been held back for longer than `max_lag` has all its subscriptions ended (`SlowConsumer`).

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use bytes::Bytes;
use papertrader_protocol::stream::{AccountEvent, MAX_SUBSCRIPTIONS_PER_CONNECTION};
use papertrader_protocol::{AccountPush, Failure, Message, ReasonCode, SubscriptionEnded};
use papertrader_runtime::push::PushSource;
use tokio::sync::Notify;

use super::frames::{quote_push_frame, EncodedTick};

/// How far a subscriber may fall behind before it is dropped.
#[derive(Debug, Clone, Copy)]
pub struct PushLimits {
    /// Pushes held back (the client not reading) longer than this end its subscriptions.
    pub max_lag: Duration,
    /// Account events waiting for one subscription at most.
    pub max_events: usize,
    /// Largest payload of a frame.
    pub max_payload: u32,
}

/// A quote subscription's next push, conflated.
struct PendingQuotes {
    sequence: u64,
    tick: u64,
    published_at_ms: i64,
    quotes: BTreeMap<String, Bytes>,
}

struct QuoteSubscription {
    symbols: HashSet<String>,
    sequence: u64,
    sent: u64,
    last_tick: Option<u64>,
    pending: Option<PendingQuotes>,
}

struct AccountSubscription {
    /// The master confirmed it (`subscribeSuccess` passed through).
    confirmed: bool,
    /// The request id of the `subscribeAccount` forward that made it, once forwarded: the
    /// master's events for it carry this id, so events of an earlier subscription that had the
    /// same client id are told apart.
    watch: Option<u64>,
    sequence: u64,
    sent: u64,
    pending: VecDeque<(u64, AccountEvent)>,
}

#[derive(Default)]
struct State {
    /// The DataTransfer grant the subscriptions were made under.
    grant: Option<u64>,
    quotes: BTreeMap<u64, QuoteSubscription>,
    accounts: BTreeMap<u64, AccountSubscription>,
    /// `subscriptionEnded` frames to send.
    notices: VecDeque<Bytes>,
    /// Since when pushes have been waiting for room.
    behind_since: Option<Instant>,
    /// Account subscriptions ended while their subscribe was still unanswered: the notice is
    /// sent only if the master then accepts it (else the client just sees the subscribe fail).
    ended_unconfirmed: HashMap<u64, Failure>,
}

/// Why a subscribe was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refused(pub Failure);

/// One connection's subscriptions (shared by its router, the worker's [`super::Streams`] and
/// its connection actor).
pub struct Subscriptions {
    state: Mutex<State>,
    ready: Arc<Notify>,
    limits: PushLimits,
}

impl Subscriptions {
    /// No subscriptions yet.
    pub fn new(limits: PushLimits) -> Self {
        Self {
            state: Mutex::default(),
            ready: Arc::new(Notify::new()),
            limits,
        }
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn check_new(state: &State, subscription_id: u64) -> Result<(), Refused> {
        if state.quotes.contains_key(&subscription_id)
            || state.accounts.contains_key(&subscription_id)
        {
            return Err(Refused(Failure::new(
                ReasonCode::SubscriptionExists,
                format!("this connection already has subscription {subscription_id}"),
            )));
        }
        if state.quotes.len() + state.accounts.len() >= MAX_SUBSCRIPTIONS_PER_CONNECTION {
            return Err(Refused(Failure::new(
                ReasonCode::TooLarge,
                format!(
                    "a connection holds at most {MAX_SUBSCRIPTIONS_PER_CONNECTION} subscriptions"
                ),
            )));
        }
        Ok(())
    }

    /// Adds a quote subscription made under `grant`; its first push is `snapshot` (the
    /// cached quotes), if there is one.
    pub fn add_quotes(
        &self,
        subscription_id: u64,
        symbols: &[String],
        grant: u64,
        snapshot: Option<&EncodedTick>,
    ) -> Result<(), Refused> {
        let mut state = self.state();
        Self::check_new(&state, subscription_id)?;
        state.grant = Some(grant);
        let mut subscription = QuoteSubscription {
            symbols: symbols.iter().cloned().collect(),
            sequence: 0,
            sent: 0,
            last_tick: None,
            pending: None,
        };
        if let Some(tick) = snapshot {
            subscription.offer(tick);
        }
        state.quotes.insert(subscription_id, subscription);
        drop(state);
        self.ready.notify_one();
        Ok(())
    }

    /// Adds an account subscription made under `grant`, waiting for the master's answer
    /// (events that come meanwhile are kept).
    pub fn add_account(&self, subscription_id: u64, grant: u64) -> Result<(), Refused> {
        let mut state = self.state();
        Self::check_new(&state, subscription_id)?;
        state.grant = Some(grant);
        state.accounts.insert(
            subscription_id,
            AccountSubscription {
                confirmed: false,
                watch: None,
                sequence: 0,
                sent: 0,
                pending: VecDeque::new(),
            },
        );
        Ok(())
    }

    /// The account subscribe `subscription_id` is being forwarded as request `watch`.
    pub fn set_watch(&self, subscription_id: u64, watch: u64) {
        if let Some(subscription) = self.state().accounts.get_mut(&subscription_id) {
            subscription.watch = Some(watch);
        }
    }

    /// The master answered an account subscribe: keep it (and send what came), or drop it.
    pub fn settle_account(&self, subscription_id: u64, accepted: bool) {
        let mut state = self.state();
        if let Some(failure) = state.ended_unconfirmed.remove(&subscription_id) {
            // It ended while waiting: a client told "subscribed" must hear that it ended.
            if accepted {
                if let Some(frame) =
                    ended_frame(subscription_id, 0, &failure, self.limits.max_payload)
                {
                    state.notices.push_back(frame);
                }
                drop(state);
                self.ready.notify_one();
            }
            return;
        }
        if accepted {
            if let Some(subscription) = state.accounts.get_mut(&subscription_id) {
                subscription.confirmed = true;
            }
            drop(state);
            self.ready.notify_one();
        } else {
            state.accounts.remove(&subscription_id);
        }
    }

    /// Ends a subscription at the client's request: the sequence number of its last push, and
    /// the watch id when it was an account subscription; `None` if there is no such
    /// subscription.
    pub fn remove(&self, subscription_id: u64) -> Option<(u64, Option<u64>)> {
        let mut state = self.state();
        if let Some(quotes) = state.quotes.remove(&subscription_id) {
            return Some((quotes.sent, None));
        }
        let account = state.accounts.remove(&subscription_id)?;
        Some((account.sent, account.watch))
    }

    /// Ends every subscription without a notice (the connection left its DataTransfer state);
    /// the watch ids of the account subscriptions.
    pub fn clear(&self) -> Vec<u64> {
        let mut state = self.state();
        state.quotes.clear();
        state.notices.clear();
        state.ended_unconfirmed.clear();
        state.behind_since = None;
        let accounts = std::mem::take(&mut state.accounts);
        accounts.into_values().filter_map(|a| a.watch).collect()
    }

    /// Ends every subscription made under a grant up to `grant` (all: `None`) with a
    /// `subscriptionEnded` notice; the watch ids of the account subscriptions ended.
    pub fn end_all(&self, grant: Option<u64>, failure: &Failure) -> Vec<u64> {
        let mut state = self.state();
        if let (Some(up_to), Some(made)) = (grant, state.grant) {
            if made > up_to {
                return Vec::new();
            }
        }
        let watches = self.end_locked(&mut state, failure);
        drop(state);
        self.ready.notify_one();
        watches
    }

    fn end_locked(&self, state: &mut State, failure: &Failure) -> Vec<u64> {
        let mut ended: Vec<(u64, u64)> = Vec::new();
        for (id, quotes) in std::mem::take(&mut state.quotes) {
            ended.push((id, quotes.sent));
        }
        let mut watches = Vec::new();
        for (id, account) in std::mem::take(&mut state.accounts) {
            watches.extend(account.watch);
            if account.confirmed {
                ended.push((id, account.sent));
            } else {
                state.ended_unconfirmed.insert(id, failure.clone());
            }
        }
        for (subscription_id, last_sequence) in ended {
            if let Some(frame) = ended_frame(
                subscription_id,
                last_sequence,
                failure,
                self.limits.max_payload,
            ) {
                state.notices.push_back(frame);
            }
        }
        state.behind_since = None;
        watches
    }

    /// A tick arrived: conflated into each quote subscription's next push. A connection that
    /// has been behind for longer than the limit is dropped instead; the account
    /// subscriptions that ended are returned.
    pub fn offer_tick(&self, tick: &EncodedTick) -> Vec<u64> {
        let mut state = self.state();
        if state.quotes.is_empty() {
            return Vec::new();
        }
        if let Some(ended) = self.drop_if_stuck(&mut state) {
            drop(state);
            self.ready.notify_one();
            return ended;
        }
        let mut offered = false;
        for subscription in state.quotes.values_mut() {
            offered |= subscription.offer(tick);
        }
        drop(state);
        if offered {
            self.ready.notify_one();
        }
        Vec::new()
    }

    fn drop_if_stuck(&self, state: &mut State) -> Option<Vec<u64>> {
        let since = state.behind_since?;
        if since.elapsed() <= self.limits.max_lag {
            return None;
        }
        let failure = Failure::new(
            ReasonCode::SlowConsumer,
            format!(
                "pushes waited {} ms for this connection to read (the limit is {} ms): \
                 subscribe again and read faster",
                since.elapsed().as_millis(),
                self.limits.max_lag.as_millis()
            ),
        );
        Some(self.end_locked(state, &failure))
    }

    /// Account events from the master for the subscription with this watch id; false if
    /// there is none (the master should stop sending). Past `max_events` waiting, the
    /// subscription ends with `SlowConsumer` (and false is answered).
    pub fn offer_events(&self, watch: u64, events: Vec<AccountEvent>) -> bool {
        let mut state = self.state();
        let max = self.limits.max_events;
        let Some((&subscription_id, subscription)) = state
            .accounts
            .iter_mut()
            .find(|(_, a)| a.watch == Some(watch))
        else {
            return false;
        };
        let mut overflow = None;
        for event in events {
            if subscription.pending.len() >= max {
                overflow = Some(subscription.sent);
                break;
            }
            subscription.sequence += 1;
            subscription
                .pending
                .push_back((subscription.sequence, event));
        }
        if let Some(last_sequence) = overflow {
            state.accounts.remove(&subscription_id);
            let failure = Failure::new(
                ReasonCode::SlowConsumer,
                format!(
                    "more than {max} account events waited for this connection to read: \
                     subscribe again with the last transaction id you saw"
                ),
            );
            if let Some(frame) = ended_frame(
                subscription_id,
                last_sequence,
                &failure,
                self.limits.max_payload,
            ) {
                state.notices.push_back(frame);
            }
        }
        drop(state);
        self.ready.notify_one();
        overflow.is_none()
    }

    /// True when the connection holds no subscription.
    pub fn is_empty(&self) -> bool {
        let state = self.state();
        state.quotes.is_empty() && state.accounts.is_empty()
    }
}

impl QuoteSubscription {
    /// Merges `tick`'s quotes of this subscription's symbols into the next push; false when
    /// the tick has none of them (or was offered already).
    fn offer(&mut self, tick: &EncodedTick) -> bool {
        if self.last_tick == Some(tick.tick) {
            return false;
        }
        let mut matched = tick
            .quotes
            .iter()
            .filter(|(symbol, _)| self.symbols.contains(*symbol))
            .peekable();
        if matched.peek().is_none() {
            return false;
        }
        self.last_tick = Some(tick.tick);
        self.sequence += 1;
        let pending = self.pending.get_or_insert_with(|| PendingQuotes {
            sequence: 0,
            tick: 0,
            published_at_ms: 0,
            quotes: BTreeMap::new(),
        });
        pending.sequence = self.sequence;
        pending.tick = tick.tick;
        pending.published_at_ms = tick.published_at_ms;
        for (symbol, bytes) in matched {
            pending.quotes.insert(symbol.clone(), bytes.clone());
        }
        true
    }
}

/// The `subscriptionEnded` frame of a subscription.
fn ended_frame(
    subscription_id: u64,
    last_sequence: u64,
    failure: &Failure,
    max_payload: u32,
) -> Option<Bytes> {
    Message::SubscriptionEnded(SubscriptionEnded {
        subscription_id,
        last_sequence,
        reason: failure.code,
        message: failure.message.clone(),
    })
    .to_frame_bytes(max_payload)
    .ok()
}

impl PushSource for Subscriptions {
    fn ready(&self) -> Arc<Notify> {
        self.ready.clone()
    }

    fn active(&self) -> bool {
        !self.is_empty()
    }

    fn drain(&self, send: &mut dyn FnMut(Bytes) -> Result<(), Bytes>) -> bool {
        let mut state = self.state();
        let max_payload = self.limits.max_payload;
        let all = drain_state(&mut state, send, max_payload);
        if all {
            state.behind_since = None;
        } else if state.behind_since.is_none() {
            state.behind_since = Some(Instant::now());
        }
        all
    }
}

/// Sends notices, then each subscription's waiting pushes, in order, until `send` refuses.
fn drain_state(
    state: &mut State,
    send: &mut dyn FnMut(Bytes) -> Result<(), Bytes>,
    max_payload: u32,
) -> bool {
    while let Some(frame) = state.notices.pop_front() {
        if let Err(frame) = send(frame) {
            state.notices.push_front(frame);
            return false;
        }
    }
    // Account events first: they are never conflated, quotes are.
    for (id, subscription) in state.accounts.iter_mut() {
        if !subscription.confirmed {
            continue;
        }
        while let Some((sequence, event)) = subscription.pending.front() {
            let push = Message::AccountPush(AccountPush {
                subscription_id: *id,
                sequence: *sequence,
                event: Box::new(event.clone()),
            });
            if let Ok(frame) = push.to_frame_bytes(max_payload) {
                if send(frame).is_err() {
                    return false;
                }
            }
            subscription.sent = *sequence;
            subscription.pending.pop_front();
        }
    }
    let mut too_large = Vec::new();
    for (id, subscription) in state.quotes.iter_mut() {
        let Some(pending) = &subscription.pending else {
            continue;
        };
        let quotes: Vec<&Bytes> = pending.quotes.values().collect();
        let frame = quote_push_frame(
            *id,
            pending.sequence,
            pending.tick,
            pending.published_at_ms,
            &quotes,
            max_payload,
        );
        let Some(frame) = frame else {
            too_large.push((*id, subscription.sent));
            continue;
        };
        if send(frame).is_err() {
            return false;
        }
        subscription.sent = pending.sequence;
        subscription.pending = None;
    }
    if !too_large.is_empty() {
        // Never skipped silently: the subscription ends, saying why.
        let failure = Failure::new(
            ReasonCode::TooLarge,
            "the quotes of this subscription exceed this worker's payload limit: subscribe to \
             fewer symbols",
        );
        for (id, last_sequence) in too_large {
            state.quotes.remove(&id);
            if let Some(frame) = ended_frame(id, last_sequence, &failure, max_payload) {
                state.notices.push_back(frame);
            }
        }
        return drain_state(state, send, max_payload);
    }
    true
}
