//! A deterministic simulated market: geometric Brownian motion per symbol, published in whole
//! cents, with an intraday volume curve.
//!
//! # Prices
//!
//! Each symbol's price `S` follows geometric Brownian motion with the asset's annualised
//! volatility `σ` ([`AssetSpec::volatility_bps`]) and drift `μ` ([`AssetSpec::drift_bps`]).
//! From one point of the walk to the next, `dt` years apart,
//!
//! ```text
//! ln S(t + dt) = ln S(t) + (μ − σ²/2)·dt + σ·√dt·Z,    Z ~ N(0, 1) from the seeded generator
//! ```
//!
//! which is exact for any `dt`: an hour moves the same (in distribution) whether it is walked
//! in 3 600 ticks of 1 s or 60 ticks of 60 s, and the expected price grows by `μ` a year.
//! `dt` comes from the timestamps (the time since the walk's previous point), never from the
//! configured update interval. The walk keeps `ln S` unrounded in an `f64`; only the published
//! price is rounded to whole cents (micro-units, never below 0.01), so rounding neither biases
//! nor freezes a calm, cheap asset.
//!
//! # The clock: around the clock or market hours
//!
//! - Market hours off (the default): the market trades around the clock, every day, and a
//!   year is 365.25 calendar days.
//! - Market hours on ([`SimulatedMarket::with_trading_hours`], `simulated_trading_hours`):
//!   only the session counts — 14:30 to 21:00 UTC, Monday to Friday ([`market_open`]) — and a
//!   year is 252 sessions of 6.5 h. Outside the session prices do not move (no overnight
//!   gaps) and every quote repeats its price with volume 0; the first tick of a session moves
//!   by the session time since its open.
//!
//! A step covers at most one day of trading time (24 h, or one 6.5 h session with market
//! hours): the first tick after a long downtime moves, and trades, like one day — not like
//! the whole outage.
//!
//! # Volume
//!
//! Each step trades the asset's [`AssetSpec::daily_volume`] times the share of a day's trading
//! that falls in the step, times a mean-one random factor (larger when the price moved more,
//! and log-normal noise), rounded to whole shares and at least 1 while the market moves. The
//! share follows an intraday curve, so volume per hour does not depend on the tick interval:
//!
//! - with market hours, a U over the session: intensity `0.5 + 1.5·(2x − 1)²` at the fraction
//!   `x` of the session gone, four times heavier at the open and the close than at midday;
//! - around the clock, a smooth daily wave: intensity `1 + 0.6·cos(2π(h − 17.75)/24)` at UTC
//!   hour `h`, heaviest at 17:45 (the middle of the New York session), lightest at 05:45.
//!
//! Both integrate to one day's volume per session (or calendar day).
//!
//! # Backfill
//!
//! [`SimulatedMarket::generate_history`] walks the same model from the first backfilled day
//! to now: every 15 minutes up to the last 24 hours, then at the intraday tick spacing. The
//! daily and monthly bars are folded from those points, so backfilled history has the same
//! volatility, drift and volume as the live ticks that follow it.
//!
//! # Determinism
//!
//! The same seed, asset list and sequence of calls (with the same timestamps) give the same
//! prices and volumes on the same platform. Each symbol has its own generator, seeded from
//! the market seed and the symbol (and, after [`PriceProvider::resume_from`], the point it
//! resumes from), so adding a symbol does not change the others.

use std::collections::HashMap;
use std::f64::consts::PI;

use futures::future::{ready, LocalBoxFuture};
use papertrader_protocol::Money;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use super::provider::{Backfill, FetchOutcome, PriceProvider, ProviderQuote};
use super::AssetSpec;
use crate::domain::bars::{self, Ohlcv};
use crate::domain::calendar::{day_start, month_start, DAY_MS};

/// The lowest published price, micro-units: one cent.
const MIN_PRICE: i64 = 10_000;
/// The highest published price, micro-units (a billion units).
const MAX_PRICE: i64 = 1_000_000_000_000_000;
/// One cent in micro-units: simulated prices are whole cents.
const CENT: i64 = 10_000;

