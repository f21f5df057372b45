//! `TradeQueueActor`: every purchase and sale waits here for the next price tick, then the
//! whole queue settles at that tick's prices in one database transaction, in arrival order,
//! together with the open orders (`placeOrder`) the tick fills, triggers or ends.
//! Each queued order is answered only after the commit (or with a failure if the commit
//! failed, in which case nothing of the tick was applied).
//!
//! The actor is the only writer of orders, cash and holdings after registration: placing,
//! cancelling and settling run one at a time (`ctx.wait`), so reservations checked at
//! placement hold until the order ends. A cancel handled before a tick's settlement starts
//! wins over that tick's fill; one that arrives during it waits and finds the fill.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

use actix::prelude::*;
use papertrader_protocol::data::{OrderKind, OrderStatus, Side, TimeInForce};
use papertrader_protocol::stream::AccountEventKind;
use papertrader_protocol::{Money, ReasonCode};
use slog::{error, info, Logger};
use tokio::sync::oneshot;

use super::account_events::{self as events, Watcher, Watchers, MAX_REPLAY};
use super::now_ms;
use crate::db::orders::{self as order_rows, OrderRow, PlacedBy};
use crate::db::settlement::{self, BookTick};
use crate::db::Db;
use crate::db::{equity, periods};
use crate::domain::calendar::{day_start, DAY_MS};
use crate::domain::costs::CostModel;
use crate::domain::order_book::{OpenOrder, OrderBook};
use crate::domain::orders::{Order, OrderError, OrderOutcome, Rejection};
use crate::domain::settlement::{SettlementPrice, Terms};
use crate::market::book::Snapshot;

/// How orders trade in this deployment.
#[derive(Debug, Clone, Copy, Default)]
pub struct TradingRules {
    /// Commission and slippage.
    pub costs: CostModel,
    /// Most of a tick's volume open orders of a symbol may fill, basis points.
    pub participation_cap_bps: Option<u32>,
    /// Cash a reset account starts its new period with, micro-units.
    pub starting_cash: i64,
    /// Spacing of the intraday equity points, ms.
    pub equity_step_ms: i64,
}

/// The open orders found in the database at start, and the largest order id used.
#[derive(Debug, Default)]
pub struct StoredOrders {
    /// Open orders.
    pub open: Vec<OrderRow>,
    /// Largest order id so far.
    pub last_id: u64,
}

/// The trade queue.
pub struct TradeQueueActor {
    db: Db,
    capacity: usize,
    queue: Vec<(Order, oneshot::Sender<OrderOutcome>)>,
    log: Logger,
    settled_total: u64,
    /// Shutting down: the last batch has been settled, new orders are refused.
    closing: bool,
    rules: TradingRules,
    book: OrderBook,
    last_order_id: u64,
    /// The latest snapshot: market orders reserve cash at its price.
    latest: Arc<Snapshot>,
    /// Day volume per symbol at the previous tick, to tell a tick's own volume.
    day_volume: HashMap<String, (i64, u64)>,
    /// The equity step of the last intraday equity point.
    last_equity_step: i64,
    /// Live subscribers of account events.
    watchers: Watchers,
}

impl TradeQueueActor {
    /// A queue holding at most `capacity` orders between ticks, with the `stored` open orders.
    pub fn new(
        db: Db,
        capacity: usize,
        rules: TradingRules,
        stored: StoredOrders,
        log: Logger,
    ) -> Self {
        let mut book = OrderBook::new();
        for row in &stored.open {
            book.insert(row.open_order(), &rules.costs);
        }
        Self {
            db,
            capacity: capacity.max(1),
            queue: Vec::new(),
            log,
            settled_total: 0,
            closing: false,
            rules,
            book,
            last_order_id: stored.last_id,
            latest: Arc::new(Snapshot::default()),
            day_volume: HashMap::new(),
            last_equity_step: i64::MIN,
            watchers: Watchers::default(),
        }
    }

