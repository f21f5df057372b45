//! Sessions end everywhere at once: a logout or revocation through one worker ends the session
//! on every worker — including connections in DataTransfer state reading from a worker's
//! cache — and a connection-bound session ends with its connection, however other connections
//! race to use it. 100 trials each.

use std::cell::Cell;
use std::rc::Rc;
use std::time::{Duration, Instant};

use papertrader_client::{ClientError, Connection};
use papertrader_master::actors::session::{ListSessions, Revoke};
use papertrader_protocol::*;

use crate::support::*;

const TRIALS: usize = 100;

fn code<T>(result: Result<T, ClientError>) -> Result<(), ReasonCode> {
    result.map(|_| ()).map_err(|e| {
        e.reason()
            .unwrap_or_else(|| panic!("not a Fail reply: {e}"))
    })
}

async fn switch(
    conn: &mut Connection,
    session: &str,
    state: ConnectionState,
) -> Result<(), ReasonCode> {
    code(
        conn.call(&Message::SwitchState(SwitchState {
            session_id: session.into(),
            state,
        }))
        .await,
    )
}

async fn quote(conn: &mut Connection) -> Result<(), ReasonCode> {
    let request = Message::GetAssetValueCurrent(AssetQuery {
        symbol: "AAPL".into(),
    });
    code(conn.call_data(&request, |_, _| {}).await)
}

/// Reads quotes in DataTransfer state on `conn` until 3 reads after `ended` is set; returns
/// (when sent, outcome) of each read.
async fn read_quotes(
    conn: &mut Connection,
    ended: &Cell<Option<Instant>>,
) -> Vec<(Instant, Result<(), ReasonCode>)> {
    let mut sent = Vec::new();
    let mut after = 0;
    while after < 3 {
        if ended.get().is_some() {
            after += 1;
        }
        let at = Instant::now();
        sent.push((at, quote(conn).await));
    }
    sent
}

#[actix::test]
async fn an_ended_session_is_refused_on_every_worker_even_from_the_cache() {
    let dir = tempfile::tempdir().unwrap();
    let master = start_master(dir.path()).await;
    let workers = start_workers(&master, dir.path(), &["a", "b"]).await;
    let (a, b) = (workers[0].local_addr, workers[1].local_addr);
    let mut owner = Connection::connect(b).await.unwrap();
    new_user(&mut owner, "sven").await;
    let hashed = papertrader_protocol::password::client_password_hash("sven", "pw");
    for trial in 0..TRIALS {
        let Message::SessionId(token) = owner
            .call(&Message::Login(Login {
                username: "sven".into(),
                hashed_password: hashed.clone(),
                is_expirable: true,
            }))
            .await
            .unwrap()
        else {
            panic!()
        };
        let session = token.session_id;
        // Two connections on each worker read quotes from the cache in DataTransfer state.
        let mut readers = Vec::new();
        for addr in [a, a, b, b] {
            let mut conn = Connection::connect(addr).await.unwrap();
            switch(&mut conn, &session, ConnectionState::DataTransfer)
                .await
                .unwrap();
            readers.push(conn);
        }
        let ended = Rc::new(Cell::new(None));
        let reads =
            futures::future::join_all(readers.iter_mut().map(|conn| read_quotes(conn, &ended)));
        let end = async {
            tokio::time::sleep(Duration::from_millis((trial % 4) as u64)).await;
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
                    .find(|s| s.username == "sven")
                    .unwrap()
                    .id;
                let revoked = master.services.sessions.send(Revoke { session_id: id });
                assert!(revoked.await.unwrap().unwrap());
            }
            ended.set(Some(Instant::now()));
        };
        let (reads, ()) = futures::join!(reads, end);
        let ended_at = ended.get().unwrap();
        for (reader, sent) in reads.iter().enumerate() {
            for (at, outcome) in sent.iter().filter(|(at, _)| *at > ended_at) {
                assert_eq!(
                    *outcome,
                    Err(ReasonCode::SessionInvalid),
                    "trial {trial}, reader {reader}: a read {:?} after the end",
                    *at - ended_at
                );
            }
        }
        // A new switchState with a live session brings a connection back.
        let fresh = {
            let Message::SessionId(t) = owner
                .call(&Message::Login(Login {
                    username: "sven".into(),
                    hashed_password: hashed.clone(),
                    is_expirable: true,
                }))
                .await
                .unwrap()
            else {
                panic!()
            };
            t.session_id
        };
        if trial % 25 == 0 {
            let conn = &mut readers[0];
            switch(conn, &fresh, ConnectionState::DataTransfer)
                .await
                .unwrap();
            quote(conn).await.unwrap();
            // …and leaving DataTransfer works even with the dead session.
            switch(conn, &session, ConnectionState::Command)
                .await
                .unwrap();
        }
        owner
            .call(&Message::Logout(SessionToken { session_id: fresh }))
            .await
            .unwrap();
    }
}

