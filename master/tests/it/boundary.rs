//! The UTC day boundary, driven by ticks with chosen times sent straight to the trade queue:
//! a day order expires at the first tick at or after the next midnight (not one millisecond
//! before), and the day's equity close is the balances after its last tick at that tick's
//! prices, recorded before the new day's first tick settles.

use std::collections::HashMap;
use std::sync::Arc;

use actix::Actor;
use diesel::prelude::*;
use papertrader_master::actors::trade_queue::{
    GetQueueStats, NewOrder, PlaceOpenOrder, Settle, StoredOrders, TradeQueueActor, TradingRules,
};
use papertrader_master::db::accounts::{self, NewAccount};
use papertrader_master::db::orders::PlacedBy;
use papertrader_master::db::schema::{equity_points, holdings, orders};
use papertrader_master::db::Db;
use papertrader_master::market::book::Snapshot;
use papertrader_protocol::data::{OrderKind, Quote, Side, TimeInForce};
use papertrader_protocol::Money;

use crate::support::*;

const DAY: i64 = 86_400_000;
/// 2026-01-05T00:00:00Z.
const MIDNIGHT: i64 = 1_767_571_200_000;

/// Sends a tick and waits until the queue has done everything it started for it (a message
/// sent after it is handled only once the tick's database work is done).
async fn tick(queue: &actix::Addr<TradeQueueActor>, snapshot: Arc<Snapshot>) {
    queue.send(Settle(snapshot)).await.unwrap();
    queue.send(GetQueueStats).await.unwrap();
}

fn snapshot(tick: u64, at_ms: i64, close: i64) -> Arc<Snapshot> {
    let quote = Quote {
        symbol: "KO".into(),
        open: Money(close),
        high: Money(close),
        low: Money(close),
        close: Money(close),
        volume: 1_000,
        at_ms,
        stale: false,
    };
    Arc::new(Snapshot {
        tick,
        at_ms,
        quotes: HashMap::from([("KO".to_owned(), quote)]),
    })
}

async fn a_day_order_expires_at_midnight_and_the_close_is_the_last_ticks(db: TestDb) {
    let pool = Db::open(&db.url, 2).unwrap();
    let account = pool
        .run_blocking(|c| {
            let new = NewAccount::new("dana", "dana@example.com", Some("x"), 1_000_000_000, 0);
            let id = accounts::insert(c, &new)?.expect("a new name");
            diesel::insert_into(holdings::table)
                .values((
                    holdings::account_id.eq(id),
                    holdings::symbol.eq("KO"),
                    holdings::quantity.eq(10i64),
                ))
                .execute(c)?;
            Ok(id)
        })
        .unwrap();
    let rules = TradingRules {
        equity_step_ms: DAY,
        starting_cash: 1_000_000_000,
        ..TradingRules::default()
    };
    let log = slog::Logger::root(slog::Discard, slog::o!());
    let queue =
        TradeQueueActor::new(pool.clone(), 100, rules, StoredOrders::default(), log).start();

    // Yesterday's last tick: KO at 50.00; a day buy limit far below it rests.
    tick(&queue, snapshot(1, MIDNIGHT - 10_000, 50_000_000)).await;
    let placed = queue
        .send(PlaceOpenOrder {
            order: NewOrder {
                account_id: account,
                side: Side::Buy,
                symbol: "KO".into(),
                quantity: 2,
                kind: OrderKind::Limit,
                limit: Some(Money(1_000_000)),
                stop: None,
                time_in_force: TimeInForce::Day,
            },
            by: PlacedBy {
                placed_at: MIDNIGHT - 5_000,
                client_order_id: None,
                client_ip: "192.0.2.1".into(),
                worker_uuid: None,
            },
        })
        .await
        .unwrap()
        .expect("placed");
    let status = |pool: &Db| {
        pool.run_blocking(|c| {
            Ok(orders::table
                .filter(orders::id.eq(placed.order_id as i64))
                .select(orders::status)
                .first::<i32>(c)?)
        })
        .unwrap()
    };
    // One millisecond before midnight it is still open (0 new)…
    tick(&queue, snapshot(2, MIDNIGHT - 1, 51_000_000)).await;
    assert_eq!(status(&pool), 0, "{}", db.backend);
    // …at midnight it expires (4), in the new day's first tick.
    tick(&queue, snapshot(3, MIDNIGHT, 60_000_000)).await;
    assert_eq!(status(&pool), 4, "{}", db.backend);

    // The close of 2026-01-04: cash plus 10 KO at the day's last tick's 51.00 (not the new
    // day's 60.00).
    let points: Vec<(i32, i64, i64, i64)> = pool
        .run_blocking(|c| {
            Ok(equity_points::table
                .filter(equity_points::account_id.eq(account))
                .order((equity_points::resolution.asc(), equity_points::at.asc()))
                .select((
                    equity_points::resolution,
                    equity_points::at,
                    equity_points::equity,
                    equity_points::cash,
                ))
                .load(c)?)
        })
        .unwrap();
    let daily: Vec<_> = points.iter().filter(|p| p.0 == 1).collect();
    assert_eq!(daily.len(), 1, "{}: {points:?}", db.backend);
    assert_eq!(
        (daily[0].1, daily[0].2),
        (MIDNIGHT - DAY, 1_000_000_000 + 10 * 51_000_000)
    );
    // Intraday points at the first tick of each step (a day here): the first tick, then
    // midnight's.
    let intraday: Vec<(i64, i64)> = points
        .iter()
        .filter(|p| p.0 == 0)
        .map(|p| (p.1, p.2))
        .collect();
    assert_eq!(
        intraday,
        vec![
            (MIDNIGHT - 10_000, 1_000_000_000 + 10 * 50_000_000),
            (MIDNIGHT, 1_000_000_000 + 10 * 60_000_000)
        ],
        "{}",
        db.backend
    );
}
on_both_backends!(a_day_order_expires_at_midnight_and_the_close_is_the_last_ticks);