    /// The units each symbol's open orders may fill at this tick, from the tick's own volume.
    fn allowance(&mut self, snapshot: &Snapshot) -> Option<HashMap<String, u64>> {
        let mut out = HashMap::new();
        for (symbol, quote) in &snapshot.quotes {
            let day = day_start(quote.at_ms);
            let before = self.day_volume.insert(symbol.clone(), (day, quote.volume));
            let traded = match before {
                Some((d, v)) if d == day => quote.volume.saturating_sub(v),
                // A new day: everything traded so far today is this tick's.
                Some(_) => quote.volume,
                // First sighting (after a start): the day's volume so far is not this tick's.
                None => 0,
            };
            let cap = u128::from(self.rules.participation_cap_bps?);
            out.insert(symbol.clone(), (u128::from(traded) * cap / 10_000) as u64);
        }
        Some(out)
    }
}

impl Actor for TradeQueueActor {
    type Context = Context<Self>;

    fn stopping(&mut self, _: &mut Context<Self>) -> Running {
        // Orders still queued were never settled: tell their clients instead of hanging.
        for (_, reply) in self.queue.drain(..) {
            let _ = reply.send(Err(OrderError::ShuttingDown));
        }
        Running::Stop
    }
}

/// Queue an order; resolves after the batch it joins has settled.
#[derive(Message)]
#[rtype(result = "OrderOutcome")]
pub struct PlaceOrder(pub Order);

impl Handler<PlaceOrder> for TradeQueueActor {
    type Result = ResponseFuture<OrderOutcome>;

    fn handle(&mut self, msg: PlaceOrder, _: &mut Context<Self>) -> Self::Result {
        if self.closing {
            return Box::pin(async { Err(OrderError::ShuttingDown) });
        }
        if self.queue.len() >= self.capacity {
            return Box::pin(async { Err(OrderError::QueueFull) });
        }
        let (reply, settled) = oneshot::channel();
        self.queue.push((msg.0, reply));
        metrics::gauge!("papertrader_trade_queue_depth").set(self.queue.len() as f64);
        Box::pin(async move { settled.await.unwrap_or(Err(OrderError::Dropped)) })
    }
}

/// Settle everything queued at these prices (sent by the asset fetcher once per tick).
#[derive(Message)]
#[rtype(result = "()")]
pub struct Settle(pub Arc<Snapshot>);

impl Handler<Settle> for TradeQueueActor {
    type Result = ();

    fn handle(&mut self, msg: Settle, ctx: &mut Context<Self>) {
        self.tick(msg.0, true, ctx);
    }
}

/// Every account's equity at a tick's closes, to record as a point at `at`.
struct EquityRecord {
    at: i64,
    resolution: i32,
    prices: HashMap<String, i64>,
}

impl EquityRecord {
    fn new(at: i64, resolution: i32, snapshot: &Snapshot) -> Self {
        Self {
            at,
            resolution,
            prices: snapshot.closes(),
        }
    }

    fn write(&self, conn: &mut crate::db::AnyConnection) -> Result<usize, crate::db::DbError> {
        equity::record(conn, self.at, self.resolution, &self.prices)
    }
}

/// The settlement part of a tick.
struct Batch {
    orders: Vec<Order>,
    replies: Vec<oneshot::Sender<OrderOutcome>>,
    prices: HashMap<String, SettlementPrice>,
    book: BookTick,
}

