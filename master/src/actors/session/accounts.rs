//! Accounts: registering with a password, and setting or changing the password.

use actix::prelude::*;
use slog::info;

use super::{now_ms, SessionActor};
use crate::db::accounts::{self, NewAccount, Taken};
use crate::db::{Db, DbError};
use crate::domain::sessions::SessionError;

/// Register a password account.
#[derive(Message)]
#[rtype(result = "Result<(), SessionError>")]
pub struct Register {
    /// Username (validated).
    pub username: String,
    /// Email (validated).
    pub email: String,
    /// Client-side password hash.
    pub hashed_password: String,
}

pub(super) fn taken(taken: Taken) -> SessionError {
    match taken {
        Taken::Username => SessionError::UsernameTaken,
        Taken::Email => SessionError::EmailTaken,
    }
}

/// Inserts a password account; maps unique violations to UsernameTaken / EmailTaken.
async fn insert_account(
    db: Db,
    fail: impl Fn(DbError) -> SessionError,
    cash: i64,
    username: String,
    email: String,
    password_hash: String,
) -> Result<(), SessionError> {
    let inserted = db
        .run(move |c| {
            accounts::insert(
                c,
                &NewAccount::new(&username, &email, Some(&password_hash), cash, now_ms()),
            )
        })
        .await
        .map_err(fail)?;
    inserted.map(|_| ()).map_err(taken)
}

impl Handler<Register> for SessionActor {
    type Result = ResponseFuture<Result<(), SessionError>>;

    fn handle(&mut self, msg: Register, _: &mut Context<Self>) -> Self::Result {
        let hasher = self.hasher();
        let db = self.db.clone();
        let fail = self.db_failure("register");
        let cash = self.settings.starting_cash.micros();
        let log = self.log.clone();
        Box::pin(async move {
            let hash = hasher.hash(msg.hashed_password).await?;
            let username = msg.username.clone();
            insert_account(db, fail, cash, msg.username, msg.email, hash).await?;
            info!(log, "account registered"; "username" => username);
            Ok(())
        })
    }
}

/// Set the password of the session's account: a password-less account gains one (so both
/// ways in work); replacing an existing one needs the current one.
#[derive(Message)]
#[rtype(result = "Result<(), SessionError>")]
pub struct ChangePassword {
    /// The session token.
    pub token: String,
    /// Client-side hash of the new password.
    pub new_hashed_password: String,
    /// Client-side hash of the current password (required when there is one).
    pub old_hashed_password: Option<String>,
}

impl Handler<ChangePassword> for SessionActor {
    type Result = ResponseActFuture<Self, Result<(), SessionError>>;

    fn handle(&mut self, msg: ChangePassword, _: &mut Context<Self>) -> Self::Result {
        Box::pin(
            self.authenticate(&msg.token)
                .then(move |session, act, _| {
                    let hasher = act.hasher();
                    let db = act.db.clone();
                    let fail = act.db_failure("set password");
                    let log = act.log.clone();
                    async move {
                        let session = session?;
                        let id = session.account_id;
                        let account = db
                            .run(move |c| accounts::find_by_id(c, id))
                            .await
                            .map_err(&fail)?
                            .ok_or(SessionError::Invalid)?;
                        if account.is_password {
                            let old = msg
                                .old_hashed_password
                                .ok_or(SessionError::WrongCredentials)?;
                            if !hasher.verify(old, account.password_hash).await? {
                                return Err(SessionError::WrongCredentials);
                            }
                        }
                        let hash = hasher.hash(msg.new_hashed_password).await?;
                        let updated = db
                            .run(move |c| accounts::set_password(c, id, &hash))
                            .await
                            .map_err(&fail)?;
                        if !updated {
                            return Err(SessionError::Invalid);
                        }
                        info!(log, "password set"; "username" => &session.username, "had_one" => account.is_password);
                        Ok(())
                    }
                    .into_actor(act)
                }),
        )
    }
}
