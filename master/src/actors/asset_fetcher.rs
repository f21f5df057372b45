//! `AssetFetcherActor`: once per update interval, asks the provider for prices, stores the
//! tick (intraday point plus daily and monthly bars), publishes the new snapshot to the
//! [`PriceBook`], then tells the trade queue to settle at it.
//!
//! A failed fetch keeps the last good prices, marked stale, and is logged once per episode.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;
use std::time::Duration;

use actix::prelude::*;
use slog::{error, info, warn, Logger};

use super::now_ms;
use super::trade_queue::{Settle, TradeQueueActor};
use crate::db::prices;
use crate::db::{AnyConnection, Db, DbError};
use crate::domain::bars::Ohlcv;
use crate::domain::calendar::{day_start, month_start};
use crate::market::book::Snapshot;
use crate::market::{
    AssetSpec, FetchOutcome, PriceBook, PriceProvider, ProviderError, ProviderQuote,
};

/// Ticks between prunes of old tick-resolution history.
const PRUNE_EVERY_TICKS: u64 = 1_000;

/// A new snapshot was published (for workers' price pushes).
#[derive(Message, Clone)]
#[rtype(result = "()")]
pub struct TickPublished(pub Arc<Snapshot>);

/// The asset fetcher.
pub struct AssetFetcherActor {
    provider: Box<dyn PriceProvider>,
    assets: Vec<AssetSpec>,
    symbols: Vec<String>,
    db: Db,
    book: PriceBook,
    trades: Addr<TradeQueueActor>,
    interval: Duration,
    tick_retention_ms: i64,
    listeners: Vec<Recipient<TickPublished>>,
    failing: BTreeSet<String>,
    /// When each symbol last got a price from the provider, ms.
    fetched: HashMap<String, i64>,
    log: Logger,
}

/// How long a fresh price stays fresh while the provider backs off (a rate limit someone
/// else's request hit): three update intervals, and at least this.
const BACKOFF_GRACE_MS: i64 = 5_000;

impl AssetFetcherActor {
    /// A fetcher for `assets`, starting after the book's current tick.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        provider: Box<dyn PriceProvider>,
        assets: Vec<AssetSpec>,
        db: Db,
        book: PriceBook,
        trades: Addr<TradeQueueActor>,
        interval: Duration,
        tick_retention_days: u32,
        log: Logger,
    ) -> Self {
        Self {
            provider,
            symbols: assets.iter().map(|a| a.symbol.clone()).collect(),
            assets,
            db,
            book,
            trades,
            interval,
            tick_retention_ms: tick_retention_days as i64 * 86_400_000,
            listeners: Vec::new(),
            failing: BTreeSet::new(),
            fetched: HashMap::new(),
            log,
        }
    }

    fn tick(&mut self, ctx: &mut Context<Self>) {
        let at_ms = now_ms();
        let fetch = self.provider.fetch(&self.assets, at_ms);
        ctx.wait(fetch.into_actor(self).then(move |mut outcome, act, _| {
            let previous = act.book.snapshot();
            for quote in &outcome.quotes {
                act.fetched.insert(quote.symbol.clone(), at_ms);
            }
            let held = act.hold_through_backoff(&mut outcome, &previous, at_ms);
            act.log_failures(&outcome);
            let mut fresh = outcome.quotes;
            fresh.extend(held);
            let snapshot = Arc::new(previous.advance(previous.tick + 1, at_ms, &fresh, &act.symbols));
            let points = day_points(&previous, &snapshot, &fresh);
            let db = act.db.clone();
            // Retention counts back from the market's own clock (the newest price's time), so a
            // replay of a past period keeps its points.
            let newest = snapshot.quotes.values().map(|q| q.at_ms).max().unwrap_or(at_ms);
            let prune_before = (snapshot.tick % PRUNE_EVERY_TICKS == 0).then(|| newest - act.tick_retention_ms);
            async move { db.run(move |c| store_tick(c, &points, prune_before)).await }
                .into_actor(act)
                .map(move |stored, act, _| {
                    if let Err(e) = stored {
                        error!(act.log, "could not store price tick"; "tick" => snapshot.tick, "error" => %e);
                    }
                    act.book.publish((*snapshot).clone());
                    act.trades.do_send(Settle(snapshot.clone()));
                    act.listeners.retain(|l| l.connected());
                    for listener in &act.listeners {
                        listener.do_send(TickPublished(snapshot.clone()));
                    }
                })
        }));
    }
}

