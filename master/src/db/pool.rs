//! Connections: one enum over PostgreSQL and SQLite, an r2d2 pool that picks the backend from
//! the URL explicitly, and the embedded migrations.

use std::path::Path;

use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use diesel::r2d2::{self, ManageConnection};
use diesel::{PgConnection, SqliteConnection};
use diesel_migrations::{embed_migrations, EmbeddedMigrations, MigrationHarness};

use super::DbError;

const POSTGRES_MIGRATIONS: EmbeddedMigrations = embed_migrations!("../migrations/postgres");
const SQLITE_MIGRATIONS: EmbeddedMigrations = embed_migrations!("../migrations/sqlite");

#[allow(missing_docs)] // the derive generates undocumented helper items
mod any {
    use diesel::{PgConnection, SqliteConnection};

    /// A connection to either supported database.
    #[derive(diesel::MultiConnection)]
    pub enum AnyConnection {
        /// PostgreSQL, for deployments.
        Postgresql(PgConnection),
        /// SQLite, the embedded default. Last: it accepts any string as a path.
        Sqlite(SqliteConnection),
    }
}
pub use any::AnyConnection;

/// Which backend a URL names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Backend {
    /// `postgres://…` or `postgresql://…`.
    Postgres(String),
    /// A file path, optionally written `sqlite://path`.
    Sqlite(String),
}

impl Backend {
    /// Parses a database URL. Never guesses: anything not `postgres(ql)://` is a SQLite path.
    pub fn from_url(url: &str) -> Self {
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Backend::Postgres(url.to_owned())
        } else {
            let path = url.strip_prefix("sqlite://").unwrap_or(url);
            Backend::Sqlite(path.to_owned())
        }
    }

    /// A short name for logs ("postgres" or "sqlite"); never the URL, which may hold a password.
    pub fn name(&self) -> &'static str {
        match self {
            Backend::Postgres(_) => "postgres",
            Backend::Sqlite(_) => "sqlite",
        }
    }

    fn establish(&self) -> Result<AnyConnection, DbError> {
        match self {
            Backend::Postgres(url) => Ok(AnyConnection::Postgresql(PgConnection::establish(url)?)),
            Backend::Sqlite(path) => {
                let mut conn = SqliteConnection::establish(path)?;
                // WAL lets readers run beside the writer; FULL makes every acknowledged commit
                // durable; the busy timeout queues writers instead of failing them.
                conn.batch_execute(
                    "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; \
                     PRAGMA busy_timeout = 10000; PRAGMA foreign_keys = ON;",
                )?;
                Ok(AnyConnection::Sqlite(conn))
            }
        }
    }
}

/// The r2d2 manager for [`AnyConnection`].
#[derive(Debug)]
pub struct Manager {
    backend: Backend,
}

impl ManageConnection for Manager {
    type Connection = AnyConnection;
    type Error = DbError;

    fn connect(&self) -> Result<AnyConnection, DbError> {
        self.backend.establish()
    }

    fn is_valid(&self, conn: &mut AnyConnection) -> Result<(), DbError> {
        conn.batch_execute("SELECT 1").map_err(DbError::from)
    }

    fn has_broken(&self, _conn: &mut AnyConnection) -> bool {
        false
    }
}

/// A pool of connections.
pub type Pool = r2d2::Pool<Manager>;

/// How long opening the pool waits for a connection.
const CONNECTION_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// Connects once before the pool does, so that what the pool would retry until its timeout
/// (a database that does not exist, a refused login, nothing listening) fails the start at
/// once, with PostgreSQL's own words. No answer within the pool's timeout fails it too.
fn probe_postgres(url: &str) -> Result<(), DbError> {
    let (tx, rx) = std::sync::mpsc::channel();
    let url = url.to_owned();
    std::thread::spawn(move || {
        let _ = tx.send(PgConnection::establish(&url).map(drop));
    });
    match rx.recv_timeout(CONNECTION_TIMEOUT) {
        Ok(Ok(())) => Ok(()),
        Ok(Err(e)) => {
            let reason = e.to_string();
            let reason: Vec<&str> = reason.lines().map(str::trim).collect();
            Err(DbError::Setup(format!("postgres: {}", reason.join(" "))))
        }
        Err(_) => Err(DbError::Setup(format!(
            "postgres: no answer within {} s",
            CONNECTION_TIMEOUT.as_secs()
        ))),
    }
}

/// Opens a pool for `url` (creating a SQLite file's directory; checking first that a
/// PostgreSQL database can be connected to) and runs pending migrations.
pub fn open(url: &str, size: u32) -> Result<(Pool, Backend), DbError> {
    let backend = Backend::from_url(url);
    if let Backend::Postgres(url) = &backend {
        probe_postgres(url)?;
    }
    if let Backend::Sqlite(path) = &backend {
        if let Some(dir) = Path::new(path)
            .parent()
            .filter(|d| !d.as_os_str().is_empty())
        {
            std::fs::create_dir_all(dir)
                .map_err(|e| DbError::Setup(format!("create {}: {e}", dir.display())))?;
        }
    }
    let pool = r2d2::Pool::builder()
        .max_size(size.max(1))
        .connection_timeout(CONNECTION_TIMEOUT)
        .build(Manager {
            backend: backend.clone(),
        })
        .map_err(|e| DbError::Setup(format!("{} pool: {e}", backend.name())))?;
    let mut conn = pool.get()?;
    let result = match &mut *conn {
        AnyConnection::Postgresql(c) => c.run_pending_migrations(POSTGRES_MIGRATIONS).map(|_| ()),
        AnyConnection::Sqlite(c) => c.run_pending_migrations(SQLITE_MIGRATIONS).map(|_| ()),
    };
    result.map_err(|e| DbError::Setup(format!("migrations: {e}")))?;
    Ok((pool, backend))
}
