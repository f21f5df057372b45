//! The open orders, indexed so that a tick touches only the orders it can fill.
//!
//! Per symbol, buy limits are kept by price from the highest, sell limits from the lowest,
//! untriggered buy stops from the lowest stop and sell stops from the highest; market orders
//! (and triggered stops) by id. At a tick of price `p` the crossing limits (`limit ≥ p` for a
//! buy, `≤ p` for a sale) and the stops that trigger (`p ≥ stop` for a buy, `p ≤ stop` for a
//! sale) are read from the front of their index and the scan stops at the first that does not
//! qualify, so the work grows with the orders that act, not with those that rest. Day orders
//! are also kept by expiry time.
//!
//! The book also holds the reservations of the open orders: a buy reserves
//! `remaining × reservation price + the most commission it can cost`, a sale its remaining
//! units. Placing an order needs the account's cash (or units) minus what is reserved.

use std::cmp::Reverse;
use std::collections::{BTreeSet, HashMap};

use papertrader_protocol::data::{OrderKind, Side, TimeInForce};
use papertrader_protocol::Money;

use super::costs::CostModel;
use super::settlement::SettlementPrice;

/// An open order as the book keeps it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenOrder {
    /// Order id.
    pub id: u64,
    /// The ordering account.
    pub account_id: i64,
    /// Buy or sell.
    pub side: Side,
    /// Asset symbol.
    pub symbol: String,
    /// Market, limit, stop or stop-limit.
    pub kind: OrderKind,
    /// Units ordered.
    pub quantity: u64,
    /// Units filled so far.
    pub filled: u64,
    /// Limit price (limit, stop-limit).
    pub limit: Option<Money>,
    /// Stop price (stop, stop-limit).
    pub stop: Option<Money>,
    /// Time in force.
    pub time_in_force: TimeInForce,
    /// A stop or stop-limit whose stop price has been reached.
    pub triggered: bool,
    /// When a day order expires (the next UTC midnight after it was placed), ms.
    pub expires_at: Option<i64>,
    /// Price per unit a buy reserves cash at, micro-units (0 for a sale).
    pub reserve_price: i64,
    /// Σ price × units of its fills, micro-units.
    pub filled_value: i64,
    /// Commission paid so far, micro-units.
    pub commission: i64,
    /// When it was placed, ms.
    pub placed_at: i64,
    /// The address it was placed from.
    pub client_ip: String,
    /// The worker it came through, if any.
    pub worker_uuid: Option<String>,
}

impl OpenOrder {
    /// Units still to fill.
    pub fn remaining(&self) -> u64 {
        self.quantity - self.filled.min(self.quantity)
    }

    /// True while it acts like a market order: a market order, or a triggered stop.
    pub fn is_market_like(&self) -> bool {
        match self.kind {
            OrderKind::Market => true,
            OrderKind::Stop => self.triggered,
            OrderKind::Limit | OrderKind::StopLimit => false,
        }
    }

    /// True while it acts like a limit order: a limit order, or a triggered stop-limit.
    pub fn is_limit_like(&self) -> bool {
        match self.kind {
            OrderKind::Limit => true,
            OrderKind::StopLimit => self.triggered,
            OrderKind::Market | OrderKind::Stop => false,
        }
    }

    /// True for ioc and fok orders: they live for one tick only.
    pub fn is_immediate(&self) -> bool {
        matches!(
            self.time_in_force,
            TimeInForce::ImmediateOrCancel | TimeInForce::FillOrKill
        )
    }

    /// Cash this order reserves now: remaining units at the reservation price plus the
    /// commission its remaining fills will pay; `None` when it overflows.
    pub fn reserved_cash(&self, costs: &CostModel) -> Option<i64> {
        if self.side == Side::Sell || self.remaining() == 0 {
            return Some(0);
        }
        let units = i64::try_from(self.remaining()).ok()?;
        // What its remaining fills will pay in commission, in all (see `costs`).
        let fee = costs.order_commission(self.quantity)? - costs.order_commission(self.filled)?;
        self.reserve_price.checked_mul(units)?.checked_add(fee)
    }

    /// Units this order reserves now.
    pub fn reserved_units(&self) -> i64 {
        match self.side {
            Side::Sell => self.remaining() as i64,
            Side::Buy => 0,
        }
    }
}

/// Cash and units held back by open orders, per account.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Reservations {
    /// Reserved cash per account, micro-units.
    pub cash: HashMap<i64, i64>,
    /// Reserved units per (account, symbol).
    pub units: HashMap<(i64, String), i64>,
}

