//! An ended session is dead for every later request, however hard other connections are using
//! it at the moment it ends: logout and admin revocation, racing connections in Command and
//! DataTransfer state, 100 trials per backend.

use std::cell::Cell;
use std::rc::Rc;
use std::time::{Duration, Instant};

use papertrader_client::{ClientError, Connection};
use papertrader_master::actors::session::{ListSessions, Revoke};
use papertrader_protocol::*;

use crate::support::*;

const TRIALS: usize = 100;
/// Requests each racing connection still sends once the end has been confirmed.
const AFTER_END: usize = 4;

/// One request a racer sent: when, and how it ended.
struct Sent {
    at: Instant,
    outcome: Result<(), ReasonCode>,
}

fn outcome<T>(result: Result<T, ClientError>) -> Result<(), ReasonCode> {
    match result {
        Ok(_) => Ok(()),
        Err(e) => Err(e
            .reason()
            .unwrap_or_else(|| panic!("not a Fail reply: {e}"))),
    }
}

/// Uses `session` on its own connection until `AFTER_END` requests after `ended` is set:
/// in DataTransfer state (`data`: quotes and the portfolio) or in Command state (switching
/// to DataTransfer and back).
async fn race(
    addr: std::net::SocketAddr,
    session: String,
    data: bool,
    ended: Rc<Cell<Option<Instant>>>,
    ready: Rc<Cell<usize>>,
) -> Vec<Sent> {
    let mut conn = Connection::connect(addr).await.unwrap();
    let mut sent = Vec::new();
    if data {
        switch(&mut conn, &session, ConnectionState::DataTransfer)
            .await
            .unwrap();
    }
    ready.set(ready.get() + 1);
    let mut after = 0;
    while after < AFTER_END {
        if ended.get().is_some() {
            after += 1;
        }
        let at = Instant::now();
        let result = if data {
            let quote = Message::GetAssetValueCurrent(AssetQuery {
                symbol: "AAPL".into(),
            });
            let portfolio = Message::GetUserPortfolio(user_query(&session, "rita"));
            let request = if sent.len() % 2 == 0 {
                quote
            } else {
                portfolio
            };
            outcome(conn.call_data(&request, |_, _| {}).await)
        } else {
            let r = switch(&mut conn, &session, ConnectionState::DataTransfer).await;
            if r.is_ok() {
                switch(&mut conn, &session, ConnectionState::Command)
                    .await
                    .unwrap();
            }
            outcome(r)
        };
        sent.push(Sent {
            at,
            outcome: result,
        });
    }
    sent
}

async fn an_ended_session_is_dead_for_every_later_request_under_racing_use(db: TestDb) {
    let master = master(&db).await;
    let addr = master.local_addr;
    let mut owner = Connection::connect(addr).await.unwrap();
    register(&mut owner, "rita").await.unwrap();
    for trial in 0..TRIALS {
        let session = login(&mut owner, "rita", true).await.unwrap();
        let ended = Rc::new(Cell::new(None));
        let ready = Rc::new(Cell::new(0));
        let racers: Vec<_> = (0..6)
            .map(|i| {
                race(
                    addr,
                    session.clone(),
                    i % 2 == 0,
                    ended.clone(),
                    ready.clone(),
                )
            })
            .collect();
        let end = async {
            // Let the racers get going (connected, and in DataTransfer state for the data
            // ones), then end the session: logout on even trials, an admin revocation on odd
            // ones.
            while ready.get() < 6 {
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
            tokio::time::sleep(Duration::from_millis((trial % 5) as u64)).await;
            if trial % 2 == 0 {
                let logout = Message::Logout(SessionToken {
                    session_id: session.clone(),
                });
                owner.call(&logout).await.unwrap();
            } else {
                let live = master.services.sessions.send(ListSessions).await.unwrap();
                let id = live
                    .unwrap()
                    .iter()
                    .find(|s| s.username == "rita")
                    .unwrap()
                    .id;
                let revoke = Revoke { session_id: id };
                assert!(master
                    .services
                    .sessions
                    .send(revoke)
                    .await
                    .unwrap()
                    .unwrap());
            }
            ended.set(Some(Instant::now()));
        };
        let (sent, ()) = futures::join!(futures::future::join_all(racers), end);
        let ended_at = ended.get().unwrap();
        for (racer, requests) in sent.iter().enumerate() {
            for (index, request) in requests.iter().enumerate().filter(|(_, r)| r.at > ended_at) {
                assert_eq!(
                    request.outcome,
                    Err(ReasonCode::SessionInvalid),
                    "{}: trial {trial}, racer {racer}: request {index} after the end ({:?} after)",
                    db.backend,
                    request.at - ended_at
                );
            }
        }
        // Nothing lists it, and it stays dead.
        let live = master.services.sessions.send(ListSessions).await.unwrap();
        assert!(live.unwrap().iter().all(|s| s.username != "rita"));
        let resume = Message::LoginWithSession(SessionToken {
            session_id: session.clone(),
        });
        assert_eq!(
            reason(owner.call(&resume).await),
            ReasonCode::SessionInvalid
        );
    }
}
on_both_backends!(an_ended_session_is_dead_for_every_later_request_under_racing_use);
