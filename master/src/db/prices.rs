//! Assets and price history: intraday ticks and daily/monthly bars.

use diesel::prelude::*;

use super::schema::{assets, price_bars, price_ticks};
use super::{with_backend, AnyConnection, DbError};

/// Rows per multi-row INSERT (well under SQLite's bound-parameter limit).
const INSERT_CHUNK: usize = 500;

/// `price_bars.resolution` of daily bars.
pub const DAILY: i32 = 1;
/// `price_bars.resolution` of monthly bars.
pub const MONTHLY: i32 = 2;

/// An asset row.
#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable, Insertable)]
#[diesel(table_name = assets)]
pub struct AssetRow {
    /// Symbol.
    pub symbol: String,
    /// Name.
    pub name: String,
    /// Currency code.
    pub currency: String,
}

/// One OHLCV point (a tick or a bar), prices in micro-units.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ohlcv {
    /// Start time, ms.
    pub at: i64,
    /// Open.
    pub open: i64,
    /// High.
    pub high: i64,
    /// Low.
    pub low: i64,
    /// Close.
    pub close: i64,
    /// Volume.
    pub volume: i64,
}

#[derive(Insertable)]
#[diesel(table_name = price_ticks)]
struct TickInsert<'a> {
    symbol: &'a str,
    at: i64,
    open: i64,
    high: i64,
    low: i64,
    close: i64,
    volume: i64,
}

#[derive(Insertable)]
#[diesel(table_name = price_bars)]
struct BarInsert<'a> {
    symbol: &'a str,
    resolution: i32,
    at: i64,
    open: i64,
    high: i64,
    low: i64,
    close: i64,
    volume: i64,
}

/// Inserts assets that are not stored yet.
pub fn ensure_assets(conn: &mut AnyConnection, list: &[AssetRow]) -> Result<(), DbError> {
    let known: Vec<String> = assets::table.select(assets::symbol).load(conn)?;
    let new: Vec<&AssetRow> = list.iter().filter(|a| !known.contains(&a.symbol)).collect();
    for chunk in new.chunks(INSERT_CHUNK) {
        let rows: Vec<AssetRow> = chunk.iter().map(|a| (*a).clone()).collect();
        with_backend!(conn, |c| diesel::insert_into(assets::table)
            .values(&rows)
            .execute(c))?;
    }
    Ok(())
}

/// All stored assets.
pub fn all_assets(conn: &mut AnyConnection) -> Result<Vec<AssetRow>, DbError> {
    Ok(assets::table
        .order(assets::symbol.asc())
        .select(AssetRow::as_select())
        .load(conn)?)
}

/// Inserts intraday ticks (`(symbol, point)` pairs).
pub fn insert_ticks(conn: &mut AnyConnection, ticks: &[(&str, Ohlcv)]) -> Result<(), DbError> {
    for chunk in ticks.chunks(INSERT_CHUNK) {
        let rows: Vec<TickInsert<'_>> = chunk
            .iter()
            .map(|(symbol, p)| TickInsert {
                symbol,
                at: p.at,
                open: p.open,
                high: p.high,
                low: p.low,
                close: p.close,
                volume: p.volume,
            })
            .collect();
        with_backend!(conn, |c| diesel::insert_into(price_ticks::table)
            .values(&rows)
            .execute(c))?;
    }
    Ok(())
}

/// Inserts complete bars (backfill).
pub fn insert_bars(
    conn: &mut AnyConnection,
    resolution: i32,
    bars: &[(&str, Ohlcv)],
) -> Result<(), DbError> {
    for chunk in bars.chunks(INSERT_CHUNK) {
        let rows: Vec<BarInsert<'_>> = chunk
            .iter()
            .map(|(symbol, p)| BarInsert {
                symbol,
                resolution,
                at: p.at,
                open: p.open,
                high: p.high,
                low: p.low,
                close: p.close,
                volume: p.volume,
            })
            .collect();
        with_backend!(conn, |c| diesel::insert_into(price_bars::table)
            .values(&rows)
            .execute(c))?;
    }
    Ok(())
}

