//! Finnhub quote API, keyed: `GET {base}/api/v1/quote?symbol=…` with the key in the
//! `X-Finnhub-Token` header (never in the URL, so it cannot end up in a log).
//!
//! Answer: `{"c": last, "h", "l", "o", "pc", "t": unix seconds, …}`; an unknown symbol answers
//! all zeros. One symbol per request; the free plan allows 60 requests a minute, which the
//! configuration check enforces. Finnhub's history endpoint is not on the free plan, so this
//! provider backfills nothing: history accumulates from its ticks.

use std::time::Duration;

use futures::future::LocalBoxFuture;
use serde::Deserialize;
use serde_json::value::RawValue;

use super::http::{self, Backoff};

use super::provider::{DayFigures, FetchOutcome, PriceProvider, ProviderError, RateLimit};
use super::AssetSpec;

/// Default base URL.
pub const DEFAULT_BASE_URL: &str = "https://finnhub.io";

#[derive(Deserialize)]
struct FinnhubQuote {
    c: Box<RawValue>,
    o: Option<Box<RawValue>>,
    h: Option<Box<RawValue>>,
    l: Option<Box<RawValue>>,
    t: i64,
}

/// The Finnhub provider.
pub struct Finnhub {
    client: http::Client,
    base: String,
    key: String,
    backoff: Backoff,
    max_age_ms: i64,
}

impl std::fmt::Debug for Finnhub {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The API key is a secret: never printed.
        f.debug_struct("Finnhub")
            .field("base", &self.base)
            .finish_non_exhaustive()
    }
}

impl Finnhub {
    /// A provider at `base` using `key`.
    pub fn new(
        base: &str,
        key: String,
        timeout: Duration,
        max_age: Duration,
    ) -> Result<Self, String> {
        Ok(Self {
            client: http::client(timeout)?,
            base: base.trim_end_matches('/').to_owned(),
            key,
            backoff: Backoff::default(),
            max_age_ms: max_age.as_millis() as i64,
        })
    }
}

async fn quote(
    client: http::Client,
    base: String,
    key: String,
    symbol: String,
    now_ms: i64,
    max_age_ms: i64,
) -> http::Priced {
    let request = client
        .get(format!("{base}/api/v1/quote"))
        .query(&[("symbol", symbol.as_str())])
        .header("X-Finnhub-Token", key);
    let body = client.send(request).await?;
    let q: FinnhubQuote =
        serde_json::from_slice(&body).map_err(|e| ProviderError::Malformed(e.to_string()))?;
    if q.t == 0 {
        return Err(ProviderError::UnknownSymbol);
    }
    let price = http::price(&q.c)?;
    let age = now_ms - q.t * 1000;
    if age > max_age_ms {
        return Err(ProviderError::BadPrice(format!(
            "last traded {} hours ago",
            age / 3_600_000
        )));
    }
    // The day's open, high and low; the quote endpoint has no volume.
    let figure = |raw: &Option<Box<RawValue>>| raw.as_deref().and_then(|r| http::price(r).ok());
    let day = match (figure(&q.o), figure(&q.h), figure(&q.l)) {
        (Some(open), Some(high), Some(low)) => Some(DayFigures {
            open,
            high,
            low,
            volume: None,
        }),
        _ => None,
    };
    Ok(http::Sourced {
        price,
        volume: 0,
        day,
        at_ms: Some(q.t.saturating_mul(1000)),
    })
}

impl PriceProvider for Finnhub {
    fn name(&self) -> &'static str {
        "finnhub"
    }

    fn fetch(&mut self, assets: &[AssetSpec], at_ms: i64) -> LocalBoxFuture<'static, FetchOutcome> {
        let (client, base, key, max_age) = (
            self.client.clone(),
            self.base.clone(),
            self.key.clone(),
            self.max_age_ms,
        );
        http::fetch_each(assets, &self.backoff, move |symbol| {
            quote(
                client.clone(),
                base.clone(),
                key.clone(),
                symbol,
                at_ms,
                max_age,
            )
        })
    }

    fn hold_to(&mut self, limit: RateLimit) {
        self.client.limit_to(limit);
    }

    fn rate_limit(&self, symbols: usize) -> Option<(RateLimit, u32)> {
        Some((
            RateLimit {
                requests: 60,
                per: Duration::from_secs(60),
            },
            symbols as u32,
        ))
    }
}
