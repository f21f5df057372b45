//! Logging in with a password or an ID token, through the login throttle: attempts in flight count against
//! its limits, and logins over a busy limit wait for a place instead of being refused.

use std::future::Future;
use std::time::Instant;

use actix::prelude::*;
use slog::{info, warn};
use tokio::sync::oneshot;

use super::{now_ms, SessionActor};
use crate::db::sessions::{self, NewSession};
use crate::db::{accounts, identities};
use crate::domain::identities::VerifiedIdentity;
use crate::domain::sessions::{new_token, token_hash, LiveSession, Origin, SessionError};
use crate::login_throttle::{Attempt, Outcome, Refusal, ACCOUNT, ADDRESS, PAIR};

/// Log in with a password or an ID token; resolves to the new session token.
#[derive(Message)]
#[rtype(result = "Result<String, SessionError>")]
pub struct Login {
    /// Who is logging in and the proof.
    pub credentials: Credentials,
    /// See the protocol's `isExpirable`.
    pub is_expirable: bool,
    /// Where the login came from.
    pub origin: Origin,
}

/// What a login proves itself with.
#[derive(Debug, Clone)]
pub enum Credentials {
    /// A username and the client-side password hash.
    Password {
        /// Username.
        username: String,
        /// Client-side password hash.
        hashed_password: String,
    },
    /// An OpenID Connect ID token of a configured provider.
    IdToken {
        /// Provider name.
        provider: String,
        /// The token.
        id_token: String,
    },
}

impl Credentials {
    /// The name the throttle counts this login under: the username, or `provider:subject` as
    /// the token claims it. The claim is not verified yet; it only picks the counter, as a
    /// typed username does.
    fn throttle_name(&self) -> String {
        match self {
            Credentials::Password { username, .. } => username.clone(),
            // The claim is hashed: a key stays small whatever a forged token says.
            Credentials::IdToken { provider, id_token } => {
                let subject = claimed_subject(id_token).unwrap_or_default();
                let digest = sha2::Sha256::digest(subject.as_bytes());
                format!("{provider}:{}", hex::encode(&digest[..12]))
            }
        }
    }
}

/// The `sub` an ID token claims, unverified.
fn claimed_subject(token: &str) -> Option<String> {
    use base64::Engine;
    let payload = token.split('.').nth(1)?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .ok()?;
    let claims: serde_json::Value = serde_json::from_slice(&bytes).ok()?;
    claims.get("sub")?.as_str().map(str::to_owned)
}

use sha2::Digest as _;

fn throttled(refusal: Refusal) -> SessionError {
    SessionError::Throttled(refusal.message())
}

/// How a login that failed counts for the throttle: a wrong password, a refused token or a
/// token of no account is a failed guess; anything else (the database, the provider's keys
/// unreachable) is no one's guess.
fn failure_outcome(error: &SessionError) -> Outcome {
    match error {
        SessionError::WrongCredentials | SessionError::UnknownIdentity(_) => Outcome::Failed,
        SessionError::Token(e) if e.counts_as_failure() => Outcome::Failed,
        _ => Outcome::Abandoned,
    }
}

/// How a finished login counts for the throttle.
fn outcome_of<T>(result: &Result<T, SessionError>) -> Outcome {
    result
        .as_ref()
        .err()
        .map_or(Outcome::Succeeded, failure_outcome)
}

/// Whom a login's credentials name: a username, or the identity of a verified ID token.
enum Named {
    Username(String),
    Identity(VerifiedIdentity),
}

impl Handler<Login> for SessionActor {
    type Result = ResponseActFuture<Self, Result<String, SessionError>>;

