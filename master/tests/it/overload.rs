//! Limits that protect the master under load: the cap on logins waiting for password hashing,
//! the trade queue's capacity, and a settlement that fails applying nothing.

use papertrader_client::Connection;
use papertrader_master::config::MasterConfig;
use papertrader_protocol::*;

use crate::support::*;

#[actix::test]
async fn logins_past_the_hashing_cap_are_refused_not_queued() {
    let db = TestDb::sqlite();
    let master = master_with(MasterConfig {
        bcrypt_cost: 10,
        max_parallel_hashes: 1,
        max_waiting_hashes: 4,
        ..test_config(&db)
    })
    .await;
    let mut setup = Connection::connect(master.local_addr).await.unwrap();
    for i in 0..16 {
        register(&mut setup, &format!("cap{i}")).await.unwrap();
    }
    // 16 different users log in at once: at most 4 are hashed or wait to be, the rest are
    // refused at once.
    let logins = (0..16).map(|i| {
        let addr = master.local_addr;
        async move {
            let mut c = Connection::connect(addr).await.unwrap();
            login(&mut c, &format!("cap{i}"), true).await
        }
    });
    let results = futures::future::join_all(logins).await;
    let ok = results.iter().filter(|r| r.is_ok()).count();
    let refused: Vec<_> = results
        .iter()
        .filter_map(|r| r.as_ref().err())
        .map(|e| e.to_string())
        .collect();
    // 4 may wait or hash at once; one more may slip in as the first finishes.
    assert!((1..=5).contains(&ok), "{ok} logged in");
    assert_eq!(ok + refused.len(), 16);
    assert!(
        refused
            .iter()
            .all(|e| e.contains("RateLimited") && e.contains("in progress")),
        "{refused:?}"
    );
}

#[actix::test]
async fn orders_past_the_queue_capacity_are_refused_and_store_nothing() {
    let db = TestDb::sqlite();
    let master = master_with(MasterConfig {
        trade_queue_capacity: 3,
        update_interval_ms: 1_500,
        ..test_config(&db)
    })
    .await;
    let mut setup = Connection::connect(master.local_addr).await.unwrap();
    let session = new_user(&mut setup, "quincy").await;
    let orders = (0..10).map(|_| {
        let (addr, session) = (master.local_addr, session.clone());
        async move {
            let mut c = Connection::connect(addr).await.unwrap();
            order(&mut c, true, &session, "KO", 1).await
        }
    });
    let results = futures::future::join_all(orders).await;
    let settled = results.iter().filter(|r| r.is_ok()).count();
    let full = results
        .iter()
        .filter(|r| matches!(r, Err(e) if e.reason() == Some(ReasonCode::QueueFull)))
        .count();
    assert_eq!(settled + full, 10);
    assert!(
        full >= 1 && settled >= 3,
        "{settled} settled, {full} refused"
    );
    // Only the settled ones are in the history.
    switch(&mut setup, &session, ConnectionState::DataTransfer)
        .await
        .unwrap();
    let t = transactions(&mut setup, &session, "quincy").await;
    assert_eq!(t.entries.len(), settled);
}

/// Renames the transactions table (every settlement then fails) or renames it back.
async fn break_settlement(db: &TestDb, broken: bool) {
    let url = db.url.clone();
    tokio::task::spawn_blocking(move || {
        let db = papertrader_master::db::Db::open(&url, 1).unwrap();
        let (from, to) = if broken {
            ("transactions", "transactions_away")
        } else {
            ("transactions_away", "transactions")
        };
        db.run_blocking(move |c| {
            use diesel::RunQueryDsl;
            diesel::sql_query(format!("ALTER TABLE {from} RENAME TO {to}"))
                .execute(c)
                .map_err(papertrader_master::db::DbError::from)
        })
        .unwrap();
    })
    .await
    .unwrap();
}

async fn a_settlement_that_fails_applies_nothing_and_says_so(db: TestDb) {
    let master = master(&db).await;
    let mut c = Connection::connect(master.local_addr).await.unwrap();
    let session = new_user(&mut c, "rosa").await;
    let Message::PurchaseSuccess(first) = order(&mut c, true, &session, "AAPL", 2).await.unwrap()
    else {
        panic!()
    };
    break_settlement(&db, true).await;
    let failed = order(&mut c, true, &session, "AAPL", 3).await;
    assert_eq!(reason(failed), ReasonCode::Unavailable, "{}", db.backend);
    break_settlement(&db, false).await;
    // Nothing of the failed batch was applied: the next trade starts from the first one's cash.
    let Message::SellSuccess(sold) = order(&mut c, false, &session, "AAPL", 2).await.unwrap()
    else {
        panic!()
    };
    assert_eq!(
        sold.cash_after,
        first
            .cash_after
            .checked_add(sold.price.checked_mul(2).unwrap())
            .unwrap()
    );
    assert_eq!(sold.transaction_id, first.transaction_id + 1);
}
on_both_backends!(a_settlement_that_fails_applies_nothing_and_says_so);
