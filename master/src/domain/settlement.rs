//! The settlement rules: one market order applied to a batch's balances at the tick's price.
//!
//! Orders of a batch are applied one after the other in arrival order, each seeing the
//! balances the ones before it left: a buy needs the cash (price × quantity plus commission,
//! exact integer micro-units) beyond what open orders reserve, a sale the units beyond those
//! open sales reserve; a refused order changes nothing. Prices are the tick's close moved by
//! slippage ([`CostModel`]); a stale price or none refuses the order.

use std::collections::HashMap;

use papertrader_protocol::data::Side;
use papertrader_protocol::Money;

use super::costs::CostModel;
use super::order_book::Reservations;
use super::orders::{Order, Rejection};

/// The price an order settles at: the tick's close, and whether it is stale.
#[derive(Debug, Clone, Copy)]
pub struct SettlementPrice {
    /// Price per unit.
    pub price: Money,
    /// True when the price source failed and this is an old price.
    pub stale: bool,
}

/// The balances a batch works on: cash per account and units per (account, symbol), in
/// micro-units and units.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Balances {
    /// Cash per account id.
    pub cash: HashMap<i64, i64>,
    /// Units held per (account id, symbol).
    pub held: HashMap<(i64, String), i64>,
}

/// What a settled order did: its price, commission and the account's cash after it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fill {
    /// Price per unit.
    pub price: Money,
    /// Commission, micro-units.
    pub commission: i64,
    /// The account's cash after the trade, micro-units.
    pub cash_after: i64,
}

/// How one batch trades: its tick, prices, costs and what open orders reserve.
#[derive(Debug, Clone, Copy)]
pub struct Terms<'a> {
    /// The tick number (picks seeded slippage draws).
    pub tick: u64,
    /// Price per symbol.
    pub prices: &'a HashMap<String, SettlementPrice>,
    /// Commission and slippage.
    pub costs: &'a CostModel,
}

