//! Third-party login through workers: the worker forwards ID tokens to the master (which alone
//! verifies them), and a session made with a token on one worker is resumed on another.

use papertrader_client::Connection;
use papertrader_master::config::MasterConfig;
use papertrader_master::oidc::provider::ProviderConfig;
use papertrader_protocol::data::DataBody;
use papertrader_protocol::*;
use papertrader_testkit::oidc::{self, TestProvider};

use crate::support::*;

#[actix::test]
async fn a_token_session_made_on_one_worker_is_resumed_on_another() {
    let provider = TestProvider::start().await;
    let dir = tempfile::tempdir().unwrap();
    let master = start_master_with(MasterConfig {
        oidc_providers: vec![ProviderConfig {
            name: "local".into(),
            issuer: provider.issuer(),
            audiences: vec![provider.audience.clone()],
            jwks_url: Some(provider.jwks_url()),
            discovery_url: None,
            algorithms: vec!["RS256".into()],
        }],
        ..master_config(dir.path())
    })
    .await;
    let workers = start_workers(&master, dir.path(), &["a", "b"]).await;
    let mut on_a = Connection::connect(workers[0].local_addr).await.unwrap();
    let register = on_a
        .call(&Message::RegisterWithToken(RegisterWithToken {
            username: "pia".into(),
            provider: "local".into(),
            id_token: provider.token("sub-pia"),
            email: None,
        }))
        .await;
    assert!(
        matches!(register, Ok(Message::RegisterSuccess(_))),
        "{register:?}"
    );
    let login = |token: String| {
        Message::LoginWithToken(LoginWithToken {
            provider: "local".into(),
            id_token: token,
            is_expirable: true,
        })
    };
    let Message::SessionId(session) = on_a.call(&login(provider.token("sub-pia"))).await.unwrap()
    else {
        panic!("no session id")
    };

    // Resumed on worker b: the same session, the account's own data.
    let mut on_b = Connection::connect(workers[1].local_addr).await.unwrap();
    on_b.call(&Message::LoginWithSession(session.clone()))
        .await
        .unwrap();
    on_b.call(&Message::SwitchState(SwitchState {
        session_id: session.session_id.clone(),
        state: ConnectionState::DataTransfer,
    }))
    .await
    .unwrap();
    let methods = on_b
        .call_data(&Message::GetSignInMethods(session.clone()), |_, _| {})
        .await
        .unwrap();
    let DataBody::SignInMethods(methods) = methods else {
        panic!("{methods:?}")
    };
    assert_eq!(methods.username, "pia");
    assert!(!methods.has_password);

    // A refused token gets the master's reason through the worker.
    let refused = on_a
        .call(&login(oidc::tampered(&provider.token("sub-pia"))))
        .await
        .unwrap_err();
    assert_eq!(refused.reason(), Some(ReasonCode::InvalidToken));
}
