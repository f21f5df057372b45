//! The master's readiness (`/health/ready` of its ops endpoint): the database answers, and
//! prices are fresh (see [`crate::market::book::Snapshot::freshness`]).

use std::sync::Arc;
use std::time::Duration;

use papertrader_runtime::ops::{Check, Readiness};

use crate::actors::now_ms;
use crate::db::{self, Db};
use crate::market::PriceBook;

/// How long the database may take to answer a readiness check.
const DATABASE_PATIENCE: Duration = Duration::from_secs(2);

/// The master's readiness checks.
pub fn readiness(db: Db, book: PriceBook, interval_ms: u64) -> Readiness {
    Arc::new(move || {
        let (db, book) = (db.clone(), book.clone());
        Box::pin(async move {
            let database = match tokio::time::timeout(DATABASE_PATIENCE, db.run(db::ping)).await {
                Ok(Ok(())) => Ok(()),
                Ok(Err(e)) => Err(e.to_string()),
                Err(_) => Err(format!("no answer within {DATABASE_PATIENCE:?}")),
            };
            let prices = book.snapshot().freshness(now_ms(), interval_ms);
            vec![("database", database), ("prices", prices)] as Vec<Check>
        })
    })
}
