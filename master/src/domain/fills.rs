//! The fill rules of open orders at a tick, applied to the batch's balances.
//!
//! The candidates of a [`TickPlan`] are tried in the plan's order. A candidate fills at the
//! tick's price moved by slippage ([`CostModel::fill_price`]); a limit-like order never past its
//! limit (a crossing limit fills at the tick's price, which is at or better than its limit).
//! With a participation cap, the orders of a symbol together fill at most `cap` of the tick's
//! volume; what does not fit stays open (a partial fill). A buy needs the cost plus commission
//! out of the account's cash beyond what its *other* open orders reserve; a sale needs the
//! units. ioc fills what it can and cancels the rest; fok fills all or nothing. An order that
//! cannot pay is rejected (ioc and fok: cancelled).

use std::collections::HashMap;

use papertrader_protocol::data::TimeInForce;
use papertrader_protocol::data::{OrderStatus, Side};
use papertrader_protocol::reason::ReasonCode;
use papertrader_protocol::Money;

use super::order_book::{OpenOrder, Reservations, TickPlan};
use super::settlement::{Balances, Terms};

/// One fill of an open order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BookFill {
    /// Units filled.
    pub quantity: u64,
    /// Price per unit.
    pub price: Money,
    /// Commission of this fill, micro-units.
    pub commission: i64,
    /// The account's cash after it, micro-units.
    pub cash_after: i64,
    /// The transaction it wrote (assigned when the tick is written; 0 before).
    pub transaction_id: u64,
}

/// What a tick did to one open order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderUpdate {
    /// The order after the tick (filled units, value, commission and trigger updated).
    pub order: OpenOrder,
    /// Its status after the tick.
    pub status: OrderStatus,
    /// Why it ended, when it ended other than filled (0 otherwise).
    pub reason: u16,
    /// Its fill at this tick, if any.
    pub fill: Option<BookFill>,
}

impl OrderUpdate {
    /// An update that only ends or re-files `order` (no fill).
    pub fn without_fill(order: OpenOrder, status: OrderStatus, reason: u16) -> Self {
        Self {
            order,
            status,
            reason,
            fill: None,
        }
    }
}

/// How much of each symbol's tick volume open orders may still fill (`None`: no cap).
pub type Allowance = Option<HashMap<String, u64>>;

/// Everything a tick does to open orders, in the documented order: day orders past their
/// expiry end (and release what they reserved) first; ioc/fok orders without a chance end;
/// the candidates are tried in the plan's order; triggered stop-limits that do not cross
/// are re-filed as limits. `reserved` is kept current throughout.
pub fn settle_plan(
    plan: TickPlan,
    terms: &Terms<'_>,
    allowance: &mut Allowance,
    reserved: &mut Reservations,
    balances: &mut Balances,
) -> Vec<OrderUpdate> {
    let mut updates = Vec::new();
    let ended = plan
        .expired
        .into_iter()
        .map(|o| (o, OrderStatus::Expired, 0))
        .chain(
            plan.unfilled_immediate
                .into_iter()
                .map(|o| (o, OrderStatus::Cancelled, ReasonCode::NotFilled as u16)),
        );
    for (order, status, reason) in ended {
        reserved.release(&order, terms.costs);
        updates.push(OrderUpdate::without_fill(order, status, reason));
    }
    // A candidate that neither filled, ended nor triggered is unchanged (say, its symbol's
    // allowance was used up): nothing to write.
    let triggered = plan.newly_triggered;
    updates.extend(
        fill_candidates(plan.candidates, terms, allowance, reserved, balances)
            .into_iter()
            .filter(|u| u.fill.is_some() || !u.status.is_open() || triggered.contains(&u.order.id)),
    );
    for order in plan.triggered_resting {
        let status = open_status(order.filled);
        updates.push(OrderUpdate::without_fill(order, status, 0));
    }
    updates
}

