//! The master killed with SIGKILL at random moments while trades settle, again and again:
//! every trade a client saw acknowledged is in the database exactly once, as acknowledged;
//! cash and holdings reconcile with the history; nothing is negative.
//!
//! Rounds: `PAPERTRADER_CRASH_ROUNDS` (3 by default, as in CI; docs/RELIABILITY.md reports 50).

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use papertrader_client::Connection;
use papertrader_master::db::{accounts, Db};
use papertrader_protocol::*;
use rand::{Rng, SeedableRng};

use crate::support::*;

const CLIENTS: usize = 8;

async fn acknowledged_trades_survive_kill_9_exactly_once(db: TestDb) {
    let rounds: usize = std::env::var("PAPERTRADER_CRASH_ROUNDS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(3);
    let mut rng = rand::rngs::StdRng::seed_from_u64(7);
    let mut acknowledged: Vec<(String, TradeReceipt, bool)> = Vec::new();
    let mut sessions: Vec<String> = Vec::new();
    for round in 0..rounds {
        let (master, addr) = spawn_master(&db).await;
        if round == 0 {
            let mut c = Connection::connect(addr).await.unwrap();
            for i in 0..CLIENTS {
                sessions.push(new_user(&mut c, &format!("crash{i}")).await);
            }
        }
        let acked_this_round = Arc::new(AtomicUsize::new(0));
        let mut tasks = Vec::new();
        for (i, session) in sessions.iter().cloned().enumerate() {
            let acked = acked_this_round.clone();
            tasks.push(tokio::spawn(async move {
                let mut seen = Vec::new();
                let Ok(mut c) = Connection::connect(addr).await else {
                    return seen;
                };
                let mut buy = true;
                loop {
                    match order(&mut c, buy, &session, "KO", 1 + (i as u64 % 3)).await {
                        Ok(Message::PurchaseSuccess(r)) | Ok(Message::SellSuccess(r)) => {
                            seen.push((format!("crash{i}"), r, buy));
                            acked.fetch_add(1, Ordering::SeqCst);
                            buy = !buy;
                        }
                        Ok(other) => panic!("unexpected {other:?}"),
                        // Nothing to sell (after a buy that settled unacknowledged, or
                        // none yet) or no cash: the only refusals that may happen here.
                        Err(e)
                            if matches!(
                                e.reason(),
                                Some(
                                    ReasonCode::InsufficientHoldings | ReasonCode::InsufficientCash
                                )
                            ) =>
                        {
                            buy = !buy
                        }
                        Err(e) if e.reason().is_some() => panic!("refused: {e}"),
                        Err(_) => return seen, // the master died
                    }
                }
            }));
        }
        // Every round acknowledges trades before the kill, which then lands at a random
        // moment, mid-batch or between batches.
        while acked_this_round.load(Ordering::SeqCst) == 0 {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        tokio::time::sleep(Duration::from_millis(rng.gen_range(0..500))).await;
        drop(master); // SIGKILL
        for task in tasks {
            acknowledged.extend(task.await.unwrap());
        }
    }
    assert!(
        acknowledged.len() > rounds,
        "{}: trades were acknowledged ({})",
        db.backend,
        acknowledged.len()
    );

    let url = db.url.clone();
    let report = tokio::task::spawn_blocking(move || {
        let db = Db::open(&url, 1).unwrap();
        db.run_blocking(move |c| {
            let mut problems = Vec::new();
            let mut rows_by_id = HashMap::new();
            for i in 0..CLIENTS {
                let account = accounts::find_by_username(c, &format!("crash{i}"))?.unwrap();
                let history = accounts::transactions_of(c, account.id)?;
                let mut cash = Money::from_units(100_000).micros();
                let mut held = 0i64;
                for t in &history {
                    let amount = t.price * t.quantity;
                    if t.side == 0 {
                        cash -= amount;
                        held += t.quantity
                    } else {
                        cash += amount;
                        held -= t.quantity
                    }
                    if cash < 0 || held < 0 || t.cash_after != cash {
                        problems.push(format!("crash{i}: history goes wrong at {}", t.id));
                    }
                    rows_by_id.insert(t.id, (format!("crash{i}"), t.clone()));
                }
                let stored: i64 = accounts::holdings_of(c, account.id)?
                    .into_iter()
                    .map(|(_, q)| q)
                    .sum();
                if account.cash != cash || stored != held {
                    problems.push(format!("crash{i}: balances do not reconcile"));
                }
            }
            for (user, receipt, buy) in &acknowledged {
                match rows_by_id.get(&(receipt.transaction_id as i64)) {
                    None => problems.push(format!(
                        "acknowledged trade {} is missing",
                        receipt.transaction_id
                    )),
                    Some((owner, row)) => {
                        let same = owner == user
                            && (row.side == 0) == *buy
                            && row.quantity as u64 == receipt.quantity
                            && row.price == receipt.price.micros()
                            && row.cash_after == receipt.cash_after.micros();
                        if !same {
                            problems.push(format!(
                                "trade {} differs from its acknowledgement",
                                receipt.transaction_id
                            ));
                        }
                    }
                }
            }
            let mut ids: Vec<u64> = acknowledged
                .iter()
                .map(|(_, r, _)| r.transaction_id)
                .collect();
            ids.sort_unstable();
            let before = ids.len();
            ids.dedup();
            if ids.len() != before {
                problems.push("a transaction id was acknowledged twice".into());
            }
            Ok((problems, acknowledged.len(), rows_by_id.len()))
        })
        .unwrap()
    })
    .await
    .unwrap();
    let (problems, acked, rows) = report;
    eprintln!(
        "crash ({}): {rounds} kills, {acked} trades acknowledged, {rows} stored",
        db.backend
    );
    assert!(problems.is_empty(), "{}: {problems:#?}", db.backend);
}
on_both_backends!(acknowledged_trades_survive_kill_9_exactly_once);
