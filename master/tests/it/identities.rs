//! Third-party login with OpenID Connect ID tokens, against a local provider started by the
//! test (discovery + JWKS over HTTP on loopback, keys generated at test time): registering,
//! logging in, adding a password, linking and unlinking, and every refusal with its reason.

use papertrader_client::{ClientError, Connection};
use papertrader_master::config::MasterConfig;
use papertrader_master::oidc::provider::ProviderConfig;
use papertrader_master::server::RunningMaster;
use papertrader_protocol::data::{DataBody, SignInMethods};
use papertrader_protocol::password::client_password_hash;
use papertrader_protocol::*;
use papertrader_testkit::oidc::{self, now_secs, TestKey, TestProvider};
use serde_json::json;

use crate::support::*;

/// The provider's entry in the master's configuration, under `name`.
fn provider_config(name: &str, provider: &TestProvider) -> ProviderConfig {
    ProviderConfig {
        name: name.into(),
        issuer: provider.issuer(),
        audiences: vec![provider.audience.clone()],
        jwks_url: None,
        discovery_url: None,
        algorithms: vec!["RS256".into(), "ES256".into()],
    }
}

/// A master trusting `providers` (as `local`, `other`, …), refetching keys on any unknown kid.
fn config_with(db: &TestDb, providers: &[(&str, &TestProvider)]) -> MasterConfig {
    MasterConfig {
        oidc_providers: providers
            .iter()
            .map(|(name, p)| provider_config(name, p))
            .collect(),
        oidc_jwks_min_refresh_secs: 0,
        ..test_config(db)
    }
}

async fn oidc_master(db: &TestDb, provider: &TestProvider) -> RunningMaster {
    master_with(config_with(db, &[("local", provider)])).await
}

fn register_with(username: &str, token: &str, email: Option<&str>) -> Message {
    Message::RegisterWithToken(RegisterWithToken {
        username: username.into(),
        provider: "local".into(),
        id_token: token.into(),
        email: email.map(str::to_owned),
    })
}

fn login_with(provider: &str, token: &str) -> Message {
    Message::LoginWithToken(LoginWithToken {
        provider: provider.into(),
        id_token: token.into(),
        is_expirable: true,
    })
}

async fn token_login(conn: &mut Connection, token: &str) -> Result<String, ClientError> {
    match conn.call(&login_with("local", token)).await? {
        Message::SessionId(t) => Ok(t.session_id),
        other => panic!("unexpected {other:?}"),
    }
}

fn set_password(session: &str, new: &str, old: Option<&str>, username: &str) -> Message {
    Message::SetPassword(SetPassword {
        session_id: session.into(),
        new_hashed_password: client_password_hash(username, new),
        old_hashed_password: old.map(|o| client_password_hash(username, o)),
    })
}

fn password_login(username: &str, password: &str) -> Message {
    Message::Login(Login {
        username: username.into(),
        hashed_password: client_password_hash(username, password),
        is_expirable: true,
    })
}

async fn sign_in_methods(conn: &mut Connection, session: &str) -> SignInMethods {
    switch(conn, session, ConnectionState::DataTransfer)
        .await
        .expect("switch");
    let body = conn
        .call_data(
            &Message::GetSignInMethods(SessionToken {
                session_id: session.into(),
            }),
            |_, _| {},
        )
        .await
        .expect("getSignInMethods");
    switch(conn, session, ConnectionState::Command)
        .await
        .expect("switch back");
    match body {
        DataBody::SignInMethods(m) => m,
        other => panic!("unexpected {other:?}"),
    }
}

/// The Fail reply of a call.
fn failure<T: std::fmt::Debug>(result: Result<T, ClientError>) -> Failure {
    match result {
        Err(ClientError::Failed { failure, .. }) => failure,
        other => panic!("expected a Fail reply, got {other:?}"),
    }
}

