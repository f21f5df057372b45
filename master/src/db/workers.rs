//! Registered workers.

use diesel::prelude::*;

use super::schema::workers;
use super::{AnyConnection, DbError};

/// A registered worker.
#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable, Insertable)]
#[diesel(table_name = workers)]
pub struct WorkerRow {
    /// UUID, hyphenated lowercase.
    pub uuid: String,
    /// Unique name.
    pub name: String,
    /// `host:port` clients connect to.
    pub address: String,
    /// Comma-separated IP addresses the worker may connect from.
    pub allowed_ips: String,
    /// ASCII-armored OpenPGP public key.
    pub public_key: String,
    /// False after a boot-off, until re-enabled.
    pub enabled: bool,
    /// Registration time, ms.
    pub created_at: i64,
}

/// Registers a worker; `Ok(false)` if the name or UUID exists.
pub fn insert(conn: &mut AnyConnection, row: &WorkerRow) -> Result<bool, DbError> {
    match diesel::insert_into(workers::table)
        .values(row)
        .execute(conn)
    {
        Ok(_) => Ok(true),
        Err(e) => {
            let e = DbError::from(e);
            if e.is_unique_violation() {
                Ok(false)
            } else {
                Err(e)
            }
        }
    }
}

/// Every registered worker, by name.
pub fn list(conn: &mut AnyConnection) -> Result<Vec<WorkerRow>, DbError> {
    Ok(workers::table
        .order(workers::name.asc())
        .select(WorkerRow::as_select())
        .load(conn)?)
}

/// The worker with this UUID.
pub fn find_by_uuid(conn: &mut AnyConnection, uuid: &str) -> Result<Option<WorkerRow>, DbError> {
    Ok(workers::table
        .find(uuid)
        .select(WorkerRow::as_select())
        .first(conn)
        .optional()?)
}

/// Enables or disables a worker by name; false if there is none.
pub fn set_enabled(conn: &mut AnyConnection, name: &str, enabled: bool) -> Result<bool, DbError> {
    Ok(
        diesel::update(workers::table.filter(workers::name.eq(name)))
            .set(workers::enabled.eq(enabled))
            .execute(conn)?
            == 1,
    )
}

/// Deletes a worker by name; false if there is none.
pub fn delete(conn: &mut AnyConnection, name: &str) -> Result<bool, DbError> {
    Ok(diesel::delete(workers::table.filter(workers::name.eq(name))).execute(conn)? == 1)
}
