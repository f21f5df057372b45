//! The full path client → worker → master → database, with two workers.

use diesel::prelude::*;
use papertrader_client::Connection;
use papertrader_master::actors::worker_registry::SetWorkerEnabled;
use papertrader_master::db::schema::transactions;
use papertrader_protocol::data::DataBody;
use papertrader_protocol::*;
use papertrader_worker::link::GetLinkStatus;

use crate::support::*;

#[actix::test]
async fn two_workers_serve_clients_and_share_sessions() {
    let dir = tempfile::tempdir().unwrap();
    let master = start_master(dir.path()).await;
    let config_a = worker_config(dir.path(), "a", master.local_addr);
    let config_b = worker_config(dir.path(), "b", master.local_addr);
    let uuid_a = register_worker(&master, "a", &config_a, &["127.0.0.1"]).await;
    register_worker(&master, "b", &config_b, &["127.0.0.1"]).await;
    let a = start_worker(config_a).await;
    let b = start_worker(config_b).await;
    wait_link(&a.link, up).await;
    wait_link(&b.link, up).await;

    // The master hands out the online workers and nothing else.
    let mut direct = Connection::connect(master.local_addr).await.unwrap();
    let Message::WorkerList(list) = direct
        .call(&Message::GetWorkerList(Empty {}))
        .await
        .unwrap()
    else {
        panic!()
    };
    let names: Vec<&str> = list.workers.iter().map(|w| w.name.as_str()).collect();
    assert_eq!(names, ["a", "b"]);
    assert_eq!(list.workers[0].address, "worker-a.test:2049");
    let refused = direct
        .call(&Message::Register(Register {
            username: "x".into(),
            email: "x@x.io".into(),
            hashed_password: "0".repeat(64),
        }))
        .await;
    assert_eq!(
        refused.unwrap_err().reason(),
        Some(ReasonCode::NotAuthorized)
    );

    // Register, log in and buy through worker A.
    let mut on_a = Connection::connect(a.local_addr).await.unwrap();
    let session = new_user(&mut on_a, "olga").await;
    let buy = TradeOrder {
        session_id: session.clone(),
        symbol: "AAPL".into(),
        quantity: 3,
        client_order_id: None,
    };
    let Message::PurchaseSuccess(receipt) = on_a.call(&Message::PurchaseAsset(buy)).await.unwrap()
    else {
        panic!()
    };

    // Resume the same session on worker B and see the portfolio.
    let mut on_b = Connection::connect(b.local_addr).await.unwrap();
    let resumed = on_b
        .call(&Message::LoginWithSession(SessionToken {
            session_id: session.clone(),
        }))
        .await
        .unwrap();
    assert_eq!(
        resumed,
        Message::SessionId(SessionToken {
            session_id: session.clone()
        })
    );
    on_b.call(&Message::SwitchState(SwitchState {
        session_id: session.clone(),
        state: ConnectionState::DataTransfer,
    }))
    .await
    .unwrap();
    let query = UserQuery {
        session_id: session.clone(),
        username: "olga".into(),
    };
    let DataBody::Portfolio(p) = on_b
        .call_data(&Message::GetUserPortfolio(query), |_, _| {})
        .await
        .unwrap()
    else {
        panic!()
    };
    assert_eq!(
        (p.holdings[0].symbol.as_str(), p.holdings[0].quantity),
        ("AAPL", 3)
    );

    // The master recorded the forwarding worker and the client's address with the trade.
    let (ip, worker): (String, Option<String>) = master
        .services
        .db
        .run(move |c| {
            Ok(transactions::table
                .find(receipt.transaction_id as i64)
                .select((transactions::client_ip, transactions::worker_uuid))
                .first(c)?)
        })
        .await
        .unwrap();
    assert_eq!(ip, "127.0.0.1");
    assert_eq!(worker, Some(uuid_a.hyphenated().to_string()));

    // Price reads are answered from the worker's cache: nothing more reaches the master.
    let before = a.link.send(GetLinkStatus).await.unwrap().forwarded;
    let mut reader = Connection::connect(a.local_addr).await.unwrap();
    let reader_session = new_user(&mut reader, "pavel").await;
    reader
        .call(&Message::SwitchState(SwitchState {
            session_id: reader_session,
            state: ConnectionState::DataTransfer,
        }))
        .await
        .unwrap();
    let after_setup = a.link.send(GetLinkStatus).await.unwrap().forwarded;
    assert_eq!(
        after_setup - before,
        3,
        "register, login, switchState went to the master"
    );
    let hits_before = a.cache.hits();
    for symbol in ["AAPL", "MSFT", "KO", "IBM"].iter().cycle().take(50) {
        let body = reader
            .call_data(
                &Message::GetAssetValueCurrent(AssetQuery {
                    symbol: (*symbol).into(),
                }),
                |_, _| {},
            )
            .await
            .unwrap();
        assert!(matches!(body, DataBody::Quote(q) if q.symbol == *symbol));
    }
    assert_eq!(
        a.link.send(GetLinkStatus).await.unwrap().forwarded,
        after_setup,
        "no quote reached the master"
    );
    assert!(a.cache.hits() - hits_before >= 50);
    // An unknown symbol is not in the cache and gets the master's answer.
    let unknown = reader
        .call_data(
            &Message::GetAssetValueCurrent(AssetQuery {
                symbol: "NOPE".into(),
            }),
            |_, _| {},
        )
        .await;
    assert_eq!(
        unknown.unwrap_err().reason(),
        Some(ReasonCode::UnknownAsset)
    );

    // Boot-off: A leaves the list at once, its link closes, its clients get a clean failure.
    assert!(master
        .services
        .registry
        .send(SetWorkerEnabled {
            name: "a".into(),
            enabled: false
        })
        .await
        .unwrap()
        .unwrap());
    let Message::WorkerList(list) = direct
        .call(&Message::GetWorkerList(Empty {}))
        .await
        .unwrap()
    else {
        panic!()
    };
    assert_eq!(
        list.workers
            .iter()
            .map(|w| w.name.as_str())
            .collect::<Vec<_>>(),
        ["b"]
    );
    wait_link(&a.link, down_with("BootedOff")).await;
    let order = TradeOrder {
        session_id: session.clone(),
        symbol: "AAPL".into(),
        quantity: 1,
        client_order_id: None,
    };
    assert_eq!(
        on_a.call(&Message::PurchaseAsset(order))
            .await
            .unwrap_err()
            .reason(),
        Some(ReasonCode::Unavailable)
    );
    // It stays out until re-enabled, then re-admits itself.
    assert!(master
        .services
        .registry
        .send(SetWorkerEnabled {
            name: "a".into(),
            enabled: true
        })
        .await
        .unwrap()
        .unwrap());
    wait_link(&a.link, up).await;
    let order = TradeOrder {
        session_id: session,
        symbol: "AAPL".into(),
        quantity: 1,
        client_order_id: None,
    };
    assert!(matches!(
        on_a.call(&Message::PurchaseAsset(order)).await.unwrap(),
        Message::PurchaseSuccess(_)
    ));
}