impl TradeQueueActor {
    /// One tick: the previous day's equity close (at the first tick of a day), the queued
    /// market orders and — unless draining — the open orders, then the intraday equity point,
    /// in that order, in one trip to a database thread under one `ctx.wait`, so nothing else
    /// writes in between.
    fn tick(&mut self, snapshot: Arc<Snapshot>, with_book: bool, ctx: &mut Context<Self>) {
        let previous = std::mem::replace(&mut self.latest, snapshot.clone());
        let (mut close, mut intraday) = (None, None);
        if with_book {
            // The day's close: the balances after the day's last tick, at its prices, before
            // anything of the new day settles.
            if previous.tick > 0 && day_start(previous.at_ms) != day_start(snapshot.at_ms) {
                let at = day_start(previous.at_ms);
                close = Some(EquityRecord::new(at, equity::DAILY, &previous));
            }
            let step = snapshot.at_ms.div_euclid(self.rules.equity_step_ms.max(1));
            if snapshot.tick > 0 && step != self.last_equity_step {
                self.last_equity_step = step;
                intraday = Some(EquityRecord::new(
                    snapshot.at_ms,
                    equity::INTRADAY,
                    &snapshot,
                ));
            }
        }
        let batch = self.batch(&snapshot, with_book);
        if close.is_none() && batch.is_none() && intraday.is_none() {
            return;
        }
        let (orders, replies, prices, book) = match batch {
            Some(b) => (b.orders, Some(b.replies), b.prices, Some(b.book)),
            None => (Vec::new(), None, HashMap::new(), None),
        };
        let db = self.db.clone();
        let tick = snapshot.tick as i64;
        let costs = self.rules.costs;
        let count = orders.len();
        // The queued trades, for their subscribers' events (only when someone listens).
        let watched = (!self.watchers.is_empty()).then(|| orders.clone());
        let started = std::time::Instant::now();
        let run = async move {
            db.run(move |c| {
                let close = close.map(|r| r.write(c));
                let settled = book.map(|book| {
                    let terms = Terms {
                        tick: tick as u64,
                        prices: &prices,
                        costs: &costs,
                    };
                    settlement::settle(c, &orders, &terms, book, now_ms())
                });
                let intraday = intraday.map(|r| r.write(c));
                Ok((close, settled, intraday))
            })
            .await
        };
        ctx.wait(run.into_actor(self).map(move |result, act, ctx| {
            let (close, settled, intraday) = match result {
                Ok(parts) => parts,
                Err(e) => (None, Some(Err(e)), None),
            };
            for (what, written) in [("day close", close), ("intraday", intraday)] {
                if let Some(Err(e)) = written {
                    error!(act.log, "recording equity failed"; "point" => what, "error" => %e);
                }
            }
            if let Some(replies) = replies {
                let settled = settled.unwrap_or_else(|| {
                    Err(crate::db::DbError::Task(
                        "the settlement did not run".into(),
                    ))
                });
                act.settled(settled, (replies, watched), tick, count, started, ctx);
            }
        }));
    }

    /// The settlement work of a tick, if there is any: the queued orders and (`with_book`)
    /// what the book's plan says acts at this tick.
    fn batch(&mut self, snapshot: &Snapshot, with_book: bool) -> Option<Batch> {
        let allowance = self.allowance(snapshot);
        if self.queue.is_empty() && (self.book.is_empty() || !with_book) {
            return None;
        }
        let prices: HashMap<String, SettlementPrice> = snapshot
            .quotes
            .iter()
            .map(|(s, q)| {
                let price = SettlementPrice {
                    price: q.close,
                    stale: q.stale,
                };
                (s.clone(), price)
            })
            .collect();
        let plan = if with_book {
            self.book.plan(snapshot.at_ms, &prices)
        } else {
            Default::default()
        };
        if self.queue.is_empty()
            && plan.candidates.is_empty()
            && plan.expired.is_empty()
            && plan.unfilled_immediate.is_empty()
            && plan.triggered_resting.is_empty()
        {
            return None;
        }
        let queued = std::mem::take(&mut self.queue);
        metrics::gauge!("papertrader_trade_queue_depth").set(0.0);
        let (orders, replies): (Vec<Order>, Vec<_>) = queued.into_iter().unzip();
        let holdings: BTreeSet<(i64, String)> = orders
            .iter()
            .map(|o| (o.account_id, o.symbol.clone()))
            .chain(
                plan.candidates
                    .iter()
                    .chain(&plan.expired)
                    .chain(&plan.unfilled_immediate)
                    .map(|o| (o.account_id, o.symbol.clone())),
            )
            .collect();
        let accounts: BTreeSet<i64> = holdings.iter().map(|(a, _)| *a).collect();
        let book = BookTick {
            reserved: self.book.reservations().subset(&accounts, &holdings),
            plan,
            allowance,
        };
        Some(Batch {
            orders,
            replies,
            prices,
            book,
        })
    }

