//! CSV replay: trade a past period on a market clock. The replay steps through the file's
//! dates (every date any symbol has a row for, in order), `speed` dates per update interval,
//! with every symbol at the same date: its row of that date (or its latest row before it, when
//! it did not trade that day); a symbol before its first row is "not traded yet". Each quote
//! carries the row's date as its time and the row's open, high, low, close and volume as its
//! day, so the bars history shows are the file's rows at the file's dates. At the end the
//! replay starts over (`loop`), its dates moved on by the period's length and a day so time
//! never runs backwards, or stops, leaving prices stale. After a restart it continues after
//! the last replayed date stored.
//!
//! File format: a header line `date,symbol,open,high,low,close,volume` (any order, any case;
//! `open`, `high` and `low` may be left out — the close stands in for them — and other columns
//! are ignored), then one row per symbol and date. `date` is `YYYY-MM-DD`, an RFC 3339 time or
//! milliseconds since the epoch; prices are decimals (rounded to micro-units); volume a whole
//! number. Lines starting with `#` are comments.

use std::collections::{BTreeSet, HashMap};

use futures::future::{ready, LocalBoxFuture};
use papertrader_protocol::Money;

use super::provider::{DayFigures, FetchOutcome, PriceProvider, ProviderError, ProviderQuote};
use super::AssetSpec;
use crate::domain::bars::Ohlcv;
use crate::domain::calendar::DAY_MS;

/// One row of a replay.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReplayRow {
    /// The row's date, ms.
    pub at: i64,
    /// Opening price (the close when the file has no open column).
    pub open: Money,
    /// Highest price (the close when the file has no high column).
    pub high: Money,
    /// Lowest price (the close when the file has no low column).
    pub low: Money,
    /// Closing price.
    pub close: Money,
    /// Volume.
    pub volume: u64,
}

/// The CSV replay provider.
#[derive(Debug)]
pub struct CsvReplay {
    rows: HashMap<String, Vec<ReplayRow>>,
    /// Every date of the file, in order: the replay's clock.
    dates: Vec<i64>,
    /// Dates replayed so far, over all passes (the next one is `dates[step % dates.len()]`).
    step: usize,
    speed: usize,
    looping: bool,
}

fn parse_date(text: &str) -> Option<i64> {
    if let Ok(ms) = text.parse::<i64>() {
        return Some(ms);
    }
    if let Ok(day) = chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d") {
        return Some(day.and_hms_opt(0, 0, 0)?.and_utc().timestamp_millis());
    }
    chrono::DateTime::parse_from_rfc3339(text)
        .ok()
        .map(|t| t.timestamp_millis())
}

impl CsvReplay {
    /// Parses a replay file's text.
    pub fn parse(text: &str, speed: u32, looping: bool) -> Result<Self, String> {
        let mut lines = text
            .lines()
            .enumerate()
            .filter(|(_, l)| !l.trim().is_empty() && !l.trim_start().starts_with('#'));
        let (_, header) = lines.next().ok_or("the file is empty")?;
        let names: Vec<String> = header
            .split(',')
            .map(|h| h.trim().to_ascii_lowercase())
            .collect();
        let optional = |name: &str| names.iter().position(|n| n == name);
        let column = |name: &str| optional(name).ok_or(format!("no {name} column in the header"));
        let (date, symbol, close, volume) = (
            column("date")?,
            column("symbol")?,
            column("close")?,
            column("volume")?,
        );
        let (open, high, low) = (optional("open"), optional("high"), optional("low"));
        let mut rows: HashMap<String, Vec<ReplayRow>> = HashMap::new();
        for (index, line) in lines {
            let cells: Vec<&str> = line.split(',').map(str::trim).collect();
            let bad = |what: &str| format!("line {}: {what}", index + 1);
            let cell = |i: usize| cells.get(i).copied().ok_or_else(|| bad("too few columns"));
            let money = |i: usize, what: &str| {
                Money::from_decimal_rounded(cell(i)?)
                    .filter(|m| m.micros() > 0)
                    .ok_or_else(|| bad(&format!("bad {what} price")))
            };
            let at = parse_date(cell(date)?).ok_or_else(|| bad("bad date"))?;
            let close_price = money(close, "close")?;
            let or_close =
                |i: Option<usize>, what: &str| i.map_or(Ok(close_price), |i| money(i, what));
            let units = cell(volume)?
                .parse::<u64>()
                .map_err(|_| bad("bad volume"))?;
            rows.entry(cell(symbol)?.to_owned())
                .or_default()
                .push(ReplayRow {
                    at,
                    open: or_close(open, "open")?,
                    high: or_close(high, "high")?,
                    low: or_close(low, "low")?,
                    close: close_price,
                    volume: units,
                });
        }
        if rows.is_empty() {
            return Err("no rows".into());
        }
        let mut dates = BTreeSet::new();
        for list in rows.values_mut() {
            list.sort_by_key(|r| r.at);
            dates.extend(list.iter().map(|r| r.at));
        }
        Ok(Self {
            rows,
            dates: dates.into_iter().collect(),
            step: 0,
            speed: speed.max(1) as usize,
            looping,
        })
    }

