//! register, login (both forms), logout, session rules.

use std::time::Duration;

use diesel::prelude::*;
use papertrader_client::Connection;
use papertrader_master::actors::session::ListSessions;
use papertrader_master::db::schema::sessions;
use papertrader_master::domain::sessions::token_hash;
use papertrader_protocol::*;

use crate::support::*;

async fn register_and_login_succeed_and_fail_with_the_right_reasons(db: TestDb) {
    let master = master(&db).await;
    let mut c = Connection::connect(master.local_addr).await.unwrap();

    assert_eq!(
        register(&mut c, "alice").await.unwrap(),
        Message::RegisterSuccess(Empty {}),
        "{}",
        db.backend
    );
    assert_eq!(
        reason(register(&mut c, "alice").await),
        ReasonCode::UsernameTaken
    );
    let same_email = Register {
        username: "alice2".into(),
        email: "alice@example.com".into(),
        hashed_password: pass("alice2"),
    };
    assert_eq!(
        reason(c.call(&Message::Register(same_email)).await),
        ReasonCode::EmailTaken
    );
    assert_eq!(
        reason(register(&mut c, "not a name").await),
        ReasonCode::InvalidUsername
    );
    assert_eq!(
        reason(register(&mut c, &"x".repeat(25)).await),
        ReasonCode::InvalidUsername
    );
    let bad_email = Register {
        username: "bob".into(),
        email: "bob@nowhere".into(),
        hashed_password: pass("bob"),
    };
    assert_eq!(
        reason(c.call(&Message::Register(bad_email)).await),
        ReasonCode::InvalidEmail
    );
    let plain_password = Register {
        username: "bob".into(),
        email: "bob@x.io".into(),
        hashed_password: "hunter2".into(),
    };
    assert_eq!(
        reason(c.call(&Message::Register(plain_password)).await),
        ReasonCode::InvalidArgument
    );

    let wrong = Login {
        username: "alice".into(),
        hashed_password: pass("mallory"),
        is_expirable: true,
    };
    assert_eq!(
        reason(c.call(&Message::Login(wrong)).await),
        ReasonCode::BadCredentials
    );
    assert_eq!(
        reason(login(&mut c, "nobody", true).await),
        ReasonCode::BadCredentials
    );

    let session = login(&mut c, "alice", true).await.unwrap();
    assert!(limits::check_session_id(&session).is_ok(), "{session}");
    let resumed = c
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
    let bogus = SessionToken {
        session_id: "0".repeat(32),
    };
    assert_eq!(
        reason(c.call(&Message::LoginWithSession(bogus)).await),
        ReasonCode::SessionInvalid
    );

    // Only the hash of the token is stored.
    let url = db.url.clone();
    let stored: Vec<String> = tokio::task::spawn_blocking(move || {
        let conn = papertrader_master::db::Db::open(&url, 1).unwrap();
        conn.run_blocking(|c| Ok(sessions::table.select(sessions::token_hash).load(c)?))
            .unwrap()
    })
    .await
    .unwrap();
    assert!(stored.contains(&token_hash(&session)));
    assert!(!stored.contains(&session));

    assert_eq!(
        c.call(&Message::Logout(SessionToken {
            session_id: session.clone()
        }))
        .await
        .unwrap(),
        Message::LogoutSuccess(Empty {})
    );
    let again = SessionToken {
        session_id: session.clone(),
    };
    assert_eq!(
        reason(c.call(&Message::LoginWithSession(again)).await),
        ReasonCode::SessionInvalid
    );
    assert_eq!(
        reason(
            c.call(&Message::Logout(SessionToken {
                session_id: session
            }))
            .await
        ),
        ReasonCode::SessionInvalid
    );
}
on_both_backends!(register_and_login_succeed_and_fail_with_the_right_reasons);

async fn a_non_expirable_session_ends_with_its_connection_an_expirable_one_does_not(db: TestDb) {
    let master = master(&db).await;
    let mut first = Connection::connect(master.local_addr).await.unwrap();
    register(&mut first, "carol").await.unwrap();
    let bound = login(&mut first, "carol", false).await.unwrap();
    let kept = login(&mut first, "carol", true).await.unwrap();
    drop(first);

    // The close is noticed asynchronously: wait for the session to end (bounded), without
    // touching it, since resuming it from another connection would re-bind it there.
    let mut ended = false;
    for _ in 0..250 {
        let live = master
            .services
            .sessions
            .send(ListSessions)
            .await
            .unwrap()
            .unwrap();
        if live.iter().all(|s| s.is_expirable) {
            ended = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(
        ended,
        "{}: connection-bound session survived its connection",
        db.backend
    );
    let mut second = Connection::connect(master.local_addr).await.unwrap();
    let resume = |s: &str| {
        Message::LoginWithSession(SessionToken {
            session_id: s.to_owned(),
        })
    };
    assert_eq!(
        reason(second.call(&resume(&bound)).await),
        ReasonCode::SessionInvalid
    );
    assert!(second.call(&resume(&kept)).await.is_ok());
}
on_both_backends!(a_non_expirable_session_ends_with_its_connection_an_expirable_one_does_not);

async fn names_and_emails_are_unique_whatever_their_case(db: TestDb) {
    let master = master(&db).await;
    let mut c = Connection::connect(master.local_addr).await.unwrap();
    let register_as = |username: &str, email: &str| {
        Message::Register(Register {
            username: username.into(),
            email: email.into(),
            hashed_password: pass(username),
        })
    };
    c.call(&register_as("alice", "Alice@Example.com"))
        .await
        .unwrap();
    assert_eq!(
        reason(c.call(&register_as("ALICE", "other@example.com")).await),
        ReasonCode::UsernameTaken,
        "{}",
        db.backend
    );
    assert_eq!(
        reason(c.call(&register_as("alicia", "alice@EXAMPLE.COM")).await),
        ReasonCode::EmailTaken
    );
    // Logins name the account exactly as registered (the password hash covers the name).
    assert!(login(&mut c, "alice", true).await.is_ok());
    assert_eq!(
        reason(login(&mut c, "ALICE", true).await),
        ReasonCode::BadCredentials
    );
}
on_both_backends!(names_and_emails_are_unique_whatever_their_case);