impl Reservations {
    /// The account's reserved cash.
    pub fn cash_of(&self, account: i64) -> i64 {
        self.cash.get(&account).copied().unwrap_or(0)
    }

    /// The account's reserved units of `symbol`.
    pub fn units_of(&self, account: i64, symbol: &str) -> i64 {
        self.units
            .get(&(account, symbol.to_owned()))
            .copied()
            .unwrap_or(0)
    }

    /// Adds what `order` reserves now (its cash, or units) to its account's reservations.
    pub fn hold(&mut self, order: &OpenOrder, costs: &CostModel) {
        let cash = order.reserved_cash(costs).unwrap_or(i64::MAX);
        self.add(
            order.account_id,
            &order.symbol,
            cash,
            order.reserved_units(),
        );
    }

    /// Takes what `order` reserves now off its account's reservations.
    pub fn release(&mut self, order: &OpenOrder, costs: &CostModel) {
        let cash = order.reserved_cash(costs).unwrap_or(i64::MAX);
        self.add(
            order.account_id,
            &order.symbol,
            -cash,
            -order.reserved_units(),
        );
    }

    /// Adds `cash` and `units` (negative to release) to the account's reservations.
    pub fn add(&mut self, account: i64, symbol: &str, cash: i64, units: i64) {
        if cash != 0 {
            let entry = self.cash.entry(account).or_insert(0);
            *entry = entry.saturating_add(cash);
            if *entry == 0 {
                self.cash.remove(&account);
            }
        }
        if units != 0 {
            let key = (account, symbol.to_owned());
            let entry = self.units.entry(key.clone()).or_insert(0);
            *entry += units;
            if *entry == 0 {
                self.units.remove(&key);
            }
        }
    }

    /// The cash entries of `accounts` and the unit entries of `holdings` only (what a tick
    /// that touches them needs; its cost does not grow with the other entries).
    pub fn subset(
        &self,
        accounts: &BTreeSet<i64>,
        holdings: &BTreeSet<(i64, String)>,
    ) -> Reservations {
        Reservations {
            cash: accounts
                .iter()
                .filter_map(|a| Some((*a, *self.cash.get(a)?)))
                .collect(),
            units: holdings
                .iter()
                .filter_map(|k| Some((k.clone(), *self.units.get(k)?)))
                .collect(),
        }
    }
}

#[derive(Debug, Default)]
struct SymbolIndex {
    buy_limits: BTreeSet<(Reverse<i64>, u64)>,
    sell_limits: BTreeSet<(i64, u64)>,
    buy_stops: BTreeSet<(i64, u64)>,
    sell_stops: BTreeSet<(Reverse<i64>, u64)>,
    market: BTreeSet<u64>,
}

/// What a tick must look at: the orders it may fill or trigger, and those it ends.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct TickPlan {
    /// Day orders past their expiry.
    pub expired: Vec<OpenOrder>,
    /// Orders to try to fill, in the order they are tried (copies; the book is unchanged).
    /// Stops among them have `triggered` set.
    pub candidates: Vec<OpenOrder>,
    /// Stop-limits this tick triggers that do not cross their limit yet: they rest as limits
    /// (copies with `triggered` set).
    pub triggered_resting: Vec<OpenOrder>,
    /// ioc/fok orders that got no chance at this tick (their price did not cross, or their
    /// symbol has no fresh price): cancelled.
    pub unfilled_immediate: Vec<OpenOrder>,
    /// Stops and stop-limits this tick triggers (their `triggered` must be stored even when
    /// nothing fills).
    pub newly_triggered: BTreeSet<u64>,
}

/// The open orders and their reservations.
#[derive(Debug, Default)]
pub struct OrderBook {
    orders: HashMap<u64, OpenOrder>,
    symbols: HashMap<String, SymbolIndex>,
    expiries: BTreeSet<(i64, u64)>,
    /// ioc/fok orders waiting for their one tick.
    immediate: BTreeSet<u64>,
    reservations: Reservations,
}

impl OrderBook {
    /// An empty book.
    pub fn new() -> Self {
        Self::default()
    }

    /// Open orders.
    pub fn len(&self) -> usize {
        self.orders.len()
    }

    /// True with no open order.
    pub fn is_empty(&self) -> bool {
        self.orders.is_empty()
    }

