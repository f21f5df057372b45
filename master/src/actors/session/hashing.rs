//! Bounded access to bcrypt on the low-priority hashing threads: beyond `max_waiting_hashes`
//! waiting requests new ones are refused with RateLimited.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};

use crate::domain::sessions::SessionError;

use crate::hash_pool::HashPool;

/// Bounded access to bcrypt on the low-priority hashing threads.
#[derive(Clone)]
pub(super) struct Hasher {
    pub(super) pool: HashPool,
    pub(super) waiting: Arc<AtomicUsize>,
    pub(super) max_waiting: usize,
    pub(super) cost: u32,
}

impl Hasher {
    async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce(u32) -> T + Send + 'static,
    ) -> Result<T, SessionError> {
        let before = self.waiting.fetch_add(1, Ordering::SeqCst);
        if before >= self.max_waiting {
            self.waiting.fetch_sub(1, Ordering::SeqCst);
            metrics::counter!("papertrader_bcrypt_refused_total").increment(1);
            return Err(SessionError::TooManyLogins);
        }
        metrics::gauge!("papertrader_bcrypt_in_progress").set((before + 1) as f64);
        let cost = self.cost;
        let result = self.pool.run(move || work(cost)).await;
        let after = self.waiting.fetch_sub(1, Ordering::SeqCst) - 1;
        metrics::gauge!("papertrader_bcrypt_in_progress").set(after as f64);
        result.ok_or(SessionError::HashingStopped)
    }

    pub(super) async fn hash(&self, hashed_password: String) -> Result<String, SessionError> {
        self.run(move |cost| bcrypt::hash(hashed_password, cost))
            .await?
            .map_err(|_| SessionError::HashingFailed)
    }

    pub(super) async fn verify(
        &self,
        hashed_password: String,
        stored: Option<String>,
    ) -> Result<bool, SessionError> {
        self.run(move |cost| match stored {
            Some(stored) => bcrypt::verify(hashed_password, &stored).unwrap_or(false),
            None => {
                // Unknown user: spend the same time as a real check, so response time does
                // not tell which usernames exist.
                static DUMMY: OnceLock<String> = OnceLock::new();
                let dummy = DUMMY.get_or_init(|| bcrypt::hash("dummy", cost).unwrap_or_default());
                let _ = bcrypt::verify(hashed_password, dummy);
                false
            }
        })
        .await
    }
}
