//! Sessions: only the SHA-256 of a token is stored.

use diesel::prelude::*;

use super::schema::{accounts, sessions};
use super::{AnyConnection, DbError};

/// A session row joined with its account's name.
#[derive(Debug, Clone, Queryable)]
pub struct SessionRecord {
    /// Primary key.
    pub id: i64,
    /// Owner account.
    pub account_id: i64,
    /// Owner's username.
    pub username: String,
    /// Creation time, ms.
    pub created_at: i64,
    /// Expiry, ms.
    pub expires_at: i64,
    /// Address of the client that logged in.
    pub client_ip: String,
    /// False once revoked, logged out or ended with its connection.
    pub is_active: bool,
    /// See `Login::is_expirable`.
    pub is_expirable: bool,
}

/// A new session.
#[derive(Debug, Insertable)]
#[diesel(table_name = sessions)]
pub struct NewSession<'a> {
    /// SHA-256 hex of the token.
    pub token_hash: &'a str,
    /// Owner.
    pub account_id: i64,
    /// Now, ms.
    pub created_at: i64,
    /// Expiry, ms.
    pub expires_at: i64,
    /// Client address.
    pub client_ip: &'a str,
    /// Always true on insert.
    pub is_active: bool,
    /// From the login.
    pub is_expirable: bool,
}

fn record_columns() -> (
    sessions::id,
    sessions::account_id,
    accounts::username,
    sessions::created_at,
    sessions::expires_at,
    sessions::client_ip,
    sessions::is_active,
    sessions::is_expirable,
) {
    (
        sessions::id,
        sessions::account_id,
        accounts::username,
        sessions::created_at,
        sessions::expires_at,
        sessions::client_ip,
        sessions::is_active,
        sessions::is_expirable,
    )
}

/// Stores a session and returns its id.
pub fn insert(conn: &mut AnyConnection, new: &NewSession<'_>) -> Result<i64, DbError> {
    diesel::insert_into(sessions::table)
        .values(new)
        .execute(conn)?;
    Ok(sessions::table
        .filter(sessions::token_hash.eq(new.token_hash))
        .select(sessions::id)
        .first(conn)?)
}

/// The session with this token hash, active or not.
pub fn find_by_token_hash(
    conn: &mut AnyConnection,
    token_hash: &str,
) -> Result<Option<SessionRecord>, DbError> {
    Ok(sessions::table
        .inner_join(accounts::table)
        .filter(sessions::token_hash.eq(token_hash))
        .select(record_columns())
        .first(conn)
        .optional()?)
}

/// True when `account_id` has had a session created from `client_ip` since `since_ms`: the
/// login throttle treats such an address as the owner's.
pub fn has_logged_in_from(
    conn: &mut AnyConnection,
    account_id: i64,
    client_ip: &str,
    since_ms: i64,
) -> Result<bool, DbError> {
    Ok(diesel::select(diesel::dsl::exists(
        sessions::table
            .filter(sessions::account_id.eq(account_id))
            .filter(sessions::client_ip.eq(client_ip))
            .filter(sessions::created_at.gt(since_ms)),
    ))
    .get_result(conn)?)
}

/// Marks sessions inactive; returns how many changed.
pub fn deactivate(conn: &mut AnyConnection, ids: &[i64]) -> Result<usize, DbError> {
    Ok(
        diesel::update(sessions::table.filter(sessions::id.eq_any(ids)))
            .set(sessions::is_active.eq(false))
            .execute(conn)?,
    )
}

/// Ends every active non-expirable session: run at start, since the connections they were
/// bound to died with the previous process.
pub fn end_connection_bound(conn: &mut AnyConnection) -> Result<usize, DbError> {
    Ok(diesel::update(
        sessions::table
            .filter(sessions::is_expirable.eq(false))
            .filter(sessions::is_active.eq(true)),
    )
    .set(sessions::is_active.eq(false))
    .execute(conn)?)
}

/// Active, unexpired sessions, newest first.
pub fn list_live(conn: &mut AnyConnection, now_ms: i64) -> Result<Vec<SessionRecord>, DbError> {
    Ok(sessions::table
        .inner_join(accounts::table)
        .filter(sessions::is_active.eq(true))
        .filter(sessions::expires_at.gt(now_ms))
        .order(sessions::id.desc())
        .select(record_columns())
        .load(conn)?)
}
