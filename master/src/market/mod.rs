//! Market data: the asset list, price providers and the shared book of latest prices.

pub mod assets;
pub mod book;
pub mod csv_replay;
pub mod finnhub;
pub mod http;
pub mod provider;
pub mod simulated;
pub mod yahoo;

use std::time::Duration;

pub use assets::AssetSpec;
pub use book::PriceBook;
pub use provider::{FetchOutcome, PriceProvider, ProviderError, ProviderQuote};

use crate::config::{ConfigError, MasterConfig, ProviderKind};

/// The environment variable holding the API key of a keyed provider.
pub const API_KEY_ENV: &str = "PAPERTRADER_PROVIDER_API_KEY";

/// Builds the configured provider and checks that the asset list and update interval stay
/// within its rate limit.
pub fn build_provider(
    config: &MasterConfig,
    assets: &[AssetSpec],
) -> Result<Box<dyn PriceProvider>, ConfigError> {
    let invalid = |reason: String| ConfigError::Invalid {
        key: "provider",
        reason,
    };
    let timeout = Duration::from_millis(config.provider_timeout_ms);
    let max_age = Duration::from_secs(config.max_price_age_hours * 3600);
    let base = |default: &str| {
        config
            .provider_base_url
            .clone()
            .unwrap_or_else(|| default.to_owned())
    };
    let mut provider: Box<dyn PriceProvider> = match config.provider {
        ProviderKind::Simulated => Box::new(
            simulated::SimulatedMarket::new(config.market_seed)
                .with_trading_hours(config.simulated_trading_hours),
        ),
        ProviderKind::Csv => {
            let path = config
                .csv_file
                .as_ref()
                .ok_or_else(|| ConfigError::Invalid {
                    key: "csv_file",
                    reason: "the csv provider needs csv_file".into(),
                })?;
            let text = std::fs::read_to_string(path).map_err(|error| ConfigError::Read {
                path: path.clone(),
                error,
            })?;
            let replay = csv_replay::CsvReplay::parse(&text, config.csv_speed, config.csv_loop)
                .map_err(|reason| ConfigError::Invalid {
                    key: "csv_file",
                    reason: format!("{}: {reason}", path.display()),
                })?;
            Box::new(replay)
        }
        ProviderKind::Yahoo => Box::new(
            yahoo::Yahoo::new(&base(yahoo::DEFAULT_BASE_URL), timeout, max_age).map_err(invalid)?,
        ),
        ProviderKind::Finnhub => {
            let key = std::env::var(API_KEY_ENV)
                .ok()
                .filter(|k| !k.is_empty())
                .ok_or_else(|| invalid(format!("finnhub needs an API key in {API_KEY_ENV}")))?;
            Box::new(
                finnhub::Finnhub::new(&base(finnhub::DEFAULT_BASE_URL), key, timeout, max_age)
                    .map_err(invalid)?,
            )
        }
    };
    provider::check_rate_limit(
        provider.as_ref(),
        assets.len(),
        config.update_interval(),
        config.provider_requests_per_minute,
    )
    .map_err(invalid)?;
    // The same budget at run time, for every request: a backfill or a tick after a slow
    // spell waits for room instead of going over it.
    if let Some((documented, _)) = provider.rate_limit(assets.len()) {
        let limit = config
            .provider_requests_per_minute
            .map_or(documented, |requests| provider::RateLimit {
                requests,
                per: Duration::from_secs(60),
            });
        provider.hold_to(limit);
    }
    Ok(provider)
}