impl AssetFetcherActor {
    /// Symbols the provider did not ask for because it is backing off, whose price is fresh
    /// and was fetched within the grace: they keep that price as it is (not stale, no new
    /// point), so a rate limit one request hit does not make healthy symbols flap stale and
    /// fresh. They leave `outcome.failed`; their unchanged quotes are returned.
    fn hold_through_backoff(
        &self,
        outcome: &mut FetchOutcome,
        previous: &Snapshot,
        at_ms: i64,
    ) -> Vec<ProviderQuote> {
        let grace = (3 * self.interval.as_millis() as i64).max(BACKOFF_GRACE_MS);
        let mut held = Vec::new();
        outcome.failed.retain(|(symbol, error)| {
            let keep = matches!(error, ProviderError::BackingOff(_))
                && previous.quotes.get(symbol).is_some_and(|q| !q.stale)
                && self
                    .fetched
                    .get(symbol)
                    .is_some_and(|fetched| at_ms - fetched <= grace);
            if let (true, Some(quote)) = (keep, previous.quotes.get(symbol)) {
                held.push(ProviderQuote {
                    symbol: symbol.clone(),
                    price: quote.close,
                    volume: 0,
                    day: None,
                    at_ms: Some(quote.at_ms),
                });
            }
            !keep
        });
        held
    }

    /// Logs failures once per episode: the first failure of a symbol is logged (symbols that
    /// start failing for the same reason share one line); later failures stay quiet until the
    /// symbol recovers, which is logged once.
    fn log_failures(&mut self, outcome: &FetchOutcome) {
        if !outcome.failed.is_empty() {
            metrics::counter!("papertrader_provider_errors_total",
                "provider" => self.provider.name())
            .increment(outcome.failed.len() as u64);
        }
        let mut started: BTreeMap<String, Vec<&str>> = BTreeMap::new();
        for (symbol, error) in &outcome.failed {
            if self.failing.insert(symbol.clone()) {
                started.entry(error.to_string()).or_default().push(symbol);
            }
        }
        for (reason, symbols) in started {
            warn!(self.log, "prices unavailable; keeping the last ones as stale"; "provider" => self.provider.name(), "reason" => reason, "symbols" => symbols.join(","));
        }
        let recovered: Vec<&str> = outcome
            .quotes
            .iter()
            .filter(|q| self.failing.remove(&q.symbol))
            .map(|q| q.symbol.as_str())
            .collect();
        if !recovered.is_empty() {
            info!(self.log, "prices recovered"; "provider" => self.provider.name(), "symbols" => recovered.join(","));
        }
        metrics::gauge!("papertrader_stale_symbols").set(self.failing.len() as f64);
    }
}

/// For each fresh quote with a newer price: the time its price was made and its day's figures
/// as the new snapshot has them (open, high, low, close), with the units traded since the
/// previous tick as volume — the day's volume less what the previous snapshot already had that
/// day, so a source's day total is counted once.
fn day_points(
    previous: &Snapshot,
    snapshot: &Snapshot,
    fresh: &[ProviderQuote],
) -> Vec<(String, Ohlcv)> {
    fresh
        .iter()
        .filter_map(|q| {
            let quote = snapshot.quotes.get(&q.symbol)?;
            let before = previous.quotes.get(&q.symbol);
            // A price no newer than the last one (a closed market) adds nothing.
            if before.is_some_and(|b| b.at_ms >= quote.at_ms) {
                return None;
            }
            let earlier = before
                .filter(|p| day_start(p.at_ms) == day_start(quote.at_ms))
                .map_or(0, |p| p.volume);
            let traded = quote.volume.saturating_sub(earlier);
            let point = Ohlcv {
                at: quote.at_ms,
                open: quote.open.micros(),
                high: quote.high.micros(),
                low: quote.low.micros(),
                close: quote.close.micros(),
                volume: i64::try_from(traded).unwrap_or(i64::MAX),
            };
            Some((q.symbol.clone(), point))
        })
        .collect()
}

