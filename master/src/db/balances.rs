//! Reading and writing the balances a settlement batch touches: cash, holdings and the new
//! transaction rows.
//!
//! Every statement here is prepared once per connection ([`Fixed`] or a query diesel caches):
//! SQLite runs one cached statement per row (in-process, a step costs far less than a parse);
//! PostgreSQL runs one statement per kind for the whole batch, each column bound as one array
//! (`unnest`, `= ANY`), so neither its text nor its parameter count grows with the batch.

use std::collections::HashMap;

use diesel::prelude::*;
use diesel::{PgConnection, SqliteConnection};

use super::accounts::TransactionRow;
use super::fixed::{fixed_sql, Bind, Fixed};
use super::schema::{accounts, holdings};
use super::{AnyConnection, DbError};

/// Ids per `= ANY` read on PostgreSQL.
const READ_CHUNK: usize = 10_000;

/// Stored cash and holdings of some accounts.
#[derive(Debug, Default, Clone)]
pub struct Balances {
    /// Cash per account, micro-units.
    pub cash: HashMap<i64, i64>,
    /// Units held per (account, symbol).
    pub holdings: HashMap<(i64, String), i64>,
}

/// What a batch changes.
#[derive(Debug, Default)]
pub struct Changes<'a> {
    /// New cash per account.
    pub cash: Vec<(i64, i64)>,
    /// New quantity per (account, symbol); 0 removes the holding.
    pub holdings: Vec<(i64, &'a str, i64)>,
    /// New transaction rows.
    pub trades: &'a [TransactionRow],
}

/// The stored balances of `account_ids` (each once).
pub fn read(conn: &mut AnyConnection, account_ids: &[i64]) -> Result<Balances, DbError> {
    match conn {
        AnyConnection::Sqlite(c) => read_sqlite(c, account_ids),
        AnyConnection::Postgresql(c) => read_postgres(c, account_ids),
    }
}

fn read_sqlite(c: &mut SqliteConnection, account_ids: &[i64]) -> Result<Balances, DbError> {
    let mut balances = Balances::default();
    for &id in account_ids {
        // The account's cash, once per holding (or once with none).
        let rows: Vec<(i64, Option<String>, Option<i64>)> = accounts::table
            .left_join(holdings::table)
            .filter(accounts::id.eq(id))
            .select((
                accounts::cash,
                holdings::symbol.nullable(),
                holdings::quantity.nullable(),
            ))
            .load(c)?;
        for (cash, symbol, quantity) in rows {
            balances.cash.insert(id, cash);
            if let (Some(symbol), Some(quantity)) = (symbol, quantity) {
                balances.holdings.insert((id, symbol), quantity);
            }
        }
    }
    Ok(balances)
}

fn read_postgres(c: &mut PgConnection, account_ids: &[i64]) -> Result<Balances, DbError> {
    let mut balances = Balances::default();
    for ids in account_ids.chunks(READ_CHUNK) {
        balances.cash.extend(
            accounts::table
                .filter(accounts::id.eq_any(ids))
                .select((accounts::id, accounts::cash))
                .load::<(i64, i64)>(c)?,
        );
        balances.holdings.extend(
            holdings::table
                .filter(holdings::account_id.eq_any(ids))
                .select((holdings::account_id, holdings::symbol, holdings::quantity))
                .load::<(i64, String, i64)>(c)?
                .into_iter()
                .map(|(a, s, n)| ((a, s), n)),
        );
    }
    Ok(balances)
}

fixed_sql!(
    /// New cash of accounts.
    WriteCash,
    sqlite: "UPDATE accounts SET cash = ? WHERE id = ?",
    postgres: "UPDATE accounts SET cash = v.cash \
               FROM unnest(?::bigint[], ?::bigint[]) AS v(id, cash) WHERE accounts.id = v.id",
);

fixed_sql!(
    /// New quantities of holdings, inserted or updated.
    WriteHolding,
    sqlite: "INSERT INTO holdings (account_id, symbol, quantity) VALUES (?, ?, ?) \
             ON CONFLICT (account_id, symbol) DO UPDATE SET quantity = excluded.quantity",
    postgres: "INSERT INTO holdings (account_id, symbol, quantity) \
               SELECT * FROM unnest(?::bigint[], ?::text[], ?::bigint[]) \
               ON CONFLICT (account_id, symbol) DO UPDATE SET quantity = excluded.quantity",
);

fixed_sql!(
    /// Holdings sold to zero.
    RemoveHolding,
    sqlite: "DELETE FROM holdings WHERE account_id = ? AND symbol = ?",
    postgres: "DELETE FROM holdings h USING unnest(?::bigint[], ?::text[]) AS v(account_id, symbol) \
               WHERE h.account_id = v.account_id AND h.symbol = v.symbol",
);