async fn an_id_token_registers_a_password_less_account_that_logs_in_with_tokens(db: TestDb) {
    let provider = TestProvider::start().await;
    let master = oidc_master(&db, &provider).await;
    let mut c = Connection::connect(master.local_addr).await.unwrap();
    let reply = c
        .call(&register_with("dora", &provider.token("sub-dora"), None))
        .await;
    assert!(
        matches!(reply, Ok(Message::RegisterSuccess(_))),
        "{reply:?}"
    );

    let session = token_login(&mut c, &provider.token("sub-dora"))
        .await
        .unwrap();
    let methods = sign_in_methods(&mut c, &session).await;
    assert_eq!(methods.username, "dora");
    assert!(!methods.has_password);
    assert_eq!(methods.identities.len(), 1);
    assert_eq!(methods.identities[0].provider, "local");
    assert_eq!(methods.identities[0].issuer, provider.issuer());
    assert_eq!(methods.identities[0].subject, "sub-dora");

    // The email came from the token; the account holds the starting cash like any other.
    switch(&mut c, &session, ConnectionState::DataTransfer)
        .await
        .unwrap();
    let info = c
        .call_data(
            &Message::GetUserInfo(user_query(&session, "dora")),
            |_, _| {},
        )
        .await
        .unwrap();
    let DataBody::UserInfo(info) = info else {
        panic!("{info:?}")
    };
    assert_eq!(info.email.as_deref(), Some("sub-dora@example.com"));
    assert_eq!(info.has_password, Some(false));
    switch(&mut c, &session, ConnectionState::Command)
        .await
        .unwrap();

    // A password login names the provider to use instead.
    let refused = failure(c.call(&password_login("dora", "anything")).await);
    assert_eq!(refused.code, ReasonCode::PasswordNotSet, "{}", db.backend);
    assert!(refused.message.contains("local"), "{}", refused.message);

    // The token's session trades like a password session.
    let receipt = order(&mut c, true, &session, "AAPL", 1).await;
    assert!(
        matches!(receipt, Ok(Message::PurchaseSuccess(_))),
        "{receipt:?}"
    );
}
on_both_backends!(an_id_token_registers_a_password_less_account_that_logs_in_with_tokens);

async fn a_password_added_later_works_beside_the_token(db: TestDb) {
    let provider = TestProvider::start().await;
    let master = oidc_master(&db, &provider).await;
    let mut c = Connection::connect(master.local_addr).await.unwrap();
    c.call(&register_with("eve", &provider.token("sub-eve"), None))
        .await
        .unwrap();
    let session = token_login(&mut c, &provider.token("sub-eve"))
        .await
        .unwrap();

    // A password-less account gains one without an old one.
    let set = c.call(&set_password(&session, "first", None, "eve")).await;
    assert!(matches!(set, Ok(Message::SetPasswordSuccess(_))), "{set:?}");
    assert!(c.call(&password_login("eve", "first")).await.is_ok());
    assert!(token_login(&mut c, &provider.token("sub-eve"))
        .await
        .is_ok());
    assert!(sign_in_methods(&mut c, &session).await.has_password);

    // Changing it needs the current one.
    let missing = failure(c.call(&set_password(&session, "second", None, "eve")).await);
    assert_eq!(missing.code, ReasonCode::BadCredentials);
    let wrong = failure(
        c.call(&set_password(&session, "second", Some("nope"), "eve"))
            .await,
    );
    assert_eq!(wrong.code, ReasonCode::BadCredentials);
    c.call(&set_password(&session, "second", Some("first"), "eve"))
        .await
        .unwrap();
    assert_eq!(
        failure(c.call(&password_login("eve", "first")).await).code,
        ReasonCode::BadCredentials
    );
    assert!(c.call(&password_login("eve", "second")).await.is_ok());

    // A session is needed.
    let bad = failure(
        c.call(&set_password(&"0".repeat(32), "x", None, "eve"))
            .await,
    );
    assert_eq!(bad.code, ReasonCode::SessionInvalid, "{}", db.backend);
}
on_both_backends!(a_password_added_later_works_beside_the_token);