    /// An open order.
    pub fn get(&self, id: u64) -> Option<&OpenOrder> {
        self.orders.get(&id)
    }

    /// The reservations of every open order.
    pub fn reservations(&self) -> &Reservations {
        &self.reservations
    }

    /// Adds an open order (replacing one with the same id) and its reservation.
    pub fn insert(&mut self, order: OpenOrder, costs: &CostModel) {
        self.remove(order.id, costs);
        self.index(&order, true);
        self.reservations.hold(&order, costs);
        self.orders.insert(order.id, order);
    }

    /// Removes an order and releases its reservation.
    pub fn remove(&mut self, id: u64, costs: &CostModel) -> Option<OpenOrder> {
        let order = self.orders.remove(&id)?;
        self.index(&order, false);
        self.reservations.release(&order, costs);
        Some(order)
    }

    fn index(&mut self, o: &OpenOrder, add: bool) {
        fn put<T: Ord>(set: &mut BTreeSet<T>, key: T, add: bool) {
            if add {
                set.insert(key);
            } else {
                set.remove(&key);
            }
        }
        if let Some(at) = o.expires_at {
            put(&mut self.expiries, (at, o.id), add);
        }
        if o.is_immediate() {
            put(&mut self.immediate, o.id, add);
        }
        let index = self.symbols.entry(o.symbol.clone()).or_default();
        let price = |p: Option<Money>| p.map_or(0, Money::micros);
        if o.is_market_like() {
            put(&mut index.market, o.id, add);
        } else if o.is_limit_like() {
            match o.side {
                Side::Buy => put(&mut index.buy_limits, (Reverse(price(o.limit)), o.id), add),
                Side::Sell => put(&mut index.sell_limits, (price(o.limit), o.id), add),
            }
        } else {
            match o.side {
                Side::Buy => put(&mut index.buy_stops, (price(o.stop), o.id), add),
                Side::Sell => put(&mut index.sell_stops, (Reverse(price(o.stop)), o.id), add),
            }
        }
    }

    /// What the tick at `at_ms` with `prices` must do, in the documented order: day orders
    /// past their expiry end first; then, symbol by symbol in name order, market orders and
    /// stops that trigger (by id), then limits that cross (best limit first, then by id;
    /// a stop-limit triggered now joins them when its limit crosses too). Symbols without a
    /// fresh price are skipped. Reads only what acts.
    pub fn plan(&self, at_ms: i64, prices: &HashMap<String, SettlementPrice>) -> TickPlan {
        let mut plan = TickPlan::default();
        let mut ended = BTreeSet::new();
        for &(_, id) in self.expiries.range(..(at_ms.saturating_add(1), 0)) {
            plan.expired.extend(self.orders.get(&id).cloned());
            ended.insert(id);
        }
        let mut symbols: Vec<&String> = self.symbols.keys().collect();
        symbols.sort_unstable();
        for symbol in symbols {
            let Some(quote) = prices.get(symbol).filter(|q| !q.stale) else {
                continue;
            };
            let p = quote.price.micros();
            let index = &self.symbols[symbol];
            let mut market: Vec<OpenOrder> = Vec::new();
            let mut limits: Vec<(i64, OpenOrder)> = Vec::new();
            let live = |id: &u64| !ended.contains(id);
            for id in index.market.iter().filter(|id| live(id)) {
                market.extend(self.orders.get(id).cloned());
            }
            let triggered = index
                .buy_stops
                .iter()
                .take_while(|(stop, _)| p >= *stop)
                .map(|(_, id)| id)
                .chain(
                    index
                        .sell_stops
                        .iter()
                        .take_while(|(Reverse(stop), _)| p <= *stop)
                        .map(|(_, id)| id),
                );
            for id in triggered.filter(|id| live(id)) {
                let Some(order) = self.orders.get(id) else {
                    continue;
                };
                let mut order = order.clone();
                order.triggered = true;
                plan.newly_triggered.insert(order.id);
                if order.kind == OrderKind::Stop {
                    market.push(order);
                } else if crosses(&order, p) {
                    limits.push((priority(&order), order));
                } else if !order.is_immediate() {
                    plan.triggered_resting.push(order);
                }
                // (An ioc/fok stop-limit that triggers without crossing had its one tick: it
                // ends below with the other immediate orders that did not cross.)
            }
            let crossing = index
                .buy_limits
                .iter()
                .take_while(|(Reverse(limit), _)| *limit >= p)
                .map(|(_, id)| id)
                .chain(
                    index
                        .sell_limits
                        .iter()
                        .take_while(|(limit, _)| *limit <= p)
                        .map(|(_, id)| id),
                );
            for id in crossing.filter(|id| live(id)) {
                if let Some(order) = self.orders.get(id) {
                    limits.push((priority(order), order.clone()));
                }
            }
            market.sort_by_key(|o| o.id);
            limits.sort_by_key(|(rank, o)| (o.side == Side::Sell, *rank, o.id));
            plan.candidates.extend(market);
            plan.candidates.extend(limits.into_iter().map(|(_, o)| o));
        }
        let tried: BTreeSet<u64> = plan.candidates.iter().map(|o| o.id).collect();
        plan.unfilled_immediate = self
            .immediate
            .iter()
            .filter(|id| !tried.contains(id) && !ended.contains(id))
            .filter_map(|id| self.orders.get(id).cloned())
            .collect();
        plan
    }
}