    /// After a settlement: the book follows what was committed, the watched accounts hear of
    /// it (`watched`: the queued orders, kept only when some account is watched) and the
    /// queued orders are answered. On an error the book is reloaded from the database (a commit whose answer
    /// was lost may still have happened).
    fn settled(
        &mut self,
        result: Result<settlement::Settled, crate::db::DbError>,
        (replies, watched): (Vec<oneshot::Sender<OrderOutcome>>, Option<Vec<Order>>),
        tick: i64,
        count: usize,
        started: std::time::Instant,
        ctx: &mut Context<Self>,
    ) {
        match result {
            Ok(settlement::Settled { outcomes, updates }) => {
                let at_ms = now_ms();
                let queued = watched
                    .iter()
                    .flatten()
                    .zip(&outcomes)
                    .map(|(order, outcome)| {
                        (
                            order.account_id,
                            events::from_outcome(order, outcome, at_ms),
                        )
                    });
                // An order the tick only re-filed (a stop that triggered without filling) has
                // nothing to tell.
                let resting = updates
                    .iter()
                    .filter(|u| u.fill.is_some() || !u.status.is_open())
                    .map(|u| (u.order.account_id, events::from_update(u, at_ms)));
                self.watchers.publish(queued.chain(resting));
                let filled = updates.iter().filter(|u| u.fill.is_some()).count();
                for update in updates {
                    self.book.remove(update.order.id, &self.rules.costs);
                    if update.status.is_open() {
                        self.book.insert(update.order, &self.rules.costs);
                    }
                }
                metrics::gauge!("papertrader_open_orders").set(self.book.len() as f64);
                metrics::counter!("papertrader_order_fills_total").increment(filled as u64);
                let settled = outcomes.iter().filter(|o| o.is_ok()).count();
                self.settled_total += settled as u64;
                let ms = started.elapsed().as_millis() as u64;
                metrics::histogram!("papertrader_settlement_seconds")
                    .record(started.elapsed().as_secs_f64());
                metrics::histogram!("papertrader_settlement_batch_orders").record(count as f64);
                metrics::counter!("papertrader_orders_settled_total").increment(settled as u64);
                metrics::counter!("papertrader_orders_refused_total")
                    .increment((count - settled) as u64);
                info!(self.log, "batch settled"; "tick" => tick, "orders" => count, "settled" => settled, "fills" => filled, "open" => self.book.len(), "ms" => ms);
                for (reply, outcome) in replies.into_iter().zip(outcomes) {
                    let _ = reply.send(outcome);
                }
            }
            Err(e) => {
                error!(self.log, "settlement failed; batch rolled back"; "tick" => tick, "orders" => count, "error" => %e);
                metrics::counter!("papertrader_settlement_failures_total").increment(1);
                for reply in replies {
                    let _ = reply.send(Err(OrderError::SettlementFailed));
                }
                self.reload_book(ctx);
            }
        }
    }

    /// Rebuilds the book from the open orders in the database, before anything else runs.
    fn reload_book(&mut self, ctx: &mut Context<Self>) {
        let db = self.db.clone();
        let load = async move { db.run(order_rows::load_open).await };
        ctx.wait(load.into_actor(self).map(|result, act, _| match result {
            Ok(rows) => {
                let mut book = OrderBook::new();
                for row in &rows {
                    book.insert(row.open_order(), &act.rules.costs);
                }
                act.book = book;
                info!(act.log, "order book reloaded"; "open" => act.book.len());
            }
            Err(e) => error!(act.log, "reloading the order book failed"; "error" => %e),
        }));
    }
}

/// Shutdown: settle the queued market orders now, at these prices (the latest tick's), and
/// refuse orders from then on (Unavailable). Open orders stay for the next start: they trade
/// at ticks after their placement, and this price is not one. Resolves once that last batch
/// is settled and answered.
#[derive(Message)]
#[rtype(result = "()")]
pub struct Drain(pub Arc<Snapshot>);

impl Handler<Drain> for TradeQueueActor {
    type Result = ResponseActFuture<Self, ()>;

    fn handle(&mut self, msg: Drain, ctx: &mut Context<Self>) -> Self::Result {
        self.closing = true;
        info!(self.log, "draining the trade queue"; "queued" => self.queue.len());
        // Settles with `ctx.wait`: this reply is sent once that batch has been answered.
        self.tick(msg.0, false, ctx);
        Box::pin(actix::fut::ready(()))
    }
}

/// A `placeOrder`: the order as the client sent it, checked against the protocol's limits.
#[derive(Debug, Clone)]
pub struct NewOrder {
    /// The ordering account.
    pub account_id: i64,
    /// Buy or sell.
    pub side: Side,
    /// Asset symbol (a traded one).
    pub symbol: String,
    /// Units.
    pub quantity: u64,
    /// Market, limit, stop or stop-limit.
    pub kind: OrderKind,
    /// Limit price, when the kind has one.
    pub limit: Option<Money>,
    /// Stop price, when the kind has one.
    pub stop: Option<Money>,
    /// Time in force.
    pub time_in_force: TimeInForce,
}

