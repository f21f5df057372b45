//! Portfolio P&L and resets over real sockets: the summary adds up to the equity change, a
//! reset with orders open cancels them and starts over while the login, the session and the
//! old period's trades stay.

use std::time::Duration;

use papertrader_client::Connection;
use papertrader_master::config::{MasterConfig, TradingConfig};
use papertrader_protocol::data::{DataBody, PeriodList, Side};
use papertrader_protocol::*;

use crate::support::*;

async fn data(conn: &mut Connection, request: Message) -> DataBody {
    conn.call_data(&request, |_, _| {}).await.expect("data")
}

async fn pnl_adds_up_and_a_reset_with_orders_open_starts_over(db: TestDb) {
    let master = master_with(MasterConfig {
        starting_cash: "50000.00".into(),
        trading: TradingConfig {
            commission_per_order: Some("2.00".into()),
            slippage_bps: 4,
            ..TradingConfig::default()
        },
        ..test_config(&db)
    })
    .await;
    let Trader {
        mut c,
        s,
        mut d,
        sd,
    } = trader(master.local_addr, "rita").await;

    for (buy, symbol, qty) in [(true, "AAPL", 20), (true, "KO", 30), (false, "AAPL", 5)] {
        order(&mut c, buy, &s, symbol, qty).await.expect("settles");
    }
    // Wait a tick or two so prices move away from the fills.
    tokio::time::sleep(Duration::from_millis(400)).await;
    let p = portfolio(&mut d, &sd, "rita").await;
    let summary = p.summary.clone().expect("the owner sees the summary");
    let cash = p.cash.unwrap().micros();
    let holdings_value: i64 = p
        .holdings
        .iter()
        .map(|h| h.price.micros() * h.quantity as i64)
        .sum();
    let equity = summary.equity.micros();
    assert_eq!(equity, cash + holdings_value, "{}", db.backend);
    assert_eq!(summary.starting_cash, Money::from_units(50_000));
    assert_eq!(
        summary.commissions,
        Money::from_units(6),
        "three fills at 2.00"
    );
    // Prices can move between the summary's and the holdings' reads only if a tick lands in
    // between; the identity is within the one read.
    assert_eq!(
        summary.realised_pnl.micros() + summary.unrealised_pnl.micros(),
        equity - 50_000_000_000,
        "{}: realised + unrealised = equity − starting cash",
        db.backend
    );
    assert_eq!(
        summary.return_ppm,
        (equity - 50_000_000_000) * 1_000_000 / 50_000_000_000
    );
    let aapl = p.holdings.iter().find(|h| h.symbol == "AAPL").unwrap();
    assert_eq!(aapl.quantity, 15);
    assert!(aapl.average_cost.is_some() && aapl.unrealised_pnl.is_some());
    // Others see neither cost nor P&L.
    let mut e = Connection::connect(master.local_addr).await.unwrap();
    let other = new_user(&mut e, "sam").await;
    switch(&mut e, &other, ConnectionState::DataTransfer)
        .await
        .unwrap();
    let seen = portfolio(&mut e, &other, "rita").await;
    assert!(seen.summary.is_none() && seen.holdings.iter().all(|h| h.average_cost.is_none()));

    // A resting order, then a reset: the order is cancelled (AccountReset), holdings go,
    // cash is the starting cash again, the session still works.
    let resting = match c
        .call(&limit_order(&s, Side::Buy, "KO", 5, Money::from_units(1)))
        .await
    {
        Ok(Message::OrderAccepted(a)) => a.order_id,
        other => panic!("{other:?}"),
    };
    // Its reservation shows as reserved cash, and buying power is what is left.
    let summary = portfolio(&mut d, &sd, "rita").await.summary.unwrap();
    assert_eq!(
        summary.reserved_cash,
        Money::from_units(5 + 2),
        "5 × 1.00 + commission"
    );
    let cash = portfolio(&mut d, &sd, "rita").await.cash.unwrap();
    assert_eq!(summary.buying_power.micros(), cash.micros() - 7_000_000);
    let old_trades = transactions(&mut d, &sd, "rita").await.entries;
    assert_eq!(old_trades.len(), 3);
    match c
        .call(&Message::ResetAccount(SessionToken {
            session_id: s.clone(),
        }))
        .await
        .unwrap()
    {
        Message::ResetSuccess(r) => {
            assert_eq!(
                (r.period, r.cash),
                (1, Money::from_units(50_000)),
                "{}",
                db.backend
            )
        }
        other => panic!("{other:?}"),
    }
    let p = portfolio(&mut d, &sd, "rita").await;
    assert_eq!(p.cash, Some(Money::from_units(50_000)));
    assert!(p.holdings.is_empty());
    let summary = p.summary.unwrap();
    assert_eq!((summary.period, summary.return_ppm), (1, 0));
    assert!(transactions(&mut d, &sd, "rita").await.entries.is_empty());
    let all = match data(
        &mut d,
        Message::GetOrders(OrdersQuery {
            session_id: sd.clone(),
            include_closed: true,
        }),
    )
    .await
    {
        DataBody::Orders(o) => o,
        other => panic!("{other:?}"),
    };
    assert!(all.orders.is_empty(), "the new period has no orders yet");
    // The cancelled order is not open any more and cannot be cancelled.
    let cancel = c
        .call(&Message::CancelOrder(CancelOrder {
            session_id: s.clone(),
            order_id: resting,
        }))
        .await;
    assert_eq!(reason(cancel), ReasonCode::OrderNotOpen);

    // The old period is still there to read.
    let DataBody::Periods(PeriodList { periods, .. }) = data(
        &mut d,
        Message::GetPeriods(SessionToken {
            session_id: sd.clone(),
        }),
    )
    .await
    else {
        panic!("not periods")
    };
    assert_eq!(periods.len(), 2);
    assert_eq!((periods[0].period, periods[0].trades), (0, 3));
    assert_eq!(periods[0].starting_cash, Money::from_units(50_000));
    assert!(periods[0].ending_equity.is_some() && periods[1].ended_at_ms.is_none());
    let DataBody::Transactions(t) = data(
        &mut d,
        Message::GetPeriodTransactions(PeriodQuery {
            session_id: sd.clone(),
            period: 0,
        }),
    )
    .await
    else {
        panic!("not transactions")
    };
    assert_eq!(t.entries, old_trades);
    let unknown = d
        .call_data(
            &Message::GetPeriodTransactions(PeriodQuery {
                session_id: sd.clone(),
                period: 9,
            }),
            |_, _| {},
        )
        .await;
    assert_eq!(reason(unknown), ReasonCode::NoData);

    // Trading goes on in the new period, from the starting cash.
    let Message::PurchaseSuccess(r) = order(&mut c, true, &s, "KO", 1).await.unwrap() else {
        panic!("not a purchase")
    };
    assert_eq!(
        r.cash_after.micros(),
        50_000_000_000 - r.price.micros() - 2_000_000
    );
}
on_both_backends!(pnl_adds_up_and_a_reset_with_orders_open_starts_over);

