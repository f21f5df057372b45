//! Accounts, their holdings and their transaction history.

use diesel::prelude::*;

use super::schema::{accounts, holdings, transactions};
use super::{AnyConnection, DbError};

/// An account row.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = accounts)]
pub struct Account {
    /// Primary key.
    pub id: i64,
    /// Unique login name.
    pub username: String,
    /// Unique email.
    pub email: String,
    /// bcrypt of the client-side password hash; `None` for third-party-only accounts.
    pub password_hash: Option<String>,
    /// Whether the account can log in with a password (spec `isPassword`).
    pub is_password: bool,
    /// Cash in micro-units.
    pub cash: i64,
    /// Registration time, ms since the epoch.
    pub created_at: i64,
    /// The current trading period (0 until the first reset).
    pub period: i64,
    /// Cash the current period began with.
    pub period_start_cash: i64,
    /// When the current period began, ms.
    pub period_started_at: i64,
    /// The first transaction id of the current period (its trades have ids from here on).
    pub period_first_transaction: i64,
    /// The first order id of the current period.
    pub period_first_order: i64,
}

/// A new account.
#[derive(Debug, Insertable)]
#[diesel(table_name = accounts)]
pub struct NewAccount<'a> {
    /// Login name.
    pub username: &'a str,
    /// Email.
    pub email: &'a str,
    /// bcrypt hash, or `None` for a third-party account.
    pub password_hash: Option<&'a str>,
    /// `password_hash.is_some()`.
    pub is_password: bool,
    /// Starting cash, micro-units.
    pub cash: i64,
    /// Now, ms.
    pub created_at: i64,
    /// The first period's starting cash (= `cash`).
    pub period_start_cash: i64,
    /// When the first period began (= `created_at`).
    pub period_started_at: i64,
}

impl<'a> NewAccount<'a> {
    /// A new account with `cash`, created now (`now_ms`): its first period starts with it.
    pub fn new(
        username: &'a str,
        email: &'a str,
        password_hash: Option<&'a str>,
        cash: i64,
        now_ms: i64,
    ) -> Self {
        Self {
            username,
            email,
            password_hash,
            is_password: password_hash.is_some(),
            cash,
            created_at: now_ms,
            period_start_cash: cash,
            period_started_at: now_ms,
        }
    }
}

diesel::define_sql_function! {
    /// SQL `lower()`, as the case-insensitive unique indexes use it.
    fn lower(text: diesel::sql_types::Text) -> diesel::sql_types::Text;
}

/// Which unique field a registration collided with (whatever the case).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Taken {
    /// The username exists.
    Username,
    /// The email exists.
    Email,
}

/// Inserts an account; `Ok(Err(Taken))` when the username or email exists (checked under the
/// unique constraints, so two racing registrations cannot both pass).
pub fn insert(
    conn: &mut AnyConnection,
    new: &NewAccount<'_>,
) -> Result<Result<i64, Taken>, DbError> {
    match diesel::insert_into(accounts::table)
        .values(new)
        .execute(conn)
    {
        Ok(_) => {}
        Err(e) => {
            let e = DbError::from(e);
            if !e.is_unique_violation() {
                return Err(e);
            }
            return Ok(Err(which_taken(conn, new.username)?));
        }
    }
    let id = accounts::table
        .filter(accounts::username.eq(new.username))
        .select(accounts::id)
        .first(conn)?;
    Ok(Ok(id))
}

/// After a unique violation on inserting an account named `username`: whether its username
/// or its email was taken.
pub fn which_taken(conn: &mut AnyConnection, username: &str) -> Result<Taken, DbError> {
    let name_taken = diesel::select(diesel::dsl::exists(
        accounts::table.filter(lower(accounts::username).eq(username.to_lowercase())),
    ))
    .get_result(conn)?;
    Ok(if name_taken {
        Taken::Username
    } else {
        Taken::Email
    })
}

/// Looks up an account by username.
pub fn find_by_username(
    conn: &mut AnyConnection,
    username: &str,
) -> Result<Option<Account>, DbError> {
    Ok(accounts::table
        .filter(accounts::username.eq(username))
        .select(Account::as_select())
        .first(conn)
        .optional()?)
}

/// Looks up an account by id.
pub fn find_by_id(conn: &mut AnyConnection, id: i64) -> Result<Option<Account>, DbError> {
    Ok(accounts::table
        .find(id)
        .select(Account::as_select())
        .first(conn)
        .optional()?)
}

