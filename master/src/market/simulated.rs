//! A deterministic simulated market: a seeded random walk per symbol, in integer micro-units.
//!
//! The same seed, asset list and sequence of calls give the same prices. Each step moves a
//! price by a whole number of basis points (±0.2% per live tick, ±1.5% per backfilled
//! quarter-day), rounded to whole cents like a listed stock, and never below 0.01.

use std::collections::HashMap;

use chrono::{DateTime, Datelike, TimeZone, Utc};
use futures::future::{ready, LocalBoxFuture};
use papertrader_protocol::Money;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use super::provider::{Backfill, PriceProvider, ProviderError, ProviderQuote};
use super::AssetSpec;
use crate::db::prices::Ohlcv;

const DAY_MS: i64 = 86_400_000;
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
}

fn symbol_seed(seed: u64, symbol: &str) -> u64 {
    // FNV-1a: stable across platforms and Rust versions, unlike std's hasher.
    symbol.bytes().fold(0xcbf2_9ce4_8422_2325 ^ seed, |h, b| {
        (h ^ b as u64).wrapping_mul(0x100_0000_01b3)
    })
}

impl SimulatedMarket {
    /// A market for `seed`.
    pub fn new(seed: u64) -> Self {
        Self {
            seed,
            walks: HashMap::new(),
        }
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

/// Start of the UTC day containing `ms`.
pub fn day_start(ms: i64) -> i64 {
    ms.div_euclid(DAY_MS) * DAY_MS
}

/// Start of the UTC month containing `ms`.
pub fn month_start(ms: i64) -> i64 {
    let at: DateTime<Utc> = Utc.timestamp_millis_opt(ms).single().unwrap_or_default();
    Utc.with_ymd_and_hms(at.year(), at.month(), 1, 0, 0, 0)
        .single()
        .map(|d| d.timestamp_millis())
        .unwrap_or(ms)
}

fn fold(bar: &mut Ohlcv, p: &Ohlcv) {
    bar.high = bar.high.max(p.high);
    bar.low = bar.low.min(p.low);
    bar.close = p.close;
    bar.volume = bar.volume.saturating_add(p.volume);
}

impl PriceProvider for SimulatedMarket {
    fn name(&self) -> &'static str {
        "simulated"
    }

    fn fetch(
        &mut self,
        assets: &[AssetSpec],
        _at_ms: i64,
    ) -> LocalBoxFuture<'static, Result<Vec<ProviderQuote>, ProviderError>> {
        let quotes = assets
            .iter()
            .map(|spec| {
                let walk = self.walk(spec);
                let price = walk.step(20);
                let volume = walk.rng.gen_range(10..1_000);
                ProviderQuote {
                    symbol: spec.symbol.clone(),
                    price: Money(price),
                    volume,
                }
            })
            .collect();
        Box::pin(ready(Ok(quotes)))
    }

    fn backfill(
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
                }
                at += spacing;
            }
            daily.extend(today_bar);
            let mut monthly: Vec<Ohlcv> = Vec::new();
            for bar in &daily {
                let month = month_start(bar.at);
                match monthly.last_mut() {
                    Some(m) if m.at == month => fold(m, bar),
                    _ => monthly.push(Ohlcv { at: month, ..*bar }),
                }
            }
            out.daily
                .extend(daily.into_iter().map(|b| (spec.symbol.clone(), b)));
            out.monthly
                .extend(monthly.into_iter().map(|b| (spec.symbol.clone(), b)));
        }
        out
    }

    fn resume_from(&mut self, last_prices: &[(String, Money)]) {
        for (symbol, price) in last_prices {
            let seed = symbol_seed(self.seed, symbol) ^ price.micros() as u64;
            self.walks.insert(
                symbol.clone(),
                Walk {
                    price: price.micros().max(MIN_PRICE),
                    rng: StdRng::seed_from_u64(seed),
                },
            );
        }
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
                let quotes = futures::executor::block_on(m.fetch(&assets, i))
                    .expect("simulated never fails");
                all.extend(quotes.into_iter().map(|q| q.price));
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
        let b = SimulatedMarket::new(1).backfill(&assets[..2], now, 400, 300_000);
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
    }

    #[test]
    fn month_and_day_starts() {
        let leap_day_noon = 1_709_208_000_000; // 2024-02-29 12:00 UTC
        assert_eq!(day_start(leap_day_noon), 1_709_164_800_000);
        assert_eq!(month_start(leap_day_noon), 1_706_745_600_000); // 2024-02-01
    }
}