async fn equity_points_are_cash_plus_holdings_at_the_recorded_tick(db: TestDb) {
    let master = master_with(MasterConfig {
        equity_step_ms: 100,
        ..test_config(&db)
    })
    .await;
    let Trader {
        mut c,
        s,
        mut d,
        sd,
    } = trader(master.local_addr, "eve").await;
    order(&mut c, true, &s, "AAPL", 7).await.unwrap();
    order(&mut c, true, &s, "KO", 11).await.unwrap();
    let settled = chrono::Utc::now().timestamp_millis();
    tokio::time::sleep(Duration::from_millis(1_200)).await;
    let DataBody::Equity(history) = data(
        &mut d,
        Message::GetEquityHistory(EquityQuery {
            session_id: sd.clone(),
            from_ms: 0,
            to_ms: chrono::Utc::now().timestamp_millis(),
        }),
    )
    .await
    else {
        panic!("not equity")
    };
    let after: Vec<_> = history
        .points
        .iter()
        .filter(|p| !p.daily && p.at_ms > settled + 200)
        .collect();
    assert!(
        after.len() >= 3,
        "{}: {} points after the trades",
        db.backend,
        after.len()
    );
    let p = portfolio(&mut d, &sd, "eve").await;
    let cash = p.cash.unwrap();
    let url = db.url.clone();
    let points: Vec<(i64, i64, i64)> = after
        .iter()
        .map(|p| (p.at_ms, p.equity.micros(), p.cash.micros()))
        .collect();
    let mismatches = tokio::task::spawn_blocking(move || {
        use diesel::prelude::*;
        use papertrader_master::db::schema::price_ticks;
        let db = papertrader_master::db::Db::open(&url, 1).unwrap();
        db.run_blocking(|c| {
            let mut bad = Vec::new();
            for (at, equity, point_cash) in points {
                let close = |symbol: &str, c: &mut papertrader_master::db::AnyConnection| {
                    price_ticks::table
                        .filter(price_ticks::symbol.eq(symbol))
                        .filter(price_ticks::at.eq(at))
                        .select(price_ticks::close)
                        .first::<i64>(c)
                };
                let expected = point_cash + 7 * close("AAPL", c)? + 11 * close("KO", c)?;
                if expected != equity {
                    bad.push((at, equity, expected));
                }
            }
            Ok(bad)
        })
        .unwrap()
    })
    .await
    .unwrap();
    assert!(mismatches.is_empty(), "{}: {mismatches:?}", db.backend);
    assert!(
        after.iter().all(|p| p.cash == cash),
        "no trade since, so the cash is the same"
    );
    // Distinct ticks, in time order.
    assert!(after.windows(2).all(|w| w[0].at_ms < w[1].at_ms));
}
on_both_backends!(equity_points_are_cash_plus_holdings_at_the_recorded_tick);