/// True when a limit-like order's limit crosses price `p`.
pub fn crosses(order: &OpenOrder, p: i64) -> bool {
    let limit = order.limit.map_or(0, Money::micros);
    match order.side {
        Side::Buy => limit >= p,
        Side::Sell => limit <= p,
    }
}

/// Price priority of a limit: the best limit first (highest buy, lowest sale).
fn priority(order: &OpenOrder) -> i64 {
    let limit = order.limit.map_or(0, Money::micros);
    match order.side {
        Side::Buy => -limit,
        Side::Sell => limit,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const D: i64 = 1_000_000;

    fn order(
        id: u64,
        side: Side,
        kind: OrderKind,
        limit: Option<i64>,
        stop: Option<i64>,
    ) -> OpenOrder {
        OpenOrder {
            id,
            account_id: 1,
            side,
            symbol: "AAPL".into(),
            kind,
            quantity: 10,
            filled: 0,
            limit: limit.map(|l| Money(l * D)),
            stop: stop.map(|s| Money(s * D)),
            time_in_force: TimeInForce::GoodTillCancelled,
            triggered: false,
            expires_at: None,
            reserve_price: if side == Side::Buy {
                limit.or(stop).unwrap_or(100) * D
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

    fn at(price: i64) -> HashMap<String, SettlementPrice> {
        HashMap::from([(
            "AAPL".to_owned(),
            SettlementPrice {
                price: Money(price * D),
                stale: false,
            },
        )])
    }

    fn ids(plan: &TickPlan) -> Vec<u64> {
        plan.candidates.iter().map(|o| o.id).collect()
    }

    fn idlist(orders: &[OpenOrder]) -> Vec<u64> {
        orders.iter().map(|o| o.id).collect()
    }

    #[test]
    fn limits_cross_at_their_price_exactly_best_first_then_by_id() {
        let costs = CostModel::default();
        let mut book = OrderBook::new();
        book.insert(
            order(1, Side::Buy, OrderKind::Limit, Some(99), None),
            &costs,
        );
        book.insert(
            order(2, Side::Buy, OrderKind::Limit, Some(100), None),
            &costs,
        );
        book.insert(
            order(3, Side::Buy, OrderKind::Limit, Some(101), None),
            &costs,
        );
        book.insert(
            order(4, Side::Buy, OrderKind::Limit, Some(100), None),
            &costs,
        );
        book.insert(
            order(5, Side::Sell, OrderKind::Limit, Some(100), None),
            &costs,
        );
        book.insert(
            order(6, Side::Sell, OrderKind::Limit, Some(101), None),
            &costs,
        );
        assert_eq!(ids(&book.plan(0, &at(100))), vec![3, 2, 4, 5]);
        assert_eq!(ids(&book.plan(0, &at(102))), vec![5, 6]);
        assert_eq!(ids(&book.plan(0, &at(98))), vec![3, 2, 4, 1]);
        assert!(book.plan(0, &at(100)).unfilled_immediate.is_empty());
    }

    #[test]
    fn stops_trigger_at_or_through_their_price_and_stop_limits_rest_when_they_do_not_cross() {
        let costs = CostModel::default();
        let mut book = OrderBook::new();
        book.insert(
            order(1, Side::Buy, OrderKind::Stop, None, Some(105)),
            &costs,
        );
        book.insert(
            order(2, Side::Sell, OrderKind::Stop, None, Some(95)),
            &costs,
        );
        book.insert(
            order(3, Side::Buy, OrderKind::StopLimit, Some(106), Some(105)),
            &costs,
        );
        book.insert(
            order(4, Side::Sell, OrderKind::StopLimit, Some(94), Some(95)),
            &costs,
        );
        assert!(ids(&book.plan(0, &at(100))).is_empty());
        // Exactly at the stop: the buy stop triggers and its stop-limit crosses.
        let plan = book.plan(0, &at(105));
        assert_eq!(ids(&plan), vec![1, 3]);
        assert!(plan.candidates.iter().all(|o| o.triggered));
        // A gap through the buy stop-limit's limit: triggered, but rests as a limit.
        let plan = book.plan(0, &at(110));
        assert_eq!(
            (ids(&plan), idlist(&plan.triggered_resting)),
            (vec![1], vec![3])
        );
        // A gap down through the sale stop: it fills (at the tick's price, not the stop).
        let plan = book.plan(0, &at(90));
        assert_eq!(
            (ids(&plan), idlist(&plan.triggered_resting)),
            (vec![2], vec![4])
        );
    }

    #[test]
    fn day_orders_expire_at_their_time_and_immediate_orders_that_do_not_cross_end() {
        let costs = CostModel::default();
        let mut book = OrderBook::new();
        let mut day = order(1, Side::Buy, OrderKind::Limit, Some(100), None);
        day.time_in_force = TimeInForce::Day;
        day.expires_at = Some(86_400_000);
        book.insert(day, &costs);
        let mut ioc = order(2, Side::Buy, OrderKind::Limit, Some(90), None);
        ioc.time_in_force = TimeInForce::ImmediateOrCancel;
        book.insert(ioc, &costs);
        let plan = book.plan(86_399_999, &at(100));
        assert_eq!((idlist(&plan.expired), ids(&plan)), (vec![], vec![1]));
        assert_eq!(idlist(&plan.unfilled_immediate), vec![2]);
        let plan = book.plan(86_400_000, &at(100));
        assert_eq!((idlist(&plan.expired), ids(&plan)), (vec![1], vec![]));
        // A stale price is no chance: the ioc ends unfilled, the rest waits.
        let mut stale = at(80);
        stale.values_mut().for_each(|q| q.stale = true);
        let plan = book.plan(0, &stale);
        assert_eq!(
            (ids(&plan), idlist(&plan.unfilled_immediate)),
            (vec![], vec![2])
        );
    }

    #[test]
    fn an_immediate_stop_limit_that_triggers_without_crossing_only_ends() {
        let costs = CostModel::default();
        let mut book = OrderBook::new();
        let mut ioc = order(1, Side::Buy, OrderKind::StopLimit, Some(106), Some(105));
        ioc.time_in_force = TimeInForce::ImmediateOrCancel;
        book.insert(ioc, &costs);
        // A gap through the limit: triggered, no cross — it had its tick, so it ends, once.
        let plan = book.plan(0, &at(110));
        assert!(plan.candidates.is_empty() && plan.triggered_resting.is_empty());
        assert_eq!(idlist(&plan.unfilled_immediate), vec![1]);
    }

    #[test]
    fn reservations_follow_inserts_and_removals() {
        let costs = CostModel {
            commission: super::super::costs::Commission {
                per_order: D,
                ..Default::default()
            },
            ..CostModel::default()
        };
        let mut book = OrderBook::new();
        book.insert(
            order(1, Side::Buy, OrderKind::Limit, Some(100), None),
            &costs,
        );
        book.insert(
            order(2, Side::Sell, OrderKind::Limit, Some(100), None),
            &costs,
        );
        assert_eq!(book.reservations().cash_of(1), 1_000 * D + D);
        assert_eq!(book.reservations().units_of(1, "AAPL"), 10);
        book.remove(1, &costs);
        book.remove(2, &costs);
        assert_eq!(book.reservations(), &Reservations::default());
        assert!(book.is_empty());
    }

    #[test]
    fn a_tick_reads_only_the_orders_that_act() {
        let costs = CostModel::default();
        let mut book = OrderBook::new();
        for id in 0..50_000u64 {
            let limit = 50 + (id % 40) as i64;
            book.insert(
                order(id, Side::Buy, OrderKind::Limit, Some(limit), None),
                &costs,
            );
        }
        // Only the limits at 89 cross 89.
        let plan = book.plan(0, &at(89));
        assert_eq!(plan.candidates.len(), 1_250);
        assert!(plan
            .candidates
            .iter()
            .all(|o| o.limit == Some(Money(89 * D))));
    }
}