/// What placing an order answered: the order's id, status and placement time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Placed {
    /// Order id.
    pub order_id: u64,
    /// Status now.
    pub status: OrderStatus,
    /// When it was placed, ms.
    pub placed_at_ms: i64,
}

/// Place an open order: checked against the account's free cash or units, written, and filed
/// in the book; it trades from the next tick on.
#[derive(Message)]
#[rtype(result = "Result<Placed, OrderError>")]
pub struct PlaceOpenOrder {
    /// The order.
    pub order: NewOrder,
    /// Who placed it, from where, when, and the client's id for it.
    pub by: PlacedBy,
}

impl Handler<PlaceOpenOrder> for TradeQueueActor {
    type Result = ResponseActFuture<Self, Result<Placed, OrderError>>;

    fn handle(&mut self, msg: PlaceOpenOrder, ctx: &mut Context<Self>) -> Self::Result {
        if self.closing {
            return refuse(OrderError::ShuttingDown);
        }
        let PlaceOpenOrder { order: new, by } = msg;
        if let Err(e) = stop_not_reached(&new, &self.latest) {
            return refuse(e);
        }
        let reference = match (new.kind, new.side) {
            (_, Side::Sell) => Ok(0),
            (OrderKind::Limit | OrderKind::StopLimit, Side::Buy) => {
                Ok(new.limit.map_or(0, Money::micros))
            }
            (OrderKind::Stop, Side::Buy) => Ok(new.stop.map_or(0, Money::micros)),
            (OrderKind::Market, Side::Buy) => self
                .latest
                .quotes
                .get(&new.symbol)
                .map(|q| q.close.micros())
                .ok_or_else(|| OrderError::NoReferencePrice {
                    symbol: new.symbol.clone(),
                }),
        };
        let reference = match reference {
            Ok(r) => r,
            Err(e) => return refuse(e),
        };
        let costs = self.rules.costs;
        // A market-like buy reserves at the reference price moved by the full slippage.
        let reserve_price = match (new.side, new.kind) {
            (Side::Buy, OrderKind::Market | OrderKind::Stop) => CostModel {
                slippage_mode: Default::default(),
                ..costs
            }
            .fill_price(Side::Buy, Money(reference), None, 0, 0)
            .micros(),
            _ => reference,
        };
        let id = self.last_order_id + 1;
        let order = OpenOrder {
            id,
            account_id: new.account_id,
            side: new.side,
            symbol: new.symbol,
            kind: new.kind,
            quantity: new.quantity,
            filled: 0,
            limit: new.limit,
            stop: new.stop,
            time_in_force: new.time_in_force,
            triggered: false,
            expires_at: (new.time_in_force == TimeInForce::Day)
                .then(|| day_start(by.placed_at).saturating_add(DAY_MS)),
            reserve_price,
            filled_value: 0,
            commission: 0,
            placed_at: by.placed_at,
            client_ip: by.client_ip.clone(),
            worker_uuid: by.worker_uuid.clone(),
        };
        let reserved = self.book.reservations();
        let reserved_cash = reserved.cash_of(order.account_id);
        let reserved_units = reserved.units_of(order.account_id, &order.symbol);
        self.write(
            ctx,
            "placing an order",
            move |c| place(c, order, by, costs, reserved_cash, reserved_units),
            |act, placement| match placement? {
                Placement::New(order) => {
                    let placed = Placed {
                        order_id: order.id,
                        status: OrderStatus::New,
                        placed_at_ms: order.placed_at,
                    };
                    act.last_order_id = act.last_order_id.max(order.id);
                    // Built only when the account is watched.
                    act.watchers.publish(std::iter::once_with(|| {
                        let accepted = events::of_order(&order, AccountEventKind::Accepted, None);
                        (order.account_id, accepted)
                    }));
                    act.book.insert(order, &act.rules.costs);
                    metrics::gauge!("papertrader_open_orders").set(act.book.len() as f64);
                    Ok(placed)
                }
                Placement::Existing(placed) => Ok(placed),
            },
        )
    }
}

