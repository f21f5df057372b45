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

impl Snapshot {
    /// The next snapshot: `fresh` prices update their symbols (new UTC day → new open/high/
    /// low/volume); listed symbols without a fresh price keep their last quote, marked stale.
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
                (Some(q), Some(prev)) if day_start(prev.at_ms) == day_start(at_ms) => Quote {
                    symbol: symbol.clone(),
                    open: prev.open,
                    high: prev.high.max(q.price),
                    low: prev.low.min(q.price),
                    close: q.price,
                    volume: prev.volume.saturating_add(q.volume),
                    at_ms,
                    stale: false,
                },
                (Some(q), _) => Quote {
                    symbol: symbol.clone(),
                    open: q.price,
                    high: q.price,
                    low: q.price,
                    close: q.price,
                    volume: q.volume,
                    at_ms,
                    stale: false,
                },
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
