//! A deterministic simulated market: a seeded random walk per symbol, in integer micro-units.
//!
//! The same seed, asset list and sequence of calls give the same prices. Each step moves a
//! price by a whole number of basis points (±0.2% per live tick, ±1.5% per backfilled
//! quarter-day), rounded to whole cents like a listed stock, and never below 0.01.

use std::collections::HashMap;

use chrono::Weekday;
use chrono::{Datelike, TimeZone, Timelike, Utc};
use futures::future::{ready, LocalBoxFuture};
use papertrader_protocol::Money;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use super::provider::{Backfill, FetchOutcome, PriceProvider, ProviderQuote};
use super::AssetSpec;
use crate::domain::bars::Ohlcv;
use crate::domain::bars::{self, fold};
use crate::domain::calendar::{day_start, month_start, DAY_MS};

const MIN_PRICE: i64 = 10_000;
/// One cent in micro-units: simulated prices are whole cents.
const CENT: i64 = 10_000;

fn round_to_cent(micros: i64) -> i64 {
    (micros + CENT / 2).div_euclid(CENT) * CENT
}

struct Walk {
    price: i64,
    rng: StdRng,
}

impl Walk {
    fn step(&mut self, max_bps: i64) -> i64 {
        let bps = self.rng.gen_range(-max_bps..=max_bps);
        self.price = round_to_cent(self.price + self.price * bps / 10_000).max(MIN_PRICE);
        self.price
    }
}

/// The simulated market provider.
pub struct SimulatedMarket {
    seed: u64,
    walks: HashMap<String, Walk>,
    trading_hours: bool,
}

/// True from 14:30 to 21:00 UTC, Monday to Friday (the New York session in winter; holidays
/// and daylight saving time are ignored).
pub fn market_open(at_ms: i64) -> bool {
    let Some(at) = Utc.timestamp_millis_opt(at_ms).single() else {
        return false;
    };
    let minute = at.hour() * 60 + at.minute();
    !matches!(at.weekday(), Weekday::Sat | Weekday::Sun)
        && (14 * 60 + 30..21 * 60).contains(&minute)
}

fn symbol_seed(seed: u64, symbol: &str) -> u64 {
    // FNV-1a: stable across platforms and Rust versions, unlike std's hasher.
    symbol.bytes().fold(0xcbf2_9ce4_8422_2325 ^ seed, |h, b| {
        (h ^ b as u64).wrapping_mul(0x100_0000_01b3)
    })
}

impl SimulatedMarket {
    /// A market for `seed`, moving around the clock.
    pub fn new(seed: u64) -> Self {
        Self {
            seed,
            walks: HashMap::new(),
            trading_hours: false,
        }
    }

    /// Moves prices only while [`market_open`]; outside it every quote repeats with volume 0.
    pub fn with_trading_hours(mut self, enabled: bool) -> Self {
        self.trading_hours = enabled;
        self
    }

    fn walk(&mut self, spec: &AssetSpec) -> &mut Walk {
        let seed = self.seed;
        self.walks
            .entry(spec.symbol.clone())
            .or_insert_with(|| Walk {
                price: round_to_cent(spec.start_price.micros()).max(MIN_PRICE),
                rng: StdRng::seed_from_u64(symbol_seed(seed, &spec.symbol)),
            })
    }
}

impl PriceProvider for SimulatedMarket {
    fn name(&self) -> &'static str {
        "simulated"
    }

    fn fetch(&mut self, assets: &[AssetSpec], at_ms: i64) -> LocalBoxFuture<'static, FetchOutcome> {
        let moving = !self.trading_hours || market_open(at_ms);
        let quotes = assets
            .iter()
            .map(|spec| {
                let walk = self.walk(spec);
                let (price, volume) = if moving {
                    (walk.step(20), walk.rng.gen_range(10..1_000))
                } else {
                    (walk.price, 0)
                };
                ProviderQuote {
                    symbol: spec.symbol.clone(),
                    price: Money(price),
                    volume,
                    day: None,
                    at_ms: None,
                }
            })
            .collect();
        Box::pin(ready(FetchOutcome {
            quotes,
            failed: Vec::new(),
        }))
    }

    fn backfill(
        &mut self,
        assets: &[AssetSpec],
        now_ms: i64,
        days: u32,
        tick_spacing_ms: i64,
    ) -> LocalBoxFuture<'static, Backfill> {
        Box::pin(ready(self.generate_history(
            assets,
            now_ms,
            days,
            tick_spacing_ms,
        )))
    }

    fn resume_from(&mut self, last_points: &[(String, Ohlcv)]) {
        for (symbol, point) in last_points {
            let seed = symbol_seed(self.seed, symbol) ^ point.close as u64;
            self.walks.insert(
                symbol.clone(),
                Walk {
                    price: point.close.max(MIN_PRICE),
                    rng: StdRng::seed_from_u64(seed),
                },
            );
        }
    }
}

