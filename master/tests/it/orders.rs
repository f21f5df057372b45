//! placeOrder, cancelOrder and getOrders over real sockets: orders rest until a tick fills
//! them, reservations keep anything from being over-committed, cancels and fills never both
//! happen, and every balance equals the replayed history with its commission.

use std::collections::HashMap;
use std::time::Duration;

use papertrader_client::Connection;
use papertrader_master::config::{MasterConfig, TradingConfig};
use papertrader_master::db::{orders as order_rows, Db};
use papertrader_protocol::data::{DataBody, OrderKind, OrderList, OrderStatus, Side};
use papertrader_protocol::*;
use rand::{Rng, SeedableRng};

use crate::support::*;

fn cancel(session: &str, order_id: u64) -> Message {
    Message::CancelOrder(CancelOrder {
        session_id: session.into(),
        order_id,
    })
}

async fn accepted(conn: &mut Connection, request: Message) -> OrderAccepted {
    match conn.call(&request).await {
        Ok(Message::OrderAccepted(a)) => a,
        other => panic!("not accepted: {other:?}"),
    }
}

async fn list(data: &mut Connection, session: &str, include_closed: bool) -> OrderList {
    let request = Message::GetOrders(OrdersQuery {
        session_id: session.into(),
        include_closed,
    });
    match data.call_data(&request, |_, _| {}).await.expect("orders") {
        DataBody::Orders(o) => o,
        other => panic!("not orders: {other:?}"),
    }
}

async fn price(data: &mut Connection, symbol: &str) -> Money {
    let request = Message::GetAssetValueCurrent(AssetQuery {
        symbol: symbol.into(),
    });
    match data.call_data(&request, |_, _| {}).await.expect("quote") {
        DataBody::Quote(q) => q.close,
        other => panic!("not a quote: {other:?}"),
    }
}