impl TradeQueueActor {
    /// Runs `work` on a database thread while nothing else of the actor runs (`ctx.wait`:
    /// placing, cancelling, resetting and settling never interleave), then `done` on the
    /// actor with its result; answers what `done` returns. A database error is logged as
    /// `what` and answered `SettlementFailed`.
    fn write<T, R>(
        &mut self,
        ctx: &mut Context<Self>,
        what: &'static str,
        work: impl FnOnce(&mut crate::db::AnyConnection) -> Result<T, crate::db::DbError>
            + Send
            + 'static,
        done: impl FnOnce(&mut Self, T) -> Result<R, OrderError> + 'static,
    ) -> ResponseActFuture<Self, Result<R, OrderError>>
    where
        T: Send + 'static,
        R: 'static,
    {
        let (reply, answer) = oneshot::channel();
        let db = self.db.clone();
        let run = async move { db.run(work).await };
        ctx.wait(run.into_actor(self).map(move |result, act, _| {
            let outcome = match result {
                Ok(value) => done(act, value),
                Err(e) => {
                    error!(act.log, "{} failed", what; "error" => %e);
                    Err(OrderError::SettlementFailed)
                }
            };
            let _ = reply.send(outcome);
        }));
        let answer = async move { answer.await.unwrap_or(Err(OrderError::Dropped)) };
        Box::pin(answer.into_actor(self))
    }
}

impl TradeQueueActor {
    /// Tells the subscribers of these open orders' accounts that they were cancelled.
    fn publish_cancelled(&self, ids: &[u64], reason: Option<ReasonCode>) {
        let cancelled = ids.iter().filter_map(|id| self.book.get(*id)).map(|order| {
            let event = events::of_order(order, AccountEventKind::Cancelled, reason);
            (order.account_id, event)
        });
        self.watchers.publish(cancelled);
    }
}

/// Start sending an account's events to a subscriber, after the fills it missed (those with
/// a transaction id above `since`). Answers the account's last transaction id at that point
/// (the subscriber's resume point).
#[derive(Message)]
#[rtype(result = "Result<u64, OrderError>")]
pub struct Watch {
    /// The account.
    pub account_id: i64,
    /// The subscriber.
    pub watcher: Watcher,
    /// Replay the fills after this transaction id first (none: no replay).
    pub since: Option<u64>,
}

impl Handler<Watch> for TradeQueueActor {
    type Result = ResponseActFuture<Self, Result<u64, OrderError>>;

    fn handle(&mut self, msg: Watch, ctx: &mut Context<Self>) -> Self::Result {
        let Watch {
            account_id,
            watcher,
            since,
        } = msg;
        // Read in the actor's serial order: no settlement commits between the read and the
        // registration, so every fill is either replayed or sent live.
        self.write(
            ctx,
            "reading missed fills",
            move |c| missed_fills(c, account_id, since),
            move |act, missed| {
                let missed = missed?;
                act.watchers.add(
                    account_id,
                    watcher,
                    events::replay(&missed.fills, &missed.orders),
                );
                Ok(missed.last_transaction)
            },
        )
    }
}

/// What a new subscriber missed.
struct Missed {
    fills: Vec<crate::db::accounts::TransactionRow>,
    orders: HashMap<i64, OrderRow>,
    last_transaction: u64,
}

/// The account's fills after transaction `since` (refused past [`MAX_REPLAY`]), the orders
/// they fill, and its last transaction id.
fn missed_fills(
    conn: &mut crate::db::AnyConnection,
    account_id: i64,
    since: Option<u64>,
) -> Result<Result<Missed, OrderError>, crate::db::DbError> {
    let last_transaction = crate::db::accounts::last_transaction_id(conn, account_id)?;
    let Some(since) = since else {
        return Ok(Ok(Missed {
            fills: Vec::new(),
            orders: HashMap::new(),
            last_transaction,
        }));
    };
    let from = i64::try_from(since).unwrap_or(i64::MAX).saturating_add(1);
    let fills = crate::db::accounts::transactions_limited(conn, account_id, from, MAX_REPLAY + 1)?;
    if fills.len() > MAX_REPLAY {
        return Ok(Err(OrderError::ReplayTooLong { max: MAX_REPLAY }));
    }
    let ids: Vec<i64> = fills.iter().filter_map(|f| f.order_id).collect();
    let orders = order_rows::of_account_many(conn, account_id, &ids)?
        .into_iter()
        .map(|row| (row.id, row))
        .collect();
    Ok(Ok(Missed {
        fills,
        orders,
        last_transaction: last_transaction.max(since),
    }))
}