impl SimulatedMarket {
    /// Daily bars for `days` days, monthly bars, and 24 h of intraday points ending at `now_ms`.
    pub fn generate_history(
        &mut self,
        assets: &[AssetSpec],
        now_ms: i64,
        days: u32,
        tick_spacing_ms: i64,
    ) -> Backfill {
        let mut out = Backfill::default();
        let today = day_start(now_ms);
        let spacing = tick_spacing_ms.max(1_000);
        for spec in assets {
            let walk = self.walk(spec);
            let mut daily: Vec<Ohlcv> = Vec::new();
            for d in (1..=days as i64).rev() {
                let open = walk.price;
                let mut bar = Ohlcv {
                    at: today - d * DAY_MS,
                    open,
                    high: open,
                    low: open,
                    close: open,
                    volume: 0,
                };
                for _ in 0..4 {
                    let p = walk.step(150);
                    let volume = walk.rng.gen_range(50_000..500_000);
                    fold(
                        &mut bar,
                        &Ohlcv {
                            at: 0,
                            open: p,
                            high: p,
                            low: p,
                            close: p,
                            volume,
                        },
                    );
                }
                daily.push(bar);
            }
            let mut today_bar: Option<Ohlcv> = None;
            let first_tick = now_ms - DAY_MS + spacing;
            let mut at = first_tick - first_tick.rem_euclid(spacing);
            while at <= now_ms {
                let p = walk.step(20);
                let volume = walk.rng.gen_range(10..1_000);
                let point = Ohlcv {
                    at,
                    open: p,
                    high: p,
                    low: p,
                    close: p,
                    volume,
                };
                out.ticks.push((spec.symbol.clone(), point));
                if at >= today {
                    match today_bar.as_mut() {
                        Some(bar) => fold(bar, &point),
                        None => today_bar = Some(Ohlcv { at: today, ..point }),
                    }
                } else if let Some(yesterday) = daily.last_mut() {
                    // The intraday points of yesterday's last hours belong to its bar too (the
                    // walk reached them after the bar's first steps).
                    fold(yesterday, &point);
                }
                at += spacing;
            }
            daily.extend(today_bar);
            let monthly = bars::aggregate(&daily, month_start);
            out.daily
                .extend(daily.into_iter().map(|b| (spec.symbol.clone(), b)));
            out.monthly
                .extend(monthly.into_iter().map(|b| (spec.symbol.clone(), b)));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::market::assets::default_assets;

    #[test]
    fn same_seed_same_prices_different_seed_different_prices() {
        let assets = default_assets();
        let run = |seed| {
            let mut m = SimulatedMarket::new(seed);
            let mut all = Vec::new();
            for i in 0..20 {
                let outcome = futures::executor::block_on(m.fetch(&assets, i));
                assert!(outcome.failed.is_empty());
                all.extend(outcome.quotes.into_iter().map(|q| q.price));
            }
            all
        };
        assert_eq!(run(7), run(7));
        assert_ne!(run(7), run(8));
        assert!(run(7)
            .iter()
            .all(|p| p.micros() >= MIN_PRICE && p.micros() % CENT == 0));
    }

    #[test]
    fn backfill_covers_every_range() {
        let assets = default_assets();
        let now = 1_767_225_600_000 + 13 * 3_600_000; // 2026-01-01 13:00 UTC
        let b = SimulatedMarket::new(1).generate_history(&assets[..2], now, 400, 300_000);
        let daily: Vec<_> = b.daily.iter().filter(|(s, _)| s == "AAPL").collect();
        assert_eq!(daily.len(), 401, "400 past days plus today");
        assert!(daily.windows(2).all(|w| w[1].1.at - w[0].1.at == DAY_MS));
        assert_eq!(daily.last().unwrap().1.at, day_start(now));
        let monthly: Vec<_> = b.monthly.iter().filter(|(s, _)| s == "AAPL").collect();
        assert!((13..=15).contains(&monthly.len()), "{}", monthly.len());
        let ticks: Vec<_> = b.ticks.iter().filter(|(s, _)| s == "AAPL").collect();
        assert_eq!(ticks.len(), 288, "24 h at 5 min");
        assert!(ticks
            .iter()
            .all(|(_, t)| t.at > now - DAY_MS && t.at <= now));
        for (_, bar) in daily.iter().chain(monthly.iter()) {
            assert!(bar.low <= bar.open.min(bar.close) && bar.high >= bar.open.max(bar.close));
        }
        // Every intraday point lies within its day's bar, and the day's last point is its close.
        for (_, t) in &ticks {
            let (_, bar) = daily.iter().find(|(_, b)| b.at == day_start(t.at)).unwrap();
            assert!(
                bar.low <= t.close && t.close <= bar.high,
                "{t:?} outside {bar:?}"
            );
        }
        let (_, last) = ticks.last().unwrap();
        assert_eq!(daily.last().unwrap().1.close, last.close);
    }

    #[test]
    fn trading_hours_hold_prices_outside_the_session() {
        let assets = default_assets();
        let saturday_noon = 1_767_960_000_000; // 2026-01-09 12:00 UTC is a Friday
        let friday_15h = saturday_noon + 3 * 3_600_000; // 15:00 UTC Friday, open
        let friday_22h = saturday_noon + 10 * 3_600_000; // 22:00 UTC Friday, closed
        assert!(
            market_open(friday_15h)
                && !market_open(friday_22h)
                && !market_open(saturday_noon + 86_400_000)
        );
        let mut m = SimulatedMarket::new(3).with_trading_hours(true);
        let at =
            |m: &mut SimulatedMarket, t| futures::executor::block_on(m.fetch(&assets, t)).quotes;
        let closed1 = at(&mut m, friday_22h);
        let closed2 = at(&mut m, friday_22h + 60_000);
        assert_eq!(closed1, closed2);
        assert!(closed1.iter().all(|q| q.volume == 0));
        let open = at(&mut m, friday_15h);
        assert_ne!(open, closed2);
    }
}
