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

use super::provider::{DayFigures, FetchOutcome, ProviderError, ProviderQuote, RateLimit};
use super::AssetSpec;

/// One symbol's answer from an HTTP source.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sourced {
    /// The latest price.
    pub price: Money,
    /// Units traded since the last tick (0 when the source does not say).
    pub volume: u64,
    /// The day's figures, when the source reports them.
    pub day: Option<DayFigures>,
    /// When the source says the price was made, ms.
    pub at_ms: Option<i64>,
}

/// One symbol's answer, or why there is none.
pub type Priced = Result<Sourced, ProviderError>;

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
                Ok(sourced) => outcome.quotes.push(ProviderQuote {
                    symbol,
                    price: sourced.price,
                    volume: sourced.volume,
                    day: sourced.day,
                    at_ms: sourced.at_ms,
                }),
                Err(e) => outcome.failed.push((symbol, e)),
            }
        }
        // A rate limit applies to every request; timeouts and 5xx mean the provider is down
        // when nothing succeeded — whatever the symbols that failed for reasons of their own
        // (an unknown symbol in the list must not keep an outage from backing off).
        // Otherwise the other symbols keep updating.
        let rate_limited = outcome
            .failed
            .iter()
            .find(|(_, e)| matches!(e, ProviderError::RateLimited(_)));
        let outage = outcome
            .failed
            .iter()
            .find(|(_, e)| is_provider_wide(e))
            .filter(|_| outcome.quotes.is_empty());
        match (rate_limited, outage) {
            (Some((_, e)), _) | (None, Some((_, e))) => backoff.failed(e),
            (None, None) => backoff.succeeded(),
        }
        outcome
    })
}

/// Longest wait after repeated failures when the provider does not say how long.
const MAX_BACKOFF: Duration = Duration::from_secs(300);
/// First wait after a failure.
const FIRST_BACKOFF: Duration = Duration::from_secs(1);
/// The longest wait a provider's `Retry-After` is honoured with.
const LONGEST_REQUESTED_WAIT: Duration = Duration::from_secs(86_400);

/// A provider's HTTP client: reqwest with the provider's timeout, and the provider's request
/// budget, which every request (live fetches and history backfills alike) waits for.
#[derive(Debug, Clone)]
pub struct Client {
    http: reqwest::Client,
    budget: RateBudget,
}

