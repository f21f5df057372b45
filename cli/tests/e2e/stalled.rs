//! A master that stops answering (SIGSTOP) does not hang clients: every forwarded request is
//! answered within the worker's request timeout (an order within two update intervals more),
//! and the worker forgets the requests that timed out.

use std::time::{Duration, Instant};

use papertrader_client::Connection;
use papertrader_protocol::*;

use crate::support::*;

#[test]
fn a_frozen_master_gets_every_forwarded_request_answered_in_time() {
    let dir = tempfile::tempdir().unwrap();
    let cluster = Cluster::start_with(
        dir.path(),
        1,
        &["--update-interval-ms", "200"],
        &["--request-timeout-secs", "2"],
    );
    let worker = cluster.worker_addrs[0].clone();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let limit = Duration::from_secs(60);
    let (mut conn, session) = block_on_bounded(&rt, limit, "register and log in", async {
        let mut conn = Connection::connect(worker.as_str()).await.unwrap();
        let session = new_user(&mut conn, "lou").await;
        (conn, session)
    });

    cluster.signal_master("STOP");
    block_on_bounded(&rt, limit, "requests to a frozen master", async {
        // An order: OutcomeUnknown within 2 s + 2 × 200 ms (plus slack).
        let started = Instant::now();
        let order = Message::PurchaseAsset(TradeOrder {
            session_id: session.clone(),
            symbol: "KO".into(),
            quantity: 1,
            client_order_id: Some("frozen-1".into()),
        });
        let refused = tokio::time::timeout(Duration::from_secs(10), conn.call(&order))
            .await
            .expect("no answer at all");
        assert_eq!(
            refused.unwrap_err().reason(),
            Some(ReasonCode::OutcomeUnknown)
        );
        let waited = started.elapsed();
        assert!(
            waited >= Duration::from_millis(1900) && waited < Duration::from_secs(4),
            "{waited:?}"
        );
        // Anything else: Unavailable within 2 s.
        let started = Instant::now();
        let resume = Message::LoginWithSession(SessionToken {
            session_id: session.clone(),
        });
        let refused = tokio::time::timeout(Duration::from_secs(10), conn.call(&resume))
            .await
            .expect("no answer at all");
        assert_eq!(refused.unwrap_err().reason(), Some(ReasonCode::Unavailable));
        assert!(started.elapsed() < Duration::from_secs(3));
    });
    // The worker holds nothing for the requests that timed out.
    assert_eq!(cluster.worker_status(0)["pending"], 0);

    // Thawed, the master answers again, and the frozen order settles once by its id.
    cluster.signal_master("CONT");
    block_on_bounded(&rt, limit, "the order again", async {
        let order = Message::PurchaseAsset(TradeOrder {
            session_id: session.clone(),
            symbol: "KO".into(),
            quantity: 1,
            client_order_id: Some("frozen-1".into()),
        });
        assert!(matches!(
            conn.call(&order).await,
            Ok(Message::PurchaseSuccess(_))
        ));
    });
}