    /// Throttle (name + address) → find the account (verifying the token first, for a token
    /// login), and whether it has logged in from this address before → throttle (name,
    /// address, for unknown pairs) → bcrypt (password logins) → store the session. Every
    /// reservation is given back however the attempt ends.
    fn handle(&mut self, msg: Login, ctx: &mut Context<Self>) -> Self::Result {
        let address = msg.origin.client_ip.to_string();
        let name = msg.credentials.throttle_name();
        let mut attempt = match self.throttle.begin(&name, &address, Instant::now()) {
            Ok(attempt) => attempt,
            Err(refusal) if refusal.is_busy() => {
                let key = held_back_key(refusal.by, &name, &address);
                return self.hold_back(msg, key, ctx);
            }
            Err(refusal) => {
                warn!(self.log, "login throttled"; "by" => refusal.by, "address" => &address);
                metrics::counter!("papertrader_login_throttled_total", "by" => refusal.by)
                    .increment(1);
                return Box::pin(fut::ready(Err(throttled(refusal))));
            }
        };
        let lookup = self.find_account(msg.credentials.clone(), address.clone());
        Box::pin(lookup.into_actor(self).then(move |found, act, ctx| {
            let now = Instant::now();
            let (account, known) = match found {
                Ok(found) => found,
                Err(failure) => {
                    act.finish_attempt(attempt, failure_outcome(&failure), &name, &address);
                    return Box::pin(fut::ready(Err(failure)))
                        as ResponseActFuture<Self, Result<String, SessionError>>;
                }
            };
            if let Err(refusal) = act.throttle.widen(&mut attempt, known, now) {
                // `widen` has given the attempt back.
                act.let_held_back_go(&name, &address, false);
                if refusal.is_busy() {
                    let key = held_back_key(refusal.by, &name, &address);
                    return act.hold_back(msg, key, ctx);
                }
                warn!(act.log, "login throttled"; "by" => refusal.by, "address" => &address);
                metrics::counter!("papertrader_login_throttled_total", "by" => refusal.by).increment(1);
                return Box::pin(fut::ready(Err(throttled(refusal))));
            }
            let work = act.complete_login(msg, account);
            Box::pin(work.into_actor(act).map(move |result, act, _| {
                act.finish_attempt(attempt, outcome_of(&result), &name, &address);
                let (token, hash, live) = result?;
                info!(act.log, "login"; "username" => &live.username, "expirable" => live.is_expirable);
                act.remember(hash, live);
                Ok(token)
            }))
        }))
    }
}

/// Logins held back per limit key at most; more are refused.
const MAX_HELD_BACK: usize = 256;

/// The limit key (as [`Refusal::by`] names it) a login on `username` from `address` waits on.
fn held_back_key(by: &'static str, username: &str, address: &str) -> (&'static str, String) {
    let key = match by {
        ACCOUNT => username.to_owned(),
        ADDRESS => address.to_owned(),
        _ => format!("{username}\n{address}"),
    };
    (by, key)
}

