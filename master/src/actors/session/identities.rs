//! Third-party identities: registering an account from an ID token, linking another provider
//! to an account, unlinking one (never the last way in), and listing how an account signs in.
//! Logging in with an ID token is in [`super::login`], through the login throttle.

use actix::prelude::*;
use papertrader_protocol::data::{LinkedIdentity, SignInMethods as SignInBody};
use slog::info;

use super::accounts::taken;
use super::{now_ms, SessionActor};
use crate::db::accounts::{self, NewAccount};
use crate::db::identities::{self, Conflict, NewIdentity, Unlinked};
use crate::domain::identities::VerifiedIdentity;
use crate::domain::sessions::SessionError;

/// Register a password-less account that signs in with the identity of an ID token.
#[derive(Message)]
#[rtype(result = "Result<(), SessionError>")]
pub struct RegisterWithToken {
    /// Username (validated).
    pub username: String,
    /// Provider name.
    pub provider: String,
    /// The ID token.
    pub id_token: String,
    /// The email; `None` takes the token's verified email.
    pub email: Option<String>,
}

fn conflict(conflict: Conflict, identity: &VerifiedIdentity) -> SessionError {
    match conflict {
        Conflict::Account(t) => taken(t),
        Conflict::IdentityLinked => SessionError::IdentityLinked(identity.provider.clone()),
        Conflict::AlreadyYours => SessionError::AlreadyYours(identity.provider.clone()),
        Conflict::IssuerLinked => SessionError::ProviderLinked(identity.provider.clone()),
    }
}

/// The account's email: the one given, else the token's if the token says it is verified.
fn email_for(given: Option<String>, identity: &VerifiedIdentity) -> Result<String, SessionError> {
    if let Some(email) = given {
        return Ok(email);
    }
    let email = identity.email.clone().ok_or(SessionError::NoEmail)?;
    if !identity.email_verified {
        return Err(SessionError::EmailNotVerified);
    }
    papertrader_protocol::limits::check_email(&email).map_err(|_| SessionError::NoEmail)?;
    Ok(email)
}

impl Handler<RegisterWithToken> for SessionActor {
    type Result = ResponseFuture<Result<(), SessionError>>;

    fn handle(&mut self, msg: RegisterWithToken, _: &mut Context<Self>) -> Self::Result {
        let verifier = self.verifier.clone();
        let db = self.db.clone();
        let fail = self.db_failure("register with token");
        let cash = self.settings.starting_cash.micros();
        let log = self.log.clone();
        Box::pin(async move {
            let identity = verifier
                .verify(&msg.provider, &msg.id_token)
                .await
                .map_err(SessionError::Token)?;
            let email = email_for(msg.email, &identity)?;
            let username = msg.username;
            let stored = identity.clone();
            let name = username.clone();
            let registered = db
                .run(move |c| {
                    let now = now_ms();
                    identities::register(
                        c,
                        &NewAccount::new(&name, &email, None, cash, now),
                        &NewIdentity {
                            account_id: 0,
                            provider: &stored.provider,
                            issuer: &stored.issuer,
                            subject: &stored.subject,
                            linked_at: now,
                        },
                    )
                })
                .await
                .map_err(fail)?;
            registered.map_err(|c| conflict(c, &identity))?;
            info!(log, "account registered"; "username" => username, "provider" => &identity.provider);
            Ok(())
        })
    }
}

/// Link the identity of an ID token to the session's account.
#[derive(Message)]
#[rtype(result = "Result<(), SessionError>")]
pub struct LinkIdentity {
    /// The session token.
    pub token: String,
    /// Provider name.
    pub provider: String,
    /// The ID token.
    pub id_token: String,
}

impl Handler<LinkIdentity> for SessionActor {
    type Result = ResponseActFuture<Self, Result<(), SessionError>>;