/// Stop sending account events to the subscribers of a client connection (one watch of it,
/// or all), or of a whole worker link.
#[derive(Message)]
#[rtype(result = "()")]
pub enum Unwatch {
    /// One watch, or every watch of the connection (`None`).
    Connection {
        /// The worker link.
        link_id: u64,
        /// The worker's id for the connection.
        client_connection: u64,
        /// The watch (the subscribe's request id).
        watch: Option<u64>,
    },
    /// Every subscriber on a worker link.
    Link(u64),
}

impl Handler<Unwatch> for TradeQueueActor {
    type Result = ();

    fn handle(&mut self, msg: Unwatch, _: &mut Context<Self>) {
        match msg {
            Unwatch::Connection {
                link_id,
                client_connection,
                watch,
            } => self.watchers.remove(link_id, client_connection, watch),
            Unwatch::Link(link_id) => self.watchers.remove_link(link_id),
        }
    }
}

/// An immediate refusal, as a handler's answer.
fn refuse<R: 'static>(
    error: OrderError,
) -> ResponseActFuture<TradeQueueActor, Result<R, OrderError>> {
    Box::pin(actix::fut::ready(Err(error)))
}

/// A stop must wait for the price to reach it: a buy stop above the latest price, a sell stop
/// below it (one already reached would trigger at the next tick — a market order in
/// disguise). Without a price yet any stop is accepted.
fn stop_not_reached(order: &NewOrder, latest: &Snapshot) -> Result<(), OrderError> {
    let (Some(stop), Some(quote)) = (order.stop, latest.quotes.get(&order.symbol)) else {
        return Ok(());
    };
    let price = quote.close;
    match order.side {
        Side::Buy if stop <= price => Err(OrderError::StopAlreadyReached(format!(
            "a buy stop must be above the latest price ({price}); {} is not: buy now with a \
             market or limit order",
            stop
        ))),
        Side::Sell if stop >= price => Err(OrderError::StopAlreadyReached(format!(
            "a sell stop must be below the latest price ({price}); {} is not: sell now with a \
             market or limit order",
            stop
        ))),
        _ => Ok(()),
    }
}

/// What placing found: a new order, or the one its client order id placed before.
enum Placement {
    New(OpenOrder),
    Existing(Placed),
}

/// Checks the account's free funds and writes the order, in one transaction.
fn place(
    conn: &mut crate::db::AnyConnection,
    order: OpenOrder,
    by: PlacedBy,
    costs: CostModel,
    reserved_cash: i64,
    reserved_units: i64,
) -> Result<Result<Placement, OrderError>, crate::db::DbError> {
    use diesel::Connection;
    conn.transaction(|c| {
        settlement::take_write_lock(c)?;
        if let Some(id) = by.client_order_id.as_deref() {
            if let Some(row) = order_rows::by_client_id(c, order.account_id, id)? {
                let same = (row.side, row.symbol.as_str(), row.quantity)
                    == (
                        settlement::side_code(order.side),
                        order.symbol.as_str(),
                        order.quantity as i64,
                    );
                return Ok(if same {
                    Ok(Placement::Existing(Placed {
                        order_id: row.id as u64,
                        status: row.status(),
                        placed_at_ms: row.placed_at,
                    }))
                } else {
                    Err(OrderError::OrderIdReused {
                        id: id.to_owned(),
                        order_id: row.id as u64,
                    })
                });
            }
        }
        let (cash, held) = order_rows::funds(c, order.account_id, &order.symbol)?;
        let shortfall = match order.side {
            Side::Buy => {
                let needed = order.reserved_cash(&costs).unwrap_or(i64::MAX);
                let free = cash - reserved_cash;
                (needed > free).then_some(Rejection::InsufficientCash {
                    cost: Money(needed),
                    cash: Money(free),
                    reserved: Money(reserved_cash),
                })
            }
            Side::Sell => {
                let needed = order.reserved_units();
                let free = held - reserved_units;
                (needed > free).then_some(Rejection::InsufficientHoldings {
                    symbol: order.symbol.clone(),
                    quantity: needed,
                    held: free,
                    reserved: reserved_units,
                })
            }
        };
        if let Some(e) = shortfall {
            return Ok(Err(e.into()));
        }
        order_rows::insert(c, &OrderRow::placed(&order, &by))?;
        Ok(Ok(Placement::New(order)))
    })
}