/// Folds a new price into the bar starting at `bar_start`: creates it, or raises high, lowers
/// low, sets close and adds volume.
pub fn fold_into_bar(
    conn: &mut AnyConnection,
    symbol: &str,
    resolution: i32,
    bar_start: i64,
    price: i64,
    volume: i64,
) -> Result<(), DbError> {
    let key = price_bars::table
        .filter(price_bars::symbol.eq(symbol))
        .filter(price_bars::resolution.eq(resolution))
        .filter(price_bars::at.eq(bar_start));
    let existing: Option<(i64, i64, i64)> = key
        .select((price_bars::high, price_bars::low, price_bars::volume))
        .first(conn)
        .optional()?;
    match existing {
        Some((high, low, old_volume)) => {
            diesel::update(key)
                .set((
                    price_bars::high.eq(high.max(price)),
                    price_bars::low.eq(low.min(price)),
                    price_bars::close.eq(price),
                    price_bars::volume.eq(old_volume.saturating_add(volume)),
                ))
                .execute(conn)?;
        }
        None => {
            diesel::insert_into(price_bars::table)
                .values(BarInsert {
                    symbol,
                    resolution,
                    at: bar_start,
                    open: price,
                    high: price,
                    low: price,
                    close: price,
                    volume,
                })
                .execute(conn)?;
        }
    }
    Ok(())
}

/// Ticks of `symbol` with `from <= at <= to`, oldest first.
pub fn ticks_between(
    conn: &mut AnyConnection,
    symbol: &str,
    from: i64,
    to: i64,
) -> Result<Vec<Ohlcv>, DbError> {
    let rows: Vec<(i64, i64, i64, i64, i64, i64)> = price_ticks::table
        .filter(price_ticks::symbol.eq(symbol))
        .filter(price_ticks::at.between(from, to))
        .order(price_ticks::at.asc())
        .select((
            price_ticks::at,
            price_ticks::open,
            price_ticks::high,
            price_ticks::low,
            price_ticks::close,
            price_ticks::volume,
        ))
        .load(conn)?;
    Ok(rows.into_iter().map(ohlcv).collect())
}

/// Bars of `symbol` at `resolution` with `from <= at <= to`, oldest first.
pub fn bars_between(
    conn: &mut AnyConnection,
    symbol: &str,
    resolution: i32,
    from: i64,
    to: i64,
) -> Result<Vec<Ohlcv>, DbError> {
    let rows: Vec<(i64, i64, i64, i64, i64, i64)> = price_bars::table
        .filter(price_bars::symbol.eq(symbol))
        .filter(price_bars::resolution.eq(resolution))
        .filter(price_bars::at.between(from, to))
        .order(price_bars::at.asc())
        .select((
            price_bars::at,
            price_bars::open,
            price_bars::high,
            price_bars::low,
            price_bars::close,
            price_bars::volume,
        ))
        .load(conn)?;
    Ok(rows.into_iter().map(ohlcv).collect())
}

/// The newest tick of every symbol that has one: `(symbol, point)`.
pub fn latest_ticks(conn: &mut AnyConnection) -> Result<Vec<(String, Ohlcv)>, DbError> {
    let symbols: Vec<String> = assets::table.select(assets::symbol).load(conn)?;
    let mut out = Vec::with_capacity(symbols.len());
    for symbol in symbols {
        let row: Option<(i64, i64, i64, i64, i64, i64)> = price_ticks::table
            .filter(price_ticks::symbol.eq(&symbol))
            .order(price_ticks::at.desc())
            .select((
                price_ticks::at,
                price_ticks::open,
                price_ticks::high,
                price_ticks::low,
                price_ticks::close,
                price_ticks::volume,
            ))
            .first(conn)
            .optional()?;
        if let Some(row) = row {
            out.push((symbol, ohlcv(row)));
        }
    }
    Ok(out)
}

/// Deletes ticks older than `before` (the recent window is kept at tick resolution).
pub fn prune_ticks(conn: &mut AnyConnection, before: i64) -> Result<usize, DbError> {
    Ok(diesel::delete(price_ticks::table.filter(price_ticks::at.lt(before))).execute(conn)?)
}

fn ohlcv((at, open, high, low, close, volume): (i64, i64, i64, i64, i64, i64)) -> Ohlcv {
    Ohlcv {
        at,
        open,
        high,
        low,
        close,
        volume,
    }
}
