//! Assets and price history: intraday ticks and daily/monthly bars.

use diesel::prelude::*;

use super::fixed::{fixed_sql, Bind, Fixed};
use super::schema::{assets, price_bars, price_ticks};
use super::{with_backend, AnyConnection, DbError};
use crate::domain::bars::Ohlcv;

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
    fn row<'a>((symbol, p): &(&'a str, Ohlcv)) -> TickInsert<'a> {
        TickInsert {
            symbol,
            at: p.at,
            open: p.open,
            high: p.high,
            low: p.low,
            close: p.close,
            volume: p.volume,
        }
    }
    match conn {
        // A single-row INSERT is a statement diesel caches; a multi-row one it is not.
        AnyConnection::Sqlite(c) => {
            for tick in ticks {
                diesel::insert_into(price_ticks::table)
                    .values(row(tick))
                    .execute(c)?;
            }
        }
        AnyConnection::Postgresql(c) => {
            for chunk in ticks.chunks(INSERT_CHUNK) {
                let rows: Vec<TickInsert<'_>> = chunk.iter().map(row).collect();
                diesel::insert_into(price_ticks::table)
                    .values(&rows)
                    .execute(c)?;
            }
        }
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

fixed_sql!(
    /// Folds prices into bars: creates each, or raises its high, lowers its low, sets its close
    /// and adds to its volume (saturating).
    FoldIntoBar,
    sqlite: "INSERT INTO price_bars (symbol, resolution, at, open, high, low, close, volume) \
             VALUES (?, ?, ?, ?, ?, ?, ?, ?) \
             ON CONFLICT (symbol, resolution, at) DO UPDATE SET \
             high = max(price_bars.high, excluded.high), low = min(price_bars.low, excluded.low), \
             close = excluded.close, \
             volume = CASE WHEN price_bars.volume > 9223372036854775807 - excluded.volume \
             THEN 9223372036854775807 ELSE price_bars.volume + excluded.volume END",
    postgres: "INSERT INTO price_bars (symbol, resolution, at, open, high, low, close, volume) \
               SELECT s, ?::int, ?::bigint, o, h, l, c, v \
               FROM unnest(?::text[], ?::bigint[], ?::bigint[], ?::bigint[], ?::bigint[], \
               ?::bigint[]) AS t(s, o, h, l, c, v) \
               ON CONFLICT (symbol, resolution, at) DO UPDATE SET \
               high = GREATEST(price_bars.high, excluded.high), \
               low = LEAST(price_bars.low, excluded.low), close = excluded.close, \
               volume = CASE WHEN price_bars.volume > 9223372036854775807 - excluded.volume \
               THEN 9223372036854775807 ELSE price_bars.volume + excluded.volume END",
);

/// Folds new points (`(symbol, point)`; its `at` is not used) into the bars of `resolution`
/// starting at `bar_start`: creates each with the point's values, or raises high to the
/// point's high, lowers low to its low, sets close and adds its volume (the open stays the
/// first one's).
pub fn fold_into_bars(
    conn: &mut AnyConnection,
    resolution: i32,
    bar_start: i64,
    points: &[(&str, Ohlcv)],
) -> Result<(), DbError> {
    use Bind::{BigInt, BigInts, Integer, Text, Texts};
    match conn {
        AnyConnection::Sqlite(c) => {
            for &(symbol, p) in points {
                Fixed::<FoldIntoBar>::new(vec![
                    Text(symbol),
                    Integer(resolution),
                    BigInt(bar_start),
                    BigInt(p.open),
                    BigInt(p.high),
                    BigInt(p.low),
                    BigInt(p.close),
                    BigInt(p.volume),
                ])
                .execute(c)?;
            }
        }
        AnyConnection::Postgresql(c) if !points.is_empty() => {
            let column = |f: fn(&Ohlcv) -> i64| points.iter().map(|(_, p)| f(p)).collect();
            Fixed::<FoldIntoBar>::new(vec![
                Integer(resolution),
                BigInt(bar_start),
                Texts(points.iter().map(|p| p.0).collect()),
                BigInts(column(|p| p.open)),
                BigInts(column(|p| p.high)),
                BigInts(column(|p| p.low)),
                BigInts(column(|p| p.close)),
                BigInts(column(|p| p.volume)),
            ])
            .execute(c)?;
        }
        AnyConnection::Postgresql(_) => {}
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
