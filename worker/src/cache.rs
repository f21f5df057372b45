//! The worker's price cache: the latest quotes pushed by the master every tick, asset names,
//! and recent history replies (dropped at every tick, since the current bar changes).
//!
//! Answers are kept as the frames the client receives, encoded once: a quote when its tick is
//! applied, a history or `getServerInfo` reply when the master's answer passes through. A
//! cache hit copies no payload and encodes nothing. Price reads answered here never reach the
//! master or the market-data provider.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

use bytes::Bytes;
use papertrader_protocol::data::{AssetInfo, DataBody, Quote};
use papertrader_protocol::transfer::split_body;
use papertrader_protocol::{Instruction, Message, PriceTick};

/// How this worker cuts a reply into frames.
#[derive(Debug, Clone, Copy)]
pub struct Framing {
    /// Payload bytes per `data` packet.
    pub chunk_size: usize,
    /// Largest payload of a frame.
    pub max_payload: u32,
}

impl Framing {
    /// The `data` frames carrying `body`; empty if a frame cannot be encoded (it then is not
    /// cached, and the request goes to the master).
    pub fn frames(&self, body: &DataBody) -> Vec<Bytes> {
        let mut frames = Vec::new();
        for packet in split_body(body, self.chunk_size) {
            match Message::Data(packet).to_frame_bytes(self.max_payload) {
                Ok(frame) => frames.push(frame),
                Err(_) => return Vec::new(),
            }
        }
        frames
    }
}

/// A quote and the frames answering `getAssetValueCurrent` with it.
struct CachedQuote {
    quote: Quote,
    frames: Arc<[Bytes]>,
}

/// The reply frames of one history request.
type HistoryKey = (Instruction, String, i64);

#[derive(Default)]
struct State {
    server_info: Option<Arc<[Bytes]>>,
    tick: u64,
    quotes: HashMap<String, CachedQuote>,
    names: HashMap<String, (String, String)>,
    history: HashMap<HistoryKey, Arc<[Bytes]>>,
}

/// Shared handle to the cache.
#[derive(Clone)]
pub struct PriceCache {
    state: Arc<RwLock<State>>,
    framing: Framing,
    max_history: usize,
    hits: Arc<AtomicU64>,
}

impl PriceCache {
    /// A cache keeping at most `max_history` history replies, framing its answers as
    /// `framing` says.
    pub fn new(max_history: usize, framing: Framing) -> Self {
        Self {
            state: Arc::default(),
            framing,
            max_history: max_history.max(1),
            hits: Arc::default(),
        }
    }

    /// How the cache frames its answers.
    pub fn framing(&self) -> Framing {
        self.framing
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
        // Encoded before taking the lock: readers wait for the swap only.
        let encoded: Vec<(Quote, Arc<[Bytes]>)> = tick
            .quotes
            .into_iter()
            .map(|quote| {
                let frames = self.framing.frames(&DataBody::Quote(quote.clone()));
                (quote, frames.into())
            })
            .collect();
        self.write(|s| {
            s.tick = tick.tick;
            for (quote, frames) in encoded {
                s.quotes
                    .insert(quote.symbol.clone(), CachedQuote { quote, frames });
            }
            s.history.clear();
        })
    }

    /// The frames answering `getAssetValueCurrent` for a symbol.
    pub fn quote(&self, symbol: &str) -> Option<Arc<[Bytes]>> {
        let found = self.read(|s| {
            let cached = s.quotes.get(symbol)?;
            (!cached.frames.is_empty()).then(|| cached.frames.clone())
        });
        self.hit(found)
    }

    /// Asset info from a remembered name and the latest quote.
    pub fn asset_info(&self, symbol: &str) -> Option<AssetInfo> {
        let found = self.read(|s| {
            let (name, currency) = s.names.get(symbol)?.clone();
            let latest = s.quotes.get(symbol)?.quote.clone();
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
    ) -> Option<Arc<[Bytes]>> {
        self.hit(self.read(|s| {
            s.history
                .get(&(instruction, symbol.to_owned(), date_ms))
                .cloned()
        }))
    }

    /// Caches a history reply (its frames, as the master sent them) until the next tick.
    pub fn remember_history(
        &self,
        instruction: Instruction,
        symbol: &str,
        date_ms: i64,
        frames: Vec<Bytes>,
    ) {
        let max = self.max_history;
        self.write(|s| {
            if s.history.len() >= max {
                s.history.clear();
            }
            s.history
                .insert((instruction, symbol.to_owned(), date_ms), frames.into());
        })
    }

    /// The `getServerInfo` reply as this worker serves it.
    pub fn server_info(&self) -> Option<Arc<[Bytes]>> {
        self.hit(self.read(|s| s.server_info.clone()))
    }

    /// Keeps the `getServerInfo` reply (until the link is admitted again).
    pub fn remember_server_info(&self, frames: Vec<Bytes>) {
        self.write(|s| s.server_info = Some(frames.into()));
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