fixed_sql!(
    /// New transaction rows.
    InsertTrade,
    sqlite: "INSERT INTO transactions (id, account_id, side, symbol, quantity, price, cash_after, \
             placed_at, settled_at, tick, client_ip, worker_uuid, order_id, commission) \
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
    postgres: "INSERT INTO transactions (id, account_id, side, symbol, quantity, price, cash_after, \
               placed_at, settled_at, tick, client_ip, worker_uuid, order_id, commission) \
               SELECT * FROM unnest(?::bigint[], ?::bigint[], ?::int[], ?::text[], ?::bigint[], \
               ?::bigint[], ?::bigint[], ?::bigint[], ?::bigint[], ?::bigint[], ?::text[], \
               ?::text[], ?::bigint[], ?::bigint[])",
);

/// Writes `changes` (inside the settlement's transaction).
pub fn write(conn: &mut AnyConnection, changes: &Changes<'_>) -> Result<(), DbError> {
    match conn {
        AnyConnection::Sqlite(c) => write_sqlite(c, changes),
        AnyConnection::Postgresql(c) => write_postgres(c, changes),
    }
}

fn write_sqlite(c: &mut SqliteConnection, changes: &Changes<'_>) -> Result<(), DbError> {
    use Bind::{BigInt, Integer, NullableBigInt, NullableText, Text};
    for &(id, cash) in &changes.cash {
        Fixed::<WriteCash>::new(vec![BigInt(cash), BigInt(id)]).execute(c)?;
    }
    for &(account, symbol, quantity) in &changes.holdings {
        if quantity == 0 {
            Fixed::<RemoveHolding>::new(vec![BigInt(account), Text(symbol)]).execute(c)?;
        } else {
            Fixed::<WriteHolding>::new(vec![BigInt(account), Text(symbol), BigInt(quantity)])
                .execute(c)?;
        }
    }
    for t in changes.trades {
        Fixed::<InsertTrade>::new(vec![
            BigInt(t.id),
            BigInt(t.account_id),
            Integer(t.side),
            Text(&t.symbol),
            BigInt(t.quantity),
            BigInt(t.price),
            BigInt(t.cash_after),
            BigInt(t.placed_at),
            BigInt(t.settled_at),
            BigInt(t.tick),
            Text(&t.client_ip),
            NullableText(t.worker_uuid.as_deref()),
            NullableBigInt(t.order_id),
            BigInt(t.commission),
        ])
        .execute(c)?;
    }
    Ok(())
}

fn write_postgres(c: &mut PgConnection, changes: &Changes<'_>) -> Result<(), DbError> {
    use Bind::{BigInts, Integers, NullableBigInts, NullableTexts, Texts};
    if !changes.cash.is_empty() {
        let (ids, cash): (Vec<i64>, Vec<i64>) = changes.cash.iter().copied().unzip();
        Fixed::<WriteCash>::new(vec![BigInts(ids), BigInts(cash)]).execute(c)?;
    }
    let (emptied, kept): (Vec<&(i64, &str, i64)>, Vec<_>) =
        changes.holdings.iter().partition(|h| h.2 == 0);
    if !kept.is_empty() {
        Fixed::<WriteHolding>::new(vec![
            BigInts(kept.iter().map(|h| h.0).collect()),
            Texts(kept.iter().map(|h| h.1).collect()),
            BigInts(kept.iter().map(|h| h.2).collect()),
        ])
        .execute(c)?;
    }
    if !emptied.is_empty() {
        Fixed::<RemoveHolding>::new(vec![
            BigInts(emptied.iter().map(|h| h.0).collect()),
            Texts(emptied.iter().map(|h| h.1).collect()),
        ])
        .execute(c)?;
    }
    let trades = changes.trades;
    if !trades.is_empty() {
        let column = |f: fn(&TransactionRow) -> i64| BigInts(trades.iter().map(f).collect());
        Fixed::<InsertTrade>::new(vec![
            column(|t| t.id),
            column(|t| t.account_id),
            Integers(trades.iter().map(|t| t.side).collect()),
            Texts(trades.iter().map(|t| t.symbol.as_str()).collect()),
            column(|t| t.quantity),
            column(|t| t.price),
            column(|t| t.cash_after),
            column(|t| t.placed_at),
            column(|t| t.settled_at),
            column(|t| t.tick),
            Texts(trades.iter().map(|t| t.client_ip.as_str()).collect()),
            NullableTexts(trades.iter().map(|t| t.worker_uuid.as_deref()).collect()),
            NullableBigInts(trades.iter().map(|t| t.order_id).collect()),
            column(|t| t.commission),
        ])
        .execute(c)?;
    }
    Ok(())
}