/// The session opens at 14:30 UTC…
const SESSION_OPEN_MS: i64 = (14 * 60 + 30) * 60_000;
/// …and closes at 21:00 UTC.
const SESSION_CLOSE_MS: i64 = 21 * 3_600_000;
/// One session: 6.5 h.
const SESSION_MS: i64 = SESSION_CLOSE_MS - SESSION_OPEN_MS;
/// A trading year with market hours: 252 sessions.
const SESSION_YEAR_MS: f64 = 252.0 * SESSION_MS as f64;
/// A year around the clock: 365.25 days.
const CALENDAR_YEAR_MS: f64 = 365.25 * DAY_MS as f64;

/// Spacing of the backfilled walk before its last 24 hours (26 steps a session).
const BACKFILL_STEP_MS: i64 = 15 * 60_000;
/// How far the around-the-clock volume wave swings above and below its mean.
const DAY_WAVE_AMPLITUDE: f64 = 0.6;
/// Where it peaks, as a fraction of the UTC day: 17:45.
const DAY_WAVE_PEAK: f64 = 17.75 / 24.0;
/// Standard deviation of the log-normal noise on each step's volume.
const VOLUME_NOISE: f64 = 0.4;

/// True from 14:30 to 21:00 UTC, Monday to Friday (the New York session in winter; holidays
/// and daylight saving time are ignored).
pub fn market_open(at_ms: i64) -> bool {
    let day = day_start(at_ms);
    is_weekday(day) && (SESSION_OPEN_MS..SESSION_CLOSE_MS).contains(&(at_ms - day))
}

/// Whether the UTC day starting at `day` is Monday to Friday (1970-01-01 was a Thursday).
fn is_weekday(day: i64) -> bool {
    (day.div_euclid(DAY_MS) + 3).rem_euclid(7) < 5
}

/// Share of a session's volume traded in its first `x` (a fraction of the session), less a
/// constant: the integral of the U-shaped intensity `0.5 + 1.5·(2x − 1)²`, whose integral
/// over the whole session is 1.
fn session_curve(x: f64) -> f64 {
    0.5 * x + 0.25 * (2.0 * x - 1.0).powi(3)
}

/// Share of a day's volume traded around the clock up to `x` days (from any midnight), less a
/// constant: the integral of `1 + A·cos(2π(x − peak))`, one per day.
fn day_curve(x: f64) -> f64 {
    x + DAY_WAVE_AMPLITUDE / (2.0 * PI) * (2.0 * PI * (x - DAY_WAVE_PEAK)).sin()
}

/// What the market does between two instants.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Span {
    /// Trading time, ms, at most one day of it (24 h, or one session with market hours).
    trading_ms: i64,
    /// Share of a day's volume traded, at most 1.
    volume_share: f64,
}

/// The trading time and volume share from `from` to `to` (nothing when `to <= from`).
fn span(trading_hours: bool, from: i64, to: i64) -> Span {
    if to <= from {
        return Span {
            trading_ms: 0,
            volume_share: 0.0,
        };
    }
    // Any week holds more than the day a step may cover; this bounds the loop below.
    let from = from.max(to - 7 * DAY_MS);
    if !trading_hours {
        let base = day_start(from);
        let x = |t: i64| (t - base) as f64 / DAY_MS as f64;
        return Span {
            trading_ms: (to - from).min(DAY_MS),
            volume_share: (day_curve(x(to)) - day_curve(x(from))).min(1.0),
        };
    }
    let (mut trading_ms, mut volume_share) = (0, 0.0);
    let mut day = day_start(from);
    while day < to {
        let open = day + SESSION_OPEN_MS;
        let (start, end) = (from.max(open), to.min(day + SESSION_CLOSE_MS));
        if is_weekday(day) && start < end {
            let x = |t: i64| (t - open) as f64 / SESSION_MS as f64;
            trading_ms += end - start;
            volume_share += session_curve(x(end)) - session_curve(x(start));
        }
        day += DAY_MS;
    }
    Span {
        trading_ms: trading_ms.min(SESSION_MS),
        volume_share: volume_share.min(1.0),
    }
}