/// Waits until order `id` has left the open orders.
async fn until_closed(data: &mut Connection, session: &str, id: u64) -> data::OrderRecord {
    for _ in 0..100 {
        let all = list(data, session, true).await;
        if let Some(o) = all.orders.iter().find(|o| o.order_id == id) {
            if !o.status.is_open() {
                return o.clone();
            }
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("order {id} never closed");
}

async fn orders_rest_fill_and_cancel_as_documented(db: TestDb) {
    let master = master_with(MasterConfig {
        trading: TradingConfig {
            commission_per_order: Some("1.00".into()),
            commission_per_unit: Some("0.01".into()),
            ..TradingConfig::default()
        },
        ..test_config(&db)
    })
    .await;
    let Trader {
        mut c,
        s,
        mut d,
        sd: s_data,
    } = trader(master.local_addr, "olga").await;
    let ko = price(&mut d, "KO").await;

    // A buy limit well above the price crosses at the next tick and fills at the tick's price
    // (never above the limit), paying 1.00 + 10 × 0.01 commission.
    let high = accepted(
        &mut c,
        limit_order(&s, Side::Buy, "KO", 10, Money(ko.micros() * 2)),
    )
    .await;
    assert_eq!(high.status, OrderStatus::New, "{}", db.backend);
    let filled = until_closed(&mut d, &s_data, high.order_id).await;
    assert_eq!(
        (filled.status, filled.filled_quantity, filled.commission),
        (OrderStatus::Filled, 10, Money(1_100_000)),
        "{}",
        db.backend
    );
    let fill_price = filled.average_price.expect("an average price");
    let trades = transactions(&mut d, &s_data, "olga").await;
    let last = trades.entries.last().expect("the fill is a trade");
    assert_eq!(
        (last.symbol.as_str(), last.quantity, last.price),
        ("KO", 10, fill_price)
    );
    let cash_after_fill =
        Money::from_units(100_000).micros() - fill_price.micros() * 10 - 1_100_000;
    assert_eq!(
        last.cash_after,
        Some(Money(cash_after_fill)),
        "{}",
        db.backend
    );

    // A buy limit far below rests; it reserves its cash (limit × units + most commission), so
    // a second order or a market purchase beyond what is left is refused.
    let low_price = Money(ko.micros() / 10 / 10_000 * 10_000);
    let free = cash_after_fill;
    let affordable = ((free - 1_000_000) / (low_price.micros() + 10_000)) as u64;
    let resting = accepted(
        &mut c,
        limit_order(&s, Side::Buy, "KO", affordable, low_price),
    )
    .await;
    let refused = c
        .call(&limit_order(&s, Side::Buy, "KO", 1, low_price))
        .await;
    assert_eq!(
        reason(refused),
        ReasonCode::InsufficientCash,
        "{}",
        db.backend
    );
    assert_eq!(
        reason(order(&mut c, true, &s, "IBM", 1).await),
        ReasonCode::InsufficientCash,
        "{}: a market purchase cannot spend reserved cash",
        db.backend
    );
    // Sales reserve units too: 10 held, 6 offered, so 5 more are refused.
    let sell = accepted(
        &mut c,
        limit_order(&s, Side::Sell, "KO", 6, Money::from_units(1_000_000)),
    )
    .await;
    assert_eq!(
        reason(
            c.call(&limit_order(
                &s,
                Side::Sell,
                "KO",
                5,
                Money::from_units(1_000_000)
            ))
            .await
        ),
        ReasonCode::InsufficientHoldings
    );
    assert_eq!(
        reason(order(&mut c, false, &s, "KO", 5).await),
        ReasonCode::InsufficientHoldings,
        "{}: a market sale cannot sell reserved units",
        db.backend
    );
    let open = list(&mut d, &s_data, false).await;
    let open_ids: Vec<u64> = open.orders.iter().map(|o| o.order_id).collect();
    assert_eq!(
        open_ids,
        vec![sell.order_id, resting.order_id],
        "newest first"
    );

    // Cancelling frees the reservation at once; the order stays in the history.
    match c.call(&cancel(&s, resting.order_id)).await.unwrap() {
        Message::CancelSuccess(x) => {
            assert_eq!((x.order_id, x.filled_quantity), (resting.order_id, 0))
        }
        other => panic!("{other:?}"),
    }
    accepted(&mut c, limit_order(&s, Side::Buy, "KO", 1, low_price)).await;
    assert_eq!(
        reason(c.call(&cancel(&s, resting.order_id)).await),
        ReasonCode::OrderNotOpen
    );
    assert_eq!(
        reason(c.call(&cancel(&s, high.order_id)).await),
        ReasonCode::OrderNotOpen
    );
    assert_eq!(
        reason(c.call(&cancel(&s, 999_999)).await),
        ReasonCode::UnknownOrder
    );
    // Someone else's order is unknown to you.
    let mut e = Connection::connect(master.local_addr).await.unwrap();
    let other = new_user(&mut e, "pete").await;
    assert_eq!(
        reason(e.call(&cancel(&other, sell.order_id)).await),
        ReasonCode::UnknownOrder
    );
    let all = list(&mut d, &s_data, true).await;
    let cancelled = all
        .orders
        .iter()
        .find(|o| o.order_id == resting.order_id)
        .unwrap();
    assert_eq!(cancelled.status, OrderStatus::Cancelled);

    // A stop already reached would trigger at once: refused, as are sub-cent prices.
    let stop = |side, stop: Money| {
        Message::PlaceOrder(PlaceOrder {
            session_id: s.clone(),
            side,
            symbol: "KO".into(),
            quantity: 1,
            kind: OrderKind::Stop,
            limit_price: None,
            stop_price: Some(stop),
            time_in_force: data::TimeInForce::GoodTillCancelled,
            client_order_id: None,
        })
    };
    let below = Money((ko.micros() / 2 / 10_000) * 10_000);
    let above = Money((ko.micros() * 2 / 10_000) * 10_000);
    assert_eq!(
        reason(c.call(&stop(Side::Buy, below)).await),
        ReasonCode::InvalidOrder
    );
    assert_eq!(
        reason(c.call(&stop(Side::Sell, above)).await),
        ReasonCode::InvalidOrder
    );
    let Ok(Message::OrderAccepted(waiting)) = c.call(&stop(Side::Buy, above)).await else {
        panic!("a buy stop above the price is accepted")
    };
    let listed = list(&mut d, &s_data, false).await;
    let waiting = listed
        .orders
        .iter()
        .find(|o| o.order_id == waiting.order_id)
        .expect("listed as open");
    assert!(!waiting.triggered && waiting.status == OrderStatus::New);
    assert_eq!(
        reason(
            c.call(&limit_order(&s, Side::Buy, "KO", 1, Money(1_001_000)))
                .await
        ),
        ReasonCode::InvalidOrder
    );

    // Bad combinations are refused before anything is stored.
    let mut bad = limit_order(&s, Side::Buy, "KO", 1, low_price);
    if let Message::PlaceOrder(p) = &mut bad {
        p.kind = OrderKind::Market;
    }
    assert_eq!(reason(c.call(&bad).await), ReasonCode::InvalidOrder);
    assert_eq!(
        reason(
            c.call(&limit_order(&s, Side::Buy, "NOPE", 1, low_price))
                .await
        ),
        ReasonCode::UnknownAsset
    );
}
on_both_backends!(orders_rest_fill_and_cancel_as_documented);

async fn a_cancel_and_a_fill_of_the_same_order_never_both_happen(db: TestDb) {
    let master = master_with(MasterConfig {
        update_interval_ms: 40,
        ..test_config(&db)
    })
    .await;
    let Trader {
        mut c,
        s,
        mut d,
        sd,
    } = trader(master.local_addr, "race").await;
    let ko = price(&mut d, "KO").await;
    // Crossing orders cancelled right away, racing the next tick: each either fills (and the
    // cancel is refused: not open) or is cancelled (and never fills).
    let (mut cancelled, mut filled) = (0, 0);
    for _ in 0..30 {
        let a = accepted(
            &mut c,
            limit_order(&s, Side::Buy, "KO", 1, Money(ko.micros() * 2)),
        )
        .await;
        tokio::time::sleep(Duration::from_millis(rand::thread_rng().gen_range(0..50))).await;
        match c.call(&cancel(&s, a.order_id)).await {
            Ok(Message::CancelSuccess(x)) => {
                assert_eq!(x.filled_quantity, 0);
                cancelled += 1;
            }
            Err(e) if e.reason() == Some(ReasonCode::OrderNotOpen) => filled += 1,
            other => panic!("{other:?}"),
        }
    }
    let all = list(&mut d, &sd, true).await;
    let statuses: HashMap<OrderStatus, usize> =
        all.orders.iter().fold(HashMap::new(), |mut m, o| {
            *m.entry(o.status).or_default() += 1;
            m
        });
    assert_eq!(
        (
            statuses.get(&OrderStatus::Cancelled).copied().unwrap_or(0),
            statuses.get(&OrderStatus::Filled).copied().unwrap_or(0)
        ),
        (cancelled, filled),
        "{}",
        db.backend
    );
    let trades = transactions(&mut d, &sd, "race").await;
    assert_eq!(
        trades.entries.len(),
        filled,
        "{}: one trade per fill, none for a cancel",
        db.backend
    );
}
on_both_backends!(a_cancel_and_a_fill_of_the_same_order_never_both_happen);

const TRADERS: usize = 64;
const ACCOUNTS: usize = 16;

async fn reservations_hold_under_64_concurrent_traders(db: TestDb) {
    let master = master_with(MasterConfig {
        update_interval_ms: 50,
        starting_cash: "20000.00".into(),
        trading: TradingConfig {
            commission_per_order: Some("0.50".into()),
            commission_per_unit: Some("0.003".into()),
            slippage_bps: 3,
            participation_cap_bps: Some(2_000),
            ..TradingConfig::default()
        },
        ..test_config(&db)
    })
    .await;
    let mut setup = Connection::connect(master.local_addr).await.unwrap();
    for a in 0..ACCOUNTS {
        register(&mut setup, &format!("res{a}")).await.unwrap();
    }
    let sd = login(&mut setup, "res0", true).await.unwrap();
    switch(&mut setup, &sd, ConnectionState::DataTransfer)
        .await
        .unwrap();
    let nvda = price(&mut setup, "NVDA").await.micros();
    let mut tasks = Vec::new();
    for t in 0..TRADERS {
        let addr = master.local_addr;
        tasks.push(tokio::spawn(async move {
            let mut rng = rand::rngs::StdRng::seed_from_u64(t as u64);
            let mut c = Connection::connect(addr).await.unwrap();
            let s = login(&mut c, &format!("res{}", t % ACCOUNTS), true)
                .await
                .unwrap();
            let mut placed = Vec::new();
            for _ in 0..10 {
                let side = if rng.gen_bool(0.6) {
                    Side::Buy
                } else {
                    Side::Sell
                };
                // Around the price: some cross at once, some rest.
                let p = Money((nvda * rng.gen_range(97..104) / 100 / 10_000 * 10_000).max(10_000));
                match c
                    .call(&limit_order(&s, side, "NVDA", rng.gen_range(1..12), p))
                    .await
                {
                    Ok(Message::OrderAccepted(a)) => placed.push(a.order_id),
                    Err(e) => assert!(
                        matches!(
                            e.reason(),
                            Some(ReasonCode::InsufficientCash | ReasonCode::InsufficientHoldings)
                        ),
                        "{e}"
                    ),
                    Ok(other) => panic!("{other:?}"),
                }
                if rng.gen_bool(0.25) {
                    if let Some(id) = placed.pop() {
                        let _ = c.call(&cancel(&s, id)).await;
                    }
                }
                tokio::time::sleep(Duration::from_millis(rng.gen_range(0..30))).await;
            }
            placed.len()
        }));
    }
    let mut placed = 0;
    for task in tasks {
        placed += task.await.unwrap();
    }
    assert!(
        placed > TRADERS * 2,
        "{}: only {placed} accepted",
        db.backend
    );
    // Let a few ticks fill what crosses.
    tokio::time::sleep(Duration::from_millis(400)).await;

    let url = db.url.clone();
    let problems = tokio::task::spawn_blocking(move || {
        let db = Db::open(&url, 1).unwrap();
        db.run_blocking(|c| {
            let mut problems = Vec::new();
            let open = order_rows::load_open(c)?;
            let mut fills = 0;
            for a in 0..ACCOUNTS {
                let Replayed {
                    account,
                    held,
                    trades,
                    problems: replay_problems,
                } = replay_history(c, &format!("res{a}"), Money::from_units(20_000).micros())?;
                fills += trades.len();
                problems.extend(replay_problems);
                // What the open orders reserve fits in what the account has.
                let mine = open.iter().filter(|o| o.account_id == account.id);
                let (mut units, mut reserved) = (0, 0);
                for o in mine {
                    let remaining = o.quantity - o.filled_quantity;
                    if o.side == 0 {
                        reserved += remaining * o.reserve_price + 500_000 + 3_000 * remaining;
                    } else {
                        units += remaining;
                    }
                }
                if reserved > account.cash || units > held.get("NVDA").copied().unwrap_or(0) {
                    problems.push(format!(
                        "res{a}: reserves {reserved} and {units} units of {} and {held:?}",
                        account.cash
                    ));
                }
            }
            Ok((problems, fills, open.len()))
        })
        .unwrap()
    })
    .await
    .unwrap();
    let (problems, fills, open) = problems;
    assert!(problems.is_empty(), "{}: {problems:#?}", db.backend);
    assert!(
        fills > 20 && open > 20,
        "{}: {fills} fills, {open} open: the test must exercise both",
        db.backend
    );
}
on_both_backends!(reservations_hold_under_64_concurrent_traders);
