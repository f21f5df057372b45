//! The stored outcomes of orders that carried a client order id (PROTOCOL.md §5.1): the same id
//! again returns the stored outcome instead of trading again.

use std::collections::HashMap;

use diesel::prelude::*;
use papertrader_protocol::data::Side;
use papertrader_protocol::Money;

use super::accounts::TransactionRow;
use super::schema::{order_ids, transactions};
use super::settlement::{side_code, side_from_code};
use super::{AnyConnection, DbError};
use crate::domain::orders::{Order, OrderError, OrderOutcome, Receipt};
use crate::reasons;

/// Rows per multi-row insert.
const WRITE_CHUNK: usize = 2_000;

/// What happened to an order that had an id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredOrder {
    /// Buy or sell.
    pub side: Side,
    /// Asset symbol.
    pub symbol: String,
    /// Units.
    pub quantity: u64,
    /// Its receipt, or why it was refused.
    pub outcome: OrderOutcome,
}

impl StoredOrder {
    /// The outcome an order repeating this one's id gets: this one's, or
    /// [`OrderError::IdReused`] when the repeat is a different trade.
    pub fn outcome_for(&self, order: &Order, id: &str) -> OrderOutcome {
        if !order.same_trade(self.side, &self.symbol, self.quantity) {
            return Err(OrderError::IdReused { id: id.to_owned() });
        }
        self.outcome.clone()
    }
}

/// A row to store.
#[derive(Debug, Insertable)]
#[diesel(table_name = order_ids, treat_none_as_null = true)]
pub struct NewOrderId {
    /// The ordering account.
    pub account_id: i64,
    /// The client's id.
    pub client_order_id: String,
    /// 0 buy, 1 sell.
    pub side: i32,
    /// Asset symbol.
    pub symbol: String,
    /// Units.
    pub quantity: i64,
    /// The settled trade.
    pub transaction_id: Option<i64>,
    /// The refusal's reason code.
    pub reason: Option<i32>,
    /// The refusal's message.
    pub message: Option<String>,
    /// When it was stored, ms.
    pub created_at: i64,
}

impl NewOrderId {
    /// The row recording `outcome` of `order` (which has the id `id`). A refusal is stored
    /// as the client was told it: reason code and message.
    pub fn new(order: &Order, id: &str, outcome: &OrderOutcome, now_ms: i64) -> Self {
        let (transaction_id, reason, message) = match outcome {
            Ok(receipt) => (Some(receipt.transaction_id as i64), None, None),
            Err(e) => {
                let told = reasons::order_failure(e);
                (None, Some(i32::from(told.code as u16)), Some(told.message))
            }
        };
        Self {
            account_id: order.account_id,
            client_order_id: id.to_owned(),
            side: side_code(order.side),
            symbol: order.symbol.clone(),
            quantity: order.quantity as i64,
            transaction_id,
            reason,
            message,
            created_at: now_ms,
        }
    }
}

type Row = (
    i64,
    String,
    i32,
    String,
    i64,
    Option<i32>,
    Option<String>,
    Option<TransactionRow>,
);

/// The stored orders among `keys` (account, client order id).
pub fn find(
    conn: &mut AnyConnection,
    keys: &[(i64, &str)],
) -> Result<HashMap<(i64, String), StoredOrder>, DbError> {
    // The stored order and its trade, if any, filtered by `$filter`.
    macro_rules! stored {
        ($filter:expr) => {
            order_ids::table
                .left_join(transactions::table)
                .filter($filter)
                .select((
                    order_ids::account_id,
                    order_ids::client_order_id,
                    order_ids::side,
                    order_ids::symbol,
                    order_ids::quantity,
                    order_ids::reason,
                    order_ids::message,
                    Option::<TransactionRow>::as_select(),
                ))
        };
    }
    let mut rows: Vec<Row> = Vec::new();
    match conn {
        // One cached point query per key.
        AnyConnection::Sqlite(c) => {
            for &(account, id) in keys {
                rows.extend(
                    stored!(order_ids::account_id
                        .eq(account)
                        .and(order_ids::client_order_id.eq(id)))
                    .load::<Row>(c)?,
                );
            }
        }
        // `= ANY` over both columns, in chunks.
        AnyConnection::Postgresql(c) => {
            for chunk in keys.chunks(WRITE_CHUNK) {
                let accounts: Vec<i64> = chunk.iter().map(|(a, _)| *a).collect();
                let ids: Vec<&str> = chunk.iter().map(|(_, k)| *k).collect();
                rows.extend(
                    stored!(order_ids::account_id
                        .eq_any(&accounts)
                        .and(order_ids::client_order_id.eq_any(&ids)))
                    .load::<Row>(c)?,
                );
            }
        }
    }
    let mut found = HashMap::new();
    for (account, id, side, symbol, quantity, reason, message, trade) in rows {
        let outcome = match trade {
            Some(t) => Ok(Receipt {
                transaction_id: t.id as u64,
                symbol: t.symbol,
                quantity: t.quantity as u64,
                price: Money(t.price),
                cash_after: Money(t.cash_after),
                settled_at_ms: t.settled_at,
                commission: Money(t.commission),
            }),
            None => Err(OrderError::RefusedBefore {
                reason: reason.and_then(|r| u16::try_from(r).ok()).unwrap_or(0),
                message: message.unwrap_or_default(),
            }),
        };
        let stored = StoredOrder {
            side: side_from_code(side),
            symbol,
            quantity: quantity as u64,
            outcome,
        };
        found.insert((account, id), stored);
    }
    // `eq_any` on both columns also matched other pairs; keep exactly the asked ones.
    let wanted: std::collections::HashSet<(i64, &str)> = keys.iter().copied().collect();
    found.retain(|(a, k), _| wanted.contains(&(*a, k.as_str())));
    Ok(found)
}

/// Stores outcomes (inside the settlement's transaction).
pub fn insert(conn: &mut AnyConnection, rows: &[NewOrderId]) -> Result<(), DbError> {
    match conn {
        // A single-row INSERT is a statement diesel caches; a multi-row one it is not.
        AnyConnection::Sqlite(c) => {
            for row in rows {
                diesel::insert_into(order_ids::table)
                    .values(row)
                    .execute(c)?;
            }
        }
        AnyConnection::Postgresql(c) => {
            for chunk in rows.chunks(WRITE_CHUNK) {
                diesel::insert_into(order_ids::table)
                    .values(chunk)
                    .execute(c)?;
            }
        }
    }
    Ok(())
}
