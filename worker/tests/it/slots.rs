//! Connection places on the master: a flood of anonymous connections fills the client places
//! and is capped per address, but cannot lock a registered worker out.

use std::time::{Duration, Instant};

use papertrader_protocol::*;
use tokio::io::AsyncWriteExt;

use crate::support::*;

#[actix::test]
async fn a_flood_of_anonymous_connections_cannot_lock_a_worker_out() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = master_config(dir.path());
    config.max_connections = 8;
    config.max_connections_per_address = 4;
    config.first_frame_timeout_secs = 10;
    let master = start_master_with(config).await;
    let worker = worker_config(dir.path(), "w", master.local_addr);
    register_worker(&master, "w", &worker, &["127.0.0.1"]).await;

    // Eight silent connections from two other addresses take every client place.
    let mut flood = Vec::new();
    for from in ["127.0.0.2", "127.0.0.3"] {
        for _ in 0..4 {
            let mut peer = connect_from(from, master.local_addr).await;
            peer.write_all(&[PROTOCOL_VERSION]).await.unwrap();
            flood.push(peer);
        }
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    // A fifth from the same address is refused for its address; a newcomer from elsewhere
    // for want of places.
    let over_address = refusal(connect_from("127.0.0.2", master.local_addr).await).await;
    assert!(
        matches!(&over_address, Some(f) if f.code == ReasonCode::RateLimited && f.message.contains("your address")),
        "{over_address:?}"
    );
    let over_total = refusal(connect_from("127.0.0.4", master.local_addr).await).await;
    assert!(
        matches!(&over_total, Some(f) if f.code == ReasonCode::RateLimited && f.message.contains("too many connections")),
        "{over_total:?}"
    );

    // The registered worker, at its whitelisted address, is admitted all the same.
    let started = Instant::now();
    let worker = start_worker(worker).await;
    wait_link(&worker.link, up).await;
    assert!(started.elapsed() < Duration::from_secs(5));
    assert_eq!(flood.len(), 8, "the flood still holds its places");

    // Through the worker, clients are served while the master's client places are full.
    let mut client = papertrader_client::Connection::connect(worker.local_addr)
        .await
        .unwrap();
    new_user(&mut client, "ines").await;
}

#[actix::test]
async fn a_worker_caps_connections_per_address_and_closes_the_refused() {
    let dir = tempfile::tempdir().unwrap();
    let master = start_master(dir.path()).await;
    let mut config = worker_config(dir.path(), "w", master.local_addr);
    config.max_connections_per_address = 3;
    config.max_connections = 5;
    register_worker(&master, "w", &config, &["127.0.0.1"]).await;
    let worker = start_worker(config).await;

    let mut held = Vec::new();
    for _ in 0..3 {
        held.push(connect_from("127.0.0.2", worker.local_addr).await);
    }
    // Connected is not yet accepted: wait until the worker has counted them (a fourth from
    // the address is then refused for its address, and closed).
    let mut over_address = None;
    for _ in 0..100 {
        over_address = refusal(connect_from("127.0.0.2", worker.local_addr).await).await;
        if over_address.is_some() {
            break;
        }
    }
    assert!(
        matches!(&over_address, Some(f) if f.code == ReasonCode::RateLimited && f.message.contains("your address")),
        "{over_address:?}"
    );
    // Other addresses still get in, up to the worker's total.
    held.push(connect_from("127.0.0.3", worker.local_addr).await);
    held.push(connect_from("127.0.0.3", worker.local_addr).await);
    let over_total = refusal(connect_from("127.0.0.4", worker.local_addr).await).await;
    assert!(
        matches!(&over_total, Some(f) if f.code == ReasonCode::RateLimited && f.message.contains("too many connections")),
        "{over_total:?}"
    );
    // A place given back is a place to take.
    drop(held.pop());
    let mut admitted = false;
    for _ in 0..100 {
        let mut c = papertrader_client::Connection::from_stream(
            connect_from("127.0.0.4", worker.local_addr).await,
        )
        .unwrap();
        if c.call(&Message::GetWorkerList(Empty {})).await.is_ok() {
            admitted = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(admitted, "the freed place was never given out again");
}