#[actix::test]
async fn the_worker_admin_socket_reports_status_and_log() {
    use papertrader_worker::admin::{request, WorkerAdminReply, WorkerAdminRequest};
    let dir = tempfile::tempdir().unwrap();
    let master = start_master(dir.path()).await;
    let config = worker_config(dir.path(), "adm", master.local_addr);
    let uuid = register_worker(&master, "adm", &config, &["127.0.0.1"]).await;
    let worker = start_worker(config.clone()).await;
    wait_link(&worker.link, up).await;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            std::fs::metadata(&worker.admin_socket)
                .unwrap()
                .permissions()
                .mode()
                & 0o777,
            0o600
        );
    }
    let WorkerAdminReply::Status(status) =
        request(&worker.admin_socket, &WorkerAdminRequest::Status)
            .await
            .unwrap()
    else {
        panic!()
    };
    assert_eq!(
        (status.link.as_str(), status.name.as_deref(), status.uuid),
        ("up", Some("adm"), uuid.hyphenated().to_string())
    );
    let WorkerAdminReply::Log { lines } =
        request(&worker.admin_socket, &WorkerAdminRequest::LogDump)
            .await
            .unwrap()
    else {
        panic!()
    };
    assert!(
        lines.iter().any(|l| l.contains("admitted by the master")),
        "{lines:?}"
    );
    // A second server may not take over a socket the first still answers on.
    let taken = papertrader_worker::admin::serve(
        &worker.admin_socket,
        papertrader_worker::admin::WorkerAdmin {
            uuid,
            link: worker.link.clone(),
            cache: worker.cache.clone(),
            log_actor: worker.log_actor.clone(),
        },
        slog::Logger::root(slog::Discard, slog::o!()),
    );
    assert_eq!(taken.unwrap_err().kind(), std::io::ErrorKind::AddrInUse);
}

#[actix::test]
async fn server_info_needs_no_login_and_gives_the_workers_own_payload_figures() {
    let dir = tempfile::tempdir().unwrap();
    let master = start_master(dir.path()).await;
    let mut config = worker_config(dir.path(), "a", master.local_addr);
    config.max_payload = 8192;
    register_worker(&master, "a", &config, &["127.0.0.1"]).await;
    let worker = start_worker(config).await;
    wait_link(&worker.link, up).await;

    let ask = Message::GetServerInfo(Empty {});
    // Through the worker, first thing on a connection, in Command state.
    let mut conn = Connection::connect(worker.local_addr).await.unwrap();
    let DataBody::ServerInfo(info) = conn.call_data(&ask, |_, _| {}).await.unwrap() else {
        panic!()
    };
    assert_eq!(info.protocol_version, PROTOCOL_VERSION);
    assert_eq!((info.max_payload, info.chunk_size), (8192, 8192));
    assert_eq!(info.update_interval_ms, 150);
    assert_eq!(info.starting_cash, Money::from_units(100_000));
    assert_eq!(info.currency, "USD");
    assert_eq!(info.session_ttl_ms, 7 * 86_400_000);
    assert_eq!(info.limits.max_quantity, limits::MAX_QUANTITY);
    assert_eq!(info.assets.len(), 10);
    assert!(info
        .assets
        .iter()
        .any(|a| a.symbol == "AAPL" && a.name == "Apple Inc."));
    // …and in DataTransfer state, from the cache.
    let session = new_user(&mut conn, "otto").await;
    conn.call(&Message::SwitchState(SwitchState {
        session_id: session,
        state: ConnectionState::DataTransfer,
    }))
    .await
    .unwrap();
    let again = conn.call_data(&ask, |_, _| {}).await.unwrap();
    assert_eq!(again, DataBody::ServerInfo(info.clone()));

    // The master answers it too (with its own payload figures), without direct clients.
    let mut direct = Connection::connect(master.local_addr).await.unwrap();
    let DataBody::ServerInfo(from_master) = direct.call_data(&ask, |_, _| {}).await.unwrap() else {
        panic!()
    };
    assert_eq!(from_master.max_payload, DEFAULT_MAX_PAYLOAD);
    assert_eq!(from_master.assets, info.assets);
}
