//! Synthetic pushes, portfolios and orders for the TUI's tests.

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use papertrader_protocol::data::{
    AccountSummary, Bar, History, Holding, OrderKind, OrderRecord, OrderStatus, Portfolio, Quote,
    Resolution, Side, TimeInForce,
};
use papertrader_protocol::stream::{AccountEvent, AccountEventKind, FillDetail};
use papertrader_protocol::{Money, QuotePush};

use super::app::App;

/// `units` whole units and `cents` hundredths.
pub fn m(units: i64, cents: i64) -> Money {
    Money(units * 1_000_000 + cents * 10_000)
}

/// A key press.
pub fn key(code: KeyCode) -> KeyEvent {
    KeyEvent::new(code, KeyModifiers::NONE)
}

/// Presses each character of `text`.
pub fn type_text(app: &mut App, text: &str) {
    for c in text.chars() {
        assert_eq!(app.on_key(key(KeyCode::Char(c))), None, "typing {c:?}");
    }
}

/// An app watching AAPL, MSFT and KO.
pub fn app() -> App {
    App::new(
        "alice",
        vec![
            ("AAPL".into(), "Apple Inc.".into()),
            ("MSFT".into(), "Microsoft".into()),
            ("KO".into(), "Coca-Cola".into()),
        ],
    )
}

/// A quote of `symbol` opened at `open`, now at `close`.
pub fn quote(symbol: &str, open: Money, close: Money) -> Quote {
    Quote {
        symbol: symbol.into(),
        open,
        high: open.max(close),
        low: open.min(close),
        close,
        volume: 1000,
        at_ms: 1_782_829_800_000,
        stale: false,
    }
}

/// A push of `quotes`.
pub fn push(sequence: u64, quotes: Vec<Quote>) -> QuotePush {
    QuotePush {
        subscription_id: 1,
        sequence,
        tick: sequence,
        published_at_ms: 1_782_829_800_000,
        quotes,
    }
}

/// A fill of `quantity` AAPL at `price` for order 12 (2026-06-30 14:30:01 UTC).
pub fn fill(quantity: u64, price: Money) -> AccountEvent {
    AccountEvent {
        kind: AccountEventKind::Filled,
        order_id: Some(12),
        side: Side::Buy,
        symbol: "AAPL".into(),
        quantity,
        filled_quantity: quantity,
        fill: Some(FillDetail {
            transaction_id: 7,
            quantity,
            price,
            commission: m(1, 0),
        }),
        cash_after: Some(m(8_099, 0)),
        reason: 0,
        at_ms: 1_782_829_801_000,
        replayed: false,
    }
}

/// Alice's portfolio: 10 AAPL at 190.00 bought at 185.00.
pub fn portfolio() -> Portfolio {
    Portfolio {
        username: "alice".into(),
        cash: Some(m(8_099, 0)),
        holdings: vec![Holding {
            symbol: "AAPL".into(),
            quantity: 10,
            price: m(190, 0),
            average_cost: Some(m(185, 10)),
            unrealised_pnl: Some(m(48, 90)),
        }],
        summary: Some(AccountSummary {
            period: 0,
            period_started_at_ms: 0,
            starting_cash: m(10_000, 0),
            equity: m(9_999, 0),
            realised_pnl: m(-12, -34),
            unrealised_pnl: m(48, 90),
            commissions: m(1, 0),
            return_ppm: -100,
            reserved_cash: m(99, 0),
            buying_power: m(8_000, 0),
        }),
    }
}

/// An open limit order.
pub fn order(order_id: u64, symbol: &str, status: OrderStatus) -> OrderRecord {
    OrderRecord {
        order_id,
        side: Side::Buy,
        symbol: symbol.into(),
        kind: OrderKind::Limit,
        quantity: 10,
        filled_quantity: 3,
        limit_price: Some(m(180, 0)),
        stop_price: None,
        time_in_force: TimeInForce::GoodTillCancelled,
        status,
        triggered: false,
        average_price: None,
        commission: Money::ZERO,
        reason: 0,
        placed_at_ms: 0,
        updated_at_ms: 0,
        client_order_id: None,
    }
}

/// Daily closes of `symbol`.
pub fn history(symbol: &str, closes: &[Money]) -> History {
    History {
        symbol: symbol.into(),
        resolution: Resolution::Daily,
        from_ms: 1_782_000_000_000,
        to_ms: 1_782_829_800_000,
        bars: closes
            .iter()
            .enumerate()
            .map(|(i, &close)| Bar {
                at_ms: 1_782_000_000_000 + i as i64 * 86_400_000,
                open: close,
                high: close,
                low: close,
                close,
                volume: 1,
            })
            .collect(),
    }
}
