//! Settling one tick in one database transaction: the queued market orders, then the open
//! orders the tick acts on.
//!
//! The balances of every account involved are read once ([`balances::read`]); the queued
//! orders are applied to them in memory in arrival order by the settlement rules
//! ([`crate::domain::settlement`]), then the open orders by the fill rules
//! ([`crate::domain::fills`]); what changed is written back at once ([`balances::write`],
//! [`orders::write_updates`]).

use std::collections::{BTreeMap, HashMap};

use diesel::prelude::*;
use papertrader_protocol::data::Side;
use papertrader_protocol::Money;

use super::accounts::TransactionRow;
use super::balances::{self, Changes};
use super::fixed::{fixed_sql, Fixed};
use super::order_ids::{self, NewOrderId, StoredOrder};
use super::orders;
use super::schema::transactions;
use super::{AnyConnection, DbError};
use crate::domain::fills::{self, Allowance, OrderUpdate};
use crate::domain::order_book::{Reservations, TickPlan};
use crate::domain::orders::{Order, OrderOutcome, Receipt};
use crate::domain::settlement::{self as rules, Balances, Terms};

/// The open-order half of a tick: what the book found acting, the reservations of the
/// accounts involved, and the participation allowance per symbol.
#[derive(Debug, Default)]
pub struct BookTick {
    /// The orders the tick acts on.
    pub plan: TickPlan,
    /// Reservations of (at least) every account of `plan` and of the queued orders.
    pub reserved: Reservations,
    /// Units per symbol open orders may fill at this tick (`None`: no cap).
    pub allowance: Allowance,
}

/// What a tick settled.
#[derive(Debug, Default)]
pub struct Settled {
    /// One outcome per queued order, in the same order.
    pub outcomes: Vec<OrderOutcome>,
    /// What happened to each open order the tick acted on.
    pub updates: Vec<OrderUpdate>,
}

fixed_sql!(
    /// A write that changes nothing, to take SQLite's write lock at the start of a batch.
    TakeWriteLock,
    sqlite: "UPDATE accounts SET cash = cash WHERE id = -1",
    postgres: "UPDATE accounts SET cash = cash WHERE id = -1",
);

/// Settles the queued `orders` in arrival order, then the open orders of `book`, under
/// `terms`, all in one transaction. On `Err` nothing was written.
pub fn settle(
    conn: &mut AnyConnection,
    orders: &[Order],
    terms: &Terms<'_>,
    book: BookTick,
    now_ms: i64,
) -> Result<Settled, DbError> {
    conn.transaction(|conn| {
        // Before the first read, so the reads below cannot go stale and the commit never
        // fails with SQLITE_BUSY halfway through a batch.
        take_write_lock(conn)?;
        settle_in_transaction(conn, orders, terms, book, now_ms)
    })
}

/// Inside a transaction that reads, then writes: takes SQLite's write lock now (a deferred
/// transaction that upgrades later fails at once with SQLITE_BUSY when another connection
/// writes). Nothing on PostgreSQL.
pub fn take_write_lock(conn: &mut AnyConnection) -> Result<(), DbError> {
    if let AnyConnection::Sqlite(c) = conn {
        Fixed::<TakeWriteLock>::new(Vec::new()).execute(c)?;
    }
    Ok(())
}

