//! Restart: the real binary, stopped with SIGTERM and started again on the same database.

use std::process::Command;

use papertrader_client::Connection;
use papertrader_protocol::data::DataBody;
use papertrader_protocol::*;

use crate::support::*;

fn stop(mut master: Master) {
    let pid = master.0.id().to_string();
    let _ = Command::new("kill").args(["-TERM", &pid]).status();
    let status = master.0.wait().expect("wait");
    assert!(status.success(), "graceful exit, got {status}");
}

#[actix::test]
async fn accounts_sessions_portfolios_and_history_survive_a_restart() {
    for db in databases("restart") {
        let port = free_port();
        let first = spawn_master(&db, port).await;
        let mut c = Connection::connect(("127.0.0.1", port)).await.unwrap();
        let session = new_user(&mut c, "kim").await;
        let bound = login(&mut c, "kim", false).await.unwrap();
        let Message::PurchaseSuccess(bought) =
            order(&mut c, true, &session, "IBM", 5).await.unwrap()
        else {
            panic!()
        };
        drop(c);
        stop(first);
        let log = std::fs::read_to_string(db.dir.path().join("bin.log"))
            .expect("log flushed at shutdown");
        assert!(log.contains("batch settled"), "{log}");

        let _second = spawn_master(&db, port).await;
        let mut c = Connection::connect(("127.0.0.1", port)).await.unwrap();
        let resume = |s: &str| {
            Message::LoginWithSession(SessionToken {
                session_id: s.to_owned(),
            })
        };
        c.call(&resume(&session))
            .await
            .expect("expirable session survives");
        assert_eq!(
            reason(c.call(&resume(&bound)).await),
            ReasonCode::SessionInvalid,
            "{}",
            db.backend
        );
        switch(&mut c, &session, ConnectionState::DataTransfer)
            .await
            .unwrap();
        let DataBody::Portfolio(p) = c
            .call_data(
                &Message::GetUserPortfolio(user_query(&session, "kim")),
                |_, _| {},
            )
            .await
            .unwrap()
        else {
            panic!()
        };
        assert_eq!(
            (
                p.holdings[0].symbol.as_str(),
                p.holdings[0].quantity,
                p.cash
            ),
            ("IBM", 5, Some(bought.cash_after))
        );
        let DataBody::Transactions(t) = c
            .call_data(
                &Message::GetUserTransactionHistory(user_query(&session, "kim")),
                |_, _| {},
            )
            .await
            .unwrap()
        else {
            panic!()
        };
        assert_eq!(t.entries.len(), 1);
        assert_eq!(t.entries[0].price, bought.price);
        assert_eq!(t.entries[0].settled_at_ms, bought.settled_at_ms);
    }
}
