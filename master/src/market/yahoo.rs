//! Yahoo Finance chart API (v8), keyless: `GET {base}/v8/finance/chart/{symbol}?range=…&interval=…`
//! (share classes spelled Yahoo's way: `BRK.B` is asked as `BRK-B`).
//!
//! Answer shape: `chart.result[0]` with `meta.regularMarketPrice`, `timestamp[]` and
//! `indicators.quote[0].{open,high,low,close,volume}[]` (entries may be `null`); errors as
//! `chart.error.{code,description}`. The chart endpoint takes one symbol per request, so a
//! fetch makes one request per asset (at most four at a time). Yahoo publishes no rate limit;
//! we hold ourselves to 100 requests a minute.

use std::time::Duration;

use futures::future::LocalBoxFuture;
use serde::Deserialize;
use serde_json::value::RawValue;

use super::http::{self, Backoff};
use papertrader_protocol::Money;

use super::provider::{
    Backfill, DayFigures, FetchOutcome, PriceProvider, ProviderError, RateLimit,
};
use super::AssetSpec;
use crate::domain::bars;
use crate::domain::bars::Ohlcv;
use crate::domain::calendar::{day_start, month_start};

/// Default base URL.
pub const DEFAULT_BASE_URL: &str = "https://query1.finance.yahoo.com";

#[derive(Deserialize)]
struct Envelope {
    chart: Chart,
}

#[derive(Deserialize)]
struct Chart {
    result: Option<Vec<ChartResult>>,
    error: Option<ChartError>,
}

#[derive(Deserialize)]
struct ChartError {
    code: String,
    description: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ChartResult {
    meta: Meta,
    #[serde(default)]
    timestamp: Vec<i64>,
    indicators: Indicators,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Meta {
    regular_market_price: Option<Box<RawValue>>,
    regular_market_time: Option<i64>,
    regular_market_day_high: Option<Box<RawValue>>,
    regular_market_day_low: Option<Box<RawValue>>,
    regular_market_volume: Option<u64>,
}

#[derive(Deserialize)]
struct Indicators {
    quote: Vec<Columns>,
}

#[derive(Deserialize, Default)]
struct Columns {
    #[serde(default)]
    open: Vec<Option<Box<RawValue>>>,
    #[serde(default)]
    high: Vec<Option<Box<RawValue>>>,
    #[serde(default)]
    low: Vec<Option<Box<RawValue>>>,
    #[serde(default)]
    close: Vec<Option<Box<RawValue>>>,
    #[serde(default)]
    volume: Vec<Option<u64>>,
}

/// The Yahoo provider.
pub struct Yahoo {
    client: http::Client,
    base: String,
    backoff: Backoff,
    max_age_ms: i64,
}

impl Yahoo {
    /// A provider at `base` (no trailing slash).
    pub fn new(base: &str, timeout: Duration, max_age: Duration) -> Result<Self, String> {
        Ok(Self {
            client: http::client(timeout)?,
            base: base.trim_end_matches('/').to_owned(),
            backoff: Backoff::default(),
            max_age_ms: max_age.as_millis() as i64,
        })
    }
}

/// The symbol as Yahoo spells it: a share class written with a dot (`BRK.B`, `BF.A`) is
/// `BRK-B` there; a longer suffix is an exchange (`VOD.L`, `SAP.DE`) and stays.
pub fn yahoo_symbol(symbol: &str) -> std::borrow::Cow<'_, str> {
    match symbol.rsplit_once('.') {
        Some((base, class))
            if !base.is_empty() && matches!(class, "A" | "B" | "C") && !base.contains('.') =>
        {
            format!("{base}-{class}").into()
        }
        _ => symbol.into(),
    }
}

async fn chart(
    client: http::Client,
    base: String,
    symbol: String,
    range: &'static str,
    interval: &'static str,
) -> Result<ChartResult, ProviderError> {
    let url = format!("{base}/v8/finance/chart/{}", yahoo_symbol(&symbol));
    let body = client
        .send(
            client
                .get(url)
                .query(&[("range", range), ("interval", interval)]),
        )
        .await?;
    let envelope: Envelope =
        serde_json::from_slice(&body).map_err(|e| ProviderError::Malformed(e.to_string()))?;
    if let Some(error) = envelope.chart.error {
        return Err(if error.code.eq_ignore_ascii_case("Not Found") {
            ProviderError::UnknownSymbol
        } else {
            ProviderError::Malformed(format!(
                "{}: {}",
                error.code,
                error.description.unwrap_or_default()
            ))
        });
    }
    envelope
        .chart
        .result
        .and_then(|mut r| r.pop())
        .ok_or_else(|| ProviderError::Malformed("no chart.result".into()))
}

fn latest(result: &ChartResult, now_ms: i64, max_age_ms: i64) -> http::Priced {
    let columns = result.indicators.quote.first();
    let raw = match &result.meta.regular_market_price {
        Some(raw) => raw.as_ref(),
        None => columns
            .and_then(|c| c.close.iter().rev().flatten().next())
            .map(|b| b.as_ref())
            .ok_or_else(|| ProviderError::Malformed("no price".into()))?,
    };
    let price = http::float32_price(raw)?;
    if let Some(at) = result.meta.regular_market_time {
        let age = now_ms - at * 1000;
        if age > max_age_ms {
            return Err(ProviderError::BadPrice(format!(
                "last traded {} hours ago",
                age / 3_600_000
            )));
        }
    }
    let at_ms = result
        .meta
        .regular_market_time
        .or_else(|| result.timestamp.last().copied())
        .map(|at| at.saturating_mul(1000));
    Ok(http::Sourced {
        price,
        volume: 0,
        day: day_figures(result, price),
        at_ms,
    })
}

/// The day's figures: the meta's day high, low and volume where it has them, else the day's
/// 1-minute bars (each counted once); the open is the first bar's.
fn day_figures(result: &ChartResult, price: Money) -> Option<DayFigures> {
    let columns = result.indicators.quote.first()?;
    let bars = |column: &[Option<Box<RawValue>>]| -> Vec<Money> {
        column
            .iter()
            .flatten()
            .filter_map(|raw| http::float32_price(raw).ok())
            .collect()
    };
    let meta =
        |raw: &Option<Box<RawValue>>| raw.as_deref().and_then(|r| http::float32_price(r).ok());
    let open = bars(&columns.open).first().copied().unwrap_or(price);
    let high = meta(&result.meta.regular_market_day_high)
        .or_else(|| bars(&columns.high).into_iter().max())
        .unwrap_or(price);
    let low = meta(&result.meta.regular_market_day_low)
        .or_else(|| bars(&columns.low).into_iter().min())
        .unwrap_or(price);
    let volume = result.meta.regular_market_volume.unwrap_or_else(|| {
        columns
            .volume
            .iter()
            .flatten()
            .copied()
            .fold(0u64, u64::saturating_add)
    });
    Some(DayFigures {
        open,
        high: high.max(price),
        low: low.min(price),
        volume: Some(volume),
    })
}

/// The OHLCV points of a chart (rows with a missing value are skipped).
fn points(result: &ChartResult) -> Vec<Ohlcv> {
    let Some(c) = result.indicators.quote.first() else {
        return Vec::new();
    };
    let value = |column: &[Option<Box<RawValue>>], i: usize| {
        column
            .get(i)
            .and_then(|v| v.as_deref())
            .and_then(|raw| http::float32_price(raw).ok())
            .map(|m| m.micros())
    };
    result
        .timestamp
        .iter()
        .enumerate()
        .filter_map(|(i, &t)| {
            Some(Ohlcv {
                at: t * 1000,
                open: value(&c.open, i)?,
                high: value(&c.high, i)?,
                low: value(&c.low, i)?,
                close: value(&c.close, i)?,
                volume: c
                    .volume
                    .get(i)
                    .copied()
                    .flatten()
                    .and_then(|v| i64::try_from(v).ok())
                    .unwrap_or(0),
            })
        })
        .collect()
}

impl PriceProvider for Yahoo {
    fn name(&self) -> &'static str {
        "yahoo"
    }

