//! Password guessing is stopped without handing an attacker a lockout: parallel guesses count
//! while in flight, and neither guessing one account from many addresses nor many accounts from
//! one address locks out someone who logs in from where they always do.

use papertrader_client::{ClientError, Connection};
use papertrader_master::config::MasterConfig;
use papertrader_protocol::*;

use crate::support::*;

/// A login from a chosen loopback address.
async fn login_from(
    from: &str,
    addr: std::net::SocketAddr,
    username: &str,
    password: &str,
) -> Result<Message, ClientError> {
    let mut conn = Connection::from_stream(connect_from(from, addr).await).unwrap();
    conn.call(&Message::Login(Login {
        username: username.into(),
        hashed_password: password.into(),
        is_expirable: true,
    }))
    .await
}

fn wrong() -> String {
    pass("not the password")
}

async fn a_hundred_parallel_guesses_get_five_tries_and_the_right_one_does_not_slip_through(
    db: TestDb,
) {
    let master = master_with(MasterConfig {
        // A real hash takes a while, as in production: the guesses overlap.
        bcrypt_cost: 8,
        ..test_config(&db)
    })
    .await;
    let addr = master.local_addr;
    let mut setup = Connection::connect(addr).await.unwrap();
    register(&mut setup, "uma").await.unwrap();

    let guesses = (0..100).map(|i| {
        // The right password is the last guess.
        let password = if i == 99 { pass("uma") } else { wrong() };
        async move { login_from("127.0.0.2", addr, "uma", &password).await }
    });
    let results = futures::future::join_all(guesses).await;
    let codes: Vec<ReasonCode> = results.into_iter().map(reason).collect();
    let tried = codes
        .iter()
        .filter(|c| **c == ReasonCode::BadCredentials)
        .count();
    let refused = codes
        .iter()
        .filter(|c| **c == ReasonCode::RateLimited)
        .count();
    assert!(
        tried <= 5 && tried + refused == 100,
        "{}: {tried} reached bcrypt, {refused} refused",
        db.backend
    );
}
on_both_backends!(
    a_hundred_parallel_guesses_get_five_tries_and_the_right_one_does_not_slip_through
);

async fn an_attacker_cannot_lock_out_the_owner_or_the_users_behind_a_shared_address(db: TestDb) {
    let master = master_with(MasterConfig {
        // Back-off long enough that it cannot lapse while the test runs.
        login_backoff_base_ms: 60_000,
        ..test_config(&db)
    })
    .await;
    let addr = master.local_addr;
    let mut setup = Connection::connect(addr).await.unwrap();
    for user in ["vera", "walt"] {
        register(&mut setup, user).await.unwrap();
    }
    // Vera logs in from home (127.0.0.1); Walt from behind a shared NAT (127.0.0.3).
    login_from("127.0.0.1", addr, "vera", &pass("vera"))
        .await
        .unwrap();
    login_from("127.0.0.3", addr, "walt", &pass("walt"))
        .await
        .unwrap();

    // Guessing Vera's password from eight addresses: 5 tries each before back-off, and
    // the account is slowed for unknown addresses after 20 in all.
    let mut limited = 0;
    for i in 10..18 {
        for _ in 0..6 {
            let from = format!("127.0.0.{i}");
            match reason(login_from(&from, addr, "vera", &wrong()).await) {
                ReasonCode::BadCredentials => {}
                ReasonCode::RateLimited => limited += 1,
                other => panic!("{other:?}"),
            }
        }
    }
    assert!(limited >= 48 - 20, "{}: only {limited} refused", db.backend);
    // A new address is refused even with the right password (the account is under
    // attack)…
    assert_eq!(
        reason(login_from("127.0.0.99", addr, "vera", &pass("vera")).await),
        ReasonCode::RateLimited
    );
    // …but Vera at home is not locked out.
    assert!(matches!(
        login_from("127.0.0.1", addr, "vera", &pass("vera")).await,
        Ok(Message::SessionId(_))
    ));

    // One address behind the shared NAT sprays 60 accounts: after 50 it is slowed for
    // accounts it has never logged in to…
    for i in 0..60 {
        let _ = login_from("127.0.0.3", addr, &format!("nobody{i}"), &wrong()).await;
    }
    register(&mut setup, "xavi").await.unwrap();
    assert_eq!(
        reason(login_from("127.0.0.3", addr, "xavi", &pass("xavi")).await),
        ReasonCode::RateLimited
    );
    // …but Walt, who has logged in from behind that NAT before, still gets in.
    assert!(matches!(
        login_from("127.0.0.3", addr, "walt", &pass("walt")).await,
        Ok(Message::SessionId(_))
    ));
}
on_both_backends!(an_attacker_cannot_lock_out_the_owner_or_the_users_behind_a_shared_address);
