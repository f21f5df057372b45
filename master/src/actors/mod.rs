//! The master's actors, one per file.

pub mod asset_fetcher;
pub mod session;
pub mod trade_queue;
pub mod worker_link;
pub mod worker_registry;

use papertrader_protocol::{Failure, ReasonCode};

/// The failure a client gets when the database is unreachable; the details go to the log.
pub fn unavailable() -> Failure {
    Failure::new(
        ReasonCode::Unavailable,
        "the database is unavailable; nothing was changed",
    )
}

/// Milliseconds since the Unix epoch, now.
pub fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}