/// A client with the provider's timeout and no request budget yet.
pub fn client(timeout: Duration) -> Result<Client, String> {
    let http = reqwest::Client::builder()
        .timeout(timeout)
        .user_agent(concat!("papertrader/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| e.to_string())?;
    Ok(Client {
        http,
        budget: RateBudget::default(),
    })
}

impl Client {
    /// A GET request to `url`, to be sent with [`Client::send`].
    pub fn get(&self, url: String) -> reqwest::RequestBuilder {
        self.http.get(url)
    }

    /// Holds every request to `limit` (shared by the clones of this client).
    pub fn limit_to(&self, limit: RateLimit) {
        self.budget.set(limit);
    }

    /// Waits for room in the request budget, then sends `request` (see [`get`]).
    pub async fn send(
        &self,
        request: reqwest::RequestBuilder,
    ) -> Result<bytes::Bytes, ProviderError> {
        self.budget.acquire().await;
        get(request).await
    }
}

/// At most `requests` requests in any window of `per`: a sliding window of the send times.
#[derive(Debug, Clone, Default)]
pub struct RateBudget {
    window: Rc<RefCell<Window>>,
}

#[derive(Debug, Default)]
struct Window {
    limit: Option<RateLimit>,
    sent: std::collections::VecDeque<tokio::time::Instant>,
}

impl RateBudget {
    fn set(&self, limit: RateLimit) {
        self.window.borrow_mut().limit = Some(limit);
    }

    /// Returns once a request may be sent now (and counts it as sent).
    pub async fn acquire(&self) {
        loop {
            let wait = {
                let mut window = self.window.borrow_mut();
                let Some(limit) = window.limit else {
                    return;
                };
                let now = tokio::time::Instant::now();
                while window.sent.front().is_some_and(|t| now - *t >= limit.per) {
                    window.sent.pop_front();
                }
                if window.sent.len() < limit.requests.max(1) as usize {
                    window.sent.push_back(now);
                    return;
                }
                match window.sent.front() {
                    Some(oldest) => *oldest + limit.per - now,
                    None => return,
                }
            };
            tokio::time::sleep(wait).await;
        }
    }
}

/// GETs `url` and returns the body of a 2xx answer; other answers become errors
/// (429 → RateLimited with Retry-After, 5xx → Unavailable, 404 → UnknownSymbol, 401/403 →
/// Refused).
async fn get(request: reqwest::RequestBuilder) -> Result<bytes::Bytes, ProviderError> {
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
    if status == StatusCode::UNAUTHORIZED || status == StatusCode::FORBIDDEN {
        return Err(ProviderError::Refused(format!("HTTP {status}")));
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
    decimal_price(raw.get(), raw.get())
}

/// `decimal` (the price as decimal text, read from the number `sent`) rounded to micro-units;
/// refused unless positive.
fn decimal_price(decimal: &str, sent: &str) -> Result<Money, ProviderError> {
    let money = Money::from_decimal_rounded(decimal)
        .ok_or_else(|| ProviderError::Malformed(format!("price {sent:?}")))?;
    if money.micros() <= 0 {
        return Err(ProviderError::BadPrice(format!("{money}")));
    }
    Ok(money)
}

/// A price the provider keeps as a float32 and sends widened to a double (Yahoo's chart
/// values: `117.63999938964844` for the exchange's 117.64): the shortest decimal that maps to
/// the same float32, then as [`price`]. A number that is not exactly a float32 is taken as
/// written. The float is only used to recognise the value; the money comes from the decimal
/// text.
pub fn float32_price(raw: &RawValue) -> Result<Money, ProviderError> {
    let text = raw.get().trim();
    let shortest = text
        .parse::<f64>()
        .ok()
        .filter(|wide| wide.is_finite() && f64::from(*wide as f32) == *wide)
        .map(|wide| (wide as f32).to_string());
    decimal_price(shortest.as_deref().unwrap_or(text), text)
}

/// True for failures of the provider as a whole, which call for backing off.
pub fn is_provider_wide(error: &ProviderError) -> bool {
    matches!(
        error,
        ProviderError::Timeout
            | ProviderError::RateLimited(_)
            | ProviderError::Unavailable(_)
            | ProviderError::Refused(_)
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
        // A provider may ask for any wait (its Retry-After); more than a day is held to a day.
        state.until = Instant::now().checked_add(wait.min(LONGEST_REQUESTED_WAIT));
        state.reason = error.to_string();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(text: &str) -> Box<RawValue> {
        RawValue::from_string(text.to_owned()).expect("a JSON number")
    }

    #[test]
    fn float32_values_widened_to_doubles_are_read_as_the_exchange_printed_them() {
        let cases = [
            // float32 117.64 and 245.12 as Yahoo sends them, widened to double
            ("117.63999938964844", Money(117_640_000)),
            ("245.1199951171875", Money(245_120_000)),
            ("0.10000000149011612", Money(100_000)),
            // already the shortest form
            ("117.64", Money(117_640_000)),
            ("3", Money(3_000_000)),
            // not a float32: taken as written, rounded to micro-units
            ("100.123456789", Money(100_123_457)),
        ];
        for (text, expected) in cases {
            assert_eq!(float32_price(&raw(text)).unwrap(), expected, "{text}");
        }
        // `price` keeps every digit it is given.
        assert_eq!(
            price(&raw("117.63999938964844")).unwrap(),
            Money(117_639_999)
        );
        assert!(matches!(
            float32_price(&raw("-1.5")),
            Err(ProviderError::BadPrice(_))
        ));
    }

    #[test]
    fn an_absurd_retry_after_backs_off_without_overflowing() {
        let backoff = Backoff::default();
        backoff.failed(&ProviderError::RateLimited(Some(Duration::from_secs(
            u64::MAX,
        ))));
        assert!(matches!(backoff.check(), Err(ProviderError::BackingOff(_))));
    }
}