async fn identities_link_and_unlink_but_never_the_last_way_in(db: TestDb) {
    let provider = TestProvider::start().await;
    let master = oidc_master(&db, &provider).await;
    let mut c = Connection::connect(master.local_addr).await.unwrap();
    let session = new_user(&mut c, "fred").await;
    let link = |token: String| {
        Message::LinkIdentity(LinkIdentity {
            session_id: session.clone(),
            provider: "local".into(),
            id_token: token,
        })
    };
    let unlink = |provider: &str| {
        Message::UnlinkIdentity(UnlinkIdentity {
            session_id: session.clone(),
            provider: provider.into(),
        })
    };
    // Before linking, the identity signs in to nothing.
    let unknown = failure(token_login(&mut c, &provider.token("sub-fred")).await);
    assert_eq!(unknown.code, ReasonCode::UnknownIdentity);
    assert!(
        unknown.message.contains("register an account with it"),
        "{}",
        unknown.message
    );

    let linked = c.call(&link(provider.token("sub-fred"))).await;
    assert!(
        matches!(linked, Ok(Message::LinkIdentitySuccess(_))),
        "{linked:?}"
    );
    let via_token = token_login(&mut c, &provider.token("sub-fred"))
        .await
        .unwrap();
    assert_eq!(sign_in_methods(&mut c, &via_token).await.username, "fred");

    // One identity per provider per account; one account per identity.
    let again = failure(c.call(&link(provider.token("sub-fred"))).await);
    assert_eq!(again.code, ReasonCode::IdentityTaken);
    assert!(again.message.contains("your account"), "{}", again.message);
    assert_eq!(
        failure(c.call(&link(provider.token("sub-fred-2"))).await).code,
        ReasonCode::IdentityTaken
    );
    let other = new_user(&mut c, "gina").await;
    let taken = failure(
        c.call(&Message::LinkIdentity(LinkIdentity {
            session_id: other,
            provider: "local".into(),
            id_token: provider.token("sub-fred"),
        }))
        .await,
    );
    assert_eq!(taken.code, ReasonCode::IdentityTaken);
    assert_eq!(
        failure(
            c.call(&register_with("fred2", &provider.token("sub-fred"), None))
                .await
        )
        .code,
        ReasonCode::IdentityTaken
    );

    // fred has a password, so the identity may go.
    assert!(matches!(
        c.call(&unlink("local")).await,
        Ok(Message::UnlinkIdentitySuccess(_))
    ));
    assert_eq!(
        failure(token_login(&mut c, &provider.token("sub-fred")).await).code,
        ReasonCode::UnknownIdentity
    );
    assert_eq!(
        failure(c.call(&unlink("local")).await).code,
        ReasonCode::UnknownIdentity
    );

    // A token-only account keeps its only way in.
    c.call(&register_with("hana", &provider.token("sub-hana"), None))
        .await
        .unwrap();
    let hana = token_login(&mut c, &provider.token("sub-hana"))
        .await
        .unwrap();
    let last = failure(
        c.call(&Message::UnlinkIdentity(UnlinkIdentity {
            session_id: hana.clone(),
            provider: "local".into(),
        }))
        .await,
    );
    assert_eq!(last.code, ReasonCode::LastSignInMethod, "{}", db.backend);
    assert!(token_login(&mut c, &provider.token("sub-hana"))
        .await
        .is_ok());
}
on_both_backends!(identities_link_and_unlink_but_never_the_last_way_in);

async fn racing_unlinks_of_the_last_two_identities_leave_one(db: TestDb) {
    let (a, b) = (TestProvider::start().await, TestProvider::start().await);
    let master = master_with(config_with(&db, &[("local", &a), ("other", &b)])).await;
    let addr = master.local_addr;
    for trial in 0..10 {
        let name = format!("racer{trial}");
        let subject = format!("sub-{name}");
        let mut c = Connection::connect(addr).await.unwrap();
        c.call(&register_with(&name, &a.token(&subject), None))
            .await
            .unwrap();
        let session = token_login(&mut c, &a.token(&subject)).await.unwrap();
        c.call(&Message::LinkIdentity(LinkIdentity {
            session_id: session.clone(),
            provider: "other".into(),
            id_token: b.token(&subject),
        }))
        .await
        .unwrap();
        let unlink = |provider: &'static str, session: String| async move {
            let mut conn = Connection::connect(addr).await.unwrap();
            conn.call(&Message::UnlinkIdentity(UnlinkIdentity {
                session_id: session,
                provider: provider.into(),
            }))
            .await
        };
        let (x, y) = tokio::join!(
            unlink("local", session.clone()),
            unlink("other", session.clone())
        );
        let removed = [&x, &y]
            .iter()
            .filter(|r| matches!(r, Ok(Message::UnlinkIdentitySuccess(_))))
            .count();
        assert_eq!(removed, 1, "trial {trial} on {}: {x:?} {y:?}", db.backend);
        let kept = [x, y]
            .into_iter()
            .find(|r| r.is_err())
            .map(failure)
            .unwrap();
        assert_eq!(kept.code, ReasonCode::LastSignInMethod);
        assert_eq!(sign_in_methods(&mut c, &session).await.identities.len(), 1);
    }
}
on_both_backends!(racing_unlinks_of_the_last_two_identities_leave_one);