    fn fetch(&mut self, assets: &[AssetSpec], at_ms: i64) -> LocalBoxFuture<'static, FetchOutcome> {
        let (client, base, max_age) = (self.client.clone(), self.base.clone(), self.max_age_ms);
        http::fetch_each(assets, &self.backoff, move |symbol| {
            let (client, base) = (client.clone(), base.clone());
            async move {
                chart(client, base, symbol, "1d", "1m")
                    .await
                    .and_then(|r| latest(&r, at_ms, max_age))
            }
        })
    }

    fn backfill(
        &mut self,
        assets: &[AssetSpec],
        _now_ms: i64,
        days: u32,
        _tick_spacing_ms: i64,
    ) -> LocalBoxFuture<'static, Backfill> {
        let (client, base) = (self.client.clone(), self.base.clone());
        let symbols: Vec<String> = assets.iter().map(|a| a.symbol.clone()).collect();
        let range = if days > 365 * 5 {
            "max"
        } else if days > 365 * 2 {
            "5y"
        } else {
            "2y"
        };
        Box::pin(async move {
            let mut out = Backfill::default();
            for symbol in symbols {
                match chart(client.clone(), base.clone(), symbol.clone(), range, "1d").await {
                    Ok(daily) => {
                        let daily = bars::aggregate(&points(&daily), day_start);
                        let monthly = bars::aggregate(&daily, month_start);
                        out.daily
                            .extend(daily.into_iter().map(|b| (symbol.clone(), b)));
                        out.monthly
                            .extend(monthly.into_iter().map(|b| (symbol.clone(), b)));
                    }
                    Err(e) => out.failed.push((symbol.clone(), e)),
                }
                match chart(client.clone(), base.clone(), symbol.clone(), "1d", "5m").await {
                    Ok(intraday) => {
                        // Points at the same instant (a repeated live bar) fold into one.
                        let ticks = bars::aggregate(&points(&intraday), |at| at);
                        out.ticks
                            .extend(ticks.into_iter().map(|p| (symbol.clone(), p)));
                    }
                    Err(e) => out.failed.push((symbol.clone(), e)),
                }
            }
            out
        })
    }

    fn hold_to(&mut self, limit: RateLimit) {
        self.client.limit_to(limit);
    }

    fn rate_limit(&self, symbols: usize) -> Option<(RateLimit, u32)> {
        Some((
            RateLimit {
                requests: 100,
                per: Duration::from_secs(60),
            },
            symbols as u32,
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn share_classes_are_spelled_with_a_hyphen_exchanges_keep_their_dot() {
        let spelled: Vec<String> = ["BRK.B", "BF.A", "AAPL", "VOD.L", "SAP.DE", "RDS.A.X"]
            .iter()
            .map(|s| yahoo_symbol(s).into_owned())
            .collect();
        assert_eq!(
            spelled,
            ["BRK-B", "BF-A", "AAPL", "VOD.L", "SAP.DE", "RDS.A.X"]
        );
    }
}