/// Cancel an open order of an account. Answers the units it had filled.
#[derive(Message)]
#[rtype(result = "Result<u64, OrderError>")]
pub struct CancelOpenOrder {
    /// The account asking.
    pub account_id: i64,
    /// The order.
    pub order_id: u64,
}

impl Handler<CancelOpenOrder> for TradeQueueActor {
    type Result = ResponseActFuture<Self, Result<u64, OrderError>>;

    fn handle(&mut self, msg: CancelOpenOrder, ctx: &mut Context<Self>) -> Self::Result {
        let open = self
            .book
            .get(msg.order_id)
            .filter(|o| o.account_id == msg.account_id)
            .map(|o| o.filled);
        let (account, id) = (msg.account_id, msg.order_id);
        self.write(
            ctx,
            "cancelling an order",
            move |c| -> Result<Result<u64, OrderError>, crate::db::DbError> {
                match open {
                    Some(filled) => {
                        if order_rows::end(c, id, OrderStatus::Cancelled, 0, now_ms())? {
                            return Ok(Ok(filled));
                        }
                        // The book said open, the database did not: the database is right.
                        Ok(Err(OrderError::OrderNotOpen {
                            id,
                            status: "closed",
                        }))
                    }
                    None => Ok(Err(match order_rows::of_account(c, account, id)? {
                        None => OrderError::UnknownOrder(id),
                        Some(row) => OrderError::OrderNotOpen {
                            id,
                            status: row.status().name(),
                        },
                    })),
                }
            },
            move |act, cancelled| {
                let filled = cancelled?;
                act.publish_cancelled(&[id], None);
                act.book.remove(id, &act.rules.costs);
                Ok(filled)
            },
        )
    }
}

/// Reset an account: close its period, cancel its open orders, remove its holdings, and
/// start a new period at the starting cash. Answers the new period's number and cash.
#[derive(Message)]
#[rtype(result = "Result<(u64, i64), OrderError>")]
pub struct ResetAccount {
    /// The account.
    pub account_id: i64,
}

impl Handler<ResetAccount> for TradeQueueActor {
    type Result = ResponseActFuture<Self, Result<(u64, i64), OrderError>>;

    fn handle(&mut self, msg: ResetAccount, ctx: &mut Context<Self>) -> Self::Result {
        if self.closing {
            return refuse(OrderError::ShuttingDown);
        }
        let prices = self.latest.closes();
        let (account, cash) = (msg.account_id, self.rules.starting_cash);
        self.write(
            ctx,
            "resetting an account",
            move |c| periods::reset(c, account, cash, &prices, now_ms()),
            move |act, reset| {
                let done = reset.ok_or(OrderError::Rejected(Rejection::UnknownAccount))?;
                act.publish_cancelled(&done.cancelled_orders, Some(ReasonCode::AccountReset));
                for id in &done.cancelled_orders {
                    act.book.remove(*id, &act.rules.costs);
                }
                info!(act.log, "account reset"; "account" => account, "period" => done.period, "cancelled_orders" => done.cancelled_orders.len());
                Ok((done.period.max(0) as u64, done.cash))
            },
        )
    }
}

/// The cash an account's open orders hold back, micro-units.
#[derive(Message)]
#[rtype(result = "i64")]
pub struct ReservedCash(pub i64);

impl Handler<ReservedCash> for TradeQueueActor {
    type Result = i64;

    fn handle(&mut self, msg: ReservedCash, _: &mut Context<Self>) -> i64 {
        self.book.reservations().cash_of(msg.0)
    }
}

/// Counters for status and tests.
#[derive(Message)]
#[rtype(result = "QueueStats")]
pub struct GetQueueStats;

/// Queue counters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, MessageResponse)]
pub struct QueueStats {
    /// Orders waiting for the next tick.
    pub queued: usize,
    /// Orders settled since start.
    pub settled_total: u64,
}

impl Handler<GetQueueStats> for TradeQueueActor {
    type Result = QueueStats;

    fn handle(&mut self, _: GetQueueStats, _: &mut Context<Self>) -> QueueStats {
        QueueStats {
            queued: self.queue.len(),
            settled_total: self.settled_total,
        }
    }
}
