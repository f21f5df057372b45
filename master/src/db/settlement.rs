//! Settling one batch of orders in one database transaction.
//!
//! The batch's balances are read once ([`balances::read`]), every order is applied to them in
//! memory in arrival order, and what changed is written back at once ([`balances::write`]),
//! all with statements prepared once per connection.

use std::collections::{BTreeMap, HashMap};

use diesel::prelude::*;
use papertrader_protocol::data::Side;
use papertrader_protocol::{Failure, Money, ReasonCode, TradeReceipt};

use super::accounts::TransactionRow;
use super::balances::{self, Changes};
use super::fixed::{fixed_sql, Fixed};
use super::order_ids::{self, NewOrderId, StoredOrder};
use super::schema::transactions;
use super::{AnyConnection, DbError};

fixed_sql!(
    /// A write that changes nothing, to take SQLite's write lock at the start of a batch.
    TakeWriteLock,
    sqlite: "UPDATE accounts SET cash = cash WHERE id = -1",
    postgres: "UPDATE accounts SET cash = cash WHERE id = -1",
);

/// One queued order.
#[derive(Debug, Clone)]
pub struct Order {
    /// The ordering account.
    pub account_id: i64,
    /// Buy or sell.
    pub side: Side,
    /// Asset symbol.
    pub symbol: String,
    /// Units (already checked to be within the protocol limits).
    pub quantity: u64,
    /// When it was received, ms.
    pub placed_at: i64,
    /// The client's address.
    pub client_ip: String,
    /// The forwarding worker, if any.
    pub worker_uuid: Option<String>,
    /// The client's id for the order, which makes it idempotent.
    pub client_order_id: Option<String>,
}

/// The price an order settles at: the tick's close, and whether it is stale.
#[derive(Debug, Clone, Copy)]
pub struct SettlementPrice {
    /// Price per unit.
    pub price: Money,
    /// True when the price source failed and this is an old price.
    pub stale: bool,
}

/// What happened to one order.
pub type Outcome = Result<TradeReceipt, Failure>;

/// Settles `orders` in arrival order at `prices`, all in one transaction. Returns one outcome
/// per order, in the same order. On `Err` nothing was written.
pub fn settle(
    conn: &mut AnyConnection,
    orders: &[Order],
    prices: &HashMap<String, SettlementPrice>,
    tick: i64,
    now_ms: i64,
) -> Result<Vec<Outcome>, DbError> {
    conn.transaction(|conn| {
        if let AnyConnection::Sqlite(c) = conn {
            // Take SQLite's write lock before the first read, so the reads below cannot go
            // stale and the commit never fails with SQLITE_BUSY halfway through a batch.
            Fixed::<TakeWriteLock>::new(Vec::new()).execute(c)?;
        }
        settle_in_transaction(conn, orders, prices, tick, now_ms)
    })
}

fn settle_in_transaction(
    conn: &mut AnyConnection,
    orders: &[Order],
    prices: &HashMap<String, SettlementPrice>,
    tick: i64,
    now_ms: i64,
) -> Result<Vec<Outcome>, DbError> {
    let mut account_ids: Vec<i64> = orders.iter().map(|o| o.account_id).collect();
    account_ids.sort_unstable();
    account_ids.dedup();

    let stored = balances::read(conn, &account_ids)?;
    let mut cash = stored.cash;
    let stored_holdings = stored.holdings;
    let mut held = stored_holdings.clone();
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
        let outcome = apply(order, prices, &mut cash, &mut held);
        match outcome {
            Ok((price, cash_after)) => {
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
                };
                outcomes.push(Ok(TradeReceipt {
                    transaction_id: next_id as u64,
                    symbol: order.symbol.clone(),
                    quantity: order.quantity,
                    price,
                    cash_after: Money(cash_after),
                    settled_at_ms: now_ms,
                }));
                rows.push(row);
                next_id += 1;
            }
            Err(failure) => outcomes.push(Err(failure)),
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

    let changed_holdings: Vec<(i64, &str, i64)> = held
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
    Ok(outcomes)
}

/// Applies one order to the in-memory balances. Returns `(price, cash_after)`.
fn apply(
    order: &Order,
    prices: &HashMap<String, SettlementPrice>,
    cash: &mut HashMap<i64, i64>,
    held: &mut HashMap<(i64, String), i64>,
) -> Result<(Money, i64), Failure> {
    // The router refused symbols that are not traded; a traded one may have no price yet.
    let quote = prices.get(&order.symbol).ok_or_else(|| {
        Failure::new(
            ReasonCode::NoData,
            format!(
                "{} has no price yet; no order in it can settle",
                order.symbol
            ),
        )
    })?;
    if quote.stale {
        return Err(Failure::new(
            ReasonCode::StalePrice,
            format!(
                "the price of {} is stale; trading in it is paused",
                order.symbol
            ),
        ));
    }
    let balance = cash
        .get_mut(&order.account_id)
        .ok_or_else(|| Failure::new(ReasonCode::UnknownUser, "the account no longer exists"))?;
    let quantity = i64::try_from(order.quantity)
        .map_err(|_| Failure::new(ReasonCode::InvalidQuantity, "quantity too large"))?;
    let amount = quote
        .price
        .checked_mul(order.quantity)
        .ok_or_else(|| Failure::new(ReasonCode::InvalidQuantity, "order value overflows"))?
        .micros();
    let position = held
        .entry((order.account_id, order.symbol.clone()))
        .or_insert(0);
    match order.side {
        Side::Buy => {
            if amount > *balance {
                return Err(Failure::new(
                    ReasonCode::InsufficientCash,
                    format!("costs {} but cash is {}", Money(amount), Money(*balance)),
                ));
            }
            *balance -= amount;
            *position += quantity;
        }
        Side::Sell => {
            if quantity > *position {
                return Err(Failure::new(
                    ReasonCode::InsufficientHoldings,
                    format!(
                        "selling {quantity} {} but {} are held",
                        order.symbol, *position
                    ),
                ));
            }
            let new_balance = balance
                .checked_add(amount)
                .ok_or_else(|| Failure::new(ReasonCode::InvalidQuantity, "cash would overflow"))?;
            *position -= quantity;
            *balance = new_balance;
        }
    }
    Ok((quote.price, *balance))
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