/// Sets (or replaces) the password of an account, marking it password-capable.
pub fn set_password(conn: &mut AnyConnection, id: i64, hash: &str) -> Result<bool, DbError> {
    let n = diesel::update(accounts::table.find(id))
        .set((
            accounts::password_hash.eq(Some(hash)),
            accounts::is_password.eq(true),
        ))
        .execute(conn)?;
    Ok(n == 1)
}

/// `(symbol, quantity)` of every non-zero holding, by symbol.
pub fn holdings_of(
    conn: &mut AnyConnection,
    account_id: i64,
) -> Result<Vec<(String, i64)>, DbError> {
    Ok(holdings::table
        .filter(holdings::account_id.eq(account_id))
        .filter(holdings::quantity.gt(0))
        .order(holdings::symbol.asc())
        .select((holdings::symbol, holdings::quantity))
        .load(conn)?)
}

/// A transaction-history row.
#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable, Insertable)]
#[diesel(table_name = transactions, treat_none_as_null = true)]
pub struct TransactionRow {
    /// Transaction id (assigned in settlement order).
    pub id: i64,
    /// Owner.
    pub account_id: i64,
    /// 0 buy, 1 sell.
    pub side: i32,
    /// Asset symbol.
    pub symbol: String,
    /// Units.
    pub quantity: i64,
    /// Price per unit, micro-units.
    pub price: i64,
    /// Cash after the trade, micro-units.
    pub cash_after: i64,
    /// When the order reached the master (or the worker, for forwarded orders), ms.
    pub placed_at: i64,
    /// When the batch committed, ms.
    pub settled_at: i64,
    /// The price tick it settled at.
    pub tick: i64,
    /// The client's address.
    pub client_ip: String,
    /// The forwarding worker, if any.
    pub worker_uuid: Option<String>,
    /// The order it fills (`placeOrder`); `None` for `purchaseAsset`/`sellAsset`.
    pub order_id: Option<i64>,
    /// Commission paid, micro-units.
    pub commission: i64,
}

/// The query of an account's transactions with ids from `from_id` up to `before_id` (none: to
/// the last): a period's trades.
pub fn transactions_between(
    account_id: i64,
    from_id: i64,
    before_id: Option<i64>,
) -> transactions::BoxedQuery<'static, <AnyConnection as diesel::Connection>::Backend> {
    let query = transactions::table
        .filter(transactions::account_id.eq(account_id))
        .filter(transactions::id.ge(from_id))
        .into_boxed();
    match before_id {
        Some(end) => query.filter(transactions::id.lt(end)),
        None => query,
    }
}

/// An account's transactions with ids from `from_id` up to `before_id`, oldest first (the
/// current period's: `from_id` = [`Account::period_first_transaction`], no end).
pub fn transactions_from(
    conn: &mut AnyConnection,
    account_id: i64,
    from_id: i64,
    before_id: Option<i64>,
) -> Result<Vec<TransactionRow>, DbError> {
    Ok(transactions_between(account_id, from_id, before_id)
        .order(transactions::id.asc())
        .select(TransactionRow::as_select())
        .load(conn)?)
}

/// The id of an account's last transaction (0: none yet).
pub fn last_transaction_id(conn: &mut AnyConnection, account_id: i64) -> Result<u64, DbError> {
    let last: Option<i64> = transactions::table
        .filter(transactions::account_id.eq(account_id))
        .select(diesel::dsl::max(transactions::id))
        .first(conn)?;
    Ok(last.map_or(0, |id| id.max(0) as u64))
}

/// At most `limit` of an account's transactions with ids from `from_id` on, oldest first.
pub fn transactions_limited(
    conn: &mut AnyConnection,
    account_id: i64,
    from_id: i64,
    limit: usize,
) -> Result<Vec<TransactionRow>, DbError> {
    Ok(transactions_between(account_id, from_id, None)
        .order(transactions::id.asc())
        .limit(i64::try_from(limit).unwrap_or(i64::MAX))
        .select(TransactionRow::as_select())
        .load(conn)?)
}

/// An account's transactions, oldest first.
pub fn transactions_of(
    conn: &mut AnyConnection,
    account_id: i64,
) -> Result<Vec<TransactionRow>, DbError> {
    Ok(transactions::table
        .filter(transactions::account_id.eq(account_id))
        .order(transactions::id.asc())
        .select(TransactionRow::as_select())
        .load(conn)?)
}
