//! Equity points: every account's cash plus holdings at a tick's prices, recorded by the
//! trade queue between settlements, read back as an account's equity history.

use std::collections::HashMap;

use diesel::prelude::*;

use super::schema::{accounts, equity_points, holdings};
use super::{with_backend, AnyConnection, DbError};
use crate::domain::pnl;

/// Resolution of a point taken at an equity step during the day.
pub const INTRADAY: i32 = 0;
/// Resolution of a point taken at a UTC day's last tick (its `at` is the day's start).
pub const DAILY: i32 = 1;
/// How long intraday points are kept, ms.
pub const INTRADAY_RETENTION_MS: i64 = 7 * 86_400_000;

/// One stored point.
#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable, Insertable)]
#[diesel(table_name = equity_points)]
pub struct EquityRow {
    /// Owner.
    pub account_id: i64,
    /// [`INTRADAY`] or [`DAILY`].
    pub resolution: i32,
    /// The tick's time, or the start of the day.
    pub at: i64,
    /// The account's period then.
    pub period: i64,
    /// Cash + holdings at the prices.
    pub equity: i64,
    /// Cash.
    pub cash: i64,
}

/// Records every account's equity at `prices` (a symbol without a price counts 0) as a point
/// of `resolution` at `at`, replacing one already there; returns the points written. Old
/// intraday points are pruned with each daily record.
pub fn record(
    conn: &mut AnyConnection,
    at: i64,
    resolution: i32,
    prices: &HashMap<String, i64>,
) -> Result<usize, DbError> {
    conn.transaction(|c| {
        let balances: Vec<(i64, i64, i64)> = accounts::table
            .select((accounts::id, accounts::cash, accounts::period))
            .load(c)?;
        let held: Vec<(i64, String, i64)> = holdings::table
            .select((holdings::account_id, holdings::symbol, holdings::quantity))
            .load(c)?;
        let mut by_account: HashMap<i64, Vec<(String, i64)>> = HashMap::new();
        for (account, symbol, quantity) in held {
            by_account
                .entry(account)
                .or_default()
                .push((symbol, quantity));
        }
        let rows: Vec<EquityRow> = balances
            .into_iter()
            .map(|(account_id, cash, period)| {
                let held = by_account
                    .get(&account_id)
                    .map(Vec::as_slice)
                    .unwrap_or(&[]);
                let equity = pnl::equity(cash, held.iter().map(|(s, q)| (s.as_str(), *q)), |s| {
                    prices.get(s).copied()
                });
                EquityRow {
                    account_id,
                    resolution,
                    at,
                    period,
                    equity,
                    cash,
                }
            })
            .collect();
        diesel::delete(
            equity_points::table
                .filter(equity_points::resolution.eq(resolution))
                .filter(equity_points::at.eq(at)),
        )
        .execute(c)?;
        for chunk in rows.chunks(1_000) {
            with_backend!(c, |c| diesel::insert_into(equity_points::table)
                .values(chunk)
                .execute(c))?;
        }
        if resolution == DAILY {
            diesel::delete(
                equity_points::table
                    .filter(equity_points::resolution.eq(INTRADAY))
                    .filter(equity_points::at.lt(at - INTRADAY_RETENTION_MS)),
            )
            .execute(c)?;
        }
        Ok(rows.len())
    })
}

/// The account's points of `period` with `from <= at <= to`, in time order (daily and
/// intraday together), at most `limit`.
pub fn history(
    conn: &mut AnyConnection,
    account_id: i64,
    period: i64,
    from: i64,
    to: i64,
    limit: i64,
) -> Result<Vec<EquityRow>, DbError> {
    Ok(equity_points::table
        .filter(equity_points::account_id.eq(account_id))
        .filter(equity_points::period.eq(period))
        .filter(equity_points::at.ge(from))
        .filter(equity_points::at.le(to))
        .order((equity_points::at.asc(), equity_points::resolution.asc()))
        .limit(limit)
        .select(EquityRow::as_select())
        .load(conn)?)
}
