//! Settling one batch of orders in one database transaction.
//!
//! A batch costs a handful of statements whatever its size: one read of the accounts' cash,
//! one of their holdings, one multi-row `UPDATE … FROM (VALUES …)` for cash, one multi-row
//! `INSERT … ON CONFLICT DO UPDATE` for holdings, one `DELETE` of emptied holdings and
//! multi-row INSERTs of the transaction rows (each chunked to stay under bound-parameter
//! limits). All values are bound parameters.

use std::collections::{BTreeMap, HashMap};

use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Text};
use papertrader_protocol::data::Side;
use papertrader_protocol::{Failure, Money, ReasonCode, TradeReceipt};

use super::accounts::TransactionRow;
use super::order_ids::{self, NewOrderId, StoredOrder};
use super::schema::{accounts, holdings, transactions};
use super::{with_backend, AnyConnection, DbError};

/// Ids per `IN (…)` read (well under SQLite's and PostgreSQL's bound-parameter limits).
const READ_CHUNK: usize = 10_000;
/// Rows per multi-row write (at most 3 parameters a row here).
const WRITE_CHUNK: usize = 5_000;

/// `(?, ?, …), (…)` for SQLite or `($1, $2, …), (…)` for PostgreSQL: `rows` tuples of `columns`.
fn placeholders(rows: usize, columns: usize, numbered: bool) -> String {
    let mut out = String::with_capacity(rows * columns * 5);
    for row in 0..rows {
        out.push_str(if row == 0 { "(" } else { ", (" });
        for column in 0..columns {
            if column > 0 {
                out.push_str(", ");
            }
            if numbered {
                out.push_str(&format!("${}", row * columns + column + 1));
            } else {
                out.push('?');
            }
        }
        out.push(')');
    }
    out
}

/// Builds a boxed raw query for backend `$db` whose values are all bound, never interpolated.
macro_rules! bound {
    ($db:ty, $sql:expr, $rows:expr, |$q:ident, $row:pat_param| $bind:expr) => {{
        let mut $q = diesel::sql_query($sql).into_boxed::<$db>();
        for $row in $rows {
            $q = $bind;
        }
        $q
    }};
}

/// New cash of many accounts in one statement.
fn write_cash(conn: &mut AnyConnection, rows: &[(i64, i64)]) -> Result<(), DbError> {
    let sql = |numbered| {
        format!("UPDATE accounts SET cash = v.column2 FROM (VALUES {}) AS v WHERE accounts.id = v.column1", placeholders(rows.len(), 2, numbered))
    };
    match conn {
        AnyConnection::Postgresql(c) => bound!(diesel::pg::Pg, sql(true), rows, |q, (id, cash)| q
            .bind::<BigInt, _>(*id)
            .bind::<BigInt, _>(*cash))
        .execute(c)?,
        AnyConnection::Sqlite(c) => {
            bound!(diesel::sqlite::Sqlite, sql(false), rows, |q, (id, cash)| q
                .bind::<BigInt, _>(*id)
                .bind::<BigInt, _>(*cash))
            .execute(c)?
        }
    };
    Ok(())
}

/// New quantities of many holdings in one statement (inserted or updated).
fn write_holdings(conn: &mut AnyConnection, rows: &[(i64, &str, i64)]) -> Result<(), DbError> {
    let sql = |numbered| {
        format!(
            "INSERT INTO holdings (account_id, symbol, quantity) VALUES {} ON CONFLICT (account_id, symbol) DO UPDATE SET quantity = excluded.quantity",
            placeholders(rows.len(), 3, numbered)
        )
    };
    match conn {
        AnyConnection::Postgresql(c) => bound!(diesel::pg::Pg, sql(true), rows, |q, (a, s, n)| q
            .bind::<BigInt, _>(*a)
            .bind::<Text, _>(s.to_string())
            .bind::<BigInt, _>(*n))
        .execute(c)?,
        AnyConnection::Sqlite(c) => {
            bound!(diesel::sqlite::Sqlite, sql(false), rows, |q, (a, s, n)| q
                .bind::<BigInt, _>(*a)
                .bind::<Text, _>(s.to_string())
                .bind::<BigInt, _>(*n))
            .execute(c)?
        }
    };
    Ok(())
}

/// PostgreSQL writes a batch with three statements whose every column is one bound array
/// (`unnest()`), however many rows: ~20 parameters instead of ~16 per order, so parsing and
/// binding no longer grow with the batch.
mod postgres {
    use diesel::prelude::*;
    use diesel::sql_types::{Array, BigInt, Integer, Nullable, Text};
    use diesel::PgConnection;

    use super::TransactionRow;
    use crate::db::DbError;