/// Claims for `sub-ivy` with `changes` applied.
fn claims_with(provider: &TestProvider, changes: serde_json::Value) -> serde_json::Value {
    let mut claims = provider.claims("sub-ivy");
    for (key, value) in changes.as_object().cloned().unwrap_or_default() {
        if value.is_null() {
            claims.as_object_mut().unwrap().remove(&key);
        } else {
            claims[key] = value;
        }
    }
    claims
}

async fn every_refused_token_gets_its_reason(db: TestDb) {
    let provider = TestProvider::start().await;
    // Every case is a failed login of one identity: lift the throttle's allowance.
    let master = master_with(MasterConfig {
        login_failures_per_account_address: 1_000,
        login_failures_per_account: 1_000,
        ..config_with(&db, &[("local", &provider)])
    })
    .await;
    let mut c = Connection::connect(master.local_addr).await.unwrap();
    c.call(&register_with("ivy", &provider.token("sub-ivy"), None))
        .await
        .unwrap();
    let now = now_secs();
    let rsa = |changes| oidc::sign(TestKey::Rsa1, &claims_with(&provider, changes));
    let cases: Vec<(&str, String, ReasonCode, &str)> = vec![
        (
            "expired",
            rsa(json!({"iat": now - 7200, "exp": now - 3600})),
            ReasonCode::InvalidToken,
            "expired",
        ),
        (
            "not yet valid",
            rsa(json!({"nbf": now + 3600})),
            ReasonCode::InvalidToken,
            "not valid yet",
        ),
        (
            "issued in the future",
            rsa(json!({"iat": now + 3600})),
            ReasonCode::InvalidToken,
            "issued in the future",
        ),
        (
            "wrong audience",
            rsa(json!({"aud": "someone-else"})),
            ReasonCode::InvalidToken,
            "aud",
        ),
        (
            "wrong issuer",
            rsa(json!({"iss": "https://evil.example.com"})),
            ReasonCode::InvalidToken,
            "issuer",
        ),
        (
            "no subject",
            rsa(json!({"sub": null})),
            ReasonCode::InvalidToken,
            "sub",
        ),
        (
            "bad signature",
            oidc::tampered(&provider.token("sub-ivy")),
            ReasonCode::InvalidToken,
            "signature",
        ),
        (
            "alg none",
            oidc::unsigned(&provider.claims("sub-ivy")),
            ReasonCode::InvalidToken,
            "none",
        ),
        (
            "HS256 signed with the public key",
            oidc::hmac_with_public_key(TestKey::Rsa1, &provider.claims("sub-ivy")),
            ReasonCode::InvalidToken,
            "HS256",
        ),
        (
            "a key the provider does not publish",
            oidc::sign(TestKey::Ec2, &provider.claims("sub-ivy")),
            ReasonCode::InvalidToken,
            "ec-2",
        ),
        (
            "not a JWS",
            "not-a-token".into(),
            ReasonCode::InvalidToken,
            "compact JWS",
        ),
    ];
    for (case, token, code, says) in cases {
        let refused = failure(token_login(&mut c, &token).await);
        assert_eq!(
            refused.code, code,
            "{case} on {}: {}",
            db.backend, refused.message
        );
        assert!(
            refused.message.contains(says),
            "{case}: {:?} lacks {says:?}",
            refused.message
        );
        assert!(
            !refused.message.contains(&token),
            "{case}: the token is echoed"
        );
    }
    // Within the allowed clock skew (60 s) a just-expired token still passes; ES256 works.
    assert!(token_login(&mut c, &rsa(json!({"exp": now - 30})))
        .await
        .is_ok());
    let es256 = oidc::sign(TestKey::Ec1, &provider.claims("sub-ivy"));
    assert!(token_login(&mut c, &es256).await.is_ok());
    // A provider that is not configured.
    let unknown = failure(
        c.call(&login_with("google", &provider.token("sub-ivy")))
            .await,
    );
    assert_eq!(unknown.code, ReasonCode::UnknownProvider);
    // Registering takes the token's email only when it is verified.
    let unverified = oidc::sign(
        TestKey::Rsa1,
        &claims_with(&provider, json!({"sub": "sub-jo", "email_verified": false})),
    );
    assert_eq!(
        failure(c.call(&register_with("jo", &unverified, None)).await).code,
        ReasonCode::EmailNotVerified
    );
    assert!(c
        .call(&register_with("jo", &unverified, Some("jo@example.org")))
        .await
        .is_ok());
    // Nothing of a refused token was stored: no account for it.
    assert_eq!(
        failure(c.call(&password_login("ivy2", "x")).await).code,
        ReasonCode::BadCredentials
    );
}
on_both_backends!(every_refused_token_gets_its_reason);