#[actix::test]
async fn a_connection_bound_session_ends_with_its_connection_whoever_uses_it() {
    let dir = tempfile::tempdir().unwrap();
    let master = start_master(dir.path()).await;
    let config = worker_config(dir.path(), "a", master.local_addr);
    register_worker(&master, "a", &config, &["127.0.0.1"]).await;
    let worker = start_worker(config).await;
    wait_link(&worker.link, up).await;
    let addr = worker.local_addr;
    let mut setup = Connection::connect(addr).await.unwrap();
    new_user(&mut setup, "tove").await;
    let hashed = papertrader_protocol::password::client_password_hash("tove", "pw");

    for trial in 0..TRIALS {
        let mut bound = Connection::connect(addr).await.unwrap();
        let Message::SessionId(token) = bound
            .call(&Message::Login(Login {
                username: "tove".into(),
                hashed_password: hashed.clone(),
                is_expirable: false,
            }))
            .await
            .unwrap()
        else {
            panic!()
        };
        let session = token.session_id;
        // Another connection uses the session while the bound one is open…
        let mut other = Connection::connect(addr).await.unwrap();
        switch(&mut other, &session, ConnectionState::DataTransfer)
            .await
            .unwrap();
        quote(&mut other).await.unwrap();
        // …but cannot take it over.
        let resume = Message::LoginWithSession(SessionToken {
            session_id: session.clone(),
        });
        let mut third = Connection::connect(addr).await.unwrap();
        assert_eq!(
            code(third.call(&resume).await),
            Err(ReasonCode::NotAuthorized)
        );

        // The bound connection closes while the others race to use the session.
        drop(bound);
        let started = Instant::now();
        let mut dead_since = None;
        let mut dead_checks = 0;
        while started.elapsed() < Duration::from_secs(5) {
            let read = quote(&mut other).await;
            let third_try = switch(&mut third, &session, ConnectionState::DataTransfer).await;
            if third_try.is_ok() {
                switch(&mut third, &session, ConnectionState::Command)
                    .await
                    .unwrap();
            }
            match (read, third_try, dead_since) {
                (Err(ReasonCode::SessionInvalid), Err(ReasonCode::SessionInvalid), None) => {
                    dead_since = Some(Instant::now())
                }
                (Err(_), Err(_), Some(_)) => {}
                (read, switch, Some(since)) => panic!(
                    "trial {trial}: revived {:?} after its end: read {read:?}, switch {switch:?}",
                    since.elapsed()
                ),
                _ => {}
            }
            if dead_since.is_some() {
                dead_checks += 1;
                if dead_checks > 5 {
                    break;
                }
            }
        }
        let dead_since = dead_since.unwrap_or_else(|| panic!("trial {trial}: never ended"));
        assert!(
            dead_since - started < Duration::from_secs(2),
            "trial {trial}: ended {:?} after the close",
            dead_since - started
        );
    }
}

#[actix::test]
async fn a_session_that_expires_in_data_transfer_state_is_refused_from_the_cache() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = master_config(dir.path());
    config.session_ttl_secs = 2;
    let master = start_master_with(config).await;
    let worker = worker_config(dir.path(), "a", master.local_addr);
    register_worker(&master, "a", &worker, &["127.0.0.1"]).await;
    let worker = start_worker(worker).await;
    wait_link(&worker.link, up).await;
    let mut conn = Connection::connect(worker.local_addr).await.unwrap();
    let session = new_user(&mut conn, "ulla").await;
    switch(&mut conn, &session, ConnectionState::DataTransfer)
        .await
        .unwrap();
    let started = Instant::now();
    while quote(&mut conn).await.is_ok() {
        assert!(started.elapsed() < Duration::from_secs(6), "never expired");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(quote(&mut conn).await, Err(ReasonCode::SessionExpired));
    // At its expiry (2 s), give or take the master's one-second sweep.
    let ended = started.elapsed();
    assert!(
        ended > Duration::from_millis(1500) && ended < Duration::from_millis(3500),
        "{ended:?}"
    );
}

#[actix::test]
async fn a_worker_that_does_not_acknowledge_the_end_of_a_session_loses_its_link() {
    let dir = tempfile::tempdir().unwrap();
    let master = start_master(dir.path()).await;
    let (mut link, uuid) = raw_link(&master, dir.path(), "mute").await;
    let password = papertrader_protocol::password::client_password_hash("vic", "pw");
    let register = Message::Register(Register {
        username: "vic".into(),
        email: "vic@example.com".into(),
        hashed_password: password.clone(),
    });
    assert!(matches!(
        forward(&mut link, uuid, 1, 7, &register).await,
        Message::RegisterSuccess(_)
    ));
    let login = Message::Login(Login {
        username: "vic".into(),
        hashed_password: password,
        is_expirable: true,
    });
    let Message::SessionId(token) = forward(&mut link, uuid, 2, 7, &login).await else {
        panic!()
    };
    let switch = Message::SwitchState(SwitchState {
        session_id: token.session_id,
        state: ConnectionState::DataTransfer,
    });
    assert!(matches!(
        forward(&mut link, uuid, 3, 7, &switch).await,
        Message::StateSwitchSuccess(_)
    ));

    // The link never acknowledges: the revocation waits for it (2 s), then closes the link.
    let live = master
        .services
        .sessions
        .send(ListSessions)
        .await
        .unwrap()
        .unwrap();
    let id = live.iter().find(|s| s.username == "vic").unwrap().id;
    let started = Instant::now();
    let revoke = master.services.sessions.send(Revoke { session_id: id });
    let (revoked, told) = futures::join!(revoke, async {
        let mut told = None;
        loop {
            match link.receive().await {
                Ok(Message::DataStateEnded(ended)) => told = Some(ended),
                Ok(Message::LinkClosed(_)) | Err(_) => return told,
                Ok(_) => {}
            }
        }
    });
    assert!(revoked.unwrap().unwrap());
    let told = told.expect("the worker was told");
    assert_eq!(
        (
            told.ends[0].client_connection,
            told.ends[0].grant,
            told.ends[0].reason
        ),
        (7, 3, ReasonCode::SessionInvalid)
    );
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_millis(1900) && waited < Duration::from_secs(5),
        "{waited:?}"
    );
}