/// Tries every candidate in order; returns one update per candidate (in the same order).
/// `reserved` holds the reservations of the candidates' accounts and is kept current.
pub fn fill_candidates(
    candidates: Vec<OpenOrder>,
    terms: &Terms<'_>,
    allowance: &mut Allowance,
    reserved: &mut Reservations,
    balances: &mut Balances,
) -> Vec<OrderUpdate> {
    candidates
        .into_iter()
        .map(|order| {
            let update = fill_one(order, terms, allowance, reserved, balances);
            if !update.status.is_open() {
                // An order that ended holds nothing back any more.
                reserved.release(&update.order, terms.costs);
            }
            update
        })
        .collect()
}

fn fill_one(
    mut order: OpenOrder,
    terms: &Terms<'_>,
    allowance: &mut Allowance,
    reserved: &mut Reservations,
    balances: &mut Balances,
) -> OrderUpdate {
    let immediate = order.is_immediate();
    let refused = |order: OpenOrder, reason: ReasonCode| {
        let status = if immediate {
            OrderStatus::Cancelled
        } else {
            OrderStatus::Rejected
        };
        OrderUpdate::without_fill(order, status, reason as u16)
    };
    let Some(quote) = terms.prices.get(&order.symbol).filter(|q| !q.stale) else {
        return OrderUpdate::without_fill(order, open_status(0), 0);
    };
    let remaining = order.remaining();
    let room = allowance
        .as_ref()
        .map_or(remaining, |a| a.get(&order.symbol).copied().unwrap_or(0));
    let units = remaining.min(room);
    let fok_short = order.time_in_force == TimeInForce::FillOrKill && units < remaining;
    if units == 0 || fok_short {
        let status = if immediate {
            OrderStatus::Cancelled
        } else {
            open_status(order.filled)
        };
        let reason = if immediate {
            ReasonCode::NotFilled as u16
        } else {
            0
        };
        return OrderUpdate::without_fill(order, status, reason);
    }
    let limit = if order.is_limit_like() {
        order.limit
    } else {
        None
    };
    let price = terms
        .costs
        .fill_price(order.side, quote.price, limit, order.id, terms.tick);
    let (Some(value), Some(commission)) = (
        price.checked_mul(units),
        terms.costs.fill_commission(order.filled, units),
    ) else {
        return refused(order, ReasonCode::InvalidQuantity);
    };
    let value = value.micros();
    let account = order.account_id;
    let Some(cash) = balances.cash.get(&account).copied() else {
        return refused(order, ReasonCode::UnknownUser);
    };
    let own_reservation = order.reserved_cash(terms.costs).unwrap_or(i64::MAX);
    let key = (account, order.symbol.clone());
    let held = balances.held.get(&key).copied().unwrap_or(0);
    let units_i = units as i64;
    let (cash_after, held_after) = match order.side {
        Side::Buy => {
            let others = reserved.cash_of(account).saturating_sub(own_reservation);
            match value.checked_add(commission) {
                Some(cost) if cost <= cash - others => (cash - cost, held + units_i),
                _ => return refused(order, ReasonCode::InsufficientCash),
            }
        }
        Side::Sell => {
            let others = reserved.units_of(account, &order.symbol) - order.reserved_units();
            if units_i > held - others {
                return refused(order, ReasonCode::InsufficientHoldings);
            }
            // The commission may not eat into what the account's open buys reserve.
            let floor = reserved.cash_of(account).max(0);
            match cash
                .checked_add(value)
                .and_then(|c| c.checked_sub(commission))
            {
                Some(after) if after >= floor => (after, held - units_i),
                _ => return refused(order, ReasonCode::InsufficientCash),
            }
        }
    };
    // The fill: balances, the order's reservation, the symbol's allowance.
    reserved.release(&order, terms.costs);
    order.filled += units;
    order.filled_value = order.filled_value.saturating_add(value);
    order.commission = order.commission.saturating_add(commission);
    reserved.hold(&order, terms.costs);
    balances.cash.insert(account, cash_after);
    balances.held.insert(key, held_after);
    if let Some(a) = allowance.as_mut() {
        if let Some(left) = a.get_mut(&order.symbol) {
            *left -= units;
        }
    }
    let status = match (order.remaining(), immediate) {
        (0, _) => OrderStatus::Filled,
        (_, true) => OrderStatus::Cancelled,
        (_, false) => OrderStatus::PartiallyFilled,
    };
    let reason = if status == OrderStatus::Cancelled {
        ReasonCode::NotFilled as u16
    } else {
        0
    };
    OrderUpdate {
        order,
        status,
        reason,
        fill: Some(BookFill {
            quantity: units,
            price,
            commission,
            cash_after,
            transaction_id: 0,
        }),
    }
}

