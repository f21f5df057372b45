//! The client library through real workers: data replies split into many packets cross a
//! worker intact, and one `Client` keeps its session across the death of the worker it uses —
//! reads fail over, and an order in flight is resent with its id and traded once.

use papertrader_client::{Client, Connection, HistoryRange};
use papertrader_protocol::data::DataBody;
use papertrader_protocol::*;

use crate::support::*;

#[actix::test]
async fn multi_packet_replies_cross_a_worker_intact() {
    let dir = tempfile::tempdir().unwrap();
    let mut master_config = master_config(dir.path());
    master_config.max_payload = 4096;
    let master = start_master_with(master_config).await;
    let mut config = worker_config(dir.path(), "a", master.local_addr);
    config.max_payload = 4096;
    register_worker(&master, "a", &config, &["127.0.0.1"]).await;
    let worker = start_worker(config).await;
    wait_link(&worker.link, up).await;

    let mut conn = Connection::connect(worker.local_addr).await.unwrap();
    let session = new_user(&mut conn, "pete").await;
    conn.call(&Message::SwitchState(SwitchState {
        session_id: session,
        state: ConnectionState::DataTransfer,
    }))
    .await
    .unwrap();
    // A day of 5-minute points is far more than one 4 KiB packet.
    let day = Message::GetAssetValueDay(AssetRangeQuery {
        symbol: "AAPL".into(),
        date_ms: chrono::Utc::now().timestamp_millis(),
    });
    let mut progress = Vec::new();
    let body = conn
        .call_data(&day, |n, m| progress.push((n, m)))
        .await
        .unwrap();
    let DataBody::History(history) = body else {
        panic!()
    };
    assert!(history.bars.len() >= 200, "{} bars", history.bars.len());
    let max = progress.last().unwrap().1;
    assert!(max > 3, "only {max} packets");
    assert_eq!(
        progress,
        (1..max).map(|n| (n, max)).collect::<Vec<_>>(),
        "packets 1..max in order"
    );
    assert!(history.bars.windows(2).all(|w| w[0].at_ms < w[1].at_ms));
}

#[actix::test]
async fn one_client_keeps_its_session_when_its_worker_dies() {
    let dir = tempfile::tempdir().unwrap();
    let master = start_master(dir.path()).await;
    let master_addr = master.local_addr;
    let (doomed, addr_a, b) = doomed_and_spare(&master, dir.path()).await;

    let mut client = Client::via_master(&master_addr.to_string()).await.unwrap();
    assert_eq!(client.worker(), addr_a.to_string());
    client
        .register("ruth", "ruth@example.com", "pw")
        .await
        .unwrap();
    client.login("ruth", "pw", true).await.unwrap();
    client.buy("KO", 2).await.unwrap();
    client.quote("KO").await.unwrap();

    doomed.stop();
    // A read fails over to worker b, resuming the session there…
    client.quote("KO").await.unwrap();
    assert_eq!(client.worker(), b.local_addr.to_string());
    // …and so does an order, placed once.
    client.buy("KO", 3).await.unwrap();
    let history = client
        .history(
            "KO",
            HistoryRange::Day,
            chrono::Utc::now().timestamp_millis(),
            &mut |_, _| {},
        )
        .await
        .unwrap();
    assert!(!history.bars.is_empty());
    let trades = client.trades("ruth").await.unwrap();
    let bought: Vec<u64> = trades.entries.iter().map(|t| t.quantity).collect();
    assert_eq!(bought, [2, 3]);
}

#[actix::test]
async fn a_client_whose_worker_came_back_works_again_after_one_failed_request() {
    let dir = tempfile::tempdir().unwrap();
    let master = start_master(dir.path()).await;
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut config = worker_config(dir.path(), "a", master.local_addr);
    config.listen = format!("127.0.0.1:{port}").parse().unwrap();
    register_worker(&master, "a", &config, &["127.0.0.1"]).await;
    let start = |config: papertrader_worker::config::WorkerConfig| {
        ServerThread::start(move || async move {
            let worker = start_worker(config).await;
            (worker.local_addr, worker)
        })
    };
    let (first, addr) = start(config.clone());
    let mut client = Client::to_worker(&addr.to_string()).await.unwrap();
    // Until its link is admitted the worker answers Unavailable (a refusal, not a lost link).
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while client
        .register("rita", "rita@example.com", "pw")
        .await
        .is_err()
    {
        assert!(
            std::time::Instant::now() < deadline,
            "the worker never came up"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    client.login("rita", "pw", true).await.unwrap();
    client.orders(false).await.unwrap();

    first.stop();
    // With the worker gone, a command fails as a lost connection, not as a refusal.
    let lost = client.cancel_order(1).await.unwrap_err();
    assert!(lost.is_unreachable(), "{lost:?}");
    let (_second, again) = start(config);
    assert_eq!(again, addr);
    // The next requests reconnect by themselves: a command reaches the master (which refuses
    // the unknown order), and a read answers.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let refused = loop {
        let error = client.cancel_order(1).await.unwrap_err();
        if error.reason() == Some(ReasonCode::UnknownOrder) {
            break error;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "never reached the master again: {error:?}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    };
    assert!(!refused.is_unreachable());
    assert!(client.orders(false).await.unwrap().orders.is_empty());
}