impl SessionActor {
    /// Holds a login back until an attempt holding the limit that stopped it (`key`, see
    /// [`held_back_key`]) finishes: that limit's allowance is taken by attempts still running.
    /// It is then tried again from the start.
    fn hold_back(
        &mut self,
        msg: Login,
        key: (&'static str, String),
        ctx: &mut Context<Self>,
    ) -> ResponseActFuture<Self, Result<String, SessionError>> {
        let waiting = self.held_back.entry(key).or_default();
        if waiting.len() >= MAX_HELD_BACK {
            return Box::pin(fut::ready(Err(SessionError::TooManyLogins)));
        }
        let (go, released) = oneshot::channel();
        waiting.push(go);
        let me = ctx.address();
        Box::pin(
            async move {
                let _ = released.await;
                me.send(msg).await.unwrap_or(Err(SessionError::Unavailable))
            }
            .into_actor(self),
        )
    }

    /// Ends an attempt and lets the logins held back behind its places try again.
    fn finish_attempt(
        &mut self,
        attempt: Attempt,
        outcome: Outcome,
        username: &str,
        address: &str,
    ) {
        let wide = attempt.is_wide();
        self.throttle.finish(attempt, outcome, Instant::now());
        self.let_held_back_go(username, address, wide);
    }

    /// Places on these keys were given back: the logins held back behind them try again.
    fn let_held_back_go(&mut self, username: &str, address: &str, wide: bool) {
        let mut keys = vec![held_back_key(PAIR, username, address)];
        if wide {
            keys.push(held_back_key(ACCOUNT, username, address));
            keys.push(held_back_key(ADDRESS, username, address));
        }
        for key in keys {
            for go in self.held_back.remove(&key).unwrap_or_default() {
                let _ = go.send(());
            }
        }
    }

    /// The account the credentials name, and whether it has logged in from `address` lately.
    /// A token is verified first: a refused token, or one of no account, fails here.
    fn find_account(
        &self,
        credentials: Credentials,
        address: String,
    ) -> impl Future<Output = Result<(Option<accounts::Account>, bool), SessionError>> + 'static
    {
        let db = self.db.clone();
        let fail = self.db_failure("login");
        let verifier = self.verifier.clone();
        let since = now_ms().saturating_sub(self.settings.known_address_ttl.as_millis() as i64);
        async move {
            let named = match credentials {
                Credentials::Password { username, .. } => Named::Username(username),
                Credentials::IdToken { provider, id_token } => Named::Identity(
                    verifier
                        .verify(&provider, &id_token)
                        .await
                        .map_err(SessionError::Token)?,
                ),
            };
            let token_of = match &named {
                Named::Identity(identity) => Some(identity.provider.clone()),
                Named::Username(_) => None,
            };
            let (account, known) = db
                .run(move |c| {
                    let account = match &named {
                        Named::Identity(identity) => {
                            identities::owner(c, &identity.issuer, &identity.subject)?
                        }
                        Named::Username(username) => accounts::find_by_username(c, username)?,
                    };
                    let known = match &account {
                        Some(a) => sessions::has_logged_in_from(c, a.id, &address, since)?,
                        None => false,
                    };
                    Ok((account, known))
                })
                .await
                .map_err(fail)?;
            if let (None, Some(provider)) = (&account, token_of) {
                return Err(SessionError::UnknownIdentity(provider));
            }
            Ok((account, known))
        }
    }

    /// For a password login, checks the password of `account` (a dummy check when there is
    /// none, so timing does not tell); then stores a new session: its token, the token's hash,
    /// the live session.
    fn complete_login(
        &self,
        msg: Login,
        account: Option<accounts::Account>,
    ) -> impl Future<Output = Result<(String, String, LiveSession), SessionError>> + 'static {
        let hasher = self.hasher();
        let db = self.db.clone();
        let fail = self.db_failure("login");
        let verifier = self.verifier.clone();
        let ttl = if msg.is_expirable {
            self.settings.session_ttl
        } else {
            self.settings.connection_session_ttl
        };
        async move {
            if let Credentials::Password {
                hashed_password, ..
            } = msg.credentials
            {
                let verified = hasher
                    .verify(
                        hashed_password,
                        account.as_ref().and_then(|a| a.password_hash.clone()),
                    )
                    .await?;
                let account = account.as_ref().ok_or(SessionError::WrongCredentials)?;
                if !account.is_password {
                    let id = account.id;
                    let linked = db
                        .run(move |c| identities::of_account(c, id))
                        .await
                        .map_err(&fail)?;
                    let providers = linked
                        .into_iter()
                        .map(|row| verifier.provider_name(&row.issuer, row.provider))
                        .collect();
                    return Err(SessionError::PasswordNotSet(providers));
                }
                if !verified {
                    return Err(SessionError::WrongCredentials);
                }
            }
            let account = account.ok_or(SessionError::WrongCredentials)?;
            let token = new_token();
            let hash = token_hash(&token);
            let now = now_ms();
            let expires_at = now.saturating_add(ttl.as_millis() as i64);
            let client_ip = msg.origin.client_ip.to_string();
            let stored_hash = hash.clone();
            let session_id = db
                .run(move |c| {
                    sessions::insert(
                        c,
                        &NewSession {
                            token_hash: &stored_hash,
                            account_id: account.id,
                            created_at: now,
                            expires_at,
                            client_ip: &client_ip,
                            is_active: true,
                            is_expirable: msg.is_expirable,
                        },
                    )
                })
                .await
                .map_err(&fail)?;
            let live = LiveSession {
                session_id,
                account_id: account.id,
                username: account.username,
                expires_at,
                is_expirable: msg.is_expirable,
                connection: (!msg.is_expirable).then_some(msg.origin.connection_id),
            };
            Ok((token, hash, live))
        }
    }
}
