//! SIGTERM in the middle of trading: the master stops accepting, settles every queued order
//! (or refuses it with a reason), answers every order it was sent, flushes its log and exits 0;
//! every acknowledged trade is stored, and nothing else is.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use papertrader_client::Connection;
use papertrader_master::db::{accounts, Db};
use papertrader_protocol::*;

use crate::support::*;

const TRADERS: usize = 8;

/// What one trader saw.
#[derive(Default)]
struct Seen {
    acknowledged: Vec<TradeReceipt>,
    /// Orders sent whose reply never came (the connection ended first).
    unanswered: usize,
    /// Refusals because the master was shutting down.
    refused_at_shutdown: usize,
}

async fn trade_until_the_master_goes(
    addr: std::net::SocketAddr,
    session: String,
    acked: Arc<AtomicUsize>,
) -> Seen {
    let mut seen = Seen::default();
    let Ok(mut conn) = Connection::connect(addr).await else {
        return seen;
    };
    let mut buy = true;
    loop {
        let order = TradeOrder {
            session_id: session.clone(),
            symbol: "KO".into(),
            quantity: 1,
            client_order_id: None,
        };
        let request = if buy {
            Message::PurchaseAsset(order)
        } else {
            Message::SellAsset(order)
        };
        if conn.send(&request).await.is_err() {
            return seen; // the master is gone: nothing was sent
        }
        match conn.receive().await {
            Ok(Message::PurchaseSuccess(r)) | Ok(Message::SellSuccess(r)) => {
                seen.acknowledged.push(r);
                acked.fetch_add(1, Ordering::SeqCst);
                buy = !buy;
            }
            Ok(Message::PurchaseFail(f)) | Ok(Message::SellFail(f)) => match f.code {
                ReasonCode::InsufficientCash | ReasonCode::InsufficientHoldings => buy = !buy,
                ReasonCode::Unavailable => {
                    seen.refused_at_shutdown += 1;
                    return seen;
                }
                other => panic!("refused with {other:?}: {}", f.message),
            },
            Ok(other) => panic!("unexpected reply {other:?}"),
            Err(_) => {
                seen.unanswered += 1;
                return seen;
            }
        }
    }
}

async fn sigterm_mid_trading_answers_every_order_and_stores_every_acknowledged_one(db: TestDb) {
    let (mut master, addr) = spawn_master(&db).await;
    let mut sessions = Vec::new();
    {
        let mut c = Connection::connect(addr).await.unwrap();
        for i in 0..TRADERS {
            sessions.push(new_user(&mut c, &format!("term{i}")).await);
        }
    }
    let acked = Arc::new(AtomicUsize::new(0));
    let traders: Vec<_> = sessions
        .into_iter()
        .map(|session| tokio::spawn(trade_until_the_master_goes(addr, session, acked.clone())))
        .collect();
    // Trades settle, then the signal lands while orders wait in the queue.
    let waited = std::time::Instant::now();
    while acked.load(Ordering::SeqCst) < 2 * TRADERS {
        assert!(
            waited.elapsed() < Duration::from_secs(30),
            "no trades settled"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let pid = master.0.id() as libc::pid_t;
    // SAFETY: a plain kill(2) of our own child process.
    assert_eq!(unsafe { libc::kill(pid, libc::SIGTERM) }, 0);
    let status = tokio::task::spawn_blocking(move || {
        let started = std::time::Instant::now();
        loop {
            if let Some(status) = master.0.try_wait().expect("wait") {
                return status;
            }
            assert!(
                started.elapsed() < Duration::from_secs(20),
                "the master did not exit"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    })
    .await
    .unwrap();
    assert!(status.success(), "exit status {status:?}");

    let mut acknowledged = Vec::new();
    let (mut unanswered, mut refused) = (0, 0);
    for trader in traders {
        let seen = tokio::time::timeout(Duration::from_secs(30), trader)
            .await
            .expect("every trader finishes")
            .unwrap();
        acknowledged.extend(seen.acknowledged);
        unanswered += seen.unanswered;
        refused += seen.refused_at_shutdown;
    }
    assert_eq!(unanswered, 0, "every order sent was answered");
    // Each trader ends on a refusal (it kept ordering until the master refused) or on a
    // closed connection before it could send again.
    assert!(refused <= TRADERS);

    let log = std::fs::read_to_string(db.dir.path().join("bin.log")).expect("log flushed");
    assert!(log.contains("draining the trade queue"), "{log}");
    assert!(log.contains("worker links closed"), "{log}");

    let url = db.url.clone();
    let count = acknowledged.len();
    let stored = tokio::task::spawn_blocking(move || {
        let db = Db::open(&url, 1).unwrap();
        db.run_blocking(|c| {
            let mut ids = Vec::new();
            for i in 0..TRADERS {
                let account = accounts::find_by_username(c, &format!("term{i}"))?.unwrap();
                ids.extend(
                    accounts::transactions_of(c, account.id)?
                        .into_iter()
                        .map(|t| t.id),
                );
            }
            Ok(ids)
        })
        .unwrap()
    })
    .await
    .unwrap();
    let mut acked_ids: Vec<i64> = acknowledged
        .iter()
        .map(|r| r.transaction_id as i64)
        .collect();
    let mut stored_ids = stored;
    acked_ids.sort_unstable();
    stored_ids.sort_unstable();
    assert_eq!(
        acked_ids, stored_ids,
        "stored exactly what was acknowledged ({count} trades)"
    );
}
on_both_backends!(sigterm_mid_trading_answers_every_order_and_stores_every_acknowledged_one);
