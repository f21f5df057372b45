//! The price-provider trait: anything that can give the latest price of the listed assets.

use futures::future::LocalBoxFuture;
use papertrader_protocol::Money;

use super::AssetSpec;
use crate::db::prices::Ohlcv;

/// One symbol's price at a tick.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProviderQuote {
    /// Symbol.
    pub symbol: String,
    /// Latest price.
    pub price: Money,
    /// Units traded since the previous tick.
    pub volume: u64,
}

/// Why a fetch failed. The fetcher keeps the last good prices and marks them stale.
#[derive(Debug, Clone, thiserror::Error)]
pub enum ProviderError {
    /// The provider answered nothing usable in time.
    #[error("timed out")]
    Timeout,
    /// Rate limited; retry after the given seconds if known.
    #[error("rate limited")]
    RateLimited(Option<u64>),
    /// Anything else.
    #[error("{0}")]
    Other(String),
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
}

/// A source of prices.
pub trait PriceProvider {
    /// A short name for logs.
    fn name(&self) -> &'static str;

    /// Latest prices of `assets` at `at_ms`. Symbols missing from the answer keep their last
    /// price (marked stale).
    fn fetch(
        &mut self,
        assets: &[AssetSpec],
        at_ms: i64,
    ) -> LocalBoxFuture<'static, Result<Vec<ProviderQuote>, ProviderError>>;

    /// History to store on a first start, ending at `now_ms`.
    fn backfill(
        &mut self,
        assets: &[AssetSpec],
        now_ms: i64,
        days: u32,
        tick_spacing_ms: i64,
    ) -> Backfill;

    /// Continue from stored last prices after a restart, so the series has no jump.
    fn resume_from(&mut self, last_prices: &[(String, Money)]);
}
