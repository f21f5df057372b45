//! Account events for live subscribers (`subscribeAccount`, PROTOCOL.md §12).
//!
//! The trade queue is the only writer of orders, cash and holdings, so it is where events
//! are born: after each commit it hands the events of *watched* accounts (those with a live
//! subscriber on some worker) to [`Watchers::publish`], which sends them over the links of
//! those subscribers; events of other accounts are never built. Registering a watcher and
//! reading the fills it missed run in the trade queue's serial order, so a fill is either in
//! the replay or sent live, never both and never neither.

use std::collections::{HashMap, HashSet};

use actix::prelude::*;
use papertrader_protocol::data::OrderStatus;
use papertrader_protocol::stream::{AccountEvent, AccountEventKind, FillDetail};
use papertrader_protocol::{Money, ReasonCode, WatchedEvents};

use crate::db::accounts::TransactionRow;
use crate::db::orders::OrderRow;
use crate::db::settlement::side_from_code;
use crate::domain::fills::OrderUpdate;
use crate::domain::order_book::OpenOrder;
use crate::domain::orders::{Order, OrderOutcome};

/// Most fills a subscription may ask to have replayed; more must be read from the history.
pub const MAX_REPLAY: usize = papertrader_protocol::stream::MAX_REPLAYED_FILLS;

/// To a worker link: account events for some of its client subscriptions, in order.
#[derive(Message, Debug, Clone)]
#[rtype(result = "()")]
pub struct DeliverAccountEvents(pub Vec<WatchedEvents>);

/// One live subscriber of an account's events.
#[derive(Clone)]
pub struct Watcher {
    /// The worker link it is on.
    pub link_id: u64,
    /// The worker's id for the client connection.
    pub client_connection: u64,
    /// The request id of the `subscribeAccount` forward that made it: unique on the link.
    pub watch: u64,
    /// Where its events go.
    pub link: Recipient<DeliverAccountEvents>,
}

/// A client connection on a worker link.
type ConnectionKey = (u64, u64);

/// The watched accounts and their subscribers, indexed by account and by connection.
#[derive(Default)]
pub struct Watchers {
    by_account: HashMap<i64, Vec<Watcher>>,
    by_connection: HashMap<ConnectionKey, HashSet<i64>>,
}

impl Watchers {
    /// Adds `watcher` of `account_id`, sending it `replay` first.
    pub fn add(&mut self, account_id: i64, watcher: Watcher, replay: Vec<AccountEvent>) {
        if !replay.is_empty() {
            watcher
                .link
                .do_send(DeliverAccountEvents(vec![WatchedEvents {
                    client_connection: watcher.client_connection,
                    watch: watcher.watch,
                    events: replay,
                }]));
        }
        self.by_connection
            .entry((watcher.link_id, watcher.client_connection))
            .or_default()
            .insert(account_id);
        self.by_account.entry(account_id).or_default().push(watcher);
    }

    /// Removes the watchers of a client connection (one watch of it, or all).
    pub fn remove(&mut self, link_id: u64, client_connection: u64, watch: Option<u64>) {
        let key = (link_id, client_connection);
        let Some(accounts) = self.by_connection.get(&key).cloned() else {
            return;
        };
        for account in accounts {
            let Some(watchers) = self.by_account.get_mut(&account) else {
                continue;
            };
            watchers.retain(|w| {
                (w.link_id, w.client_connection) != key || watch.is_some_and(|id| id != w.watch)
            });
            let still = watchers
                .iter()
                .any(|w| (w.link_id, w.client_connection) == key);
            if watchers.is_empty() {
                self.by_account.remove(&account);
            }
            if !still {
                if let Some(set) = self.by_connection.get_mut(&key) {
                    set.remove(&account);
                }
            }
        }
        if self.by_connection.get(&key).is_some_and(HashSet::is_empty) {
            self.by_connection.remove(&key);
        }
    }

    /// Removes every watcher on a worker link.
    pub fn remove_link(&mut self, link_id: u64) {
        let connections: Vec<ConnectionKey> = self
            .by_connection
            .keys()
            .filter(|(link, _)| *link == link_id)
            .copied()
            .collect();
        for (link, connection) in connections {
            self.remove(link, connection, None);
        }
    }

    /// True when some subscriber watches `account_id`.
    pub fn watches(&self, account_id: i64) -> bool {
        self.by_account.contains_key(&account_id)
    }

    /// True when no account is watched.
    pub fn is_empty(&self) -> bool {
        self.by_account.is_empty()
    }

    /// Sends each watched account's events to its subscribers, in order, one message per
    /// worker link; `events` yields `(account, event)` and is only consumed when some account
    /// is watched.
    pub fn publish(&self, events: impl IntoIterator<Item = (i64, AccountEvent)>) {
        if self.by_account.is_empty() {
            return;
        }
        let mut per_account: HashMap<i64, Vec<AccountEvent>> = HashMap::new();
        for (account, event) in events {
            if self.watches(account) {
                per_account.entry(account).or_default().push(event);
            }
        }
        let mut per_link: HashMap<u64, (Recipient<DeliverAccountEvents>, Vec<WatchedEvents>)> =
            HashMap::new();
        for (account, events) in per_account {
            for watcher in self.by_account.get(&account).into_iter().flatten() {
                per_link
                    .entry(watcher.link_id)
                    .or_insert_with(|| (watcher.link.clone(), Vec::new()))
                    .1
                    .push(WatchedEvents {
                        client_connection: watcher.client_connection,
                        watch: watcher.watch,
                        events: events.clone(),
                    });
            }
        }
        for (_, (link, entries)) in per_link {
            link.do_send(DeliverAccountEvents(entries));
        }
    }
}