fn settle_in_transaction(
    conn: &mut AnyConnection,
    orders: &[Order],
    terms: &Terms<'_>,
    book: BookTick,
    now_ms: i64,
) -> Result<Settled, DbError> {
    let tick = terms.tick as i64;
    let BookTick {
        plan,
        mut reserved,
        mut allowance,
    } = book;
    let mut account_ids: Vec<i64> = orders
        .iter()
        .map(|o| o.account_id)
        .chain(plan.candidates.iter().map(|o| o.account_id))
        .collect();
    account_ids.sort_unstable();
    account_ids.dedup();

    let stored = balances::read(conn, &account_ids)?;
    let stored_holdings = stored.holdings;
    let mut now = Balances {
        cash: stored.cash,
        held: stored_holdings.clone(),
    };
    let last_id: Option<i64> = transactions::table
        .select(diesel::dsl::max(transactions::id))
        .first(conn)?;
    let mut next_id = last_id.unwrap_or(0) + 1;

    // Orders with a client id that was used before (in an earlier batch or earlier in this
    // one) get that order's outcome and trade nothing.
    let keys: Vec<(i64, &str)> = orders
        .iter()
        .filter_map(|o| o.client_order_id.as_deref().map(|id| (o.account_id, id)))
        .collect();
    let mut known = if keys.is_empty() {
        HashMap::new()
    } else {
        order_ids::find(conn, &keys)?
    };
    let mut new_ids = Vec::new();

    let mut rows = Vec::new();
    let mut outcomes = Vec::with_capacity(orders.len());
    let mut changed_accounts = BTreeMap::new();
    for order in orders {
        let key = order
            .client_order_id
            .as_ref()
            .map(|id| (order.account_id, id.clone()));
        if let Some((key, stored)) = key.as_ref().and_then(|k| Some((k, known.get(k)?))) {
            outcomes.push(stored.outcome_for(order, &key.1));
            continue;
        }
        match rules::apply(order, next_id as u64, terms, &reserved, &mut now) {
            Ok(rules::Fill {
                price,
                commission,
                cash_after,
            }) => {
                changed_accounts.insert(order.account_id, cash_after);
                let row = TransactionRow {
                    id: next_id,
                    account_id: order.account_id,
                    side: side_code(order.side),
                    symbol: order.symbol.clone(),
                    quantity: order.quantity as i64,
                    price: price.micros(),
                    cash_after,
                    placed_at: order.placed_at,
                    settled_at: now_ms,
                    tick,
                    client_ip: order.client_ip.clone(),
                    worker_uuid: order.worker_uuid.clone(),
                    order_id: None,
                    commission,
                };
                outcomes.push(Ok(Receipt {
                    transaction_id: next_id as u64,
                    symbol: order.symbol.clone(),
                    quantity: order.quantity,
                    price,
                    cash_after: Money(cash_after),
                    settled_at_ms: now_ms,
                    commission: Money(commission),
                }));
                rows.push(row);
                next_id += 1;
            }
            Err(rejection) => outcomes.push(Err(rejection.into())),
        }
        if let (Some(key), Some(outcome)) = (key, outcomes.last()) {
            new_ids.push(NewOrderId::new(order, &key.1, outcome, now_ms));
            let stored = StoredOrder {
                side: order.side,
                symbol: order.symbol.clone(),
                quantity: order.quantity,
                outcome: outcome.clone(),
            };
            known.insert(key, stored);
        }
    }

    let mut updates = fills::settle_plan(plan, terms, &mut allowance, &mut reserved, &mut now);
    for update in &mut updates {
        let (Some(fill), o) = (update.fill.as_mut(), &update.order) else {
            continue;
        };
        fill.transaction_id = next_id as u64;
        let fill = *fill;
        changed_accounts.insert(o.account_id, fill.cash_after);
        rows.push(TransactionRow {
            id: next_id,
            account_id: o.account_id,
            side: side_code(o.side),
            symbol: o.symbol.clone(),
            quantity: fill.quantity as i64,
            price: fill.price.micros(),
            cash_after: fill.cash_after,
            placed_at: o.placed_at,
            settled_at: now_ms,
            tick,
            client_ip: o.client_ip.clone(),
            worker_uuid: o.worker_uuid.clone(),
            order_id: Some(o.id as i64),
            commission: fill.commission,
        });
        next_id += 1;
    }

    let changed_holdings: Vec<(i64, &str, i64)> = now
        .held
        .iter()
        .filter(|(key, quantity)| stored_holdings.get(*key) != Some(*quantity))
        .map(|((account, symbol), quantity)| (*account, symbol.as_str(), *quantity))
        .collect();
    let changes = Changes {
        cash: changed_accounts.into_iter().collect(),
        holdings: changed_holdings,
        trades: &rows,
    };
    balances::write(conn, &changes)?;
    order_ids::insert(conn, &new_ids)?;
    orders::write_updates(conn, &updates, now_ms)?;
    Ok(Settled { outcomes, updates })
}

/// `transactions.side` value of a side.
pub fn side_code(side: Side) -> i32 {
    match side {
        Side::Buy => 0,
        Side::Sell => 1,
    }
}

/// The side of a `transactions.side` value.
pub fn side_from_code(code: i32) -> Side {
    if code == 0 {
        Side::Buy
    } else {
        Side::Sell
    }
}
