//! Logging in with a password, through the login throttle: attempts in flight count against
//! its limits, and logins over a busy limit wait for a place instead of being refused.

use std::future::Future;
use std::time::Instant;

use actix::prelude::*;
use slog::{info, warn};
use tokio::sync::oneshot;

use super::{now_ms, SessionActor};
use crate::db::accounts;
use crate::db::sessions::{self, NewSession};
use crate::domain::sessions::{new_token, token_hash, LiveSession, Origin, SessionError};
use crate::login_throttle::{Attempt, Outcome, Refusal, ACCOUNT, ADDRESS, PAIR};

/// Log in with a password; resolves to the new session token.
#[derive(Message)]
#[rtype(result = "Result<String, SessionError>")]
pub struct Login {
    /// Username.
    pub username: String,
    /// Client-side password hash.
    pub hashed_password: String,
    /// See the protocol's `isExpirable`.
    pub is_expirable: bool,
    /// Where the login came from.
    pub origin: Origin,
}

fn throttled(refusal: Refusal) -> SessionError {
    SessionError::Throttled(refusal.message())
}

impl Handler<Login> for SessionActor {
    type Result = ResponseActFuture<Self, Result<String, SessionError>>;

    /// Throttle (account + address) → look the account up, and whether it has logged in from
    /// this address before → throttle (account, address, for unknown pairs) → bcrypt → store
    /// the session. Every reservation is given back however the attempt ends.
    fn handle(&mut self, msg: Login, ctx: &mut Context<Self>) -> Self::Result {
        let address = msg.origin.client_ip.to_string();
        let mut attempt = match self.throttle.begin(&msg.username, &address, Instant::now()) {
            Ok(attempt) => attempt,
            Err(refusal) if refusal.is_busy() => {
                let key = held_back_key(refusal.by, &msg.username, &address);
                return self.hold_back(msg, key, ctx);
            }
            Err(refusal) => {
                warn!(self.log, "login throttled"; "by" => refusal.by, "address" => &address);
                return Box::pin(fut::ready(Err(throttled(refusal))));
            }
        };
        let db = self.db.clone();
        let fail = self.db_failure("login");
        let since = now_ms().saturating_sub(self.settings.known_address_ttl.as_millis() as i64);
        let username = msg.username.clone();
        let lookup_address = address.clone();
        let lookup = async move {
            db.run(move |c| {
                let account = accounts::find_by_username(c, &username)?;
                let known = match &account {
                    Some(a) => sessions::has_logged_in_from(c, a.id, &lookup_address, since)?,
                    None => false,
                };
                Ok((account, known))
            })
            .await
            .map_err(fail)
        };
        Box::pin(lookup.into_actor(self).then(move |found, act, ctx| {
            let now = Instant::now();
            let (account, known) = match found {
                Ok(found) => found,
                Err(failure) => {
                    act.finish_attempt(attempt, Outcome::Abandoned, &msg.username, &address);
                    return Box::pin(fut::ready(Err(failure)))
                        as ResponseActFuture<Self, Result<String, SessionError>>;
                }
            };
            if let Err(refusal) = act.throttle.widen(&mut attempt, known, now) {
                // `widen` has given the attempt back.
                act.let_held_back_go(&msg.username, &address, false);
                if refusal.is_busy() {
                    let key = held_back_key(refusal.by, &msg.username, &address);
                    return act.hold_back(msg, key, ctx);
                }
                warn!(act.log, "login throttled"; "by" => refusal.by, "address" => &address);
                return Box::pin(fut::ready(Err(throttled(refusal))));
            }
            let msg_username = msg.username.clone();
            let work = act.password_login(msg, account);
            Box::pin(work.into_actor(act).map(move |result, act, _| {
                let outcome = match &result {
                    Ok(_) => Outcome::Succeeded,
                    Err(SessionError::WrongCredentials) => Outcome::Failed,
                    Err(_) => Outcome::Abandoned,
                };
                act.finish_attempt(attempt, outcome, &msg_username, &address);
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

    /// Checks the password of `account` (a dummy check when there is none, so timing does not
    /// tell) and stores a new session: its token, the token's hash, the live session.
    fn password_login(
        &self,
        msg: Login,
        account: Option<accounts::Account>,
    ) -> impl Future<Output = Result<(String, String, LiveSession), SessionError>> + 'static {
        let hasher = self.hasher();
        let db = self.db.clone();
        let fail = self.db_failure("login");
        let ttl = if msg.is_expirable {
            self.settings.session_ttl
        } else {
            self.settings.connection_session_ttl
        };
        async move {
            let verified = hasher
                .verify(
                    msg.hashed_password,
                    account.as_ref().and_then(|a| a.password_hash.clone()),
                )
                .await?;
            let account = account.ok_or(SessionError::WrongCredentials)?;
            if !account.is_password {
                return Err(SessionError::PasswordNotSet);
            }
            if !verified {
                return Err(SessionError::WrongCredentials);
            }
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
