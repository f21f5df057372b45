//! Profit and loss of a trading period, from its trades, in exact integer micro-units.
//!
//! Cost basis is the average cost: a buy adds its value plus its commission to the symbol's
//! cost; a sale of `q` of the `n` units held removes `cost × q / n` (rounded down; all of it
//! when the position closes) and realises `value − commission − removed cost`. Unrealised P&L
//! is `units × price − cost`. So `realised + unrealised = equity − starting cash` exactly,
//! where equity is cash plus units at their latest prices.

use std::collections::BTreeMap;

use papertrader_protocol::data::Side;

/// One trade as P&L needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TradeFacts {
    /// Buy or sell.
    pub side: Side,
    /// Asset symbol.
    pub symbol: String,
    /// Units.
    pub quantity: i64,
    /// Price per unit, micro-units.
    pub price: i64,
    /// Commission paid, micro-units.
    pub commission: i64,
}

/// One position's units and cost.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Position {
    /// Units held.
    pub quantity: i64,
    /// Cost of the units held (purchases and their commission), micro-units.
    pub cost: i64,
}

impl Position {
    /// Average cost per unit (rounded down), when any unit is held.
    pub fn average_cost(&self) -> Option<i64> {
        (self.quantity > 0).then(|| self.cost / self.quantity)
    }
}

/// What a period's trades add up to.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Ledger {
    /// Positions by symbol (closed ones removed).
    pub positions: BTreeMap<String, Position>,
    /// Realised P&L, micro-units.
    pub realised: i64,
    /// Commission paid, micro-units.
    pub commissions: i64,
}

impl Ledger {
    /// Replays `trades` in order.
    pub fn replay<'a>(trades: impl IntoIterator<Item = &'a TradeFacts>) -> Self {
        let mut ledger = Ledger::default();
        for t in trades {
            ledger.apply(t);
        }
        ledger
    }

    /// Applies one trade.
    pub fn apply(&mut self, t: &TradeFacts) {
        let value = i128::from(t.price) * i128::from(t.quantity);
        self.commissions = self.commissions.saturating_add(t.commission);
        let position = self.positions.entry(t.symbol.clone()).or_default();
        match t.side {
            Side::Buy => {
                position.quantity += t.quantity;
                position.cost =
                    saturate(i128::from(position.cost) + value + i128::from(t.commission));
            }
            Side::Sell => {
                let held = position.quantity.max(t.quantity).max(1);
                let removed = if t.quantity >= position.quantity {
                    i128::from(position.cost)
                } else {
                    i128::from(position.cost) * i128::from(t.quantity) / i128::from(held)
                };
                position.quantity -= t.quantity;
                position.cost = saturate(i128::from(position.cost) - removed);
                self.realised = saturate(
                    i128::from(self.realised) + value - i128::from(t.commission) - removed,
                );
            }
        }
        if position.quantity <= 0 {
            self.positions.remove(&t.symbol);
        }
    }

    /// Unrealised P&L of the positions at `price_of` each symbol (a symbol without a price
    /// counts 0, as in the equity).
    pub fn unrealised(&self, price_of: impl Fn(&str) -> Option<i64>) -> i64 {
        let total: i128 = self
            .positions
            .iter()
            .map(|(symbol, p)| {
                let price = price_of(symbol).unwrap_or(0);
                i128::from(price) * i128::from(p.quantity) - i128::from(p.cost)
            })
            .sum();
        saturate(total)
    }
}

/// Equity: `cash` plus every holding at `price_of` its symbol (a symbol without a price counts
/// 0), saturating.
pub fn equity<'a>(
    cash: i64,
    holdings: impl IntoIterator<Item = (&'a str, i64)>,
    price_of: impl Fn(&str) -> Option<i64>,
) -> i64 {
    holdings.into_iter().fold(cash, |sum, (symbol, quantity)| {
        let price = price_of(symbol).unwrap_or(0);
        sum.saturating_add(price.saturating_mul(quantity))
    })
}

/// Return of `equity` on `start`, in millionths (10 000 = 1 %), rounded toward zero; 0 when
/// the period started with nothing.
pub fn return_ppm(equity: i64, start: i64) -> i64 {
    if start <= 0 {
        return 0;
    }
    saturate((i128::from(equity) - i128::from(start)) * 1_000_000 / i128::from(start))
}

fn saturate(v: i128) -> i64 {
    v.clamp(i128::from(i64::MIN), i128::from(i64::MAX)) as i64
}

#[cfg(test)]
mod tests {
    use super::*;

    const D: i64 = 1_000_000;

    fn t(side: Side, symbol: &str, quantity: i64, price: i64, commission: i64) -> TradeFacts {
        TradeFacts {
            side,
            symbol: symbol.into(),
            quantity,
            price,
            commission,
        }
    }

    #[test]
    fn average_cost_realised_and_unrealised_add_up_to_the_equity_change() {
        let trades = [
            t(Side::Buy, "AAPL", 3, 10 * D, D),      // cost 31
            t(Side::Buy, "AAPL", 7, 13 * D, D),      // cost 31 + 92 = 123, 10 units
            t(Side::Sell, "AAPL", 4, 15 * D, D / 2), // removes 123 × 4/10 = 49.2
            t(Side::Buy, "KO", 2, 60 * D, 0),
            t(Side::Sell, "KO", 2, 55 * D, 0), // closes: realises −10
        ];
        let l = Ledger::replay(&trades);
        let aapl = l.positions["AAPL"];
        assert_eq!((aapl.quantity, aapl.cost), (6, 73_800_000));
        assert_eq!(aapl.average_cost(), Some(12_300_000));
        // 60 − 0.5 − 49.2 = 10.3 on AAPL, −10 on KO.
        assert_eq!(l.realised, 300_000);
        assert_eq!(l.commissions, 2_500_000);
        assert!(!l.positions.contains_key("KO"));
        let unrealised = l.unrealised(|s| (s == "AAPL").then_some(14 * D));
        assert_eq!(unrealised, 6 * 14 * D - 73_800_000);
        // The identity, from cash: start 1000, minus buys, plus sales.
        let start = 1_000 * D;
        let cash = start - 31 * D - 92 * D + 60 * D - D / 2 - 120 * D + 110 * D;
        let equity = cash + 6 * 14 * D;
        assert_eq!(l.realised + unrealised, equity - start);
        assert_eq!(
            return_ppm(equity, start),
            (equity - start) * 1_000_000 / start
        );
    }

    #[test]
    fn rounding_never_leaves_cost_on_a_closed_position() {
        let trades = [
            t(Side::Buy, "X", 3, 1, 0),
            t(Side::Sell, "X", 1, 1, 0), // removes 3 × 1/3 = 1
            t(Side::Sell, "X", 1, 1, 0),
            t(Side::Sell, "X", 1, 1, 0),
        ];
        let l = Ledger::replay(&trades);
        assert!(l.positions.is_empty());
        assert_eq!(l.realised, 0);
        assert_eq!(return_ppm(5, 0), 0);
        assert_eq!(return_ppm(90 * D, 100 * D), -100_000);
    }
}
