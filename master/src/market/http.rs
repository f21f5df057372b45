//! What the HTTP providers share: one reqwest client with a timeout, the mapping of HTTP
//! answers to [`ProviderError`]s, prices read as decimal text, and a backoff after
//! provider-wide failures.

use std::cell::RefCell;
use std::rc::Rc;
use std::time::{Duration, Instant};

use papertrader_protocol::Money;
use reqwest::header::{HeaderMap, RETRY_AFTER};
use reqwest::StatusCode;
use serde_json::value::RawValue;

use futures::{stream, StreamExt};

use super::provider::{FetchOutcome, ProviderError, ProviderQuote};
use super::AssetSpec;

/// One symbol's answer: its price and volume, or why not.
type Priced = Result<(Money, u64), ProviderError>;

/// Requests in flight at once per fetch.
const PARALLEL_REQUESTS: usize = 4;

/// Prices every asset with `price_of(symbol)` (a few requests at a time), unless the backoff
/// says to wait; records a provider-wide failure in the backoff, or clears it.
pub fn fetch_each<F, Fut>(
    assets: &[AssetSpec],
    backoff: &Backoff,
    price_of: F,
) -> futures::future::LocalBoxFuture<'static, FetchOutcome>
where
    F: Fn(String) -> Fut + 'static,
    Fut: std::future::Future<Output = Priced> + 'static,
{
    if let Err(waiting) = backoff.check() {
        return Box::pin(futures::future::ready(FetchOutcome::all_failed(
            assets, waiting,
        )));
    }
    let backoff = backoff.clone();
    let symbols: Vec<String> = assets.iter().map(|a| a.symbol.clone()).collect();
    Box::pin(async move {
        let results: Vec<(String, Priced)> = stream::iter(symbols)
            .map(|symbol| {
                let request = price_of(symbol.clone());
                async move { (symbol, request.await) }
            })
            .buffered(PARALLEL_REQUESTS)
            .collect()
            .await;
        let mut outcome = FetchOutcome::default();
        for (symbol, result) in results {
            match result {
                Ok((price, volume)) => outcome.quotes.push(ProviderQuote {
                    symbol,
                    price,
                    volume,
                }),
                Err(e) => outcome.failed.push((symbol, e)),
            }
        }
        // A rate limit applies to every request; timeouts and 5xx only mean the provider is down
        // when nothing succeeded. Otherwise the other symbols keep updating.
        let rate_limited = outcome
            .failed
            .iter()
            .find(|(_, e)| matches!(e, ProviderError::RateLimited(_)));
        let all_down =
            outcome.quotes.is_empty() && outcome.failed.iter().all(|(_, e)| is_provider_wide(e));
        match (rate_limited, outcome.failed.first()) {
            (Some((_, e)), _) => backoff.failed(e),
            (None, Some((_, e))) if all_down => backoff.failed(e),
            _ => backoff.succeeded(),
        }
        outcome
    })
}

/// Longest wait after repeated failures when the provider does not say how long.
const MAX_BACKOFF: Duration = Duration::from_secs(300);
/// First wait after a failure.
const FIRST_BACKOFF: Duration = Duration::from_secs(1);

/// A reqwest client with the provider's timeout.
pub fn client(timeout: Duration) -> Result<reqwest::Client, String> {
    reqwest::Client::builder()
        .timeout(timeout)
        .user_agent(concat!("papertrader/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| e.to_string())
}

/// GETs `url` and returns the body of a 2xx answer; other answers become errors
/// (429 → RateLimited with Retry-After, 5xx → Unavailable, 404 → UnknownSymbol).
pub async fn get(request: reqwest::RequestBuilder) -> Result<bytes::Bytes, ProviderError> {
    let response = request.send().await.map_err(|e| {
        if e.is_timeout() {
            ProviderError::Timeout
        } else {
            ProviderError::Unavailable(without_url(&e))
        }
    })?;
    let status = response.status();
    if status == StatusCode::TOO_MANY_REQUESTS {
        return Err(ProviderError::RateLimited(retry_after(response.headers())));
    }
    if status == StatusCode::NOT_FOUND {
        return Err(ProviderError::UnknownSymbol);
    }
    if status.is_server_error() {
        return Err(ProviderError::Unavailable(format!("HTTP {status}")));
    }
    if !status.is_success() {
        return Err(ProviderError::Malformed(format!("HTTP {status}")));
    }
    response.bytes().await.map_err(|e| {
        if e.is_timeout() {
            ProviderError::Timeout
        } else {
            ProviderError::Unavailable(without_url(&e))
        }
    })
}

/// The error text without the URL (which may carry an API key).
fn without_url(error: &reqwest::Error) -> String {
    let mut text = error.to_string();
    if let Some(url) = error.url() {
        text = text.replace(url.as_str(), "<url>");
    }
    text
}

/// Seconds from a `Retry-After` header (the HTTP-date form is not used by these APIs).
fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    headers
        .get(RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim()
        .parse::<u64>()
        .ok()
        .map(Duration::from_secs)
}

/// A price from a JSON number's text, rounded to micro-units; refused unless positive.
pub fn price(raw: &RawValue) -> Result<Money, ProviderError> {
    let text = raw.get();
    let money = Money::from_decimal_rounded(text)
        .ok_or_else(|| ProviderError::Malformed(format!("price {text:?}")))?;
    if money.micros() <= 0 {
        return Err(ProviderError::BadPrice(format!("{money}")));
    }
    Ok(money)
}

/// True for failures of the provider as a whole, which call for backing off.
pub fn is_provider_wide(error: &ProviderError) -> bool {
    matches!(
        error,
        ProviderError::Timeout | ProviderError::RateLimited(_) | ProviderError::Unavailable(_)
    )
}

/// When the provider may be called again. Shared between a provider and its fetch futures.
#[derive(Debug, Clone, Default)]
pub struct Backoff {
    state: Rc<RefCell<BackoffState>>,
}

#[derive(Debug, Default)]
struct BackoffState {
    until: Option<Instant>,
    failures: u32,
    reason: String,
}

impl Backoff {
    /// `Err(BackingOff)` while waiting.
    pub fn check(&self) -> Result<(), ProviderError> {
        let state = self.state.borrow();
        match state.until {
            Some(until) if Instant::now() < until => {
                Err(ProviderError::BackingOff(state.reason.clone()))
            }
            _ => Ok(()),
        }
    }

    /// A fetch went through.
    pub fn succeeded(&self) {
        *self.state.borrow_mut() = BackoffState::default();
    }

    /// A provider-wide failure: wait what the provider asked, else 1 s doubling to 5 min.
    pub fn failed(&self, error: &ProviderError) {
        let mut state = self.state.borrow_mut();
        state.failures += 1;
        let wait = match error {
            ProviderError::RateLimited(Some(after)) => *after,
            _ => FIRST_BACKOFF
                .saturating_mul(1 << state.failures.min(16).saturating_sub(1))
                .min(MAX_BACKOFF),
        };
        state.until = Some(Instant::now() + wait);
        state.reason = error.to_string();
    }
}
