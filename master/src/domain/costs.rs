//! What a fill costs beyond its price: commission and slippage, in exact integer micro-units.
//!
//! Commission of an order that has filled `n` units in all: `per_order + per_unit × n`, raised
//! to `min` and lowered to `max` (when set); 0 before its first fill. Each fill pays the
//! increase, so an order filled in several parts pays what one fill of all of it would — the
//! minimum and the maximum apply to the order, not to each part. Slippage moves the fill price against
//! the trader by `bps` basis points of the tick's price (`Fixed`), or by a number of basis
//! points drawn uniformly from `0..=bps` (`Seeded`, the same for the same seed, order and
//! tick), rounded away from the trader to the micro-unit; a limit order's fill never passes
//! its limit price.

use papertrader_protocol::data::Side;
use papertrader_protocol::Money;

/// The commission schedule.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Commission {
    /// Charged once per order, on its first fill, micro-units.
    pub per_order: i64,
    /// Charged per unit filled, micro-units.
    pub per_unit: i64,
    /// Least commission of a fill, micro-units.
    pub min: i64,
    /// Most commission of a fill, micro-units (`None`: no cap).
    pub max: Option<i64>,
}

/// How slippage is drawn.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum SlippageMode {
    /// Always the full `bps`.
    #[default]
    Fixed,
    /// Uniform in `0..=bps`, from this seed, the order and the tick.
    Seeded(u64),
}

/// Commission and slippage of a deployment.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CostModel {
    /// The commission schedule.
    pub commission: Commission,
    /// Slippage in basis points of the price (0: none).
    pub slippage_bps: u32,
    /// How slippage is drawn.
    pub slippage_mode: SlippageMode,
}

impl CostModel {
    /// The commission of an order that has filled `units` in all (0 for none). `None` when it
    /// overflows.
    pub fn order_commission(&self, units: u64) -> Option<i64> {
        if units == 0 {
            return Some(0);
        }
        let c = &self.commission;
        let units = i64::try_from(units).ok()?;
        let fee = c.per_unit.checked_mul(units)?.checked_add(c.per_order)?;
        let fee = fee.max(c.min);
        Some(c.max.map_or(fee, |max| fee.min(max)))
    }

    /// The commission a fill of `units` pays when `filled` units of its order filled before.
    pub fn fill_commission(&self, filled: u64, units: u64) -> Option<i64> {
        let after = self.order_commission(filled.checked_add(units)?)?;
        Some(after - self.order_commission(filled)?)
    }

    /// The price a `side` fill gets when the tick's price is `price`: moved by slippage
    /// against the trader, kept within `limit` when there is one, never below one micro-unit.
    /// `order_key` and `tick` pick the draw of a seeded model.
    pub fn fill_price(
        &self,
        side: Side,
        price: Money,
        limit: Option<Money>,
        order_key: u64,
        tick: u64,
    ) -> Money {
        let bps = match self.slippage_mode {
            SlippageMode::Fixed => i128::from(self.slippage_bps),
            SlippageMode::Seeded(seed) => {
                let draw = mix(seed ^ mix(order_key) ^ mix(tick.rotate_left(32)));
                i128::from(draw % (u64::from(self.slippage_bps) + 1))
            }
        };
        let p = i128::from(price.micros());
        // Rounded away from the trader: a buy pays the micro-unit, a sale gives it up.
        let moved = (p * bps + 9_999) / 10_000;
        let slipped = match side {
            Side::Buy => p + moved,
            Side::Sell => p - moved,
        };
        let slipped = i64::try_from(slipped).unwrap_or(i64::MAX).max(1);
        match (side, limit) {
            (Side::Buy, Some(limit)) => Money(slipped.min(limit.micros())),
            (Side::Sell, Some(limit)) => Money(slipped.max(limit.micros())),
            (_, None) => Money(slipped),
        }
    }
}

/// SplitMix64's finaliser: a well-spread hash of one word, stable across platforms.
fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;

    const CENT: i64 = 10_000;

    fn model(per_order: i64, per_unit: i64, min: i64, max: Option<i64>) -> CostModel {
        CostModel {
            commission: Commission {
                per_order,
                per_unit,
                min,
                max,
            },
            ..CostModel::default()
        }
    }

    #[test]
    fn commission_applies_per_order_min_and_max_to_the_order_to_the_micro_unit() {
        let m = model(100 * CENT, 5_001, 150 * CENT, Some(1_000 * CENT));
        // 10 units: 1.00 + 10 × 0.005001 = 1.05001 → raised to the minimum 1.50.
        assert_eq!(m.order_commission(10), Some(1_500_000));
        // 400 units: 1.00 + 2.0004 = 3.0004 exactly.
        assert_eq!(m.order_commission(400), Some(3_000_400));
        // Filled as 10 then 390: 1.50, then the rest up to 3.0004 — the same total.
        assert_eq!(m.fill_commission(0, 10), Some(1_500_000));
        assert_eq!(m.fill_commission(10, 390), Some(1_500_400));
        // Ten partial fills of one unit pay the minimum once, not ten times.
        let parts: i64 = (0..10).map(|f| m.fill_commission(f, 1).unwrap()).sum();
        assert_eq!(parts, m.order_commission(10).unwrap());
        // 10 million units: capped at 10.00, however it fills.
        assert_eq!(m.order_commission(10_000_000), Some(10_000_000));
        assert_eq!(m.fill_commission(9_000_000, 1_000_000), Some(0));
        assert_eq!(model(0, i64::MAX, 0, None).order_commission(2), None);
        assert_eq!(CostModel::default().order_commission(1_000), Some(0));
        assert_eq!(m.order_commission(0), Some(0));
    }

    #[test]
    fn fixed_slippage_moves_against_the_trader_rounded_away_from_them() {
        let m = CostModel {
            slippage_bps: 5,
            ..CostModel::default()
        };
        let p = Money(123_456_789);
        // 123.456789 × 0.0005 = 0.0617283945 → buy pays 61,729 µ more, sale gets 61,729 less.
        assert_eq!(m.fill_price(Side::Buy, p, None, 1, 1), Money(123_518_518));
        assert_eq!(m.fill_price(Side::Sell, p, None, 1, 1), Money(123_395_060));
        // Never past a limit.
        assert_eq!(
            m.fill_price(Side::Buy, p, Some(Money(123_500_000)), 1, 1),
            Money(123_500_000)
        );
        assert_eq!(
            m.fill_price(Side::Sell, p, Some(Money(123_400_000)), 1, 1),
            Money(123_400_000)
        );
        assert_eq!(
            CostModel::default().fill_price(Side::Buy, p, None, 1, 1),
            p,
            "no slippage configured"
        );
        assert_eq!(m.fill_price(Side::Sell, Money(1), None, 1, 1), Money(1));
    }

    #[test]
    fn seeded_slippage_is_reproducible_bounded_and_varies() {
        let m = CostModel {
            slippage_bps: 20,
            slippage_mode: SlippageMode::Seeded(7),
            ..CostModel::default()
        };
        let p = Money(100_000_000);
        let draws: Vec<i64> = (0..200)
            .map(|i| m.fill_price(Side::Buy, p, None, i, 3).micros() - p.micros())
            .collect();
        let again: Vec<i64> = (0..200)
            .map(|i| m.fill_price(Side::Buy, p, None, i, 3).micros() - p.micros())
            .collect();
        assert_eq!(draws, again);
        assert!(draws.iter().all(|d| (0..=200_000).contains(d)));
        let distinct: std::collections::BTreeSet<_> = draws.iter().collect();
        assert!(distinct.len() > 15, "{distinct:?}");
    }
}
