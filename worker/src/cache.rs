//! The worker's price cache: the latest quotes pushed by the master every tick, asset names,
//! and recent history replies (dropped at every tick, since the current bar changes).
//!
//! Price reads answered here never reach the master or the market-data provider.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

use papertrader_protocol::data::{AssetInfo, Quote, ServerInfo};
use papertrader_protocol::{Instruction, Message, PriceTick};

#[derive(Default)]
struct State {
    server_info: Option<ServerInfo>,
    tick: u64,
    quotes: HashMap<String, Quote>,
    names: HashMap<String, (String, String)>,
    history: HashMap<(Instruction, String, i64), Vec<Message>>,
}

/// Shared handle to the cache.
#[derive(Clone)]
pub struct PriceCache {
    state: Arc<RwLock<State>>,
    max_history: usize,
    hits: Arc<AtomicU64>,
}

impl PriceCache {
    /// A cache keeping at most `max_history` history replies.
    pub fn new(max_history: usize) -> Self {
        Self {
            state: Arc::default(),
            max_history: max_history.max(1),
            hits: Arc::default(),
        }
    }

    fn read<T>(&self, f: impl FnOnce(&State) -> T) -> T {
        match self.state.read() {
            Ok(state) => f(&state),
            Err(poisoned) => f(&poisoned.into_inner()),
        }
    }

    fn write<T>(&self, f: impl FnOnce(&mut State) -> T) -> T {
        match self.state.write() {
            Ok(mut state) => f(&mut state),
            Err(poisoned) => f(&mut poisoned.into_inner()),
        }
    }

    fn hit<T>(&self, found: Option<T>) -> Option<T> {
        if found.is_some() {
            self.hits.fetch_add(1, Ordering::Relaxed);
        }
        found
    }

    /// Applies a pushed tick. The link delivers ticks in order, and a master that restarted
    /// numbers them from 0 again: every tick is taken as it comes, whatever its number.
    pub fn apply(&self, tick: PriceTick) {
        self.write(|s| {
            s.tick = tick.tick;
            for quote in tick.quotes {
                s.quotes.insert(quote.symbol.clone(), quote);
            }
            s.history.clear();
        })
    }

    /// The latest quote of a symbol.
    pub fn quote(&self, symbol: &str) -> Option<Quote> {
        self.hit(self.read(|s| s.quotes.get(symbol).cloned()))
    }

    /// Asset info from a remembered name and the latest quote.
    pub fn asset_info(&self, symbol: &str) -> Option<AssetInfo> {
        let found = self.read(|s| {
            let (name, currency) = s.names.get(symbol)?.clone();
            let latest = s.quotes.get(symbol)?.clone();
            Some(AssetInfo {
                symbol: symbol.to_owned(),
                name,
                currency,
                latest,
            })
        });
        self.hit(found)
    }

    /// Remembers an asset's name and currency.
    pub fn remember_info(&self, info: &AssetInfo) {
        self.write(|s| {
            s.names.insert(
                info.symbol.clone(),
                (info.name.clone(), info.currency.clone()),
            )
        });
    }

    /// A cached history reply.
    pub fn history(
        &self,
        instruction: Instruction,
        symbol: &str,
        date_ms: i64,
    ) -> Option<Vec<Message>> {
        self.hit(self.read(|s| {
            s.history
                .get(&(instruction, symbol.to_owned(), date_ms))
                .cloned()
        }))
    }

    /// Caches a history reply until the next tick.
    pub fn remember_history(
        &self,
        instruction: Instruction,
        symbol: &str,
        date_ms: i64,
        replies: Vec<Message>,
    ) {
        let max = self.max_history;
        self.write(|s| {
            if s.history.len() >= max {
                s.history.clear();
            }
            s.history
                .insert((instruction, symbol.to_owned(), date_ms), replies);
        })
    }

    /// The master's `getServerInfo` answer, as this worker serves it.
    pub fn server_info(&self) -> Option<ServerInfo> {
        self.hit(self.read(|s| s.server_info.clone()))
    }

    /// Keeps the master's `getServerInfo` answer (until the link is admitted again).
    pub fn remember_server_info(&self, info: ServerInfo) {
        self.write(|s| s.server_info = Some(info));
    }

    /// The link was admitted (again): the master may have changed its settings.
    pub fn forget_server_info(&self) {
        self.write(|s| s.server_info = None);
    }

    /// Requests answered from the cache so far.
    pub fn hits(&self) -> u64 {
        self.hits.load(Ordering::Relaxed)
    }

    /// The last tick applied.
    pub fn tick(&self) -> u64 {
        self.read(|s| s.tick)
    }
}
