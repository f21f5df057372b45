//! Third-party identities: which (issuer, subject) signs in to which account.
//!
//! An identity belongs to at most one account, and an account has at most one identity per
//! issuer (both are unique constraints, so racing links cannot both pass). Changes that must
//! leave an account a way in first lock its account row, so two racing unlinks cannot remove
//! its last two identities.

use diesel::prelude::*;

use super::accounts::{self, Account, NewAccount, Taken};
use super::schema::{accounts as accounts_table, identities};
use super::{AnyConnection, DbError};

/// An identity row.
#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable)]
#[diesel(table_name = identities)]
pub struct IdentityRow {
    /// Primary key.
    pub id: i64,
    /// The account it signs in to.
    pub account_id: i64,
    /// The provider's configured name when it was linked.
    pub provider: String,
    /// Token issuer (`iss`).
    pub issuer: String,
    /// Subject (`sub`).
    pub subject: String,
    /// When it was linked, ms.
    pub linked_at: i64,
}

/// An identity to store.
#[derive(Debug, Clone, Copy, Insertable)]
#[diesel(table_name = identities)]
pub struct NewIdentity<'a> {
    /// The account.
    pub account_id: i64,
    /// The provider's configured name.
    pub provider: &'a str,
    /// Token issuer.
    pub issuer: &'a str,
    /// Subject.
    pub subject: &'a str,
    /// Now, ms.
    pub linked_at: i64,
}

/// Why an identity could not be stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Conflict {
    /// The account's username or email exists (registration only).
    Account(Taken),
    /// The identity belongs to an account already.
    IdentityLinked,
    /// The identity belongs to this very account already (linking).
    AlreadyYours,
    /// The account already has an identity from that issuer.
    IssuerLinked,
}

/// The outcome of removing an identity.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unlinked {
    /// Removed.
    Removed,
    /// The account has no identity from that provider.
    NotLinked,
    /// It is the account's only way in (no password, no other identity): kept.
    LastWayIn,
}

/// Registers a password-less account with its first identity, in one transaction. Returns the
/// new account's id, or what collided.
pub fn register(
    conn: &mut AnyConnection,
    account: &NewAccount<'_>,
    identity: &NewIdentity<'_>,
) -> Result<Result<i64, Conflict>, DbError> {
    let stored = conn.transaction(|c| {
        diesel::insert_into(accounts_table::table)
            .values(account)
            .execute(c)?;
        let id: i64 = accounts_table::table
            .filter(accounts_table::username.eq(account.username))
            .select(accounts_table::id)
            .first(c)?;
        diesel::insert_into(identities::table)
            .values(NewIdentity {
                account_id: id,
                ..*identity
            })
            .execute(c)?;
        Ok::<_, diesel::result::Error>(id)
    });
    match stored.map_err(DbError::from) {
        Ok(id) => Ok(Ok(id)),
        Err(e) if e.is_unique_violation() => {
            if owner(conn, identity.issuer, identity.subject)?.is_some() {
                Ok(Err(Conflict::IdentityLinked))
            } else {
                Ok(Err(Conflict::Account(accounts::which_taken(
                    conn,
                    account.username,
                )?)))
            }
        }
        Err(e) => Err(e),
    }
}

/// Links an identity to an existing account.
pub fn link(
    conn: &mut AnyConnection,
    identity: &NewIdentity<'_>,
) -> Result<Result<(), Conflict>, DbError> {
    match diesel::insert_into(identities::table)
        .values(identity)
        .execute(conn)
        .map_err(DbError::from)
    {
        Ok(_) => Ok(Ok(())),
        Err(e) if e.is_unique_violation() => {
            Ok(Err(match owner(conn, identity.issuer, identity.subject)? {
                Some(a) if a.id == identity.account_id => Conflict::AlreadyYours,
                Some(_) => Conflict::IdentityLinked,
                None => Conflict::IssuerLinked,
            }))
        }
        Err(e) => Err(e),
    }
}

/// The account an identity signs in to, if any.
pub fn owner(
    conn: &mut AnyConnection,
    issuer: &str,
    subject: &str,
) -> Result<Option<Account>, DbError> {
    Ok(identities::table
        .inner_join(accounts_table::table)
        .filter(identities::issuer.eq(issuer))
        .filter(identities::subject.eq(subject))
        .select(Account::as_select())
        .first(conn)
        .optional()?)
}

/// An account's identities, oldest first.
pub fn of_account(conn: &mut AnyConnection, account_id: i64) -> Result<Vec<IdentityRow>, DbError> {
    Ok(identities::table
        .filter(identities::account_id.eq(account_id))
        .order(identities::id.asc())
        .select(IdentityRow::as_select())
        .load(conn)?)
}

/// Removes the account's identity from `issuer` (or, when `issuer` is `None`, the one stored
/// under `provider`), unless it is the account's last way in: no password and no other
/// identity whose issuer is in `usable` (the configured providers' — an identity of a provider
/// no longer configured cannot sign in).
pub fn unlink(
    conn: &mut AnyConnection,
    account_id: i64,
    provider: &str,
    issuer: Option<&str>,
    usable: &[String],
) -> Result<Unlinked, DbError> {
    conn.transaction::<_, DbError, _>(|c| {
        // Writing the account row serialises identity changes of this account (a row lock
        // on PostgreSQL, the write lock on SQLite).
        let found = diesel::update(accounts_table::table.find(account_id))
            .set(accounts_table::id.eq(account_id))
            .execute(c)?;
        if found == 0 {
            return Ok(Unlinked::NotLinked);
        }
        let has_password: bool = accounts_table::table
            .find(account_id)
            .select(accounts_table::is_password)
            .first(c)?;
        let linked = of_account(c, account_id)?;
        let Some(target) = linked.iter().find(|i| match issuer {
            Some(issuer) => i.issuer == issuer,
            None => i.provider == provider,
        }) else {
            return Ok(Unlinked::NotLinked);
        };
        let other_ways = linked
            .iter()
            .filter(|i| i.id != target.id && usable.contains(&i.issuer))
            .count();
        if !has_password && other_ways == 0 {
            return Ok(Unlinked::LastWayIn);
        }
        diesel::delete(identities::table.find(target.id)).execute(c)?;
        Ok(Unlinked::Removed)
    })
}
