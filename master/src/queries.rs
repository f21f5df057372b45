//! Answers to the data requests: asset info, prices, history ranges, user data — the read
//! side of the service layer. Each answer is a reply body or a [`QueryError`], which says
//! which `dataFail` it becomes.
//!
//! History ranges end at `date` (inclusive):
//! - Day: intraday ticks with `date − 24 h ≤ at ≤ date`;
//! - Week: the 7 daily bars ending with `date`'s UTC day;
//! - Month: the 30 daily bars ending with `date`'s UTC day;
//! - Year: the 12 monthly bars ending with `date`'s UTC month;
//! - AllTime: every monthly bar.

use chrono::{Datelike, TimeZone, Utc};
use papertrader_protocol::data::{
    AccountSummary, AssetInfo, Bar, DataBody, EquityHistory, EquityPoint, History, Holding,
    PeriodList, Portfolio, Resolution, Transaction, TransactionHistory, UserInfo,
};
use papertrader_protocol::history_range::HistoryRange;
use papertrader_protocol::limits::MAX_DATE_MS;
use papertrader_protocol::{Failure, Money, ReasonCode};
use thiserror::Error;

use crate::db::{accounts, periods, prices, settlement, AnyConnection, DbError};
use crate::domain::calendar::{day_start, month_start, DAY_MS};
use crate::domain::pnl::{equity as pnl_equity, return_ppm, Ledger, TradeFacts};
use crate::domain::sessions::LiveSession;
use crate::market::{AssetSpec, PriceBook};
use crate::reasons;