/// One symbol's walk.
struct Walk {
    /// Natural log of the price in micro-units, unrounded.
    log_price: f64,
    /// Time of the walk's latest point; `None` before its first.
    last_ms: Option<i64>,
    rng: StdRng,
}

impl Walk {
    fn new(price: i64, last_ms: Option<i64>, seed: u64) -> Self {
        Self {
            log_price: (round_to_cent(price) as f64).ln(),
            last_ms,
            rng: StdRng::seed_from_u64(seed),
        }
    }

    /// The published price: whole cents, at least 0.01.
    fn price(&self) -> i64 {
        round_to_cent(self.log_price.exp().round() as i64)
    }

    /// Two independent standard normal draws (Box–Muller).
    fn normal_pair(&mut self) -> (f64, f64) {
        // 1 − u lies in (0, 1], so its logarithm is finite.
        let radius = (-2.0 * (1.0 - self.rng.gen::<f64>()).ln()).sqrt();
        let angle = 2.0 * PI * self.rng.gen::<f64>();
        (radius * angle.cos(), radius * angle.sin())
    }

    /// Walks to `at_ms`: the published price there and the shares traded since the previous
    /// point (0 when no trading time passed: the first point, a closed market, a clock that
    /// went back).
    fn advance_to(&mut self, spec: &AssetSpec, at_ms: i64, trading_hours: bool) -> (i64, u64) {
        let from = self.last_ms.unwrap_or(at_ms);
        self.last_ms = Some(from.max(at_ms));
        let span = span(trading_hours, from, at_ms);
        if span.trading_ms == 0 {
            return (self.price(), 0);
        }
        let year_ms = if trading_hours {
            SESSION_YEAR_MS
        } else {
            CALENDAR_YEAR_MS
        };
        let dt = span.trading_ms as f64 / year_ms;
        let sigma = f64::from(spec.volatility_bps) / 10_000.0;
        let mu = f64::from(spec.drift_bps) / 10_000.0;
        let (z, z_volume) = self.normal_pair();
        let log_price = self.log_price + (mu - sigma * sigma / 2.0) * dt + sigma * dt.sqrt() * z;
        self.log_price = log_price.clamp((MIN_PRICE as f64).ln(), (MAX_PRICE as f64).ln());
        // Mean-one factors: more trading when the price moved more (E|Z| = √(2/π)), and noise.
        let moved = 0.5 + 0.5 * z.abs() * (PI / 2.0).sqrt();
        let noise = (VOLUME_NOISE * z_volume - VOLUME_NOISE * VOLUME_NOISE / 2.0).exp();
        let volume = spec.daily_volume as f64 * span.volume_share * moved * noise;
        (self.price(), (volume.round() as u64).max(1))
    }
}

/// `micros` rounded to the nearest whole cent, within the published range.
fn round_to_cent(micros: i64) -> i64 {
    let micros = micros.clamp(MIN_PRICE, MAX_PRICE);
    (micros + CENT / 2).div_euclid(CENT) * CENT
}

/// The simulated market provider.
pub struct SimulatedMarket {
    seed: u64,
    walks: HashMap<String, Walk>,
    trading_hours: bool,
}

fn symbol_seed(seed: u64, symbol: &str) -> u64 {
    // FNV-1a: stable across platforms and Rust versions, unlike std's hasher.
    symbol.bytes().fold(0xcbf2_9ce4_8422_2325 ^ seed, |h, b| {
        (h ^ b as u64).wrapping_mul(0x100_0000_01b3)
    })
}

impl SimulatedMarket {
    /// A market for `seed`, trading around the clock.
    pub fn new(seed: u64) -> Self {
        Self {
            seed,
            walks: HashMap::new(),
            trading_hours: false,
        }
    }

