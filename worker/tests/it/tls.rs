//! TLS on every link: a master whose port takes TLS only, workers that link to it with TLS, a
//! TLS worker and a plain one side by side for clients; and each way of getting it wrong gets
//! a clear error — a plain client on a TLS port, a TLS client on a plain port, a wrong CA, an
//! expired certificate, a worker linking without TLS.

use std::path::Path;

use papertrader_client::tls::ClientTls;
use papertrader_client::{ClientError, Connection, Peer};
use papertrader_master::config::MasterConfig;
use papertrader_protocol::*;
use papertrader_runtime::tls::certs::Authority;
use papertrader_worker::config::WorkerConfig;
use time::{Duration, OffsetDateTime};

use crate::support::*;

/// A CA in `dir/tls`, a certificate `server` for 127.0.0.1 and an expired one `expired`.
fn certificates(dir: &Path) -> std::path::PathBuf {
    let tls = dir.join("tls");
    let ca = Authority::load_or_create(&tls).unwrap();
    let hosts = ["127.0.0.1".to_owned(), "localhost".to_owned()];
    let now = OffsetDateTime::now_utc();
    ca.issue(&tls, "server", &hosts, now - Duration::hours(1), 30)
        .unwrap();
    ca.issue(&tls, "expired", &hosts, now - Duration::days(10), 2)
        .unwrap();
    tls
}

fn with_tls(mut config: WorkerConfig, tls: &Path, cert: &str, master_ca: bool) -> WorkerConfig {
    config.tls_cert_file = Some(tls.join(format!("{cert}.pem")));
    config.tls_key_file = Some(tls.join(format!("{cert}.key.pem")));
    if master_ca {
        config.master_ca_file = Some(tls.join("ca.pem"));
    }
    config
}

fn tls_error<T>(result: Result<T, ClientError>) -> String {
    match result {
        Err(ClientError::Tls(why)) => why,
        Err(other) => panic!("not a TLS error: {other}"),
        Ok(_) => panic!("connected"),
    }
}

#[actix::test]
async fn every_link_takes_tls_and_each_mistake_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let tls = certificates(dir.path());
    let master = start_master_with(MasterConfig {
        tls_cert_file: Some(tls.join("server.pem")),
        tls_key_file: Some(tls.join("server.key.pem")),
        ..master_config(dir.path())
    })
    .await;

    // Worker a: TLS to the master and for its clients. Worker b: TLS to the master, plain for
    // its clients.
    let a = with_tls(
        worker_config(dir.path(), "a", master.local_addr),
        &tls,
        "server",
        true,
    );
    register_worker(&master, "a", &a, &["127.0.0.1"]).await;
    let a = start_worker(a).await;
    let mut b = worker_config(dir.path(), "b", master.local_addr);
    b.master_ca_file = Some(tls.join("ca.pem"));
    register_worker(&master, "b", &b, &["127.0.0.1"]).await;
    let b = start_worker(b).await;
    wait_link(&a.link, up).await;
    wait_link(&b.link, up).await;

    let trusted = ClientTls::load(&tls.join("ca.pem")).unwrap();
    let a_tls = format!("tls://{}", a.local_addr);
    let b_plain = b.local_addr.to_string();

    // Side by side: a TLS client on a, a plain client on b, one session.
    let mut on_a = Connection::connect_with(Peer::Worker, &a_tls, Some(&trusted))
        .await
        .unwrap();
    let session = new_user(&mut on_a, "tess").await;
    let mut on_b = Connection::connect_with(Peer::Worker, &b_plain, None)
        .await
        .unwrap();
    on_b.call(&Message::LoginWithSession(SessionToken {
        session_id: session.clone(),
    }))
    .await
    .unwrap();

    // A plain client on the TLS port is told, in a plain frame.
    let mut plain_on_a = Connection::connect(a.local_addr).await.unwrap();
    let told = plain_on_a
        .call(&Message::GetServerInfo(Empty {}))
        .await
        .unwrap_err();
    assert_eq!(told.reason(), Some(ReasonCode::Malformed), "{told}");
    assert!(told.to_string().contains("requires TLS"), "{told}");

    // A TLS client on the plain port.
    let plain_port = tls_error(
        Connection::connect_with(
            Peer::Worker,
            &format!("tls://{}", b.local_addr),
            Some(&trusted),
        )
        .await,
    );
    assert!(plain_port.contains("plain"), "{plain_port}");

    // A CA that did not sign the certificate.
    let other = tempfile::tempdir().unwrap();
    let stranger = certificates(other.path());
    let wrong = ClientTls::load(&stranger.join("ca.pem")).unwrap();
    let wrong_ca = tls_error(Connection::connect_with(Peer::Worker, &a_tls, Some(&wrong)).await);
    assert!(wrong_ca.contains("not signed by the CA"), "{wrong_ca}");

    // A CA configured and a plain address: refused, never sent in clear.
    let downgrade =
        tls_error(Connection::connect_with(Peer::Worker, &b_plain, Some(&trusted)).await);
    assert!(
        downgrade.contains("is plain but a CA is configured"),
        "{downgrade}"
    );

    // No CA given for a tls:// address.
    let no_ca = tls_error(Connection::connect_with(Peer::Worker, &a_tls, None).await);
    assert!(no_ca.contains("--ca-file"), "{no_ca}");

    // An expired certificate (worker c serves one).
    let c = with_tls(
        worker_config(dir.path(), "c", master.local_addr),
        &tls,
        "expired",
        true,
    );
    register_worker(&master, "c", &c, &["127.0.0.1"]).await;
    let c = start_worker(c).await;
    let expired = tls_error(
        Connection::connect_with(
            Peer::Worker,
            &format!("tls://{}", c.local_addr),
            Some(&trusted),
        )
        .await,
    );
    assert!(expired.contains("expired"), "{expired}");

    // A worker that links without TLS to the TLS master is refused, and says why.
    let d = worker_config(dir.path(), "d", master.local_addr);
    register_worker(&master, "d", &d, &["127.0.0.1"]).await;
    let d = start_worker(d).await;
    wait_link(&d.link, down_with("requires TLS: set master_ca_file")).await;
    // One that trusts the wrong CA for the master.
    let mut e = worker_config(dir.path(), "e", master.local_addr);
    e.master_ca_file = Some(stranger.join("ca.pem"));
    register_worker(&master, "e", &e, &["127.0.0.1"]).await;
    let e = start_worker(e).await;
    wait_link(&e.link, down_with("not signed by the CA")).await;

    // The TLS session still works after all that.
    let bought = on_a
        .call(&Message::PurchaseAsset(TradeOrder {
            session_id: session,
            symbol: "AAPL".into(),
            quantity: 1,
            client_order_id: None,
        }))
        .await;
    assert!(
        matches!(bought, Ok(Message::PurchaseSuccess(_))),
        "{bought:?}"
    );
}
