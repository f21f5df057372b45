//! One watchlist row: a symbol's latest quote and a bounded ring of its recent prices, with
//! the change since the day's open and a text sparkline of the ring.

use std::collections::VecDeque;

use papertrader_protocol::data::Quote;
use papertrader_protocol::Money;

/// Prices kept per symbol for its sparkline (one per quote push).
pub const RECENT_PRICES: usize = 60;

/// The eight block heights a sparkline is drawn with, lowest first.
const BARS: [char; 8] = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];

/// A watched symbol.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WatchRow {
    /// Asset symbol.
    pub symbol: String,
    /// Human-readable name (may be empty).
    pub name: String,
    /// The latest quote, once one came.
    pub quote: Option<Quote>,
    /// The last [`RECENT_PRICES`] prices, oldest first.
    pub recent: VecDeque<Money>,
}

impl WatchRow {
    /// A row with no price yet.
    pub fn new(symbol: impl Into<String>, name: impl Into<String>) -> Self {
        Self {
            symbol: symbol.into(),
            name: name.into(),
            quote: None,
            recent: VecDeque::with_capacity(RECENT_PRICES),
        }
    }

    /// Takes a new quote: it becomes the latest, and its price joins the ring (the oldest
    /// leaves when it is full).
    pub fn push(&mut self, quote: &Quote) {
        if self.recent.len() == RECENT_PRICES {
            self.recent.pop_front();
        }
        self.recent.push_back(quote.close);
        self.quote = Some(quote.clone());
    }

    /// Latest price − the day's open (`None` before the first quote or on overflow).
    pub fn change(&self) -> Option<Money> {
        let q = self.quote.as_ref()?;
        q.close.checked_sub(q.open)
    }

    /// The change in percent of the open, with two decimals and a sign: `+1.25%`, `-0.40%`
    /// (`None` before the first quote or when the open is not above zero).
    pub fn change_percent(&self) -> Option<String> {
        let q = self.quote.as_ref()?;
        percent_of(q.close, q.open)
    }

    /// The ring as a sparkline at most `width` characters wide (the newest prices).
    pub fn sparkline(&self, width: usize) -> String {
        let skip = self.recent.len().saturating_sub(width);
        sparkline(self.recent.iter().skip(skip).copied())
    }
}

/// `(to − from) / from` in percent with two decimals, truncated toward zero: `+1.25%`.
pub fn percent_of(to: Money, from: Money) -> Option<String> {
    if from.micros() <= 0 {
        return None;
    }
    let basis_points =
        (i128::from(to.micros()) - i128::from(from.micros())) * 10_000 / i128::from(from.micros());
    let sign = if basis_points < 0 { "-" } else { "+" };
    let abs = basis_points.unsigned_abs();
    Some(format!("{sign}{}.{:02}%", abs / 100, abs % 100))
}

/// One block character per price, scaled between the lowest and the highest of them (all
/// mid-height when they are equal). Integer arithmetic only.
pub fn sparkline(prices: impl Iterator<Item = Money> + Clone) -> String {
    let (Some(min), Some(max)) = (prices.clone().min(), prices.clone().max()) else {
        return String::new();
    };
    let span = i128::from(max.micros()) - i128::from(min.micros());
    prices
        .map(|p| {
            if span == 0 {
                return BARS[3];
            }
            let above = i128::from(p.micros()) - i128::from(min.micros());
            let level = above * (BARS.len() as i128 - 1) / span;
            BARS[usize::try_from(level).unwrap_or(0).min(BARS.len() - 1)]
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A quote of `symbol` at `close`, opened at `open` (whole units).
    pub fn quote(symbol: &str, open: i64, close: i64) -> Quote {
        Quote {
            symbol: symbol.into(),
            open: Money::from_units(open),
            high: Money::from_units(open.max(close)),
            low: Money::from_units(open.min(close)),
            close: Money::from_units(close),
            volume: 0,
            at_ms: 0,
            stale: false,
        }
    }

    #[test]
    fn the_ring_keeps_the_newest_prices_only() {
        let mut row = WatchRow::new("AAPL", "Apple");
        for price in 1..=(RECENT_PRICES as i64 + 5) {
            row.push(&quote("AAPL", 1, price));
        }
        assert_eq!(row.recent.len(), RECENT_PRICES);
        assert_eq!(row.recent.front(), Some(&Money::from_units(6)));
        assert_eq!(
            row.recent.back(),
            Some(&Money::from_units(RECENT_PRICES as i64 + 5))
        );
    }

    #[test]
    fn change_is_measured_from_the_open() {
        let mut row = WatchRow::new("AAPL", "");
        assert_eq!(row.change_percent(), None);
        row.push(&quote("AAPL", 200, 190));
        assert_eq!(row.change(), Some(Money::from_units(-10)));
        assert_eq!(row.change_percent().as_deref(), Some("-5.00%"));
        assert_eq!(
            percent_of(Money(1_012_500), Money::from_units(1)).as_deref(),
            Some("+1.25%")
        );
        assert_eq!(percent_of(Money::from_units(1), Money::ZERO), None);
    }

    #[test]
    fn sparklines_scale_between_lowest_and_highest() {
        let prices = [1, 2, 8, 4].map(Money::from_units);
        assert_eq!(sparkline(prices.into_iter()), "▁▂█▄");
        assert_eq!(sparkline([Money(5), Money(5)].into_iter()), "▄▄");
        assert_eq!(sparkline(std::iter::empty()), "");
        let mut row = WatchRow::new("KO", "");
        for p in [1, 2, 3] {
            row.push(&quote("KO", 1, p));
        }
        assert_eq!(row.sparkline(2), "▁█");
    }
}
