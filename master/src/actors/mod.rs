//! The master's actors, one per file.

pub mod account_events;
pub mod asset_fetcher;
pub mod session;
pub mod trade_queue;
pub mod worker_link;
pub mod worker_registry;

/// Milliseconds since the Unix epoch, now.
pub fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}