    /// How far one pass moves the dates on: the period's length and a day.
    fn pass_length(&self) -> i64 {
        let (first, last) = (self.dates[0], self.dates[self.dates.len() - 1]);
        last - first + DAY_MS
    }

    /// The replayed date now (moved on by the passes made), or `None` when a replay that does
    /// not loop has ended.
    fn clock(&self) -> Option<(usize, i64)> {
        let pass = self.step / self.dates.len();
        if pass > 0 && !self.looping {
            return None;
        }
        let index = self.step % self.dates.len();
        let shift = self.pass_length().saturating_mul(pass as i64);
        Some((index, self.dates[index].saturating_add(shift)))
    }

    /// The row of `symbol` on the date `dates[index]`: that date's, or its latest before it.
    fn row(&self, symbol: &str, index: usize) -> Result<ReplayRow, ProviderError> {
        let list = self.rows.get(symbol).ok_or(ProviderError::UnknownSymbol)?;
        let date = self.dates[index];
        let before = list.partition_point(|r| r.at <= date);
        before
            .checked_sub(1)
            .map(|i| list[i])
            .ok_or(ProviderError::NotTradedYet)
    }
}

impl PriceProvider for CsvReplay {
    fn name(&self) -> &'static str {
        "csv"
    }

    fn fetch(
        &mut self,
        assets: &[AssetSpec],
        _at_ms: i64,
    ) -> LocalBoxFuture<'static, FetchOutcome> {
        let mut outcome = FetchOutcome::default();
        let Some((index, now)) = self.clock() else {
            outcome.failed = assets
                .iter()
                .map(|a| (a.symbol.clone(), ProviderError::Exhausted))
                .collect();
            return Box::pin(ready(outcome));
        };
        for asset in assets {
            match self.row(&asset.symbol, index) {
                Ok(row) => outcome.quotes.push(ProviderQuote {
                    symbol: asset.symbol.clone(),
                    price: row.close,
                    // A row's volume is its own (rows may be intraday): the day adds them up.
                    volume: row.volume,
                    day: Some(DayFigures {
                        open: row.open,
                        high: row.high,
                        low: row.low,
                        volume: None,
                    }),
                    // A symbol that did not trade on the date keeps its last row's date.
                    at_ms: Some(now - (self.dates[index] - row.at)),
                }),
                Err(e) => outcome.failed.push((asset.symbol.clone(), e)),
            }
        }
        self.step += self.speed;
        Box::pin(ready(outcome))
    }

    /// Continues after the latest replayed date stored (of any symbol), in its pass.
    fn resume_from(&mut self, last_points: &[(String, Ohlcv)]) {
        let Some(last) = last_points.iter().map(|(_, p)| p.at).max() else {
            return;
        };
        let first = self.dates[0];
        if last < first {
            return;
        }
        let pass = (last - first) / self.pass_length();
        let date = last - pass * self.pass_length();
        let index = self.dates.partition_point(|d| *d <= date);
        self.step = (pass as usize)
            .saturating_mul(self.dates.len())
            .saturating_add(index);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn assets(symbols: &[&str]) -> Vec<AssetSpec> {
        symbols
            .iter()
            .map(|s| AssetSpec::new(*s, *s, Money::from_units(1)))
            .collect()
    }

    const FILE: &str = "# sample\nDate,Symbol,Open,High,Low,Close,Volume\n2024-01-03,AAPL,185,186,183.5,184.25,100\n2024-01-02,AAPL,1,1,1,185.640015,200\n2024-01-02,IBM,1,1,1,163.55,50\n2024-01-04,AAPL,1,1,1,181.91,300\n";
    const JAN_2: i64 = 1_704_153_600_000;

    fn fetch(replay: &mut CsvReplay, symbols: &[&str]) -> FetchOutcome {
        futures::executor::block_on(replay.fetch(&assets(symbols), 0))
    }

    fn closes(replay: &mut CsvReplay, symbol: &str, n: usize) -> Vec<(i64, i64)> {
        (0..n)
            .map(|_| {
                let q = fetch(replay, &[symbol]).quotes[0].clone();
                (q.at_ms.unwrap(), q.price.micros())
            })
            .collect()
    }

    #[test]
    fn replays_in_date_order_then_loops_on_later_dates_or_stops() {
        let mut looping = CsvReplay::parse(FILE, 1, true).unwrap();
        let period = 3 * DAY_MS; // Jan 2 … Jan 4, and a day
        assert_eq!(
            closes(&mut looping, "AAPL", 4),
            [
                (JAN_2, 185_640_015),
                (JAN_2 + DAY_MS, 184_250_000),
                (JAN_2 + 2 * DAY_MS, 181_910_000),
                (JAN_2 + period, 185_640_015)
            ]
        );

        let mut stopping = CsvReplay::parse(FILE, 2, false).unwrap();
        assert_eq!(
            closes(&mut stopping, "AAPL", 2),
            [(JAN_2, 185_640_015), (JAN_2 + 2 * DAY_MS, 181_910_000)]
        );
        let done = fetch(&mut stopping, &["AAPL", "IBM", "NOPE"]);
        assert!(done.quotes.is_empty());
        assert_eq!(
            done.failed,
            vec![
                ("AAPL".into(), ProviderError::Exhausted),
                ("IBM".into(), ProviderError::Exhausted),
                ("NOPE".into(), ProviderError::Exhausted)
            ]
        );
    }

    #[test]
    fn every_symbol_is_at_the_same_date() {
        // IBM starts a day after AAPL and skips Jan 4; GOOG starts on Jan 4.
        let file = "date,symbol,close,volume\n2024-01-02,AAPL,10,1\n2024-01-03,AAPL,11,1\n\
                    2024-01-04,AAPL,12,1\n2024-01-03,IBM,20,1\n2024-01-05,IBM,21,1\n\
                    2024-01-04,GOOG,30,1\n2024-01-05,AAPL,13,1\n";
        let mut replay = CsvReplay::parse(file, 1, false).unwrap();
        let list = ["AAPL", "IBM", "GOOG"];
        let first = fetch(&mut replay, &list);
        assert_eq!(first.quotes.len(), 1);
        assert_eq!(first.quotes[0].at_ms, Some(JAN_2));
        assert_eq!(
            first.failed,
            vec![
                ("IBM".into(), ProviderError::NotTradedYet),
                ("GOOG".into(), ProviderError::NotTradedYet)
            ]
        );
        fetch(&mut replay, &list); // Jan 3
        let jan_4 = fetch(&mut replay, &list);
        let seen: Vec<(&str, Option<i64>, i64)> = jan_4
            .quotes
            .iter()
            .map(|q| (q.symbol.as_str(), q.at_ms, q.price.micros()))
            .collect();
        assert_eq!(
            seen,
            [
                ("AAPL", Some(JAN_2 + 2 * DAY_MS), 12_000_000),
                // No IBM row on Jan 4: its Jan 3 row, with its own date.
                ("IBM", Some(JAN_2 + DAY_MS), 20_000_000),
                ("GOOG", Some(JAN_2 + 2 * DAY_MS), 30_000_000),
            ]
        );
    }

    #[test]
    fn a_quote_carries_its_rows_day_figures() {
        let mut replay = CsvReplay::parse(FILE, 1, false).unwrap();
        fetch(&mut replay, &["AAPL"]);
        let jan_3 = fetch(&mut replay, &["AAPL"]).quotes[0].clone();
        assert_eq!(
            jan_3.day,
            Some(DayFigures {
                open: Money(185_000_000),
                high: Money(186_000_000),
                low: Money(183_500_000),
                volume: None,
            })
        );
        assert_eq!(jan_3.volume, 100);
    }

    #[test]
    fn a_restart_continues_after_the_last_replayed_date() {
        let point = |at| Ohlcv {
            at,
            open: 1,
            high: 1,
            low: 1,
            close: 1,
            volume: 1,
        };
        let mut replay = CsvReplay::parse(FILE, 1, true).unwrap();
        replay.resume_from(&[("AAPL".into(), point(JAN_2 + DAY_MS))]);
        assert_eq!(
            closes(&mut replay, "AAPL", 1),
            [(JAN_2 + 2 * DAY_MS, 181_910_000)]
        );
        // In the second pass.
        let mut replay = CsvReplay::parse(FILE, 1, true).unwrap();
        replay.resume_from(&[("AAPL".into(), point(JAN_2 + 3 * DAY_MS))]);
        assert_eq!(
            closes(&mut replay, "AAPL", 1),
            [(JAN_2 + 4 * DAY_MS, 184_250_000)]
        );
    }

    #[test]
    fn bad_files_are_refused_with_the_line() {
        assert!(CsvReplay::parse("", 1, true).is_err());
        assert!(CsvReplay::parse("date,symbol,close\n", 1, true)
            .unwrap_err()
            .contains("volume"));
        let bad_price = "date,symbol,close,volume\n2024-01-02,AAPL,-3,1\n";
        assert!(CsvReplay::parse(bad_price, 1, true)
            .unwrap_err()
            .contains("line 2"));
        let bad_date = "date,symbol,close,volume\nyesterday,AAPL,3,1\n";
        assert!(CsvReplay::parse(bad_date, 1, true)
            .unwrap_err()
            .contains("bad date"));
        let bad_high = "date,symbol,high,close,volume\n2024-01-02,AAPL,x,3,1\n";
        assert!(CsvReplay::parse(bad_high, 1, true)
            .unwrap_err()
            .contains("bad high price"));
    }
}