/// Writes a tick: one intraday point per newer price (at the time it was made: its price and
/// the units traded since the previous tick), and its day's figures folded into the daily and
/// monthly bars of that time, in one transaction.
fn store_tick(
    conn: &mut AnyConnection,
    day_points: &[(String, Ohlcv)],
    prune_before: Option<i64>,
) -> Result<(), DbError> {
    use diesel::Connection;
    conn.transaction(|conn| {
        let folded: Vec<(&str, Ohlcv)> = day_points
            .iter()
            .map(|(symbol, point)| (symbol.as_str(), *point))
            .collect();
        let ticks: Vec<(&str, Ohlcv)> = folded
            .iter()
            .map(|&(symbol, p)| {
                let point = Ohlcv {
                    open: p.close,
                    high: p.close,
                    low: p.close,
                    ..p
                };
                (symbol, point)
            })
            .collect();
        prices::insert_ticks(conn, &ticks)?;
        // Usually one day and one month for all; a source's time may put a price in another.
        let mut by_bar: BTreeMap<(i32, i64), Vec<(&str, Ohlcv)>> = BTreeMap::new();
        for &(symbol, point) in &folded {
            by_bar
                .entry((prices::DAILY, day_start(point.at)))
                .or_default()
                .push((symbol, point));
            by_bar
                .entry((prices::MONTHLY, month_start(point.at)))
                .or_default()
                .push((symbol, point));
        }
        for ((resolution, start), points) in by_bar {
            prices::fold_into_bars(conn, resolution, start, &points)?;
        }
        if let Some(before) = prune_before {
            prices::prune_ticks(conn, before)?;
        }
        Ok(())
    })
}

impl Actor for AssetFetcherActor {
    type Context = Context<Self>;

    /// Ticks every interval. A tick waits for its fetch and its store; intervals missed
    /// meanwhile (a slow provider or database) are skipped, not caught up: the next tick comes
    /// at once and the one after a whole interval later (actix's `run_interval` would fire
    /// every missed one back to back).
    fn started(&mut self, ctx: &mut Context<Self>) {
        let mut beat =
            tokio::time::interval_at(tokio::time::Instant::now() + self.interval, self.interval);
        beat.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        ctx.add_stream(futures::stream::unfold(beat, |mut beat| async move {
            beat.tick().await;
            Some((Beat, beat))
        }));
    }
}

/// One update interval has passed.
struct Beat;

impl StreamHandler<Beat> for AssetFetcherActor {
    fn handle(&mut self, _: Beat, ctx: &mut Context<Self>) {
        self.tick(ctx);
    }
}

/// Fetch prices and settle the queued orders now, besides the interval (admin `market_tick`:
/// for operators who run a long interval, and for benchmarks that count ticks exactly).
#[derive(Message)]
#[rtype(result = "()")]
pub struct TickNow;

impl Handler<TickNow> for AssetFetcherActor {
    type Result = ();

    fn handle(&mut self, _: TickNow, ctx: &mut Context<Self>) {
        self.tick(ctx);
    }
}

/// Subscribe to every published tick.
#[derive(Message)]
#[rtype(result = "()")]
pub struct Subscribe(pub Recipient<TickPublished>);

impl Handler<Subscribe> for AssetFetcherActor {
    type Result = ();

    fn handle(&mut self, msg: Subscribe, _: &mut Context<Self>) {
        self.listeners.push(msg.0);
    }
}
