//! The master's ops endpoint: Prometheus metrics that move as the requests did, liveness, and
//! readiness that follows the database.

use std::collections::BTreeMap;
use std::time::Duration;

use papertrader_client::Connection;
use papertrader_master::config::MasterConfig;
use papertrader_master::server::RunningMaster;
use papertrader_protocol::*;

use crate::support::*;

/// GETs `path` of the master's ops endpoint: (status, body).
pub async fn get(master: &RunningMaster, path: &str) -> (u16, String) {
    papertrader_testkit::ops::get(ops_addr(master), path).await
}

fn ops_addr(master: &RunningMaster) -> std::net::SocketAddr {
    master.ops.as_ref().expect("an ops endpoint").local_addr
}

/// The value of the sample of `name` whose labels include all of `labels`, if there is one.
fn sample(scrape: &str, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    scrape.lines().find_map(|line| {
        let rest = line.strip_prefix(name)?;
        let (label_text, value) = match rest.strip_prefix('{') {
            Some(inner) => inner.split_once("} ")?,
            None => ("", rest.strip_prefix(' ')?),
        };
        let found: BTreeMap<&str, &str> = label_text
            .split(',')
            .filter_map(|pair| pair.split_once('='))
            .map(|(k, v)| (k, v.trim_matches('"')))
            .collect();
        labels
            .iter()
            .all(|(k, v)| found.get(k) == Some(v))
            .then(|| value.trim().parse().ok())?
    })
}

/// A master with an ops endpoint on a free port, under a label no other test uses.
async fn master_with_ops(db: &TestDb, label: &str) -> RunningMaster {
    master_with(MasterConfig {
        ops_listen: Some("127.0.0.1:0".parse().unwrap()),
        server_label: label.into(),
        ..test_config(db)
    })
    .await
}

/// Waits (at most 10 s) until `/health/ready` answers `status`; returns the body.
pub async fn ready_becomes(master: &RunningMaster, status: u16) -> String {
    papertrader_testkit::ops::status_becomes(ops_addr(master), "/health/ready", status).await
}

async fn metrics_count_what_a_trading_run_did(db: TestDb) {
    let label = format!("master-metrics-{}", db.backend);
    let master = master_with_ops(&db, &label).await;
    let server = [("server", label.as_str())];
    assert_eq!(get(&master, "/health/live").await.0, 200);
    assert_eq!(get(&master, "/nothing").await.0, 404);
    ready_becomes(&master, 200).await;

    let mut c = Connection::connect(master.local_addr).await.unwrap();
    let session = new_user(&mut c, "quinn").await;
    for _ in 0..5 {
        let bought = order(&mut c, true, &session, "AAPL", 1).await;
        assert!(
            matches!(bought, Ok(Message::PurchaseSuccess(_))),
            "{bought:?}"
        );
    }
    let refused = order(&mut c, true, &session, "AAPL", 900_000_000).await;
    let refused_code = refused.unwrap_err().reason().unwrap();
    let wrong = login(&mut c, "nobody", true).await;
    assert_eq!(
        wrong.unwrap_err().reason(),
        Some(ReasonCode::BadCredentials)
    );

    let (status, scrape) = get(&master, "/metrics").await;
    assert_eq!(status, 200);
    let count = |instruction: &str, outcome: &str| {
        let mut labels = server.to_vec();
        labels.extend([("instruction", instruction), ("outcome", outcome)]);
        sample(&scrape, "papertrader_requests_total", &labels).unwrap_or(0.0)
    };
    assert_eq!(count("purchaseAsset", "ok"), 5.0, "{scrape}");
    assert_eq!(count("purchaseAsset", refused_code.name()), 1.0);
    assert_eq!(count("register", "ok"), 1.0);
    assert_eq!(count("login", "ok"), 1.0);
    assert_eq!(count("login", "BadCredentials"), 1.0);
    let timed = sample(
        &scrape,
        "papertrader_request_seconds_count",
        &[server[0], ("instruction", "purchaseAsset")],
    );
    assert_eq!(timed, Some(6.0));
    assert_eq!(
        sample(&scrape, "papertrader_connections", &server),
        Some(1.0)
    );
    // Process-wide figures (other tests' masters run in this process too): present and moved.
    assert!(sample(&scrape, "papertrader_orders_settled_total", &[]).unwrap_or(0.0) >= 5.0);
    assert!(sample(&scrape, "papertrader_settlement_seconds_count", &[]).unwrap_or(0.0) >= 1.0);

    drop(c);
    tokio::time::sleep(Duration::from_millis(200)).await;
    let (_, scrape) = get(&master, "/metrics").await;
    assert_eq!(
        sample(&scrape, "papertrader_connections", &server),
        Some(0.0)
    );
}
on_both_backends!(metrics_count_what_a_trading_run_did);

/// Takes the test database away (no new connections, existing ones ended), or gives it back.
fn database_reachable(db: &TestDb, reachable: bool) {
    use diesel::prelude::*;
    let (base, name) = db.url.rsplit_once('/').unwrap();
    let mut admin = diesel::PgConnection::establish(&format!("{base}/postgres")).unwrap();
    // ALTER DATABASE takes no bound parameters; the name was generated from [a-z0-9_].
    diesel::sql_query(format!(
        "ALTER DATABASE {name} ALLOW_CONNECTIONS {reachable}"
    ))
    .execute(&mut admin)
    .unwrap();
    if !reachable {
        diesel::sql_query(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1",
        )
        .bind::<diesel::sql_types::Text, _>(name)
        .execute(&mut admin)
        .unwrap();
    }
}

#[actix::test]
#[cfg_attr(
    not(postgres_tests),
    ignore = "needs PostgreSQL: set PAPERTRADER_TEST_POSTGRES_URL to run it"
)]
async fn readiness_flips_when_the_database_goes_away_and_comes_back() {
    let db = TestDb::postgres();
    let master = master_with_ops(&db, "master-readiness").await;
    let body = ready_becomes(&master, 200).await;
    assert!(
        body.contains("database ok") && body.contains("prices ok"),
        "{body}"
    );
    database_reachable(&db, false);
    let body = ready_becomes(&master, 503).await;
    assert!(body.contains("database failed"), "{body}");
    // Liveness is not readiness: the process still serves.
    assert_eq!(get(&master, "/health/live").await.0, 200);
    database_reachable(&db, true);
    ready_becomes(&master, 200).await;
}

#[actix::test]
async fn idle_connections_cannot_hold_the_ops_endpoint() {
    let db = TestDb::sqlite();
    let master = master_with_ops(&db, "master-ops-flood").await;
    let addr = ops_addr(&master);
    // 64 connections that never send a request take every place...
    let mut idle = Vec::new();
    for _ in 0..64 {
        idle.push(tokio::net::TcpStream::connect(addr).await.unwrap());
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    let refused = reqwest::Client::new()
        .get(format!("http://{addr}/health/live"))
        .timeout(Duration::from_secs(2))
        .send()
        .await;
    assert!(
        refused.is_err(),
        "a 65th connection was served: {refused:?}"
    );
    // ...until the header deadline (5 s) lets them go; then the endpoint answers again.
    let started = std::time::Instant::now();
    papertrader_testkit::ops::status_becomes(addr, "/health/live", 200).await;
    assert!(started.elapsed() < Duration::from_secs(9));
    drop(idle);
}