/// Why a data request has no answer.
#[derive(Debug, Error)]
pub enum QueryError {
    /// The symbol is not in the asset list.
    #[error("{symbol} is not traded here")]
    UnknownAsset {
        /// The symbol asked for.
        symbol: String,
    },
    /// A traded asset without a price yet.
    #[error("no price for {symbol} yet")]
    NoPrice {
        /// The asset.
        symbol: String,
    },
    /// No stored prices in the requested window.
    #[error("no {symbol} prices in that range")]
    NoPricesInRange {
        /// The asset.
        symbol: String,
    },
    /// No account has that username.
    #[error("no user named {username}")]
    UnknownUser {
        /// The username asked for.
        username: String,
    },
    /// The account has no such period.
    #[error("your account has no period {period}")]
    UnknownPeriod {
        /// The period asked for.
        period: u64,
    },
    /// The database failed.
    #[error("database: {0}")]
    Database(#[from] DbError),
}

impl QueryError {
    /// The `dataFail` a data request without an answer gets. A database error says only that
    /// the database is unavailable (its detail goes to the log, not to clients).
    pub fn failure(&self) -> Failure {
        let code = match self {
            QueryError::UnknownAsset { .. } => ReasonCode::UnknownAsset,
            QueryError::NoPrice { .. } | QueryError::NoPricesInRange { .. } => ReasonCode::NoData,
            QueryError::UnknownUser { .. } => ReasonCode::UnknownUser,
            QueryError::UnknownPeriod { .. } => ReasonCode::NoData,
            QueryError::Database(_) => return reasons::unavailable(),
        };
        Failure::new(code, self.to_string())
    }
}

/// A query result: the body, or why there is none.
pub type Answer = Result<DataBody, QueryError>;

fn unknown_asset(symbol: &str) -> QueryError {
    QueryError::UnknownAsset {
        symbol: symbol.to_owned(),
    }
}

fn no_price(symbol: &str) -> QueryError {
    QueryError::NoPrice {
        symbol: symbol.to_owned(),
    }
}

/// `getAssetInfo`.
pub fn asset_info(assets: &[AssetSpec], book: &PriceBook, symbol: &str) -> Answer {
    let spec = assets
        .iter()
        .find(|a| a.symbol == symbol)
        .ok_or_else(|| unknown_asset(symbol))?;
    let latest = book.quote(symbol).ok_or_else(|| no_price(symbol))?;
    Ok(DataBody::AssetInfo(AssetInfo {
        symbol: spec.symbol.clone(),
        name: spec.name.clone(),
        currency: "USD".to_owned(),
        latest,
    }))
}

/// `getAssetValueCurrent`.
pub fn current(assets: &[AssetSpec], book: &PriceBook, symbol: &str) -> Answer {
    if !assets.iter().any(|a| a.symbol == symbol) {
        return Err(unknown_asset(symbol));
    }
    book.quote(symbol)
        .map(DataBody::Quote)
        .ok_or_else(|| no_price(symbol))
}

/// Start of the UTC month `n` months before the month starting at `month_start_ms`.
fn months_back(month_start_ms: i64, n: u32) -> i64 {
    let at = Utc
        .timestamp_millis_opt(month_start_ms)
        .single()
        .unwrap_or_default();
    let total = at.year() * 12 + at.month0() as i32 - n as i32;
    Utc.with_ymd_and_hms(
        total.div_euclid(12),
        total.rem_euclid(12) as u32 + 1,
        1,
        0,
        0,
        0,
    )
    .single()
    .map(|d| d.timestamp_millis())
    .unwrap_or(i64::MIN)
}

/// The `[from, to]` window and resolution of a range ending at `date_ms`.
pub fn window(range: HistoryRange, date_ms: i64) -> (i64, i64, Resolution) {
    match range {
        HistoryRange::Day => (date_ms.saturating_sub(DAY_MS), date_ms, Resolution::Tick),
        HistoryRange::Week => (day_start(date_ms) - 6 * DAY_MS, date_ms, Resolution::Daily),
        HistoryRange::Month => (day_start(date_ms) - 29 * DAY_MS, date_ms, Resolution::Daily),
        HistoryRange::Year => (
            months_back(month_start(date_ms), 11),
            date_ms,
            Resolution::Monthly,
        ),
        // The span of what is stored: set from the bars found (see `history`).
        HistoryRange::AllTime => (0, MAX_DATE_MS, Resolution::Monthly),
    }
}

/// `getAssetValueDay/Week/Month/Year/AllTime`.
pub fn history(
    conn: &mut AnyConnection,
    assets: &[AssetSpec],
    symbol: &str,
    range: HistoryRange,
    date_ms: i64,
) -> Answer {
    if !assets.iter().any(|a| a.symbol == symbol) {
        return Err(unknown_asset(symbol));
    }
    let (from, to, resolution) = window(range, date_ms);
    let points = match resolution {
        Resolution::Tick => prices::ticks_between(conn, symbol, from, to)?,
        Resolution::Daily => prices::bars_between(conn, symbol, prices::DAILY, from, to)?,
        Resolution::Monthly => prices::bars_between(conn, symbol, prices::MONTHLY, from, to)?,
    };
    if points.is_empty() {
        return Err(QueryError::NoPricesInRange {
            symbol: symbol.to_owned(),
        });
    }
    // AllTime reports the span of its bars, first to last.
    let (from, to) = match range {
        HistoryRange::AllTime => (
            points.first().map_or(from, |p| p.at),
            points.last().map_or(to, |p| p.at),
        ),
        _ => (from, to),
    };
    let bars = points
        .into_iter()
        .map(|p| Bar {
            at_ms: p.at,
            open: Money(p.open),
            high: Money(p.high),
            low: Money(p.low),
            close: Money(p.close),
            volume: u64::try_from(p.volume).unwrap_or(0),
        })
        .collect();
    Ok(DataBody::History(History {
        symbol: symbol.to_owned(),
        resolution,
        from_ms: from,
        to_ms: to,
        bars,
    }))
}

/// The account named `username` and whether `viewer` owns it.
fn account_seen_by(
    conn: &mut AnyConnection,
    viewer: &LiveSession,
    username: &str,
) -> Result<(accounts::Account, bool), QueryError> {
    let account =
        accounts::find_by_username(conn, username)?.ok_or_else(|| QueryError::UnknownUser {
            username: username.to_owned(),
        })?;
    let owner = account.id == viewer.account_id;
    Ok((account, owner))
}

/// The session's own account.
fn own_account(
    conn: &mut AnyConnection,
    viewer: &LiveSession,
) -> Result<accounts::Account, QueryError> {
    accounts::find_by_id(conn, viewer.account_id)?.ok_or_else(|| QueryError::UnknownUser {
        username: viewer.username.clone(),
    })
}

/// `getUserInfo`: private fields only for the owner.
pub fn user_info(conn: &mut AnyConnection, viewer: &LiveSession, username: &str) -> Answer {
    let (account, owner) = account_seen_by(conn, viewer, username)?;
    Ok(DataBody::UserInfo(UserInfo {
        username: account.username,
        created_at_ms: account.created_at,
        is_owner: owner,
        email: owner.then_some(account.email),
        has_password: owner.then_some(account.is_password),
        cash: owner.then_some(Money(account.cash)),
    }))
}

/// `getUserPortfolio`: holdings for anyone; cash, cost, P&L and the period's summary only for
/// the owner (replayed from the current period's trades, [`crate::domain::pnl`]).
pub fn portfolio(
    conn: &mut AnyConnection,
    book: &PriceBook,
    viewer: &LiveSession,
    username: &str,
    reserved_cash: i64,
) -> Answer {
    let (account, owner) = account_seen_by(conn, viewer, username)?;
    let snapshot = book.snapshot();
    let price_of = |symbol: &str| snapshot.price_of(symbol).map(|(p, _)| p.micros());
    let ledger = if owner {
        let trades =
            accounts::transactions_from(conn, account.id, account.period_first_transaction, None)?;
        let facts: Vec<TradeFacts> = trades
            .into_iter()
            .map(|t| TradeFacts {
                side: settlement::side_from_code(t.side),
                symbol: t.symbol,
                quantity: t.quantity,
                price: t.price,
                commission: t.commission,
            })
            .collect();
        Some(Ledger::replay(&facts))
    } else {
        None
    };
    let held = accounts::holdings_of(conn, account.id)?;
    let equity = pnl_equity(
        account.cash,
        held.iter().map(|(s, q)| (s.as_str(), *q)),
        price_of,
    );
    let holdings = held
        .into_iter()
        .map(|(symbol, quantity)| {
            let price = price_of(&symbol).unwrap_or(0);
            let position = ledger
                .as_ref()
                .and_then(|l| l.positions.get(&symbol).copied());
            Holding {
                price: Money(price),
                average_cost: position.and_then(|p| p.average_cost()).map(Money),
                unrealised_pnl: position
                    .map(|p| Money(price.saturating_mul(p.quantity).saturating_sub(p.cost))),
                symbol,
                quantity: u64::try_from(quantity).unwrap_or(0),
            }
        })
        .collect();
    let summary = ledger.map(|l| AccountSummary {
        period: account.period.max(0) as u64,
        period_started_at_ms: account.period_started_at,
        starting_cash: Money(account.period_start_cash),
        equity: Money(equity),
        realised_pnl: Money(l.realised),
        unrealised_pnl: Money(l.unrealised(price_of)),
        commissions: Money(l.commissions),
        return_ppm: return_ppm(equity, account.period_start_cash),
        reserved_cash: Money(reserved_cash),
        buying_power: Money(account.cash - reserved_cash),
    });
    Ok(DataBody::Portfolio(Portfolio {
        username: account.username,
        cash: owner.then_some(Money(account.cash)),
        holdings,
        summary,
    }))
}

/// The most points `getEquityHistory` returns (the oldest of the range).
pub const MAX_EQUITY_POINTS: i64 = 20_000;

/// `getEquityHistory`: the session's account's equity points of its current period in
/// `from..=to`.
pub fn equity_history(
    conn: &mut AnyConnection,
    viewer: &LiveSession,
    from: i64,
    to: i64,
) -> Answer {
    let account = own_account(conn, viewer)?;
    let rows = crate::db::equity::history(
        conn,
        account.id,
        account.period,
        from,
        to,
        MAX_EQUITY_POINTS,
    )?;
    Ok(DataBody::Equity(EquityHistory {
        username: account.username,
        period: account.period.max(0) as u64,
        points: rows
            .into_iter()
            .map(|r| EquityPoint {
                at_ms: r.at,
                daily: r.resolution == crate::db::equity::DAILY,
                equity: Money(r.equity),
                cash: Money(r.cash),
            })
            .collect(),
    }))
}

/// `getPeriods`: the session's account's trading periods.
pub fn periods(conn: &mut AnyConnection, viewer: &LiveSession) -> Answer {
    let account = own_account(conn, viewer)?;
    Ok(DataBody::Periods(PeriodList {
        periods: periods::summaries(conn, &account)?,
        username: account.username,
    }))
}

/// `getPeriodTransactions`: the trades of one of the session's account's periods.
pub fn period_transactions(conn: &mut AnyConnection, viewer: &LiveSession, period: u64) -> Answer {
    let account = own_account(conn, viewer)?;
    let (from, end) = if period == account.period.max(0) as u64 {
        (account.period_first_transaction, None)
    } else {
        let closed = periods::closed(conn, account.id)?;
        let p = closed
            .iter()
            .find(|p| p.period.max(0) as u64 == period)
            .ok_or(QueryError::UnknownPeriod { period })?;
        (p.first_transaction, Some(p.end_transaction))
    };
    let rows = accounts::transactions_from(conn, account.id, from, end)?;
    Ok(DataBody::Transactions(TransactionHistory {
        username: account.username,
        entries: rows.into_iter().map(|r| transaction(r, true)).collect(),
    }))
}

fn transaction(row: accounts::TransactionRow, owner: bool) -> Transaction {
    Transaction {
        id: u64::try_from(row.id).unwrap_or(0),
        side: settlement::side_from_code(row.side),
        symbol: row.symbol,
        quantity: u64::try_from(row.quantity).unwrap_or(0),
        price: Money(row.price),
        settled_at_ms: row.settled_at,
        cash_after: owner.then_some(Money(row.cash_after)),
        commission: Money(row.commission),
        order_id: row.order_id.map(|id| id.max(0) as u64),
    }
}

/// `getUserTransactionHistory`: the current period's trades for anyone, cash after each only
/// for the owner (earlier periods: `getPeriodTransactions`).
pub fn transactions(conn: &mut AnyConnection, viewer: &LiveSession, username: &str) -> Answer {
    let (account, owner) = account_seen_by(conn, viewer, username)?;
    let entries =
        accounts::transactions_from(conn, account.id, account.period_first_transaction, None)?
            .into_iter()
            .map(|row| transaction(row, owner))
            .collect();
    Ok(DataBody::Transactions(TransactionHistory {
        username: account.username,
        entries,
    }))
}

/// The most orders `getOrders` lists (the newest).
pub const MAX_ORDERS_LISTED: i64 = 1_000;

/// The session's account's orders of its current period, newest first: open ones, or all.
pub fn orders(conn: &mut AnyConnection, viewer: &LiveSession, include_closed: bool) -> Answer {
    let from = own_account(conn, viewer)?.period_first_order;
    let orders = crate::db::orders::list(
        conn,
        viewer.account_id,
        from,
        include_closed,
        MAX_ORDERS_LISTED,
    )?;
    Ok(DataBody::Orders(papertrader_protocol::data::OrderList {
        username: viewer.username.clone(),
        orders,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn current_tells_unknown_assets_from_assets_without_a_price_yet() {
        let assets = vec![AssetSpec::new("AAPL", "Apple", Money::from_units(1))];
        let book = PriceBook::default();
        assert!(matches!(
            current(&assets, &book, "ZZZ"),
            Err(QueryError::UnknownAsset { .. })
        ));
        assert!(matches!(
            current(&assets, &book, "AAPL"),
            Err(QueryError::NoPrice { .. })
        ));
        let fresh = [crate::market::ProviderQuote {
            symbol: "AAPL".into(),
            price: Money(5),
            volume: 1,
            day: None,
            at_ms: None,
        }];
        book.publish(book.snapshot().advance(1, 0, &fresh, &["AAPL".to_owned()]));
        assert!(
            matches!(current(&assets, &book, "AAPL"), Ok(DataBody::Quote(q)) if q.close == Money(5))
        );
    }

    #[test]
    fn windows_follow_the_documented_rules() {
        let date = 1_709_208_000_000; // 2024-02-29 12:00 UTC (leap day)
        assert_eq!(
            window(HistoryRange::Day, date),
            (date - DAY_MS, date, Resolution::Tick)
        );
        let (from, _, _) = window(HistoryRange::Week, date);
        assert_eq!(from, 1_708_646_400_000); // 2024-02-23 00:00
        let (from, _, _) = window(HistoryRange::Month, date);
        assert_eq!(from, 1_706_659_200_000); // 2024-01-31 00:00
        let (from, _, res) = window(HistoryRange::Year, date);
        assert_eq!((from, res), (1_677_628_800_000, Resolution::Monthly)); // 2023-03-01: 12 months through Feb 2024
        assert_eq!(months_back(1_704_067_200_000, 1), 1_701_388_800_000); // 2024-01 → 2023-12
    }
}
