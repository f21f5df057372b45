//! Trading periods: resetting an account, and reading its closed periods.

use std::collections::HashMap;

use diesel::prelude::*;
use papertrader_protocol::data::{OrderStatus, PeriodSummary};
use papertrader_protocol::reason::ReasonCode;
use papertrader_protocol::Money;

use super::accounts::{self, Account};
use super::orders::status_code;
use super::schema::{account_periods, accounts as accounts_table, holdings, orders, transactions};
use super::settlement::take_write_lock;
use super::{AnyConnection, DbError};
use crate::domain::pnl;

/// A closed period's row.
#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable, Insertable)]
#[diesel(table_name = account_periods)]
pub struct PeriodRow {
    /// Owner.
    pub account_id: i64,
    /// Its number.
    pub period: i64,
    /// When it began, ms.
    pub started_at: i64,
    /// When the reset ended it, ms.
    pub ended_at: i64,
    /// Cash it began with.
    pub starting_cash: i64,
    /// Cash + holdings at the last prices when it ended.
    pub ending_equity: i64,
    /// Its first transaction id.
    pub first_transaction: i64,
    /// One past its last transaction id.
    pub end_transaction: i64,
    /// Its first order id.
    pub first_order: i64,
    /// One past its last order id.
    pub end_order: i64,
}

/// What a reset did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResetDone {
    /// The new period's number.
    pub period: i64,
    /// Its cash.
    pub cash: i64,
    /// The open orders it cancelled.
    pub cancelled_orders: Vec<u64>,
}

/// Closes the account's current period and starts a new one with `starting_cash`, in one
/// transaction: its open orders are cancelled (reason `AccountReset`), its holdings removed,
/// the closed period recorded with its equity at `prices` (a symbol without a price counts 0).
/// `None` when the account does not exist.
pub fn reset(
    conn: &mut AnyConnection,
    account_id: i64,
    starting_cash: i64,
    prices: &HashMap<String, i64>,
    now_ms: i64,
) -> Result<Option<ResetDone>, DbError> {
    conn.transaction(|c| {
        take_write_lock(c)?;
        let Some(account) = accounts::find_by_id(c, account_id)? else {
            return Ok(None);
        };
        let held = accounts::holdings_of(c, account_id)?;
        let equity = pnl::equity(
            account.cash,
            held.iter().map(|(s, q)| (s.as_str(), *q)),
            |s| prices.get(s).copied(),
        );
        let end_transaction: Option<i64> = transactions::table
            .select(diesel::dsl::max(transactions::id))
            .first(c)?;
        let end_order: Option<i64> = orders::table
            .select(diesel::dsl::max(orders::id))
            .first(c)?;
        let (end_transaction, end_order) =
            (end_transaction.unwrap_or(0) + 1, end_order.unwrap_or(0) + 1);
        diesel::insert_into(account_periods::table)
            .values(&PeriodRow {
                account_id,
                period: account.period,
                started_at: account.period_started_at,
                ended_at: now_ms,
                starting_cash: account.period_start_cash,
                ending_equity: equity,
                first_transaction: account.period_first_transaction,
                end_transaction,
                first_order: account.period_first_order,
                end_order,
            })
            .execute(c)?;
        let open = [
            status_code(OrderStatus::New),
            status_code(OrderStatus::PartiallyFilled),
        ];
        let cancelled: Vec<i64> = orders::table
            .filter(orders::account_id.eq(account_id))
            .filter(orders::status.eq_any(open))
            .select(orders::id)
            .load(c)?;
        diesel::update(orders::table)
            .filter(orders::id.eq_any(&cancelled))
            .set((
                orders::status.eq(status_code(OrderStatus::Cancelled)),
                orders::reason.eq(ReasonCode::AccountReset as i32),
                orders::updated_at.eq(now_ms),
            ))
            .execute(c)?;
        diesel::delete(holdings::table.filter(holdings::account_id.eq(account_id))).execute(c)?;
        let period = account.period + 1;
        diesel::update(accounts_table::table.filter(accounts_table::id.eq(account_id)))
            .set((
                accounts_table::cash.eq(starting_cash),
                accounts_table::period.eq(period),
                accounts_table::period_start_cash.eq(starting_cash),
                accounts_table::period_started_at.eq(now_ms),
                accounts_table::period_first_transaction.eq(end_transaction),
                accounts_table::period_first_order.eq(end_order),
            ))
            .execute(c)?;
        Ok(Some(ResetDone {
            period,
            cash: starting_cash,
            cancelled_orders: cancelled.into_iter().map(|id| id as u64).collect(),
        }))
    })
}

/// The account's closed periods, oldest first.
pub fn closed(conn: &mut AnyConnection, account_id: i64) -> Result<Vec<PeriodRow>, DbError> {
    Ok(account_periods::table
        .filter(account_periods::account_id.eq(account_id))
        .order(account_periods::period.asc())
        .select(PeriodRow::as_select())
        .load(conn)?)
}

/// Trades of the account with ids in `from..end` (`end` none: to the last).
pub fn count_trades(
    conn: &mut AnyConnection,
    account_id: i64,
    from: i64,
    end: Option<i64>,
) -> Result<u64, DbError> {
    let n: i64 = accounts::transactions_between(account_id, from, end)
        .count()
        .get_result(conn)?;
    Ok(n.max(0) as u64)
}

/// Every period of `account`, oldest first, the current one last.
pub fn summaries(
    conn: &mut AnyConnection,
    account: &Account,
) -> Result<Vec<PeriodSummary>, DbError> {
    let mut out = Vec::new();
    for p in closed(conn, account.id)? {
        out.push(PeriodSummary {
            period: p.period.max(0) as u64,
            started_at_ms: p.started_at,
            ended_at_ms: Some(p.ended_at),
            starting_cash: Money(p.starting_cash),
            ending_equity: Some(Money(p.ending_equity)),
            trades: count_trades(
                conn,
                account.id,
                p.first_transaction,
                Some(p.end_transaction),
            )?,
        });
    }
    out.push(PeriodSummary {
        period: account.period.max(0) as u64,
        started_at_ms: account.period_started_at,
        ended_at_ms: None,
        starting_cash: Money(account.period_start_cash),
        ending_equity: None,
        trades: count_trades(conn, account.id, account.period_first_transaction, None)?,
    });
    Ok(out)
}