async fn rotated_keys_are_fetched_on_an_unknown_kid_and_an_outage_spares_cached_ones(db: TestDb) {
    let provider = TestProvider::start().await;
    let master = oidc_master(&db, &provider).await;
    let mut c = Connection::connect(master.local_addr).await.unwrap();
    c.call(&register_with("kai", &provider.token("sub-kai"), None))
        .await
        .unwrap();
    assert!(token_login(&mut c, &provider.token("sub-kai"))
        .await
        .is_ok());

    // Outage: the cached keys still verify their tokens; a token needing a fetch cannot.
    provider.go_down().await;
    assert!(token_login(&mut c, &provider.token("sub-kai"))
        .await
        .is_ok());
    let es256 = oidc::sign(TestKey::Ec1, &provider.claims("sub-kai"));
    assert!(token_login(&mut c, &es256).await.is_ok());
    let rotated = oidc::sign(TestKey::Rsa2, &provider.claims("sub-kai"));
    let down = failure(token_login(&mut c, &rotated).await);
    assert_eq!(down.code, ReasonCode::Unavailable, "{}", down.message);

    // Back, with rsa-1 replaced by rsa-2: the unknown kid makes the master fetch the keys.
    provider.come_back().await;
    provider.rotate().await;
    assert!(
        token_login(&mut c, &rotated).await.is_ok(),
        "{}",
        db.backend
    );
    let retired = failure(token_login(&mut c, &provider.token("sub-kai")).await);
    assert_eq!(retired.code, ReasonCode::InvalidToken);
    assert!(retired.message.contains("rsa-1"), "{}", retired.message);

    // A master that never got the keys refuses with Unavailable while the provider is down,
    // says so in its log, and uses the provider within a second of its return (whatever the
    // refresh interval).
    let fresh_db = TestDb::sqlite();
    provider.go_down().await;
    let cold = master_with(MasterConfig {
        oidc_jwks_min_refresh_secs: 3600,
        ..config_with(&fresh_db, &[("local", &provider)])
    })
    .await;
    let mut c2 = Connection::connect(cold.local_addr).await.unwrap();
    assert_eq!(
        failure(token_login(&mut c2, &rotated).await).code,
        ReasonCode::Unavailable
    );
    let log = master_log(&cold, &fresh_db).await;
    assert!(
        log.contains("identity provider keys cannot be fetched"),
        "{log}"
    );
    provider.come_back().await;
    tokio::time::sleep(std::time::Duration::from_millis(1_100)).await;
    // Verified now: the identity simply has no account on this fresh master.
    assert_eq!(
        failure(token_login(&mut c2, &rotated).await).code,
        ReasonCode::UnknownIdentity
    );
}
on_both_backends!(rotated_keys_are_fetched_on_an_unknown_kid_and_an_outage_spares_cached_ones);

async fn unknown_kids_refetch_the_jwks_at_most_once_per_interval(db: TestDb) {
    let provider = TestProvider::start().await;
    let master = master_with(MasterConfig {
        oidc_jwks_min_refresh_secs: 3600,
        ..config_with(&db, &[("local", &provider)])
    })
    .await;
    let mut c = Connection::connect(master.local_addr).await.unwrap();
    c.call(&register_with("lou", &provider.token("sub-lou"), None))
        .await
        .unwrap();
    let before = provider.jwks_requests().await;
    let stranger = oidc::sign(TestKey::Ec2, &provider.claims("sub-lou"));
    let mut refusals = Vec::new();
    let logins: Vec<_> = (0..20)
        .map(|_| {
            let token = stranger.clone();
            let addr = master.local_addr;
            tokio::spawn(async move {
                let mut conn = Connection::connect(addr).await.unwrap();
                conn.call(&login_with("local", &token)).await
            })
        })
        .collect();
    for login in logins {
        refusals.push(failure(login.await.unwrap()).code);
    }
    assert!(refusals
        .iter()
        .all(|c| matches!(c, ReasonCode::InvalidToken | ReasonCode::RateLimited)));
    // The registration fetched the keys moments ago: no refetch within the interval.
    let fetched = provider.jwks_requests().await - before;
    assert_eq!(fetched, 0, "{fetched} JWKS fetches for 20 unknown kids");
}
on_both_backends!(unknown_kids_refetch_the_jwks_at_most_once_per_interval);

