//! The master restarts under running workers: they fail cleanly meanwhile and re-admit
//! themselves afterwards, without restarting.

use std::time::Duration;

use papertrader_client::Connection;
use papertrader_master::db::{workers, Db};
use papertrader_protocol::*;
use papertrader_worker::server::{load_or_create_identity, load_or_create_uuid};

use crate::support::*;

/// A master in a thread of its own on `listen` (port 0 for any); returns it and its address.
fn master_thread(
    dir: &std::path::Path,
    listen: std::net::SocketAddr,
) -> (ServerThread, std::net::SocketAddr) {
    let mut config = master_config(dir);
    config.listen = listen;
    ServerThread::start(move || async move {
        let logs = papertrader_runtime::log::LogSystem::new(&config.log_file, 64);
        let master = papertrader_master::server::start(config, logs)
            .await
            .expect("master starts");
        (master.local_addr, master)
    })
}

#[actix::test]
async fn workers_readmit_themselves_after_a_master_restart() {
    let dir = tempfile::tempdir().unwrap();
    // The first master picks its port; the restarted one takes the same (a real master's is
    // fixed), the moment the first has let it go.
    let (first, master_addr) = master_thread(dir.path(), "127.0.0.1:0".parse().unwrap());

    // Register the worker directly in the master's database (as `papertrader admin` would).
    let config = worker_config(dir.path(), "w", master_addr);
    let uuid = load_or_create_uuid(&config.uuid_file).unwrap();
    let public_key = load_or_create_identity(&config)
        .unwrap()
        .public()
        .armored()
        .unwrap();
    let db = Db::open(&dir.path().join("pt.db").to_string_lossy(), 1).unwrap();
    let row = workers::WorkerRow {
        uuid: uuid.hyphenated().to_string(),
        name: "w".into(),
        address: "127.0.0.1:2049".into(),
        allowed_ips: "127.0.0.1".into(),
        public_key,
        enabled: true,
        created_at: 0,
    };
    assert!(db.run_blocking(|c| workers::insert(c, &row)).unwrap());
    let worker = start_worker(config).await;
    wait_link(&worker.link, up).await;

    let mut client = Connection::connect(worker.local_addr).await.unwrap();
    let session = new_user(&mut client, "quinn").await;
    let mut reader = Connection::connect(worker.local_addr).await.unwrap();
    let switch = Message::SwitchState(SwitchState {
        session_id: session.clone(),
        state: ConnectionState::DataTransfer,
    });
    reader.call(&switch).await.unwrap();
    // Let the first master count its ticks well past what the second will reach below.
    while worker.cache.tick() < 20 {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    // Master down: requests fail at once with Unavailable instead of hanging — reads from
    // the cache too, since a session may end on the master meanwhile.
    first.stop();
    wait_link(&worker.link, |s| !up(s)).await;
    let resume = Message::LoginWithSession(SessionToken {
        session_id: session.clone(),
    });
    let started = std::time::Instant::now();
    assert_eq!(
        client.call(&resume).await.unwrap_err().reason(),
        Some(ReasonCode::Unavailable)
    );
    assert!(started.elapsed() < Duration::from_secs(2));
    let quote = Message::GetAssetValueCurrent(AssetQuery {
        symbol: "AAPL".into(),
    });
    assert_eq!(
        reader
            .call_data(&quote, |_, _| {})
            .await
            .unwrap_err()
            .reason(),
        Some(ReasonCode::Unavailable)
    );

    // Master back: the worker re-admits itself and the same client connection works again.
    let restarted_at = chrono::Utc::now().timestamp_millis();
    let (_second, _) = master_thread(dir.path(), master_addr);
    wait_link(&worker.link, up).await;
    // Quotes through the worker follow the new master's ticks (numbered from 0 again) at once.
    let fresh = async {
        loop {
            if let Ok(data::DataBody::Quote(q)) = reader.call_data(&quote, |_, _| {}).await {
                if q.at_ms >= restarted_at {
                    return q;
                }
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    };
    let q = tokio::time::timeout(Duration::from_secs(2), fresh)
        .await
        .expect("the worker kept serving the old master's prices");
    assert!(!q.stale);
    assert!(worker.cache.tick() < 20, "ticks are the new master's");
    assert_eq!(
        client.call(&resume).await.unwrap(),
        Message::SessionId(SessionToken {
            session_id: session
        })
    );
}