    fn handle(&mut self, msg: LinkIdentity, _: &mut Context<Self>) -> Self::Result {
        Box::pin(self.authenticate(&msg.token).then(move |session, act, _| {
            let verifier = act.verifier.clone();
            let db = act.db.clone();
            let fail = act.db_failure("link identity");
            let log = act.log.clone();
            async move {
                let session = session?;
                let identity = verifier
                    .verify(&msg.provider, &msg.id_token)
                    .await
                    .map_err(SessionError::Token)?;
                let stored = identity.clone();
                let account_id = session.account_id;
                let linked = db
                    .run(move |c| {
                        identities::link(
                            c,
                            &NewIdentity {
                                account_id,
                                provider: &stored.provider,
                                issuer: &stored.issuer,
                                subject: &stored.subject,
                                linked_at: now_ms(),
                            },
                        )
                    })
                    .await
                    .map_err(fail)?;
                linked.map_err(|c| conflict(c, &identity))?;
                info!(log, "identity linked"; "username" => &session.username, "provider" => &identity.provider);
                Ok(())
            }
            .into_actor(act)
        }))
    }
}

/// Remove the session's account's identity from a provider, unless it is its last way in.
#[derive(Message)]
#[rtype(result = "Result<(), SessionError>")]
pub struct UnlinkIdentity {
    /// The session token.
    pub token: String,
    /// Provider name (as configured, or as stored when the provider is no longer configured).
    pub provider: String,
}

impl Handler<UnlinkIdentity> for SessionActor {
    type Result = ResponseActFuture<Self, Result<(), SessionError>>;

    fn handle(&mut self, msg: UnlinkIdentity, _: &mut Context<Self>) -> Self::Result {
        Box::pin(self.authenticate(&msg.token).then(move |session, act, _| {
            let issuer = act.verifier.issuer_of(&msg.provider).map(str::to_owned);
            let usable = act.verifier.issuers();
            let db = act.db.clone();
            let fail = act.db_failure("unlink identity");
            let log = act.log.clone();
            async move {
                let session = session?;
                let account_id = session.account_id;
                let provider = msg.provider;
                let name = provider.clone();
                let outcome = db
                    .run(move |c| {
                        identities::unlink(c, account_id, &name, issuer.as_deref(), &usable)
                    })
                    .await
                    .map_err(fail)?;
                match outcome {
                    Unlinked::Removed => {
                        info!(log, "identity unlinked"; "username" => &session.username, "provider" => &provider);
                        Ok(())
                    }
                    Unlinked::NotLinked => Err(SessionError::NotLinked(provider)),
                    Unlinked::LastWayIn => Err(SessionError::LastSignInMethod(provider)),
                }
            }
            .into_actor(act)
        }))
    }
}

/// How the session's account signs in: its password flag and its identities.
#[derive(Message)]
#[rtype(result = "Result<SignInBody, SessionError>")]
pub struct SignInMethods {
    /// The session token.
    pub token: String,
}

impl Handler<SignInMethods> for SessionActor {
    type Result = ResponseActFuture<Self, Result<SignInBody, SessionError>>;

    fn handle(&mut self, msg: SignInMethods, _: &mut Context<Self>) -> Self::Result {
        Box::pin(self.authenticate(&msg.token).then(move |session, act, _| {
            let db = act.db.clone();
            let fail = act.db_failure("sign-in methods");
            let verifier = act.verifier.clone();
            async move {
                let session = session?;
                let id = session.account_id;
                let (account, linked) = db
                    .run(move |c| {
                        Ok((accounts::find_by_id(c, id)?, identities::of_account(c, id)?))
                    })
                    .await
                    .map_err(fail)?;
                let account = account.ok_or(SessionError::Invalid)?;
                Ok(SignInBody {
                    username: account.username,
                    has_password: account.is_password,
                    identities: linked
                        .into_iter()
                        .map(|row| LinkedIdentity {
                            provider: verifier.provider_name(&row.issuer, row.provider),
                            issuer: row.issuer,
                            subject: row.subject,
                            linked_at_ms: row.linked_at,
                        })
                        .collect(),
                })
            }
            .into_actor(act)
        }))
    }
}