async fn failed_token_logins_go_through_the_login_throttle(db: TestDb) {
    let provider = TestProvider::start().await;
    let master = master_with(MasterConfig {
        login_backoff_base_ms: 60_000,
        ..config_with(&db, &[("local", &provider)])
    })
    .await;
    let addr = master.local_addr;
    let mut c = Connection::connect(addr).await.unwrap();
    c.call(&register_with("max", &provider.token("sub-max"), None))
        .await
        .unwrap();
    // 20 forged tokens for max's identity at once, from one address.
    let forged = oidc::tampered(&provider.token("sub-max"));
    let guesses: Vec<_> = (0..20)
        .map(|_| {
            let token = forged.clone();
            tokio::spawn(async move {
                let mut conn = Connection::connect(addr).await.unwrap();
                conn.call(&login_with("local", &token)).await
            })
        })
        .collect();
    let mut codes = Vec::new();
    for guess in guesses {
        codes.push(failure(guess.await.unwrap()).code);
    }
    let tried = codes
        .iter()
        .filter(|c| **c == ReasonCode::InvalidToken)
        .count();
    assert_eq!(tried, 5, "{codes:?}");
    // The same identity from that address now waits, even with a good token.
    let held = failure(token_login(&mut c, &provider.token("sub-max")).await);
    assert_eq!(held.code, ReasonCode::RateLimited, "{}", held.message);
}
on_both_backends!(failed_token_logins_go_through_the_login_throttle);

async fn tokens_never_reach_the_log(db: TestDb) {
    let provider = TestProvider::start().await;
    let master = oidc_master(&db, &provider).await;
    let mut c = Connection::connect(master.local_addr).await.unwrap();
    let token = provider.token("sub-nia");
    c.call(&register_with("nia", &token, None)).await.unwrap();
    token_login(&mut c, &token).await.unwrap();
    let _ = token_login(&mut c, &oidc::tampered(&token)).await;
    let log = master_log(&master, &db).await;
    assert!(log.contains("nia"), "the log has the registration");
    let signature = token.rsplit('.').next().unwrap();
    assert!(!log.contains(signature), "a token is in the log");
    let payload = token.split('.').nth(1).unwrap();
    assert!(!log.contains(payload), "a token is in the log");
}
on_both_backends!(tokens_never_reach_the_log);

async fn an_identity_of_a_provider_no_longer_configured_is_not_a_way_in(db: TestDb) {
    let (a, b) = (TestProvider::start().await, TestProvider::start().await);
    let first = master_with(config_with(&db, &[("local", &a), ("other", &b)])).await;
    let mut c = Connection::connect(first.local_addr).await.unwrap();
    c.call(&register_with("una", &a.token("sub-una"), None))
        .await
        .unwrap();
    let session = token_login(&mut c, &a.token("sub-una")).await.unwrap();
    c.call(&Message::LinkIdentity(LinkIdentity {
        session_id: session,
        provider: "other".into(),
        id_token: b.token("sub-una"),
    }))
    .await
    .unwrap();
    // The operator drops `local` from the configuration (a second master on the same data).
    let second = master_with(MasterConfig {
        admin_socket: db.dir.path().join("admin-2.sock"),
        ..config_with(&db, &[("other", &b)])
    })
    .await;
    let mut c = Connection::connect(second.local_addr).await.unwrap();
    let Message::SessionId(session) = c
        .call(&login_with("other", &b.token("sub-una")))
        .await
        .unwrap()
    else {
        panic!("no session")
    };
    // `local` can no longer sign in: `other` is the account's only way in.
    let refused = failure(
        c.call(&Message::UnlinkIdentity(UnlinkIdentity {
            session_id: session.session_id,
            provider: "other".into(),
        }))
        .await,
    );
    assert_eq!(refused.code, ReasonCode::LastSignInMethod, "{}", db.backend);
}
on_both_backends!(an_identity_of_a_provider_no_longer_configured_is_not_a_way_in);
