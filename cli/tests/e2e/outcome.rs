//! kill -9 of the master while orders are in flight through a worker: the worker answers those
//! orders `OutcomeUnknown` (never the "try again" of `Unavailable` for an order that reached the
//! master), and sending each one again with its client order id settles the question — the
//! original receipt if it settled, the trade placed once if it did not. Afterwards the account's
//! history holds exactly the trades whose receipts the client holds: nothing lost, nothing
//! traded twice.

use std::collections::{BTreeSet, HashMap};
use std::time::Duration;

use papertrader_client::{new_order_id, ClientError, Connection};
use papertrader_protocol::data::DataBody;
use papertrader_protocol::*;
use rand::Rng;

use crate::support::*;

/// The longest any step may take.
const LIMIT: Duration = Duration::from_secs(120);

/// Rounds of kill and restart (`PAPERTRADER_CRASH_ROUNDS`, 3 by default).
fn rounds() -> usize {
    std::env::var("PAPERTRADER_CRASH_ROUNDS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(3)
}

fn purchase(session: &str, id: &str) -> Message {
    Message::PurchaseAsset(TradeOrder {
        session_id: session.into(),
        symbol: "KO".into(),
        quantity: 1,
        client_order_id: Some(id.into()),
    })
}

/// What one order came to.
type Outcome = Result<TradeReceipt, ReasonCode>;

fn outcome(result: Result<Message, ClientError>) -> Outcome {
    match result {
        Ok(Message::PurchaseSuccess(receipt)) => Ok(receipt),
        Ok(other) => panic!("unexpected {other:?}"),
        Err(e) => Err(e.reason().unwrap_or(ReasonCode::OutcomeUnknown)),
    }
}

/// Places orders with fresh ids on its own connection until the connection breaks or the
/// master goes away; returns (id, outcome) of each.
async fn trader(worker: String, session: String) -> Vec<(String, Outcome)> {
    let mut placed = Vec::new();
    let Ok(mut conn) = Connection::connect(worker.as_str()).await else {
        return placed;
    };
    loop {
        let id = new_order_id();
        let result = outcome(conn.call(&purchase(&session, &id)).await);
        let gone = matches!(
            result,
            Err(ReasonCode::OutcomeUnknown | ReasonCode::Unavailable)
        );
        placed.push((id, result));
        if gone {
            return placed;
        }
    }
}

#[test]
fn orders_cut_off_by_a_master_crash_are_outcome_unknown_and_settle_once_by_their_ids() {
    let dir = tempfile::tempdir().unwrap();
    let mut cluster = Cluster::start(dir.path(), 1, &["--update-interval-ms", "100"]);
    let worker = cluster.worker_addrs[0].clone();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let session = block_on_bounded(&rt, LIMIT, "register and log in", async {
        let mut conn = Connection::connect(worker.as_str()).await.unwrap();
        let session = new_user(&mut conn, "kim").await;
        session
    });

    let mut outcomes: HashMap<String, Outcome> = HashMap::new();
    let mut unknown = 0;
    for _ in 0..rounds() {
        let traders: Vec<_> = (0..8)
            .map(|_| rt.spawn(trader(worker.clone(), session.clone())))
            .collect();
        // Kill the master 150–700 ms into the burst: mostly while a batch is in flight.
        std::thread::sleep(Duration::from_millis(
            rand::thread_rng().gen_range(150..700),
        ));
        cluster.kill_master();
        for trader in traders {
            for (id, result) in block_on_bounded(&rt, LIMIT, "a trader", trader).unwrap() {
                match &result {
                    Ok(_) => {}
                    Err(ReasonCode::OutcomeUnknown) => unknown += 1,
                    // Not forwarded at all (the link was already down): not placed.
                    Err(ReasonCode::Unavailable) => {}
                    Err(other) => panic!("an order was refused with {other:?}"),
                }
                outcomes.insert(id, result);
            }
        }
        cluster.restart_master();
    }
    assert!(unknown > 0, "no order was in flight at a kill");

    // Every order without an answer is sent again with its id: now each has one.
    block_on_bounded(&rt, LIMIT, "resending and reading the history", async {
        let mut conn = Connection::connect(worker.as_str()).await.unwrap();
        for (id, result) in outcomes.iter_mut() {
            if result.is_err() {
                let again = outcome(conn.call(&purchase(&session, id)).await);
                assert!(again.is_ok(), "order {id}: {again:?}");
                *result = again;
            }
        }
        // A repeat of an acknowledged order returns the very same receipt.
        if let Some((id, Ok(first))) = outcomes.iter().next() {
            let again = outcome(conn.call(&purchase(&session, id)).await);
            assert_eq!(again.as_ref(), Ok(first));
        }

        // The history holds exactly the trades the client has receipts for.
        conn.call(&Message::SwitchState(SwitchState {
            session_id: session.clone(),
            state: ConnectionState::DataTransfer,
        }))
        .await
        .unwrap();
        let history = conn
            .call_data(
                &Message::GetUserTransactionHistory(UserQuery {
                    session_id: session.clone(),
                    username: "kim".into(),
                }),
                |_, _| {},
            )
            .await
            .unwrap();
        let DataBody::Transactions(history) = history else {
            panic!()
        };
        let stored: BTreeSet<u64> = history.entries.iter().map(|t| t.id).collect();
        let receipts: BTreeSet<u64> = outcomes
            .values()
            .map(|r| r.as_ref().unwrap().transaction_id)
            .collect();
        assert_eq!(receipts.len(), outcomes.len(), "two orders share a receipt");
        assert_eq!(stored, receipts, "history and receipts differ");
    });
}
