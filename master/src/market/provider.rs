//! The price-provider trait: anything that can give the latest price of the listed assets.
//!
//! A provider answers per symbol: a fetch returns the quotes it got and the symbols it could
//! not price (with why). The fetcher keeps the last good price of a failed symbol, marks it
//! stale, and logs the failure once per episode.

use std::time::Duration;

use futures::future::LocalBoxFuture;
use papertrader_protocol::Money;

use super::AssetSpec;
use crate::domain::bars::Ohlcv;

/// One symbol's price at a tick.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProviderQuote {
    /// Symbol.
    pub symbol: String,
    /// Latest price.
    pub price: Money,
    /// Units traded since the previous tick (0 when the source does not say); not used when
    /// `day` carries the day's volume.
    pub volume: u64,
    /// The current day's figures as the source reports them, when it does.
    pub day: Option<DayFigures>,
    /// When the source says the price was made (its last trade), ms; `None` when it does not
    /// say (the price is as of the fetch).
    pub at_ms: Option<i64>,
}

/// A day's open, high, low and volume as the price source reports them (Yahoo's
/// `regularMarketDayHigh/Low/Volume` and the session's first bar, Finnhub's `o/h/l`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DayFigures {
    /// The day's first price.
    pub open: Money,
    /// The day's highest price.
    pub high: Money,
    /// The day's lowest price.
    pub low: Money,
    /// Units traded in the day, when the source says.
    pub volume: Option<u64>,
}

/// Why a symbol (or the whole provider) could not be priced.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProviderError {
    /// No answer in time.
    #[error("timed out")]
    Timeout,
    /// Rate limited (HTTP 429); retry after the given time if the provider said.
    #[error("rate limited{}", .0.map(|d| format!(", retry after {} s", d.as_secs())).unwrap_or_default())]
    RateLimited(Option<Duration>),
    /// The provider failed (HTTP 5xx) or could not be reached.
    #[error("provider unavailable: {0}")]
    Unavailable(String),
    /// The answer was not in the documented shape.
    #[error("malformed answer: {0}")]
    Malformed(String),
    /// The provider does not know the symbol.
    #[error("unknown symbol")]
    UnknownSymbol,
    /// The provider refused our credentials (HTTP 401/403): a configuration error, usually
    /// the API key; it holds for every symbol.
    #[error(
        "the provider refused the request ({0}); check its API key and plan in the configuration"
    )]
    Refused(String),
    /// The price is zero, negative or old.
    #[error("unusable price: {0}")]
    BadPrice(String),
    /// Waiting after earlier failures; no request was made.
    #[error("backing off after failures ({0})")]
    BackingOff(String),
    /// A CSV replay has no more rows.
    #[error("replay finished")]
    Exhausted,
    /// The replayed date is before the symbol's first row.
    #[error("not traded yet on the replayed date")]
    NotTradedYet,
}

/// What one fetch produced.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FetchOutcome {
    /// Fresh quotes.
    pub quotes: Vec<ProviderQuote>,
    /// Symbols that could not be priced this time, with why.
    pub failed: Vec<(String, ProviderError)>,
}

impl FetchOutcome {
    /// Every symbol of `assets` failed for the same reason.
    pub fn all_failed(assets: &[AssetSpec], error: ProviderError) -> Self {
        Self {
            quotes: Vec::new(),
            failed: assets
                .iter()
                .map(|a| (a.symbol.clone(), error.clone()))
                .collect(),
        }
    }
}

/// Backfilled history for a first start.
#[derive(Debug, Default, Clone)]
pub struct Backfill {
    /// `(symbol, bar)` daily bars.
    pub daily: Vec<(String, Ohlcv)>,
    /// `(symbol, bar)` monthly bars.
    pub monthly: Vec<(String, Ohlcv)>,
    /// `(symbol, point)` intraday ticks.
    pub ticks: Vec<(String, Ohlcv)>,
    /// `(symbol, why)` for each history request that failed (that symbol starts without that
    /// part of its history).
    pub failed: Vec<(String, ProviderError)>,
}

/// How many requests a provider may make, as it documents it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimit {
    /// Requests allowed…
    pub requests: u32,
    /// …per this window.
    pub per: Duration,
}

/// A source of prices.
pub trait PriceProvider {
    /// A short name for logs and config errors.
    fn name(&self) -> &'static str;

    /// Latest prices of `assets` at `at_ms`.
    fn fetch(&mut self, assets: &[AssetSpec], at_ms: i64) -> LocalBoxFuture<'static, FetchOutcome>;

    /// History to store on a first start, ending at `now_ms`. None by default: history then
    /// accumulates from the provider's ticks.
    fn backfill(
        &mut self,
        _assets: &[AssetSpec],
        _now_ms: i64,
        _days: u32,
        _tick_spacing_ms: i64,
    ) -> LocalBoxFuture<'static, Backfill> {
        Box::pin(futures::future::ready(Backfill::default()))
    }

    /// Continue after a restart from each symbol's last stored point (its time and price), so
    /// the series has no jump.
    fn resume_from(&mut self, _last_points: &[(String, Ohlcv)]) {}

    /// The provider's request limit and how many requests one fetch of `symbols` makes.
    fn rate_limit(&self, _symbols: usize) -> Option<(RateLimit, u32)> {
        None
    }

    /// Holds every request the provider makes from now on — fetches and backfills — to
    /// `limit`, waiting for room rather than exceeding it.
    fn hold_to(&mut self, _limit: RateLimit) {}
}

/// The shortest update interval at which fetching `symbols` stays within the provider's rate
/// limit, or `per_minute` requests a minute when set (a plan that allows more or less than the
/// documented default); `None` when the provider has no limit. [`check_rate_limit`] accepts
/// exactly the intervals at least this long.
pub fn min_update_interval(
    provider: &dyn PriceProvider,
    symbols: usize,
    per_minute: Option<u32>,
) -> Option<Duration> {
    let (documented, per_fetch) = provider.rate_limit(symbols)?;
    let limit = per_minute
        .map(|requests| RateLimit {
            requests,
            per: Duration::from_secs(60),
        })
        .unwrap_or(documented);
    let ms =
        (limit.per.as_millis() * u128::from(per_fetch)).div_ceil(u128::from(limit.requests).max(1));
    Some(Duration::from_millis(u64::try_from(ms).unwrap_or(u64::MAX)))
}

/// Refuses a configuration whose fetches would exceed the provider's rate limit (or
/// `per_minute`, when the plan allows more or less than the documented default).
pub fn check_rate_limit(
    provider: &dyn PriceProvider,
    symbols: usize,
    interval: Duration,
    per_minute: Option<u32>,
) -> Result<(), String> {
    let Some((documented, per_fetch)) = provider.rate_limit(symbols) else {
        return Ok(());
    };
    let limit = per_minute
        .map(|requests| RateLimit {
            requests,
            per: Duration::from_secs(60),
        })
        .unwrap_or(documented);
    let window_ms = limit.per.as_millis();
    let needed = (u128::from(per_fetch) * window_ms).div_ceil(interval.as_millis().max(1));
    if needed <= u128::from(limit.requests) {
        return Ok(());
    }
    let min_interval_ms =
        (window_ms * u128::from(per_fetch)).div_ceil(u128::from(limit.requests).max(1));
    Err(format!(
        "{} allows {} requests per {} s; {symbols} assets every {} ms need {needed}. Raise update_interval_ms to at least {min_interval_ms} or list fewer assets",
        provider.name(),
        limit.requests,
        limit.per.as_secs(),
        interval.as_millis(),
    ))
}
