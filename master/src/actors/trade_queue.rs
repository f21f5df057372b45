//! `TradeQueueActor`: every purchase and sale waits here for the next price tick, then the
//! whole queue settles at that tick's prices in one database transaction, in arrival order.
//! Each order is answered only after the commit (or with a failure if the commit failed,
//! in which case nothing of the batch was applied).

use std::collections::HashMap;
use std::sync::Arc;

use actix::prelude::*;
use slog::{error, info, Logger};
use tokio::sync::oneshot;

use super::now_ms;
use crate::db::settlement;
use crate::db::Db;
use crate::domain::orders::{Order, OrderError, OrderOutcome};
use crate::domain::settlement::SettlementPrice;
use crate::market::book::Snapshot;

/// The trade queue.
pub struct TradeQueueActor {
    db: Db,
    capacity: usize,
    queue: Vec<(Order, oneshot::Sender<OrderOutcome>)>,
    log: Logger,
    settled_total: u64,
    /// Shutting down: the last batch has been settled, new orders are refused.
    closing: bool,
}

impl TradeQueueActor {
    /// A queue holding at most `capacity` orders between ticks.
    pub fn new(db: Db, capacity: usize, log: Logger) -> Self {
        Self {
            db,
            capacity: capacity.max(1),
            queue: Vec::new(),
            log,
            settled_total: 0,
            closing: false,
        }
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
        if self.queue.is_empty() {
            return;
        }
        let batch = std::mem::take(&mut self.queue);
        metrics::gauge!("papertrader_trade_queue_depth").set(0.0);
        let (orders, replies): (Vec<Order>, Vec<_>) = batch.into_iter().unzip();
        let snapshot = msg.0;
        let prices: HashMap<String, SettlementPrice> = snapshot
            .quotes
            .iter()
            .map(|(s, q)| {
                (
                    s.clone(),
                    SettlementPrice {
                        price: q.close,
                        stale: q.stale,
                    },
                )
            })
            .collect();
        let db = self.db.clone();
        let tick = snapshot.tick as i64;
        let count = orders.len();
        let started = std::time::Instant::now();
        let work = async move {
            db.run(move |c| settlement::settle(c, &orders, &prices, tick, now_ms()))
                .await
        };
        // `wait`: the next batch cannot start before this one has committed and answered.
        ctx.wait(work.into_actor(self).map(move |result, act, _| match result {
            Ok(outcomes) => {
                let settled = outcomes.iter().filter(|o| o.is_ok()).count();
                act.settled_total += settled as u64;
                let ms = started.elapsed().as_millis() as u64;
                metrics::histogram!("papertrader_settlement_seconds")
                    .record(started.elapsed().as_secs_f64());
                metrics::histogram!("papertrader_settlement_batch_orders").record(count as f64);
                metrics::counter!("papertrader_orders_settled_total").increment(settled as u64);
                metrics::counter!("papertrader_orders_refused_total")
                    .increment((count - settled) as u64);
                info!(act.log, "batch settled"; "tick" => tick, "orders" => count, "settled" => settled, "ms" => ms);
                for (reply, outcome) in replies.into_iter().zip(outcomes) {
                    let _ = reply.send(outcome);
                }
            }
            Err(e) => {
                error!(act.log, "settlement failed; batch rolled back"; "tick" => tick, "orders" => count, "error" => %e);
                metrics::counter!("papertrader_settlement_failures_total").increment(1);
                for reply in replies {
                    let _ = reply.send(Err(OrderError::SettlementFailed));
                }
            }
        }));
    }
}

/// Shutdown: settle everything queued now, at these prices (the latest tick's), and refuse
/// orders from then on (Unavailable). Resolves once that last batch is settled and answered.
#[derive(Message)]
#[rtype(result = "()")]
pub struct Drain(pub Arc<Snapshot>);

impl Handler<Drain> for TradeQueueActor {
    type Result = ResponseActFuture<Self, ()>;

    fn handle(&mut self, msg: Drain, ctx: &mut Context<Self>) -> Self::Result {
        self.closing = true;
        info!(self.log, "draining the trade queue"; "queued" => self.queue.len());
        // Settles with `ctx.wait`: this reply is sent once that batch has been answered.
        self.handle(Settle(msg.0), ctx);
        Box::pin(actix::fut::ready(()))
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
