//! purchaseAsset, sellAsset, switchState, states, settlement rules.

use papertrader_client::Connection;
use papertrader_master::actors::asset_fetcher::{Subscribe, TickPublished};
use papertrader_protocol::data::DataBody;
use papertrader_protocol::*;

use crate::support::*;

async fn buying_and_selling_settle_at_the_next_tick_and_refuse_what_they_must(db: TestDb) {
    let master = master(&db).await;
    let mut c = Connection::connect(master.local_addr).await.unwrap();
    let s = new_user(&mut c, "erin").await;
    let start_cash = Money::from_units(100_000);

    let Message::PurchaseSuccess(buy) = order(&mut c, true, &s, "AAPL", 10).await.unwrap() else {
        panic!("not a purchase")
    };
    assert_eq!(
        (buy.symbol.as_str(), buy.quantity),
        ("AAPL", 10),
        "{}",
        db.backend
    );
    assert!(buy.price.micros() > 0);
    assert_eq!(
        buy.cash_after,
        start_cash
            .checked_sub(buy.price.checked_mul(10).unwrap())
            .unwrap()
    );

    let Message::SellSuccess(sell) = order(&mut c, false, &s, "AAPL", 4).await.unwrap() else {
        panic!("not a sale")
    };
    assert_eq!(
        sell.cash_after,
        buy.cash_after
            .checked_add(sell.price.checked_mul(4).unwrap())
            .unwrap()
    );
    assert!(sell.transaction_id > buy.transaction_id);

    assert_eq!(
        reason(order(&mut c, false, &s, "AAPL", 7).await),
        ReasonCode::InsufficientHoldings
    );
    assert_eq!(
        reason(order(&mut c, false, &s, "MSFT", 1).await),
        ReasonCode::InsufficientHoldings
    );
    assert_eq!(
        reason(order(&mut c, true, &s, "AAPL", 1_000_000).await),
        ReasonCode::InsufficientCash
    );
    assert_eq!(
        reason(order(&mut c, true, &s, "ZZZZ", 1).await),
        ReasonCode::UnknownAsset
    );
    assert_eq!(
        reason(order(&mut c, true, &s, "aapl", 1).await),
        ReasonCode::UnknownAsset
    );
    assert_eq!(
        reason(order(&mut c, true, &s, "AAPL", 0).await),
        ReasonCode::InvalidQuantity
    );
    assert_eq!(
        reason(order(&mut c, true, &s, "AAPL", limits::MAX_QUANTITY + 1).await),
        ReasonCode::InvalidQuantity
    );
    assert_eq!(
        reason(order(&mut c, true, &"0".repeat(32), "AAPL", 1).await),
        ReasonCode::SessionInvalid
    );
    assert_eq!(
        reason(order(&mut c, true, "not-a-session", "AAPL", 1).await),
        ReasonCode::SessionInvalid
    );

    // Nothing from the refused orders was stored: the portfolio is exactly 6 AAPL.
    switch(&mut c, &s, ConnectionState::DataTransfer)
        .await
        .unwrap();
    let p = portfolio(&mut c, &s, "erin").await;
    assert_eq!(p.holdings.len(), 1);
    assert_eq!(
        (p.holdings[0].symbol.as_str(), p.holdings[0].quantity),
        ("AAPL", 6)
    );
    assert_eq!(p.cash, Some(sell.cash_after));
    let h = transactions(&mut c, &s, "erin").await;
    assert_eq!(h.entries.len(), 2);
    assert_eq!(h.entries[1].cash_after, Some(sell.cash_after));
}
on_both_backends!(buying_and_selling_settle_at_the_next_tick_and_refuse_what_they_must);

async fn instructions_are_refused_in_the_wrong_state_and_the_connection_goes_on(db: TestDb) {
    let master = master(&db).await;
    let mut c = Connection::connect(master.local_addr).await.unwrap();
    let s = new_user(&mut c, "frank").await;
    let quote = Message::GetAssetValueCurrent(AssetQuery {
        symbol: "AAPL".into(),
    });

    assert_eq!(reason(c.call(&quote).await), ReasonCode::WrongState);
    assert_eq!(
        reason(switch(&mut c, &"f".repeat(32), ConnectionState::DataTransfer).await),
        ReasonCode::SessionInvalid
    );
    assert_eq!(
        switch(&mut c, &s, ConnectionState::DataTransfer)
            .await
            .unwrap(),
        Message::StateSwitchSuccess(StateSwitched {
            state: ConnectionState::DataTransfer
        })
    );
    assert!(matches!(
        c.call_data(&quote, |_, _| {}).await.unwrap(),
        DataBody::Quote(_)
    ));
    assert_eq!(
        reason(order(&mut c, true, &s, "AAPL", 1).await),
        ReasonCode::WrongState
    );
    assert_eq!(
        reason(login(&mut c, "frank", true).await),
        ReasonCode::WrongState
    );
    switch(&mut c, &s, ConnectionState::Command).await.unwrap();
    assert!(
        order(&mut c, true, &s, "AAPL", 1).await.is_ok(),
        "{}",
        db.backend
    );

    // The master serves the worker list (no worker is online in this test).
    let list = c.call(&Message::GetWorkerList(Empty {})).await.unwrap();
    assert_eq!(list, Message::WorkerList(WorkerList { workers: vec![] }));
}
on_both_backends!(instructions_are_refused_in_the_wrong_state_and_the_connection_goes_on);