/// The status of an open order with `filled` units filled.
pub fn open_status(filled: u64) -> OrderStatus {
    if filled == 0 {
        OrderStatus::New
    } else {
        OrderStatus::PartiallyFilled
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::costs::{Commission, CostModel};
    use crate::domain::order_book::OrderBook;
    use crate::domain::settlement::SettlementPrice;
    use papertrader_protocol::data::OrderKind;

    const D: i64 = 1_000_000;
    const ALICE: i64 = 1;

    fn order(
        id: u64,
        side: Side,
        kind: OrderKind,
        qty: u64,
        limit: Option<i64>,
        stop: Option<i64>,
    ) -> OpenOrder {
        OpenOrder {
            id,
            account_id: ALICE,
            side,
            symbol: "AAPL".into(),
            kind,
            quantity: qty,
            filled: 0,
            limit: limit.map(Money),
            stop: stop.map(Money),
            time_in_force: TimeInForce::GoodTillCancelled,
            triggered: false,
            expires_at: None,
            reserve_price: if side == Side::Buy {
                limit.or(stop).unwrap_or(0)
            } else {
                0
            },
            filled_value: 0,
            commission: 0,
            placed_at: 0,
            client_ip: "127.0.0.1".into(),
            worker_uuid: None,
        }
    }

    fn prices(price: i64) -> HashMap<String, SettlementPrice> {
        HashMap::from([(
            "AAPL".to_owned(),
            SettlementPrice {
                price: Money(price),
                stale: false,
            },
        )])
    }

    struct World {
        book: OrderBook,
        costs: CostModel,
        balances: Balances,
    }

    impl World {
        fn new(cash: i64, held: i64, costs: CostModel) -> Self {
            let mut balances = Balances::default();
            balances.cash.insert(ALICE, cash);
            balances.held.insert((ALICE, "AAPL".into()), held);
            Self {
                book: OrderBook::new(),
                costs,
                balances,
            }
        }

        fn place(&mut self, o: OpenOrder) {
            self.book.insert(o, &self.costs);
        }

        /// One tick at `price` with `cap` units of allowance; applies the updates to the book.
        fn tick(&mut self, price: i64, cap: Option<u64>) -> Vec<OrderUpdate> {
            let p = prices(price);
            let plan = self.book.plan(0, &p);
            let terms = Terms {
                tick: 1,
                prices: &p,
                costs: &self.costs,
            };
            let mut allowance = cap.map(|c| HashMap::from([("AAPL".to_owned(), c)]));
            let mut reserved = self.book.reservations().clone();
            let updates = settle_plan(
                plan,
                &terms,
                &mut allowance,
                &mut reserved,
                &mut self.balances,
            );
            for u in &updates {
                self.book.remove(u.order.id, &self.costs);
                if u.status.is_open() {
                    self.book.insert(u.order.clone(), &self.costs);
                }
            }
            assert_eq!(
                &reserved.cash_of(ALICE),
                &self.book.reservations().cash_of(ALICE),
                "reservations drifted"
            );
            updates
        }
    }

    fn summary(u: &[OrderUpdate]) -> Vec<(u64, OrderStatus, u64, Option<i64>)> {
        u.iter()
            .map(|u| {
                (
                    u.order.id,
                    u.status,
                    u.order.filled,
                    u.fill.map(|f| f.price.micros()),
                )
            })
            .collect()
    }

    #[test]
    fn a_limit_exactly_at_the_price_fills_at_that_price_and_one_micro_above_does_not() {
        let mut w = World::new(1_000 * D, 0, CostModel::default());
        w.place(order(
            1,
            Side::Buy,
            OrderKind::Limit,
            10,
            Some(50 * D),
            None,
        ));
        assert!(w.tick(50 * D + 1, None).is_empty());
        assert_eq!(
            summary(&w.tick(50 * D, None)),
            vec![(1, OrderStatus::Filled, 10, Some(50 * D))]
        );
        assert_eq!(w.balances.cash[&ALICE], 500 * D);
        // A crossing limit fills at the tick's price, better than its limit.
        w.place(order(
            2,
            Side::Sell,
            OrderKind::Limit,
            10,
            Some(40 * D),
            None,
        ));
        assert_eq!(
            summary(&w.tick(45 * D, None)),
            vec![(2, OrderStatus::Filled, 10, Some(45 * D))]
        );
        assert_eq!(w.balances.cash[&ALICE], 950 * D);
    }

    #[test]
    fn a_gap_through_a_stop_fills_at_the_gapped_price() {
        let mut w = World::new(0, 10, CostModel::default());
        w.place(order(
            1,
            Side::Sell,
            OrderKind::Stop,
            10,
            None,
            Some(95 * D),
        ));
        assert!(w.tick(96 * D, None).is_empty());
        assert_eq!(
            summary(&w.tick(80 * D, None)),
            vec![(1, OrderStatus::Filled, 10, Some(80 * D))]
        );
        assert_eq!(w.balances.cash[&ALICE], 800 * D);
    }

    #[test]
    fn the_participation_cap_leaves_the_rest_open_and_shares_by_priority() {
        let mut w = World::new(10_000 * D, 0, CostModel::default());
        w.place(order(
            1,
            Side::Buy,
            OrderKind::Limit,
            60,
            Some(10 * D),
            None,
        ));
        w.place(order(
            2,
            Side::Buy,
            OrderKind::Limit,
            60,
            Some(11 * D),
            None,
        ));
        let u = w.tick(10 * D, Some(100));
        assert_eq!(
            summary(&u),
            vec![
                (2, OrderStatus::Filled, 60, Some(10 * D)),
                (1, OrderStatus::PartiallyFilled, 40, Some(10 * D))
            ]
        );
        let u = w.tick(10 * D, Some(100));
        assert_eq!(
            summary(&u),
            vec![(1, OrderStatus::Filled, 60, Some(10 * D))]
        );
        assert_eq!(w.balances.cash[&ALICE], 10_000 * D - 1_200 * D);
        assert!(w.book.is_empty() && w.book.reservations().cash_of(ALICE) == 0);
    }

    #[test]
    fn ioc_fills_what_it_can_and_fok_all_or_nothing() {
        let mut w = World::new(10_000 * D, 0, CostModel::default());
        let mut ioc = order(1, Side::Buy, OrderKind::Limit, 120, Some(10 * D), None);
        ioc.time_in_force = TimeInForce::ImmediateOrCancel;
        let mut fok = order(2, Side::Buy, OrderKind::Limit, 50, Some(9 * D), None);
        fok.time_in_force = TimeInForce::FillOrKill;
        w.place(ioc);
        w.place(fok);
        let u = w.tick(9 * D, Some(100));
        assert_eq!(
            summary(&u),
            vec![
                (1, OrderStatus::Cancelled, 100, Some(9 * D)),
                (2, OrderStatus::Cancelled, 0, None)
            ]
        );
        assert_eq!(
            (u[0].reason, u[1].reason),
            (ReasonCode::NotFilled as u16, ReasonCode::NotFilled as u16)
        );
        // The same fok with room for all of it fills.
        let mut fok = order(3, Side::Buy, OrderKind::Limit, 50, Some(9 * D), None);
        fok.time_in_force = TimeInForce::FillOrKill;
        w.place(fok);
        assert_eq!(
            summary(&w.tick(9 * D, Some(50))),
            vec![(3, OrderStatus::Filled, 50, Some(9 * D))]
        );
        // An ioc that does not cross ends at its first tick.
        let mut ioc = order(4, Side::Buy, OrderKind::Limit, 5, Some(D), None);
        ioc.time_in_force = TimeInForce::ImmediateOrCancel;
        w.place(ioc);
        assert_eq!(
            summary(&w.tick(9 * D, None)),
            vec![(4, OrderStatus::Cancelled, 0, None)]
        );
        assert!(w.book.is_empty());
    }

    #[test]
    fn commission_and_slippage_to_the_micro_unit_on_every_fill() {
        let costs = CostModel {
            commission: Commission {
                per_order: D,
                per_unit: 3_500,
                min: 0,
                max: None,
            },
            slippage_bps: 10,
            ..CostModel::default()
        };
        let mut w = World::new(1_000 * D, 0, costs);
        // A market buy of 7 at 33.333333: slipped by 10 bps = 0.0333333333 → 33.366667 (rounded
        // up); commission 1.00 + 7 × 0.0035 = 1.0245.
        let mut m = order(1, Side::Buy, OrderKind::Market, 7, None, None);
        m.reserve_price = 34 * D;
        w.place(m);
        let u = w.tick(33_333_333, None);
        let fill = u[0].fill.unwrap();
        assert_eq!(
            (fill.price, fill.commission),
            (Money(33_366_667), 1_024_500)
        );
        assert_eq!(fill.cash_after, 1_000 * D - 7 * 33_366_667 - 1_024_500);
        assert_eq!(w.balances.cash[&ALICE], fill.cash_after);
        // A limit sale: slippage never takes it below its limit; per-order charged again (new order).
        let mut s = order(2, Side::Sell, OrderKind::Limit, 7, Some(33_350_000), None);
        s.reserve_price = 0;
        w.place(s);
        let fill = w.tick(33_360_000, None)[0].fill.unwrap();
        assert_eq!(
            (fill.price, fill.commission),
            (Money(33_350_000), 1_024_500)
        );
    }

    #[test]
    fn partial_fills_pay_the_orders_commission_once_and_stay_within_the_reservation() {
        let costs = CostModel {
            commission: Commission {
                per_order: D,
                per_unit: 0,
                min: 2 * D,
                max: None,
            },
            ..CostModel::default()
        };
        // Exactly enough cash for the order and its one minimum commission.
        let mut w = World::new(100 * D + 2 * D, 0, costs);
        w.place(order(
            1,
            Side::Buy,
            OrderKind::Limit,
            10,
            Some(10 * D),
            None,
        ));
        for _ in 0..10 {
            w.tick(10 * D, Some(1));
        }
        assert!(w.book.is_empty(), "filled one unit a tick");
        assert_eq!(
            w.balances.cash[&ALICE], 0,
            "100.00 of units and 2.00 commission in all"
        );
    }

    #[test]
    fn a_sales_commission_cannot_spend_what_open_buys_reserve() {
        let costs = CostModel {
            commission: Commission {
                per_order: 5 * D,
                ..Default::default()
            },
            ..CostModel::default()
        };
        // 100.00 cash, all of it reserved by a resting buy; a sale of 1 unit at 1.00 would
        // pay 5.00 commission out of that reserve.
        let mut w = World::new(100 * D, 1, costs);
        w.place(order(1, Side::Buy, OrderKind::Limit, 95, Some(D), None));
        w.place(order(2, Side::Sell, OrderKind::Limit, 1, Some(D), None));
        let u = w.tick(2 * D, None);
        assert_eq!(summary(&u), vec![(2, OrderStatus::Rejected, 0, None)]);
        assert_eq!(u[0].reason, ReasonCode::InsufficientCash as u16);
        assert_eq!(w.balances.cash[&ALICE], 100 * D);
    }

    #[test]
    fn reserved_cash_is_not_spent_twice() {
        let mut w = World::new(1_000 * D, 0, CostModel::default());
        // Two market buys reserving 600 and 400 at 10.00: the first fills at 12.00 (cost
        // 720) — more than it reserved — so the second's 400 are no longer all there.
        let mut a = order(1, Side::Buy, OrderKind::Market, 60, None, None);
        a.reserve_price = 10 * D;
        let mut b = order(2, Side::Buy, OrderKind::Market, 40, None, None);
        b.reserve_price = 10 * D;
        w.place(a);
        w.place(b);
        let u = w.tick(12 * D, None);
        assert_eq!(
            summary(&u),
            vec![
                (1, OrderStatus::Rejected, 0, None),
                (2, OrderStatus::Filled, 40, Some(12 * D))
            ]
        );
        assert_eq!(w.balances.cash[&ALICE], 520 * D);
        assert!(w.balances.cash[&ALICE] >= 0);
    }
}