    pub(super) fn write_all(
        c: &mut PgConnection,
        cash: &[(i64, i64)],
        holdings: &[(i64, &str, i64)],
        rows: &[TransactionRow],
    ) -> Result<(), DbError> {
        if !cash.is_empty() {
            diesel::sql_query(
                "UPDATE accounts SET cash = v.cash FROM unnest($1::bigint[], $2::bigint[]) AS v(id, cash) WHERE accounts.id = v.id",
            )
            .bind::<Array<BigInt>, _>(cash.iter().map(|r| r.0).collect::<Vec<_>>())
            .bind::<Array<BigInt>, _>(cash.iter().map(|r| r.1).collect::<Vec<_>>())
            .execute(c)?;
        }
        if !holdings.is_empty() {
            diesel::sql_query(
                "INSERT INTO holdings (account_id, symbol, quantity) \
                 SELECT * FROM unnest($1::bigint[], $2::text[], $3::bigint[]) \
                 ON CONFLICT (account_id, symbol) DO UPDATE SET quantity = excluded.quantity",
            )
            .bind::<Array<BigInt>, _>(holdings.iter().map(|h| h.0).collect::<Vec<_>>())
            .bind::<Array<Text>, _>(holdings.iter().map(|h| h.1.to_owned()).collect::<Vec<_>>())
            .bind::<Array<BigInt>, _>(holdings.iter().map(|h| h.2).collect::<Vec<_>>())
            .execute(c)?;
        }
        if !rows.is_empty() {
            let column = |f: fn(&TransactionRow) -> i64| rows.iter().map(f).collect::<Vec<_>>();
            diesel::sql_query(
                "INSERT INTO transactions (id, account_id, side, symbol, quantity, price, cash_after, placed_at, settled_at, tick, client_ip, worker_uuid) \
                 SELECT * FROM unnest($1::bigint[], $2::bigint[], $3::int[], $4::text[], $5::bigint[], $6::bigint[], $7::bigint[], \
                 $8::bigint[], $9::bigint[], $10::bigint[], $11::text[], $12::text[])",
            )
            .bind::<Array<BigInt>, _>(column(|r| r.id))
            .bind::<Array<BigInt>, _>(column(|r| r.account_id))
            .bind::<Array<Integer>, _>(rows.iter().map(|r| r.side).collect::<Vec<_>>())
            .bind::<Array<Text>, _>(rows.iter().map(|r| r.symbol.clone()).collect::<Vec<_>>())
            .bind::<Array<BigInt>, _>(column(|r| r.quantity))
            .bind::<Array<BigInt>, _>(column(|r| r.price))
            .bind::<Array<BigInt>, _>(column(|r| r.cash_after))
            .bind::<Array<BigInt>, _>(column(|r| r.placed_at))
            .bind::<Array<BigInt>, _>(column(|r| r.settled_at))
            .bind::<Array<BigInt>, _>(column(|r| r.tick))
            .bind::<Array<Text>, _>(rows.iter().map(|r| r.client_ip.clone()).collect::<Vec<_>>())
            .bind::<Array<Nullable<Text>>, _>(rows.iter().map(|r| r.worker_uuid.clone()).collect::<Vec<_>>())
            .execute(c)?;
        }
        Ok(())
    }
}

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
        if let AnyConnection::Sqlite(_) = conn {
            // Take SQLite's write lock before the first read, so the reads below cannot go
            // stale and the commit never fails with SQLITE_BUSY halfway through a batch.
            conn.batch_execute("UPDATE accounts SET cash = cash WHERE id = -1")?;
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

    let mut cash: HashMap<i64, i64> = HashMap::with_capacity(account_ids.len());
    let mut stored_holdings: HashMap<(i64, String), i64> = HashMap::new();
    for ids in account_ids.chunks(READ_CHUNK) {
        cash.extend(
            accounts::table
                .filter(accounts::id.eq_any(ids))
                .select((accounts::id, accounts::cash))
                .load::<(i64, i64)>(conn)?,
        );
        stored_holdings.extend(
            holdings::table
                .filter(holdings::account_id.eq_any(ids))
                .select((holdings::account_id, holdings::symbol, holdings::quantity))
                .load::<(i64, String, i64)>(conn)?
                .into_iter()
                .map(|(a, s, q)| ((a, s), q)),
        );
    }
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

    let cash_rows: Vec<(i64, i64)> = changed_accounts.into_iter().collect();
    let changed_holdings: Vec<(i64, &str, i64)> = held
        .iter()
        .filter(|(key, quantity)| stored_holdings.get(*key) != Some(*quantity))
        .map(|((account, symbol), quantity)| (*account, symbol.as_str(), *quantity))
        .collect();
    if let AnyConnection::Postgresql(pg) = conn {
        postgres::write_all(pg, &cash_rows, &changed_holdings, &rows)?;
    } else {
        for chunk in cash_rows.chunks(WRITE_CHUNK) {
            write_cash(conn, chunk)?;
        }
        for chunk in changed_holdings.chunks(WRITE_CHUNK) {
            write_holdings(conn, chunk)?;
        }
        for chunk in rows.chunks(WRITE_CHUNK) {
            with_backend!(conn, |c| diesel::insert_into(transactions::table)
                .values(chunk)
                .execute(c))?;
        }
    }
    order_ids::insert(conn, &new_ids)?;
    if changed_holdings.iter().any(|(_, _, q)| *q == 0) {
        for ids in account_ids.chunks(READ_CHUNK) {
            diesel::delete(
                holdings::table
                    .filter(holdings::quantity.eq(0))
                    .filter(holdings::account_id.eq_any(ids)),
            )
            .execute(conn)?;
        }
    }
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