/// Every snapshot the master publishes, by tick number.
#[derive(Default)]
struct TickRecorder {
    seen:
        std::collections::HashMap<u64, std::sync::Arc<papertrader_master::market::book::Snapshot>>,
}

impl actix::Actor for TickRecorder {
    type Context = actix::Context<Self>;
}

impl actix::Handler<TickPublished> for TickRecorder {
    type Result = ();

    fn handle(&mut self, msg: TickPublished, _: &mut Self::Context) {
        self.seen.insert(msg.0.tick, msg.0);
    }
}

/// The recorded snapshots.
#[derive(actix::Message)]
#[rtype(
    result = "std::collections::HashMap<u64, std::sync::Arc<papertrader_master::market::book::Snapshot>>"
)]
struct Recorded;

impl actix::Handler<Recorded> for TickRecorder {
    type Result = actix::MessageResult<Recorded>;

    fn handle(&mut self, _: Recorded, _: &mut Self::Context) -> Self::Result {
        actix::MessageResult(self.seen.clone())
    }
}

async fn trades_settle_at_the_close_of_their_tick_and_holdings_are_valued_at_the_quote(db: TestDb) {
    use actix::Actor;
    let master = master(&db).await;
    let recorder = TickRecorder::default().start();
    master
        .fetcher
        .send(Subscribe(recorder.clone().recipient()))
        .await
        .unwrap();
    let mut c = Connection::connect(master.local_addr).await.unwrap();
    let s = new_user(&mut c, "faye").await;
    let mut receipts = Vec::new();
    for (buy, symbol, quantity) in [(true, "AAPL", 3), (true, "KO", 5), (false, "AAPL", 1)] {
        match order(&mut c, buy, &s, symbol, quantity).await.unwrap() {
            Message::PurchaseSuccess(r) | Message::SellSuccess(r) => receipts.push(r),
            other => panic!("{other:?}"),
        }
    }
    // Each trade's price is the close, at the tick that settled it, of its symbol.
    let ticks = recorder.send(Recorded).await.unwrap();
    let url = db.url.clone();
    let rows = tokio::task::spawn_blocking(move || {
        let db = papertrader_master::db::Db::open(&url, 1).unwrap();
        db.run_blocking(|c| {
            use diesel::prelude::*;
            use papertrader_master::db::schema::transactions;
            transactions::table
                .select((transactions::id, transactions::tick, transactions::price))
                .load::<(i64, i64, i64)>(c)
                .map_err(papertrader_master::db::DbError::from)
        })
        .unwrap()
    })
    .await
    .unwrap();
    for receipt in &receipts {
        let (_, tick, price) = rows
            .iter()
            .find(|(id, _, _)| *id as u64 == receipt.transaction_id)
            .expect("stored");
        let snapshot = ticks
            .get(&(*tick as u64))
            .expect("the settling tick was published");
        let close = snapshot.quotes[&receipt.symbol].close;
        assert_eq!(
            (receipt.price, Money(*price)),
            (close, close),
            "{}",
            db.backend
        );
    }

    // Holdings are valued at the quote of the moment: the close of the tick current then.
    switch(&mut c, &s, ConnectionState::DataTransfer)
        .await
        .unwrap();
    for _ in 0..20 {
        let before = master.services.book.snapshot();
        let p = portfolio(&mut c, &s, "faye").await;
        let after = master.services.book.snapshot();
        if before.tick != after.tick {
            continue;
        }
        for holding in &p.holdings {
            assert_eq!(holding.price, after.quotes[&holding.symbol].close);
        }
        assert_eq!(p.holdings.len(), 2);
        return;
    }
    panic!("prices never held still long enough to compare");
}
on_both_backends!(trades_settle_at_the_close_of_their_tick_and_holdings_are_valued_at_the_quote);