    /// With `enabled`, trades only while [`market_open`], on a year of 252 sessions; outside
    /// the session every quote repeats its price with volume 0 (see the module doc).
    pub fn with_trading_hours(mut self, enabled: bool) -> Self {
        self.trading_hours = enabled;
        self
    }

    fn walk(&mut self, spec: &AssetSpec) -> &mut Walk {
        let seed = symbol_seed(self.seed, &spec.symbol);
        self.walks
            .entry(spec.symbol.clone())
            .or_insert_with(|| Walk::new(spec.start_price.micros(), None, seed))
    }
}

impl PriceProvider for SimulatedMarket {
    fn name(&self) -> &'static str {
        "simulated"
    }

    fn fetch(&mut self, assets: &[AssetSpec], at_ms: i64) -> LocalBoxFuture<'static, FetchOutcome> {
        let trading_hours = self.trading_hours;
        let quotes = assets
            .iter()
            .map(|spec| {
                let (price, volume) = self.walk(spec).advance_to(spec, at_ms, trading_hours);
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

    /// Continues each symbol's walk from its last stored point (time and price). A walk that
    /// is already there (the backfill just made it) goes on with its own generator; otherwise
    /// one is seeded from the market seed, the symbol and the point.
    fn resume_from(&mut self, last_points: &[(String, Ohlcv)]) {
        for (symbol, point) in last_points {
            let close = round_to_cent(point.close);
            if self
                .walks
                .get(symbol)
                .is_some_and(|w| w.last_ms == Some(point.at) && w.price() == close)
            {
                continue;
            }
            let seed =
                symbol_seed(self.seed, symbol) ^ close as u64 ^ (point.at as u64).rotate_left(29);
            self.walks
                .insert(symbol.clone(), Walk::new(close, Some(point.at), seed));
        }
    }
}

impl SimulatedMarket {
    /// Daily bars for `days` days before today and today, monthly bars, and intraday points
    /// every `tick_spacing_ms` (1 s to a day) over the 24 h ending at `now_ms`; all from one
    /// walk of the live model (see the module doc), which live ticks then continue.
    pub fn generate_history(
        &mut self,
        assets: &[AssetSpec],
        now_ms: i64,
        days: u32,
        tick_spacing_ms: i64,
    ) -> Backfill {
        let mut out = Backfill::default();
        let today = day_start(now_ms);
        let start = today - i64::from(days) * DAY_MS;
        let spacing = tick_spacing_ms.clamp(1_000, DAY_MS);
        let first_tick = now_ms - DAY_MS + spacing;
        let first_tick = first_tick - first_tick.rem_euclid(spacing);
        let trading_hours = self.trading_hours;
        for spec in assets {
            let walk = self.walk(spec);
            let mut point = |at: i64| {
                let (price, volume) = walk.advance_to(spec, at, trading_hours);
                Ohlcv {
                    at,
                    open: price,
                    high: price,
                    low: price,
                    close: price,
                    volume: i64::try_from(volume).unwrap_or(i64::MAX),
                }
            };
            let mut points: Vec<Ohlcv> = (start..first_tick)
                .step_by(BACKFILL_STEP_MS as usize)
                .map(&mut point)
                .collect();
            let mut at = first_tick;
            while at <= now_ms {
                let tick = point(at);
                out.ticks.push((spec.symbol.clone(), tick));
                points.push(tick);
                at += spacing;
            }
            let daily = bars::aggregate(&points, day_start);
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

    const HOUR_MS: i64 = 3_600_000;
    /// 2026-01-05 00:00 UTC, a Monday.
    const MONDAY: i64 = 1_767_571_200_000;

    fn spec(symbol: &str) -> AssetSpec {
        default_assets()
            .into_iter()
            .find(|a| a.symbol == symbol)
            .unwrap()
    }

    /// Sample standard deviation of `values`.
    fn std_dev(values: &[f64]) -> f64 {
        let n = values.len() as f64;
        let mean = values.iter().sum::<f64>() / n;
        (values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1.0)).sqrt()
    }

    /// Log returns between consecutive prices.
    fn log_returns(prices: &[f64]) -> Vec<f64> {
        prices.windows(2).map(|w| (w[1] / w[0]).ln()).collect()
    }

    /// Relative distance of `measured` from `expected`.
    fn off(measured: f64, expected: f64) -> f64 {
        (measured / expected - 1.0).abs()
    }

    /// One point of a walk: its unrounded price, the published price and the volume.
    struct Point {
        model: f64,
        price: i64,
        volume: u64,
    }

    /// `steps` points of `spec`'s walk every `step_ms` after `from` (where it starts).
    fn run(
        seed: u64,
        spec: &AssetSpec,
        trading_hours: bool,
        from: i64,
        step_ms: i64,
        steps: usize,
    ) -> Vec<Point> {
        let mut market = SimulatedMarket::new(seed).with_trading_hours(trading_hours);
        let walk = market.walk(spec);
        walk.advance_to(spec, from, trading_hours);
        (1..=steps as i64)
            .map(|i| {
                let (price, volume) = walk.advance_to(spec, from + i * step_ms, trading_hours);
                Point {
                    model: walk.log_price.exp(),
                    price,
                    volume,
                }
            })
            .collect()
    }

    #[test]
    fn volatility_matches_each_assets_setting_at_1s_and_60s_ticks() {
        for spec in default_assets() {
            let setting = f64::from(spec.volatility_bps) / 10_000.0;
            let mut line = format!("{:>6} set {setting:.3}, measured", spec.symbol);
            // Independent runs (another seed each): 20 000 returns give a standard error of
            // 0.5 % on the volatility.
            for (seed, step_ms) in [(11, 1_000), (12, 60_000)] {
                let path = run(seed, &spec, false, MONDAY, step_ms, 20_000);
                let model: Vec<f64> = path.iter().map(|p| p.model).collect();
                let per_year = (CALENDAR_YEAR_MS / step_ms as f64).sqrt();
                let measured = std_dev(&log_returns(&model)) * per_year;
                line += &format!(" {measured:.4} at {} s", step_ms / 1000);
                assert!(
                    off(measured, setting) < 0.10,
                    "{}: {measured} at {step_ms} ms ticks, set {setting}",
                    spec.symbol
                );
            }
            println!("{line}");
        }
    }

    #[test]
    fn an_hour_of_published_prices_moves_alike_at_1s_and_60s_ticks() {
        // The calmest, cheapest name (where whole cents matter most) and the wildest.
        for symbol in ["KO", "TSLA"] {
            let spec = spec(symbol);
            let setting = f64::from(spec.volatility_bps) / 10_000.0;
            let hours = 400;
            let hourly = |seed, step_ms: i64| {
                let per_hour = (HOUR_MS / step_ms) as usize;
                let path = run(seed, &spec, false, MONDAY, step_ms, hours * per_hour);
                let closes: Vec<f64> = path
                    .iter()
                    .skip(per_hour - 1)
                    .step_by(per_hour)
                    .map(|p| p.price as f64)
                    .collect();
                let moves = log_returns(&closes);
                let sd = std_dev(&moves) * (CALENDAR_YEAR_MS / HOUR_MS as f64).sqrt();
                let mean_abs = moves.iter().map(|m| m.abs()).sum::<f64>() / moves.len() as f64;
                (sd, mean_abs)
            };
            let (fine, fine_abs) = hourly(21, 1_000);
            let (coarse, coarse_abs) = hourly(22, 60_000);
            println!(
                "{symbol}: hourly moves annualised {fine:.4} at 1 s ticks, {coarse:.4} at 60 s \
                 (set {setting}); mean |hourly move| {fine_abs:.6} vs {coarse_abs:.6}"
            );
            // 400 hourly moves: a standard error of 3.5 % on each.
            assert!(off(fine, setting) < 0.15 && off(coarse, setting) < 0.15);
            assert!(off(fine, coarse) < 0.20 && off(fine_abs, coarse_abs) < 0.20);
        }
    }

    #[test]
    fn volume_per_hour_does_not_depend_on_the_tick_interval() {
        let spec = spec("AAPL");
        for trading_hours in [false, true] {
            // Five whole days from Monday 00:00: five sessions, or five days around the clock.
            let days = 5;
            let total = |seed, step_ms: i64| {
                run(
                    seed,
                    &spec,
                    trading_hours,
                    MONDAY,
                    step_ms,
                    (days * DAY_MS / step_ms) as usize,
                )
                .iter()
                .map(|p| p.volume)
                .sum::<u64>() as f64
            };
            let expected = (days as u64 * spec.daily_volume) as f64;
            let (fine, coarse) = (total(31, 1_000), total(32, 60_000));
            println!(
                "AAPL, market hours {trading_hours}: {days} days traded {fine} at 1 s ticks, \
                 {coarse} at 60 s, expected {expected}"
            );
            assert!(off(fine, expected) < 0.05 && off(coarse, expected) < 0.05);
        }
        // A 1 s tick in the session trades hundreds to thousands of shares of a big name.
        let session = run(33, &spec, true, MONDAY + SESSION_OPEN_MS, 1_000, 23_400);
        let per_tick = session.iter().map(|p| p.volume).sum::<u64>() / 23_400;
        println!("AAPL in the session: {per_tick} shares per 1 s tick on average");
        assert!((500..5_000).contains(&per_tick), "{per_tick}");
        assert!(session.iter().all(|p| p.volume > 0));
    }

    #[test]
    fn volume_is_u_shaped_in_the_session_and_a_wave_around_the_clock() {
        let spec = spec("MSFT");
        // Four weeks of 60 s ticks with market hours, summed per half hour of the UTC day.
        let path = run(41, &spec, true, MONDAY, 60_000, 28 * 24 * 60);
        let mut by_half_hour = [0u64; 48];
        for (i, p) in path.iter().enumerate() {
            let at = MONDAY + (i as i64 + 1) * 60_000;
            // A tick's volume is that of the minute before it.
            by_half_hour[((at - 1 - day_start(at - 1)) / 1_800_000) as usize] += p.volume;
            assert_eq!(p.volume > 0, market_open(at - 1), "at {at}");
        }
        let (open, midday, close) = (by_half_hour[29], by_half_hour[35], by_half_hour[41]);
        println!("MSFT with market hours, volume 14:30–15:00 {open}, 17:30–18:00 {midday}, 20:30–21:00 {close}");
        assert!(open > 2 * midday && close > 2 * midday, "{by_half_hour:?}");
        // Around the clock: heaviest around 17:45, lightest around 05:45 (intensity 1.6 vs 0.4).
        let path = run(42, &spec, false, MONDAY, 60_000, 14 * 24 * 60);
        let mut by_hour = [0u64; 24];
        for (i, p) in path.iter().enumerate() {
            let at = MONDAY + i as i64 * 60_000; // the minute before the tick
            by_hour[((at - day_start(at)) / HOUR_MS) as usize] += p.volume;
        }
        println!("MSFT around the clock, volume per UTC hour: {by_hour:?}");
        let (light, heavy) = (by_hour[5] as f64, by_hour[17] as f64);
        assert!((3.0..5.5).contains(&(heavy / light)), "{by_hour:?}");
    }

    #[test]
    fn backfilled_daily_closes_have_the_set_volatility_and_volume() {
        let assets = default_assets();
        let now = MONDAY + 15 * HOUR_MS;
        for trading_hours in [false, true] {
            let history = SimulatedMarket::new(51)
                .with_trading_hours(trading_hours)
                .generate_history(&assets, now, 1_000, 300_000);
            for spec in &assets {
                let setting = f64::from(spec.volatility_bps) / 10_000.0;
                // With market hours, weekend bars are flat: returns from one weekday's close
                // to the next cover one session each.
                let bars: Vec<&Ohlcv> = history
                    .daily
                    .iter()
                    .filter(|(s, b)| s == &spec.symbol && (!trading_hours || is_weekday(b.at)))
                    .map(|(_, b)| b)
                    .collect();
                let closes: Vec<f64> = bars.iter().map(|b| b.close as f64).collect();
                let per_year: f64 = if trading_hours { 252.0 } else { 365.25 };
                let measured = std_dev(&log_returns(&closes)) * per_year.sqrt();
                // Whole days only (not the first, which starts with the walk, nor today).
                let full = &bars[1..bars.len() - 1];
                let volume = full.iter().map(|b| b.volume).sum::<i64>() as f64 / full.len() as f64;
                println!(
                    "{:>6} hours {trading_hours:>5}: daily closes' volatility {measured:.4} (set \
                     {setting}), mean daily volume {volume:.0} (set {})",
                    spec.symbol, spec.daily_volume
                );
                assert!(off(measured, setting) < 0.10, "{}", spec.symbol);
                assert!(
                    off(volume, spec.daily_volume as f64) < 0.05,
                    "{}",
                    spec.symbol
                );
            }
        }
    }

    #[test]
    fn same_seed_same_prices_different_seed_different_prices() {
        let assets = default_assets();
        let run = |seed| {
            let mut m = SimulatedMarket::new(seed);
            let mut all = Vec::new();
            for i in 0..20 {
                let outcome = futures::executor::block_on(m.fetch(&assets, MONDAY + i * 60_000));
                assert!(outcome.failed.is_empty());
                all.extend(outcome.quotes.into_iter().map(|q| (q.price, q.volume)));
            }
            all
        };
        assert_eq!(run(7), run(7));
        assert_ne!(run(7), run(8));
        assert!(run(7)
            .iter()
            .all(|(p, _)| p.micros() >= MIN_PRICE && p.micros() % CENT == 0));
    }

    #[test]
    fn whole_cents_neither_freeze_a_cheap_calm_asset_nor_go_below_a_cent() {
        // A 1.00 asset at 10 % a year moves a hundredth of a cent per 60 s tick.
        let calm = AssetSpec {
            volatility_bps: 1_000,
            drift_bps: 0,
            ..AssetSpec::new("CALM", "Calm", Money::from_units(1))
        };
        let path = run(61, &calm, false, MONDAY, 60_000, 30 * 24 * 60);
        let changes = path.windows(2).filter(|w| w[0].price != w[1].price).count();
        let last = path.last().unwrap();
        println!(
            "CALM: {changes} cent changes in 30 days of 60 s ticks, ends at {} (model {:.6})",
            last.price, last.model
        );
        assert!(changes > 100, "{changes}");
        assert!(path
            .iter()
            .all(|p| p.price == round_to_cent(p.model.round() as i64)));
        // A penny stock falling hard stays at a cent or more, in whole cents.
        let sinking = AssetSpec {
            volatility_bps: 30_000,
            drift_bps: -10_000,
            ..AssetSpec::new("SINK", "Sinking", Money(20_000))
        };
        let path = run(62, &sinking, false, MONDAY, 3_600_000, 24 * 365);
        assert!(path
            .iter()
            .all(|p| p.price >= MIN_PRICE && p.price % CENT == 0));
        assert!(
            path.iter().any(|p| p.price == MIN_PRICE),
            "the floor was reached"
        );
    }

    #[test]
    fn a_step_covers_at_most_a_day_of_trading() {
        let friday_close = MONDAY + 4 * DAY_MS + SESSION_CLOSE_MS;
        let monday_15h = MONDAY + 7 * DAY_MS + 15 * HOUR_MS;
        assert_eq!(span(true, friday_close, monday_15h).trading_ms, 30 * 60_000);
        assert_eq!(
            span(true, MONDAY, MONDAY + 30 * DAY_MS).trading_ms,
            SESSION_MS
        );
        assert_eq!(span(false, MONDAY, MONDAY + 30 * DAY_MS).trading_ms, DAY_MS);
        assert_eq!(span(false, MONDAY, MONDAY - 1).trading_ms, 0);
        let session = span(true, MONDAY + SESSION_OPEN_MS, MONDAY + SESSION_CLOSE_MS);
        let day = span(false, MONDAY + 5 * HOUR_MS, MONDAY + DAY_MS + 5 * HOUR_MS);
        assert!((session.volume_share - 1.0).abs() < 1e-9, "{session:?}");
        assert!((day.volume_share - 1.0).abs() < 1e-9, "{day:?}");
        assert_eq!(span(true, MONDAY, MONDAY + 90 * DAY_MS).volume_share, 1.0);
        // A restart after a month: the first tick moves by one day's worth, not a month's.
        let spec = spec("TSLA");
        let mut market = SimulatedMarket::new(71);
        let point = Ohlcv {
            at: MONDAY,
            open: 0,
            high: 0,
            low: 0,
            close: 200_000_000,
            volume: 0,
        };
        market.resume_from(&[("TSLA".into(), point)]);
        let (price, volume) = market
            .walk(&spec)
            .advance_to(&spec, MONDAY + 30 * DAY_MS, false);
        assert!(volume > 0 && volume < 3 * spec.daily_volume, "{volume}");
        assert!((150_000_000..260_000_000).contains(&price), "{price}");
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
            assert!(bar.low >= MIN_PRICE && bar.close % CENT == 0);
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
    fn live_ticks_continue_the_backfilled_walk_deterministically() {
        let assets = default_assets();
        let now = MONDAY + 15 * HOUR_MS;
        let live = |resume: bool| {
            let mut m = SimulatedMarket::new(81);
            let history = m.generate_history(&assets, now, 30, 300_000);
            if resume {
                // What the server does: resume from each symbol's last stored point.
                let last: Vec<(String, Ohlcv)> = assets
                    .iter()
                    .filter_map(|a| history.ticks.iter().rev().find(|(s, _)| s == &a.symbol))
                    .cloned()
                    .collect();
                m.resume_from(&last);
            }
            futures::executor::block_on(m.fetch(&assets, now + 5_000)).quotes
        };
        assert_eq!(
            live(true),
            live(false),
            "resuming at the backfill's end keeps its walk"
        );
        // A restart from stored points seeds each walk from the point: the same every time.
        let point = |close| Ohlcv {
            at: now,
            open: close,
            high: close,
            low: close,
            close,
            volume: 0,
        };
        let restart = |close| {
            let mut m = SimulatedMarket::new(81);
            m.resume_from(&[("AAPL".into(), point(close))]);
            futures::executor::block_on(m.fetch(&assets[..1], now + 60_000)).quotes
        };
        assert_eq!(restart(190_000_000), restart(190_000_000));
        assert_ne!(restart(190_000_000), restart(190_010_000));
    }

    #[test]
    fn trading_hours_hold_prices_outside_the_session() {
        let assets = default_assets();
        let friday_noon = 1_767_960_000_000; // 2026-01-09 12:00 UTC is a Friday
        let friday_15h = friday_noon + 3 * HOUR_MS; // open
        let friday_22h = friday_noon + 10 * HOUR_MS; // closed
        let monday_15h = friday_15h + 3 * DAY_MS; // open again
        assert!(
            market_open(friday_15h)
                && !market_open(friday_22h)
                && !market_open(friday_noon + DAY_MS)
                && !market_open(friday_noon)
                && market_open(monday_15h)
        );
        let mut m = SimulatedMarket::new(3).with_trading_hours(true);
        let at =
            |m: &mut SimulatedMarket, t| futures::executor::block_on(m.fetch(&assets, t)).quotes;
        let open = at(&mut m, friday_15h);
        let closed1 = at(&mut m, friday_22h);
        let closed2 = at(&mut m, friday_22h + DAY_MS);
        assert_ne!(open, closed1, "the session moved until its close");
        assert_eq!(
            closed1.iter().map(|q| q.price).collect::<Vec<_>>(),
            closed2.iter().map(|q| q.price).collect::<Vec<_>>()
        );
        assert!(closed2.iter().all(|q| q.volume == 0));
        let monday = at(&mut m, monday_15h);
        assert!(monday.iter().all(|q| q.volume > 0));
        assert_ne!(monday, closed2);
    }
}
