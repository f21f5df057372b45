//! 64 concurrent traders placing random orders: no negative cash or holdings, no sale of
//! shares not held, and every account's cash and holdings equal what its history says.

use papertrader_client::Connection;
use papertrader_master::db::Db;
use papertrader_protocol::*;
use rand::{Rng, SeedableRng};

use crate::support::*;

const TRADERS: usize = 64;
const ORDERS_EACH: usize = 12;
const SYMBOLS: [&str; 3] = ["AAPL", "KO", "IBM"];

async fn random_concurrent_orders_keep_every_invariant(db: TestDb) {
    let master = master_with(papertrader_master::config::MasterConfig {
        update_interval_ms: 50,
        ..test_config(&db)
    })
    .await;
    // Few accounts, many traders: several connections share each account, so sells race.
    let accounts_n = 16;
    let mut setup = Connection::connect(master.local_addr).await.unwrap();
    for a in 0..accounts_n {
        register(&mut setup, &format!("inv{a}")).await.unwrap();
    }
    let mut tasks = Vec::new();
    for t in 0..TRADERS {
        let addr = master.local_addr;
        tasks.push(tokio::spawn(async move {
            let mut rng = rand::rngs::StdRng::seed_from_u64(t as u64);
            let mut c = Connection::connect(addr).await.unwrap();
            let s = login(&mut c, &format!("inv{}", t % 16), true)
                .await
                .unwrap();
            let mut outcome = (0usize, 0usize);
            for _ in 0..ORDERS_EACH {
                let symbol = SYMBOLS[rng.gen_range(0..SYMBOLS.len())];
                let buy = rng.gen_bool(0.55);
                match order(&mut c, buy, &s, symbol, rng.gen_range(1..40)).await {
                    Ok(_) => outcome.0 += 1,
                    Err(e) => {
                        let code = e.reason().expect("a Fail reply");
                        assert!(
                            matches!(
                                code,
                                ReasonCode::InsufficientCash | ReasonCode::InsufficientHoldings
                            ),
                            "{code}"
                        );
                        outcome.1 += 1;
                    }
                }
            }
            outcome
        }));
    }
    let mut settled = 0;
    for task in tasks {
        settled += task.await.unwrap().0;
    }
    assert!(
        settled > TRADERS * ORDERS_EACH / 3,
        "{}: only {settled} settled",
        db.backend
    );

    let url = db.url.clone();
    let (rows, cash_ok) = tokio::task::spawn_blocking(move || {
        let db = Db::open(&url, 1).unwrap();
        db.run_blocking(|c| {
            let (mut rows, mut ok) = (0, true);
            for a in 0..16 {
                let replayed =
                    replay_history(c, &format!("inv{a}"), Money::from_units(100_000).micros())?;
                ok &= replayed.problems.is_empty();
                rows += replayed.trades.len();
            }
            Ok((rows, ok))
        })
        .unwrap()
    })
    .await
    .unwrap();
    assert_eq!(
        rows, settled,
        "{}: every acknowledged order, and only those, is in the history",
        db.backend
    );
    assert!(
        cash_ok,
        "{}: balances reconcile with the history and never went negative",
        db.backend
    );
}
on_both_backends!(random_concurrent_orders_keep_every_invariant);
