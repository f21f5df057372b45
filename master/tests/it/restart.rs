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

async fn accounts_sessions_portfolios_and_history_survive_a_restart(db: TestDb) {
    let (first, addr) = spawn_master(&db).await;
    let mut c = Connection::connect(addr).await.unwrap();
    let session = new_user(&mut c, "kim").await;
    let bound = login(&mut c, "kim", false).await.unwrap();
    let Message::PurchaseSuccess(bought) = order(&mut c, true, &session, "IBM", 5).await.unwrap()
    else {
        panic!()
    };
    drop(c);
    stop(first);
    let log =
        std::fs::read_to_string(db.dir.path().join("bin.log")).expect("log flushed at shutdown");
    assert!(log.contains("batch settled"), "{log}");

    let (_second, addr) = spawn_master(&db).await;
    let mut c = Connection::connect(addr).await.unwrap();
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
    let p = portfolio(&mut c, &session, "kim").await;
    assert_eq!(
        (
            p.holdings[0].symbol.as_str(),
            p.holdings[0].quantity,
            p.cash
        ),
        ("IBM", 5, Some(bought.cash_after))
    );
    let t = transactions(&mut c, &session, "kim").await;
    assert_eq!(t.entries.len(), 1);
    assert_eq!(t.entries[0].price, bought.price);
    assert_eq!(t.entries[0].settled_at_ms, bought.settled_at_ms);
    // A quote's day figures are today's daily bar, after the restart too.
    quote_is_todays_bar(&mut c, "IBM").await;
}
on_both_backends!(accounts_sessions_portfolios_and_history_survive_a_restart);

/// A connection-bound session whose connection was still open when the master was killed
/// (so it never heard of the close) is ended when the master starts again.
async fn a_bound_session_open_at_a_kill_9_is_ended_at_the_next_start(db: TestDb) {
    let (first, addr) = spawn_master(&db).await;
    let mut open = Connection::connect(addr).await.unwrap();
    new_user(&mut open, "kit").await;
    let bound = login(&mut open, "kit", false).await.unwrap();
    let expirable = login(&mut open, "kit", true).await.unwrap();
    drop(first); // SIGKILL, with `open` still connected
    drop(open);

    let (_second, addr) = spawn_master(&db).await;
    let mut c = Connection::connect(addr).await.unwrap();
    let resume = |s: &str| {
        Message::LoginWithSession(SessionToken {
            session_id: s.to_owned(),
        })
    };
    assert_eq!(
        reason(c.call(&resume(&bound)).await),
        ReasonCode::SessionInvalid,
        "{}",
        db.backend
    );
    c.call(&resume(&expirable))
        .await
        .expect("an expirable session survives the kill");
}
on_both_backends!(a_bound_session_open_at_a_kill_9_is_ended_at_the_next_start);

/// Checks that the quote of `symbol` carries exactly the figures of its day's daily bar (read
/// between two equal quotes, so no tick fell in between).
async fn quote_is_todays_bar(c: &mut Connection, symbol: &str) {
    let quote = Message::GetAssetValueCurrent(AssetQuery {
        symbol: symbol.into(),
    });
    let week = Message::GetAssetValueWeek(AssetRangeQuery {
        symbol: symbol.into(),
        date_ms: chrono::Utc::now().timestamp_millis() + 86_400_000,
    });
    for _ in 0..20 {
        let DataBody::Quote(before) = c.call_data(&quote, |_, _| {}).await.unwrap() else {
            panic!()
        };
        let DataBody::History(bars) = c.call_data(&week, |_, _| {}).await.unwrap() else {
            panic!()
        };
        let DataBody::Quote(after) = c.call_data(&quote, |_, _| {}).await.unwrap() else {
            panic!()
        };
        if before != after {
            continue;
        }
        let today = bars.bars.last().expect("a bar for today");
        assert_eq!(
            today.at_ms,
            after.at_ms - after.at_ms.rem_euclid(86_400_000)
        );
        assert_eq!(
            (today.open, today.high, today.low, today.close, today.volume),
            (after.open, after.high, after.low, after.close, after.volume),
            "the quote's day figures are not today's bar"
        );
        return;
    }
    panic!("the quote never held still long enough to compare");
}