/// An event of `order` with nothing filled by it (the fields a fill or a reason add are
/// none and 0).
fn about(order: &OpenOrder, kind: AccountEventKind, at_ms: i64) -> AccountEvent {
    AccountEvent {
        kind,
        order_id: Some(order.id),
        side: order.side,
        symbol: order.symbol.clone(),
        quantity: order.quantity,
        filled_quantity: order.filled,
        fill: None,
        cash_after: None,
        reason: 0,
        at_ms,
        replayed: false,
    }
}

/// The event of an open order that a tick acted on.
pub fn from_update(update: &OrderUpdate, at_ms: i64) -> AccountEvent {
    let kind = match update.status {
        OrderStatus::New => AccountEventKind::Accepted,
        OrderStatus::PartiallyFilled => AccountEventKind::PartiallyFilled,
        OrderStatus::Filled => AccountEventKind::Filled,
        OrderStatus::Cancelled => AccountEventKind::Cancelled,
        OrderStatus::Expired => AccountEventKind::Expired,
        OrderStatus::Rejected => AccountEventKind::Rejected,
    };
    // A cancelled ioc order with a last fill: the fill is what the subscriber needs to see.
    AccountEvent {
        fill: update.fill.map(|f| FillDetail {
            transaction_id: f.transaction_id,
            quantity: f.quantity,
            price: f.price,
            commission: Money(f.commission),
        }),
        cash_after: update.fill.map(|f| Money(f.cash_after)),
        reason: update.reason,
        ..about(&update.order, kind, at_ms)
    }
}

/// The event of a queued `purchaseAsset`/`sellAsset` trade once its tick settled.
pub fn from_outcome(order: &Order, outcome: &OrderOutcome, at_ms: i64) -> AccountEvent {
    let (kind, fill, reason) = match outcome {
        Ok(receipt) => (
            AccountEventKind::Filled,
            Some(FillDetail {
                transaction_id: receipt.transaction_id,
                quantity: receipt.quantity,
                price: receipt.price,
                commission: receipt.commission,
            }),
            0,
        ),
        Err(e) => (
            AccountEventKind::Rejected,
            None,
            crate::reasons::order_failure(e).code as u16,
        ),
    };
    AccountEvent {
        kind,
        order_id: None,
        side: order.side,
        symbol: order.symbol.clone(),
        quantity: order.quantity,
        filled_quantity: fill.as_ref().map_or(0, |f| f.quantity),
        cash_after: outcome.as_ref().ok().map(|r| r.cash_after),
        fill,
        reason,
        at_ms,
        replayed: false,
    }
}

/// The event of an order that was placed, or cancelled (by its owner: no reason; by a reset:
/// AccountReset).
pub fn of_order(
    order: &OpenOrder,
    kind: AccountEventKind,
    reason: Option<ReasonCode>,
) -> AccountEvent {
    let at_ms = if kind == AccountEventKind::Accepted {
        order.placed_at
    } else {
        super::now_ms()
    };
    AccountEvent {
        reason: reason.map_or(0, u16::from),
        ..about(order, kind, at_ms)
    }
}

/// The replayed events of stored fills (oldest first), given the orders they belong to: a
/// fill is `Filled` when it is its order's last and the order is filled (or it is a queued
/// trade), `PartiallyFilled` otherwise. `filled_quantity` counts the order's fills up to it.
pub fn replay(fills: &[TransactionRow], orders: &HashMap<i64, OrderRow>) -> Vec<AccountEvent> {
    // Each order's last replayed fill, and the units its replayed fills add up to.
    let mut last_fill: HashMap<i64, i64> = HashMap::new();
    let mut replayed: HashMap<i64, i64> = HashMap::new();
    for row in fills {
        if let Some(order) = row.order_id {
            last_fill.insert(order, row.id);
            *replayed.entry(order).or_default() += row.quantity;
        }
    }
    // Units of each order filled before the first replayed fill.
    let mut filled: HashMap<i64, u64> = orders
        .iter()
        .map(|(id, order)| {
            let before = order.filled_quantity - replayed.get(id).copied().unwrap_or(0);
            (*id, before.max(0) as u64)
        })
        .collect();
    fills
        .iter()
        .map(|row| {
            let quantity = row.quantity.max(0) as u64;
            let order = row.order_id.and_then(|id| orders.get(&id));
            let (kind, ordered, so_far) = match (row.order_id, order) {
                (Some(id), Some(order)) => {
                    let so_far = filled.entry(id).or_default();
                    *so_far += quantity;
                    let done = last_fill.get(&id) == Some(&row.id)
                        && order.status() == OrderStatus::Filled;
                    let kind = if done {
                        AccountEventKind::Filled
                    } else {
                        AccountEventKind::PartiallyFilled
                    };
                    (kind, order.quantity.max(0) as u64, *so_far)
                }
                _ => (AccountEventKind::Filled, quantity, quantity),
            };
            AccountEvent {
                kind,
                order_id: row.order_id.map(|id| id as u64),
                side: side_from_code(row.side),
                symbol: row.symbol.clone(),
                quantity: ordered,
                filled_quantity: so_far,
                fill: Some(FillDetail {
                    transaction_id: row.id as u64,
                    quantity,
                    price: Money(row.price),
                    commission: Money(row.commission),
                }),
                cash_after: Some(Money(row.cash_after)),
                reason: 0,
                at_ms: row.settled_at,
                replayed: true,
            }
        })
        .collect()
}
