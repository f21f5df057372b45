//! The latest prices, shared by all actors: a snapshot replaced once per tick.
//!
//! Readers take the current `Arc<Snapshot>` under a read lock held only for the clone, so a
//! quote never waits for a tick being computed.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use papertrader_protocol::data::Quote;
use papertrader_protocol::Money;

use super::ProviderQuote;
use crate::domain::calendar::day_start;

/// All quotes at one tick.
#[derive(Debug, Clone, Default)]
pub struct Snapshot {
    /// Tick number (0 before the first live tick).
    pub tick: u64,
    /// Tick time, ms.
    pub at_ms: i64,
    /// Quote per symbol.
    pub quotes: HashMap<String, Quote>,
}

/// When the price of `q`, fetched at `fetched_ms`, was made: the source's time when it says
/// (as it says: a replay's clock may run ahead of ours), else the fetch's.
pub fn made_at(q: &ProviderQuote, fetched_ms: i64) -> i64 {
    q.at_ms.unwrap_or(fetched_ms)
}

/// The quote of a fresh price `q` made at `at_ms`, given the symbol's quote earlier the same
/// UTC day, if any.
fn day_quote(q: &ProviderQuote, today: Option<&Quote>, at_ms: i64) -> Quote {
    let accumulated = |t: Option<&Quote>| t.map_or(q.volume, |t| t.volume.saturating_add(q.volume));
    let (open, high, low, volume) = match (q.day, today) {
        (Some(day), today) => (
            today.map_or(day.open, |t| t.open),
            today.map_or(day.high, |t| t.high.max(day.high)),
            today.map_or(day.low, |t| t.low.min(day.low)),
            day.volume.unwrap_or_else(|| accumulated(today)),
        ),
        (None, Some(t)) => (t.open, t.high, t.low, accumulated(today)),
        (None, None) => (q.price, q.price, q.price, q.volume),
    };
    Quote {
        symbol: q.symbol.clone(),
        open,
        high: high.max(q.price),
        low: low.min(q.price),
        close: q.price,
        volume,
        at_ms,
        stale: false,
    }
}

impl Snapshot {
    /// Every symbol's close, micro-units.
    pub fn closes(&self) -> HashMap<String, i64> {
        self.quotes
            .iter()
            .map(|(s, q)| (s.clone(), q.close.micros()))
            .collect()
    }

    /// The next snapshot: `fresh` prices update their symbols; listed symbols without a fresh
    /// price keep their last quote, marked stale. A quote's time is when its price was made
    /// (the source's time where it says, see [`made_at`]); a fresh price no newer than the
    /// quote leaves it as it is (not stale). A fresh quote's day figures are the
    /// source's when it gives them (open, high, low, the day's volume), else they run from the
    /// first price of the UTC day (a new day starts new ones); high and low always include
    /// every price seen that day, as the day's bar does.
    pub fn advance(
        &self,
        tick: u64,
        at_ms: i64,
        fresh: &[ProviderQuote],
        symbols: &[String],
    ) -> Snapshot {
        let mut quotes = HashMap::with_capacity(symbols.len());
        for symbol in symbols {
            let previous = self.quotes.get(symbol);
            let quote = match (fresh.iter().find(|q| &q.symbol == symbol), previous) {
                // The source's price is no newer than the one we have (a closed market): the
                // quote stays as it is, fresh, with the time its price was made.
                (Some(q), Some(prev)) if made_at(q, at_ms) <= prev.at_ms => Quote {
                    stale: false,
                    ..prev.clone()
                },
                (Some(q), _) => {
                    let at = made_at(q, at_ms);
                    let today = previous.filter(|p| day_start(p.at_ms) == day_start(at));
                    day_quote(q, today, at)
                }
                (None, Some(prev)) => Quote {
                    stale: true,
                    ..prev.clone()
                },
                (None, None) => continue,
            };
            quotes.insert(symbol.clone(), quote);
        }
        Snapshot {
            tick,
            at_ms,
            quotes,
        }
    }

    /// Whether these prices are fresh at `now_ms` for ticks every `interval_ms`: the last tick
    /// is at most three intervals (and at least 15 s) old, and some price is not stale.
    pub fn freshness(&self, now_ms: i64, interval_ms: u64) -> Result<(), String> {
        let limit = (interval_ms.saturating_mul(3)).max(15_000) as i64;
        if self.tick == 0 {
            return Err("no price tick yet".into());
        }
        let age = now_ms.saturating_sub(self.at_ms);
        if age > limit {
            return Err(format!(
                "the last price tick (#{}) is {} ms old (more than {limit} ms)",
                self.tick, age
            ));
        }
        if !self.quotes.is_empty() && self.quotes.values().all(|q| q.stale) {
            return Err("every price is stale: the price source is failing".into());
        }
        Ok(())
    }

    /// The settlement price of a symbol: its close and staleness.
    pub fn price_of(&self, symbol: &str) -> Option<(Money, bool)> {
        self.quotes.get(symbol).map(|q| (q.close, q.stale))
    }
}

/// Shared handle to the latest snapshot.
#[derive(Debug, Clone, Default)]
pub struct PriceBook {
    current: Arc<RwLock<Arc<Snapshot>>>,
}

impl PriceBook {
    /// The current snapshot.
    pub fn snapshot(&self) -> Arc<Snapshot> {
        match self.current.read() {
            Ok(guard) => guard.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    /// Replaces the snapshot.
    pub fn publish(&self, snapshot: Snapshot) {
        let snapshot = Arc::new(snapshot);
        match self.current.write() {
            Ok(mut guard) => *guard = snapshot,
            Err(poisoned) => *poisoned.into_inner() = snapshot,
        }
    }

    /// The latest quote of a symbol.
    pub fn quote(&self, symbol: &str) -> Option<Quote> {
        self.snapshot().quotes.get(symbol).cloned()
    }
}
