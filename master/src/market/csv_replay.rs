//! CSV replay: trade a past period. Each update interval advances the replay by `speed` rows
//! per symbol; at the end it starts over (`loop`) or stops, leaving prices stale.
//!
//! File format: a header line `date,symbol,open,high,low,close,volume` (any order, any case;
//! other columns are ignored), then one row per symbol and date. `date` is `YYYY-MM-DD`, an RFC
//! 3339 time or milliseconds since the epoch; prices are decimals (rounded to micro-units);
//! volume a whole number. Rows of a symbol are replayed in date order. Lines starting with `#`
//! are comments.

use std::collections::HashMap;

use futures::future::{ready, LocalBoxFuture};
use papertrader_protocol::Money;

use super::provider::{FetchOutcome, PriceProvider, ProviderError, ProviderQuote};
use super::AssetSpec;

/// One row of a replay.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReplayRow {
    /// The row's date, ms.
    pub at: i64,
    /// Closing price.
    pub close: Money,
    /// Volume.
    pub volume: u64,
}

/// The CSV replay provider.
#[derive(Debug)]
pub struct CsvReplay {
    rows: HashMap<String, Vec<ReplayRow>>,
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
        let column = |name: &str| {
            names
                .iter()
                .position(|n| n == name)
                .ok_or(format!("no {name} column in the header"))
        };
        let (date, symbol, close, volume) = (
            column("date")?,
            column("symbol")?,
            column("close")?,
            column("volume")?,
        );
        let mut rows: HashMap<String, Vec<ReplayRow>> = HashMap::new();
        for (index, line) in lines {
            let cells: Vec<&str> = line.split(',').map(str::trim).collect();
            let bad = |what: &str| format!("line {}: {what}", index + 1);
            let cell = |i: usize| cells.get(i).copied().ok_or_else(|| bad("too few columns"));
            let at = parse_date(cell(date)?).ok_or_else(|| bad("bad date"))?;
            let price = Money::from_decimal_rounded(cell(close)?)
                .filter(|m| m.micros() > 0)
                .ok_or_else(|| bad("bad close price"))?;
            let units = cell(volume)?
                .parse::<u64>()
                .map_err(|_| bad("bad volume"))?;
            rows.entry(cell(symbol)?.to_owned())
                .or_default()
                .push(ReplayRow {
                    at,
                    close: price,
                    volume: units,
                });
        }
        if rows.is_empty() {
            return Err("no rows".into());
        }
        for list in rows.values_mut() {
            list.sort_by_key(|r| r.at);
        }
        Ok(Self {
            rows,
            step: 0,
            speed: speed.max(1) as usize,
            looping,
        })
    }

    /// The row of `symbol` at the current step.
    fn row(&self, symbol: &str) -> Result<ReplayRow, ProviderError> {
        let list = self.rows.get(symbol).ok_or(ProviderError::UnknownSymbol)?;
        let index = if self.looping {
            self.step % list.len()
        } else {
            self.step
        };
        list.get(index).copied().ok_or(ProviderError::Exhausted)
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
        for asset in assets {
            match self.row(&asset.symbol) {
                Ok(row) => outcome.quotes.push(ProviderQuote {
                    symbol: asset.symbol.clone(),
                    price: row.close,
                    volume: row.volume,
                    day: None,
                    at_ms: None,
                }),
                Err(e) => outcome.failed.push((asset.symbol.clone(), e)),
            }
        }
        self.step += self.speed;
        Box::pin(ready(outcome))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn assets(symbols: &[&str]) -> Vec<AssetSpec> {
        symbols
            .iter()
            .map(|s| AssetSpec {
                symbol: (*s).into(),
                name: (*s).into(),
                start_price: Money::from_units(1),
            })
            .collect()
    }

    const FILE: &str = "# sample\nDate,Symbol,Open,High,Low,Close,Volume\n2024-01-03,AAPL,1,1,1,184.25,100\n2024-01-02,AAPL,1,1,1,185.640015,200\n2024-01-02,IBM,1,1,1,163.55,50\n2024-01-04,AAPL,1,1,1,181.91,300\n";

    fn closes(replay: &mut CsvReplay, symbols: &[&str]) -> FetchOutcome {
        futures::executor::block_on(replay.fetch(&assets(symbols), 0))
    }

    #[test]
    fn replays_in_date_order_then_loops_or_stops() {
        let mut looping = CsvReplay::parse(FILE, 1, true).unwrap();
        let prices: Vec<i64> = (0..4)
            .map(|_| closes(&mut looping, &["AAPL"]).quotes[0].price.micros())
            .collect();
        assert_eq!(prices, [185_640_015, 184_250_000, 181_910_000, 185_640_015]);

        let mut stopping = CsvReplay::parse(FILE, 2, false).unwrap();
        assert_eq!(
            closes(&mut stopping, &["AAPL"]).quotes[0].price,
            Money(185_640_015)
        );
        assert_eq!(
            closes(&mut stopping, &["AAPL"]).quotes[0].price,
            Money(181_910_000)
        );
        let done = closes(&mut stopping, &["AAPL", "IBM", "NOPE"]);
        assert!(done.quotes.is_empty());
        assert_eq!(
            done.failed,
            vec![
                ("AAPL".into(), ProviderError::Exhausted),
                ("IBM".into(), ProviderError::Exhausted),
                ("NOPE".into(), ProviderError::UnknownSymbol)
            ]
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
    }
}
