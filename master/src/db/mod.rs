//! The master's database: connection pool, schema and the queries each actor needs.
//!
//! diesel is blocking, so every query runs on tokio's blocking pool through [`Db::run`],
//! never on an actor's thread.

pub mod accounts;
pub mod balances;
pub mod equity;
pub mod fixed;
pub mod identities;
pub mod order_ids;
pub mod orders;
pub mod periods;
pub mod pool;
pub mod prices;
pub mod schema;
pub mod sessions;
pub mod settlement;
pub mod workers;

pub use pool::{AnyConnection, Backend};

/// Runs `$body` with `$c` bound to the concrete connection inside an [`AnyConnection`].
///
/// For statements diesel cannot build for its `MultiBackend` (multi-row INSERTs): the same
/// expression is compiled once per backend.
macro_rules! with_backend {
    ($conn:expr, |$c:ident| $body:expr) => {
        match $conn {
            $crate::db::AnyConnection::Postgresql($c) => $body,
            $crate::db::AnyConnection::Sqlite($c) => $body,
        }
    };
}
pub(crate) use with_backend;

/// Why a database operation failed.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    /// A query failed.
    #[error("query: {0}")]
    Query(#[from] diesel::result::Error),
    /// A connection could not be made.
    #[error("connect: {0}")]
    Connect(#[from] diesel::ConnectionError),
    /// No pooled connection became free in time.
    #[error("pool: {0}")]
    Pool(#[from] diesel::r2d2::PoolError),
    /// Opening the database or migrating it failed.
    #[error("setup: {0}")]
    Setup(String),
    /// The blocking task panicked or was cancelled.
    #[error("blocking task: {0}")]
    Task(String),
}

impl DbError {
    /// True when the error is a unique-constraint violation (for example a taken username).
    pub fn is_unique_violation(&self) -> bool {
        matches!(
            self,
            DbError::Query(diesel::result::Error::DatabaseError(
                diesel::result::DatabaseErrorKind::UniqueViolation,
                _
            ))
        )
    }
}

/// One round trip to the database (readiness): `SELECT 1`.
pub fn ping(conn: &mut AnyConnection) -> Result<(), DbError> {
    use diesel::prelude::*;
    use diesel::IntoSql;
    diesel::select(1i32.into_sql::<diesel::sql_types::Integer>()).get_result::<i32>(conn)?;
    Ok(())
}

/// A cheap, cloneable handle to the pool.
#[derive(Clone)]
pub struct Db {
    pool: pool::Pool,
    backend_name: &'static str,
}

impl std::fmt::Debug for Db {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Db")
            .field("backend", &self.backend_name)
            .finish()
    }
}

impl Db {
    /// Opens `url` (`postgres://…` or a SQLite path) with up to `pool_size` connections and
    /// runs pending migrations. Blocking: call before the actors start or via `spawn_blocking`.
    pub fn open(url: &str, pool_size: u32) -> Result<Self, DbError> {
        let (pool, backend) = pool::open(url, pool_size)?;
        Ok(Self {
            pool,
            backend_name: backend.name(),
        })
    }

    /// "postgres" or "sqlite".
    pub fn backend_name(&self) -> &'static str {
        self.backend_name
    }

    /// Runs `work` with a pooled connection on the blocking thread pool.
    pub async fn run<T, F>(&self, work: F) -> Result<T, DbError>
    where
        T: Send + 'static,
        F: FnOnce(&mut AnyConnection) -> Result<T, DbError> + Send + 'static,
    {
        let pool = self.pool.clone();
        tokio::task::spawn_blocking(move || {
            let mut conn = pool.get()?;
            work(&mut conn)
        })
        .await
        .map_err(|e| DbError::Task(e.to_string()))?
    }

    /// Runs `work` synchronously on the calling thread (start-up and tests only).
    pub fn run_blocking<T>(
        &self,
        work: impl FnOnce(&mut AnyConnection) -> Result<T, DbError>,
    ) -> Result<T, DbError> {
        let mut conn = self.pool.get()?;
        work(&mut conn)
    }
}
