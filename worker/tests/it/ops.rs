//! A worker's ops endpoint: ready exactly while its link to the master is up; its metrics count
//! what its clients asked, cache hits included.

use std::time::Duration;

use papertrader_client::Connection;
use papertrader_master::actors::worker_registry::CloseAllLinks;
use papertrader_master::config::MasterConfig;
use papertrader_protocol::*;
use papertrader_worker::server::RunningWorker;

use crate::support::*;

fn ops_addr(worker: &RunningWorker) -> std::net::SocketAddr {
    worker.ops.as_ref().expect("an ops endpoint").local_addr
}

async fn get(worker: &RunningWorker, path: &str) -> (u16, String) {
    papertrader_testkit::ops::get(ops_addr(worker), path).await
}

async fn ready_becomes(worker: &RunningWorker, status: u16) -> String {
    papertrader_testkit::ops::status_becomes(ops_addr(worker), "/health/ready", status).await
}

#[actix::test]
async fn a_worker_is_ready_while_its_link_is_up_and_counts_its_cache_hits() {
    let dir = tempfile::tempdir().unwrap();
    let master = start_master_with(MasterConfig {
        ops_listen: Some("127.0.0.1:0".parse().unwrap()),
        server_label: "master-behind-ops-worker".into(),
        ..master_config(dir.path())
    })
    .await;
    let mut config = worker_config(dir.path(), "ops", master.local_addr);
    config.ops_listen = Some("127.0.0.1:0".parse().unwrap());
    config.server_label = Some("worker-ops-test".into());
    register_worker(&master, "ops", &config, &["127.0.0.1"]).await;
    let worker = start_worker(config).await;
    wait_link(&worker.link, up).await;
    let body = ready_becomes(&worker, 200).await;
    assert!(body.contains("master_link ok"), "{body}");

    // Quotes come from the cache once the first tick has filled it.
    let mut c = Connection::connect(worker.local_addr).await.unwrap();
    let session = new_user(&mut c, "rosa").await;
    c.call(&Message::SwitchState(SwitchState {
        session_id: session,
        state: ConnectionState::DataTransfer,
    }))
    .await
    .unwrap();
    tokio::time::sleep(Duration::from_millis(400)).await;
    for _ in 0..3 {
        c.call_data(
            &Message::GetAssetValueCurrent(AssetQuery {
                symbol: "AAPL".into(),
            }),
            |_, _| {},
        )
        .await
        .unwrap();
    }
    let (_, scrape) = get(&worker, "/metrics").await;
    let hits = scrape
        .lines()
        .find(|l| {
            l.starts_with("papertrader_cache_requests_total{")
                && l.contains("server=\"worker-ops-test\"")
                && l.contains("result=\"hit\"")
        })
        .and_then(|l| l.rsplit(' ').next()?.parse::<f64>().ok());
    assert_eq!(hits, Some(3.0), "{scrape}");
    assert!(scrape.contains("papertrader_master_link_up{server=\"worker-ops-test\"} 1"));
    // The master counts the requests the worker forwarded to it.
    let master_ops = master.ops.as_ref().unwrap().local_addr;
    let (_, master_scrape) = papertrader_testkit::ops::get(master_ops, "/metrics").await;
    assert!(
        master_scrape
            .lines()
            .any(|l| l.starts_with("papertrader_requests_total{")
                && l.contains("server=\"master-behind-ops-worker\"")
                && l.contains("instruction=\"register\"")
                && l.contains("outcome=\"ok\"")
                && l.ends_with(" 1")),
        "{master_scrape}"
    );

    // The master goes away for good: not ready, though still live.
    master.accept.abort();
    let why = Failure::new(ReasonCode::Unavailable, "test");
    master
        .services
        .registry
        .send(CloseAllLinks(why))
        .await
        .unwrap();
    let body = ready_becomes(&worker, 503).await;
    assert!(body.contains("master_link failed"), "{body}");
    assert_eq!(get(&worker, "/health/live").await.0, 200);
    let (_, scrape) = get(&worker, "/metrics").await;
    assert!(scrape.contains("papertrader_master_link_up{server=\"worker-ops-test\"} 0"));
}
