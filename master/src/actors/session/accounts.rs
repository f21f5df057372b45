//! Accounts: registering with a password or through a third party, and setting a password.

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

fn taken(taken: Taken) -> SessionError {
    match taken {
        Taken::Username => SessionError::UsernameTaken,
        Taken::Email => SessionError::EmailTaken,
    }
}

/// Inserts an account; maps unique violations to UsernameTaken / EmailTaken.
async fn insert_account(
    db: Db,
    fail: impl Fn(DbError) -> SessionError,
    cash: i64,
    username: String,
    email: String,
    password_hash: Option<String>,
) -> Result<(), SessionError> {
    let inserted = db
        .run(move |c| {
            accounts::insert(
                c,
                &NewAccount {
                    username: &username,
                    email: &email,
                    is_password: password_hash.is_some(),
                    password_hash: password_hash.as_deref(),
                    cash,
                    created_at: now_ms(),
                },
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
            insert_account(db, fail, cash, msg.username, msg.email, Some(hash)).await?;
            info!(log, "account registered"; "username" => username);
            Ok(())
        })
    }
}

/// Register an account that logs in through a third party and has no password yet
/// (spec 3.1.3). It cannot log in with `login` until [`SetPassword`] gives it one.
#[derive(Message)]
#[rtype(result = "Result<(), SessionError>")]
pub struct RegisterThirdParty {
    /// Username (validated).
    pub username: String,
    /// Email (validated).
    pub email: String,
}

impl Handler<RegisterThirdParty> for SessionActor {
    type Result = ResponseFuture<Result<(), SessionError>>;

    fn handle(&mut self, msg: RegisterThirdParty, _: &mut Context<Self>) -> Self::Result {
        let fut = insert_account(
            self.db.clone(),
            self.db_failure("register third-party"),
            self.settings.starting_cash.micros(),
            msg.username,
            msg.email,
            None,
        );
        Box::pin(fut)
    }
}

/// Give an account a password (or replace it), making it password-capable.
#[derive(Message)]
#[rtype(result = "Result<(), SessionError>")]
pub struct SetPassword {
    /// The account.
    pub username: String,
    /// Client-side password hash.
    pub hashed_password: String,
}

impl Handler<SetPassword> for SessionActor {
    type Result = ResponseFuture<Result<(), SessionError>>;

    fn handle(&mut self, msg: SetPassword, _: &mut Context<Self>) -> Self::Result {
        let hasher = self.hasher();
        let db = self.db.clone();
        let fail = self.db_failure("set password");
        Box::pin(async move {
            let hash = hasher.hash(msg.hashed_password).await?;
            let username = msg.username;
            let updated = db
                .run(move |c| match accounts::find_by_username(c, &username)? {
                    Some(account) => accounts::set_password(c, account.id, &hash),
                    None => Ok(false),
                })
                .await
                .map_err(fail)?;
            if updated {
                Ok(())
            } else {
                Err(SessionError::UnknownUser)
            }
        })
    }
}
