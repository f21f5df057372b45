//! 32 clients racing to sell the same holding.

use std::collections::HashMap;

use papertrader_client::Connection;
use papertrader_protocol::data::Side;
use papertrader_protocol::*;

use crate::support::*;

async fn racing_sellers_sell_exactly_what_is_owned(db: TestDb) {
    let master = master(&db).await;
    let mut owner = Connection::connect(master.local_addr).await.unwrap();
    let session = new_user(&mut owner, "ivan").await;
    let Message::PurchaseSuccess(bought) =
        order(&mut owner, true, &session, "NVDA", 10).await.unwrap()
    else {
        panic!()
    };

    let mut tasks = Vec::new();
    for _ in 0..32 {
        let addr = master.local_addr;
        tasks.push(tokio::spawn(async move {
            let mut c = Connection::connect(addr).await.unwrap();
            let s = login(&mut c, "ivan", true).await.unwrap();
            order(&mut c, false, &s, "NVDA", 1).await
        }));
    }
    let mut sold = Vec::new();
    let mut refused = HashMap::new();
    for task in tasks {
        match task.await.unwrap() {
            Ok(Message::SellSuccess(r)) => sold.push(r),
            Ok(other) => panic!("unexpected {other:?}"),
            Err(e) => {
                *refused
                    .entry(e.reason().expect("a Fail reply"))
                    .or_insert(0) += 1
            }
        }
    }
    assert_eq!(
        sold.len(),
        10,
        "{}: exactly the owned quantity is sold",
        db.backend
    );
    assert_eq!(
        refused,
        HashMap::from([(ReasonCode::InsufficientHoldings, 22)])
    );

    // Cash and holdings reconcile with the transaction history.
    switch(&mut owner, &session, ConnectionState::DataTransfer)
        .await
        .unwrap();
    let history = transactions(&mut owner, &session, "ivan").await;
    let portfolio = portfolio(&mut owner, &session, "ivan").await;
    assert_eq!(history.entries.len(), 11);
    let mut cash = Money::from_units(100_000);
    let mut held = 0i64;
    for t in &history.entries {
        let amount = t.price.checked_mul(t.quantity).unwrap();
        match t.side {
            Side::Buy => {
                cash = cash.checked_sub(amount).unwrap();
                held += t.quantity as i64;
            }
            Side::Sell => {
                cash = cash.checked_add(amount).unwrap();
                held -= t.quantity as i64;
            }
        }
        assert_eq!(
            t.cash_after,
            Some(cash),
            "running cash after trade {}",
            t.id
        );
        assert!(held >= 0);
    }
    assert_eq!(held, 0);
    assert!(portfolio.holdings.is_empty());
    assert_eq!(portfolio.cash, Some(cash));
    assert_eq!(history.entries[0].id, bought.transaction_id);
}
on_both_backends!(racing_sellers_sell_exactly_what_is_owned);