/// Applies `order` to `balances` under `terms`, keeping `reserved` untouched; `key` picks the
/// order's seeded slippage draw. On a rejection `balances` are unchanged.
pub fn apply(
    order: &Order,
    key: u64,
    terms: &Terms<'_>,
    reserved: &Reservations,
    balances: &mut Balances,
) -> Result<Fill, Rejection> {
    let prices = terms.prices;
    // The router refused symbols that are not traded; a traded one may have no price yet.
    let quote = prices
        .get(&order.symbol)
        .ok_or_else(|| Rejection::NoPrice {
            symbol: order.symbol.clone(),
        })?;
    if quote.stale {
        return Err(Rejection::StalePrice {
            symbol: order.symbol.clone(),
        });
    }
    let balance = balances
        .cash
        .get_mut(&order.account_id)
        .ok_or(Rejection::UnknownAccount)?;
    let quantity = i64::try_from(order.quantity).map_err(|_| Rejection::QuantityTooLarge)?;
    let price = terms
        .costs
        .fill_price(order.side, quote.price, None, key, terms.tick);
    let amount = price
        .checked_mul(order.quantity)
        .ok_or(Rejection::ValueOverflow)?
        .micros();
    let commission = terms
        .costs
        .order_commission(order.quantity)
        .ok_or(Rejection::ValueOverflow)?;
    let free_cash = *balance - reserved.cash_of(order.account_id);
    let key = (order.account_id, order.symbol.clone());
    let position = balances.held.get(&key).copied().unwrap_or(0);
    let (cash_after, position_after) = match order.side {
        Side::Buy => {
            let cost = amount
                .checked_add(commission)
                .ok_or(Rejection::ValueOverflow)?;
            if cost > free_cash {
                return Err(Rejection::InsufficientCash {
                    cost: Money(cost),
                    cash: Money(free_cash),
                    reserved: Money(reserved.cash_of(order.account_id)),
                });
            }
            (*balance - cost, position + quantity)
        }
        Side::Sell => {
            let free_units = position - reserved.units_of(order.account_id, &order.symbol);
            if quantity > free_units {
                return Err(Rejection::InsufficientHoldings {
                    symbol: order.symbol.clone(),
                    quantity,
                    held: free_units,
                    reserved: reserved.units_of(order.account_id, &order.symbol),
                });
            }
            let cash_after = balance
                .checked_add(amount)
                .ok_or(Rejection::CashOverflow)?
                .checked_sub(commission)
                // Nor may its commission eat into what open buys reserve.
                .filter(|c| *c >= reserved.cash_of(order.account_id).max(0))
                .ok_or(Rejection::InsufficientCash {
                    cost: Money(commission),
                    cash: Money(*balance + amount - reserved.cash_of(order.account_id)),
                    reserved: Money(reserved.cash_of(order.account_id)),
                })?;
            (cash_after, position - quantity)
        }
    };
    *balance = cash_after;
    balances.held.insert(key, position_after);
    Ok(Fill {
        price,
        commission,
        cash_after,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALICE: i64 = 1;
    const DOLLAR: i64 = 1_000_000;

    fn order(side: Side, symbol: &str, quantity: u64) -> Order {
        Order {
            account_id: ALICE,
            side,
            symbol: symbol.to_owned(),
            quantity,
            placed_at: 0,
            client_ip: "127.0.0.1".to_owned(),
            worker_uuid: None,
            client_order_id: None,
        }
    }

    fn prices(list: &[(&str, i64, bool)]) -> HashMap<String, SettlementPrice> {
        list.iter()
            .map(|&(s, micros, stale)| {
                let price = SettlementPrice {
                    price: Money(micros),
                    stale,
                };
                (s.to_owned(), price)
            })
            .collect()
    }

    fn run(
        order: &Order,
        p: &HashMap<String, SettlementPrice>,
        b: &mut Balances,
    ) -> Result<Fill, Rejection> {
        let costs = CostModel::default();
        let terms = Terms {
            tick: 1,
            prices: p,
            costs: &costs,
        };
        apply(order, 1, &terms, &Reservations::default(), b)
    }

    fn cash(micros: i64) -> Balances {
        Balances {
            cash: HashMap::from([(ALICE, micros)]),
            held: HashMap::new(),
        }
    }

    fn held(b: &Balances, symbol: &str) -> i64 {
        b.held
            .get(&(ALICE, symbol.to_owned()))
            .copied()
            .unwrap_or(0)
    }

    #[test]
    fn a_buy_pays_price_times_quantity_exactly_and_adds_the_units() {
        let mut b = cash(1_000 * DOLLAR);
        let p = prices(&[("AAPL", 123_456_789, false)]);
        let fill = run(&order(Side::Buy, "AAPL", 3), &p, &mut b).unwrap();
        assert_eq!(fill.price, Money(123_456_789));
        assert_eq!(fill.cash_after, 1_000 * DOLLAR - 370_370_367);
        assert_eq!(b.cash[&ALICE], fill.cash_after);
        assert_eq!(held(&b, "AAPL"), 3);
    }

    #[test]
    fn a_sale_adds_the_proceeds_and_removes_the_units() {
        let mut b = cash(DOLLAR);
        b.held.insert((ALICE, "MSFT".to_owned()), 5);
        let p = prices(&[("MSFT", 10 * DOLLAR, false)]);
        let fill = run(&order(Side::Sell, "MSFT", 5), &p, &mut b).unwrap();
        assert_eq!(fill.cash_after, 51 * DOLLAR);
        assert_eq!(held(&b, "MSFT"), 0);
    }

    #[test]
    fn refusals_name_their_reason_and_change_nothing() {
        let p = prices(&[("AAPL", 10 * DOLLAR, false), ("TSLA", DOLLAR, true)]);
        let start = cash(15 * DOLLAR);
        let cases = [
            (
                order(Side::Buy, "AAPL", 2),
                Rejection::InsufficientCash {
                    cost: Money(20 * DOLLAR),
                    cash: Money(15 * DOLLAR),
                    reserved: Money(0),
                },
            ),
            (
                order(Side::Sell, "AAPL", 1),
                Rejection::InsufficientHoldings {
                    symbol: "AAPL".into(),
                    quantity: 1,
                    held: 0,
                    reserved: 0,
                },
            ),
            (
                order(Side::Buy, "TSLA", 1),
                Rejection::StalePrice {
                    symbol: "TSLA".into(),
                },
            ),
            (
                order(Side::Buy, "NVDA", 1),
                Rejection::NoPrice {
                    symbol: "NVDA".into(),
                },
            ),
            (
                order(Side::Buy, "AAPL", i64::MAX as u64),
                Rejection::ValueOverflow,
            ),
            (
                order(Side::Buy, "AAPL", u64::MAX),
                Rejection::QuantityTooLarge,
            ),
        ];
        for (order, expected) in cases {
            let mut b = start.clone();
            assert_eq!(run(&order, &p, &mut b), Err(expected));
            assert_eq!(b, start, "a refused order changed the balances");
        }
        let mut nobody = Balances::default();
        assert_eq!(
            run(&order(Side::Buy, "AAPL", 1), &p, &mut nobody),
            Err(Rejection::UnknownAccount)
        );
    }

    #[test]
    fn orders_of_a_batch_see_what_the_earlier_ones_left() {
        let p = prices(&[("AAPL", 10 * DOLLAR, false)]);
        let mut b = cash(25 * DOLLAR);
        // Buy 2 (cash 5), a second buy of 1 fails, selling 2 then works, and so does the
        // buy that failed a moment ago.
        assert!(run(&order(Side::Buy, "AAPL", 2), &p, &mut b).is_ok());
        assert!(matches!(
            run(&order(Side::Buy, "AAPL", 1), &p, &mut b),
            Err(Rejection::InsufficientCash { .. })
        ));
        assert_eq!(
            run(&order(Side::Sell, "AAPL", 2), &p, &mut b).map(|f| f.cash_after),
            Ok(25 * DOLLAR)
        );
        assert!(run(&order(Side::Buy, "AAPL", 1), &p, &mut b).is_ok());
        assert_eq!((b.cash[&ALICE], held(&b, "AAPL")), (15 * DOLLAR, 1));
    }

    #[test]
    fn proceeds_that_would_overflow_cash_are_refused() {
        let p = prices(&[("AAPL", DOLLAR, false)]);
        let mut b = cash(i64::MAX - 1);
        b.held.insert((ALICE, "AAPL".to_owned()), 1);
        let before = b.clone();
        assert_eq!(
            run(&order(Side::Sell, "AAPL", 1), &p, &mut b),
            Err(Rejection::CashOverflow)
        );
        assert_eq!(b, before);
    }
}
