//! Throttling of failed logins, per account and per client address: after too many failures
//! within a window, further attempts are refused with RateLimited (before any bcrypt work)
//! until the oldest failure leaves the window. A successful login clears its account's count.

use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

/// Keys tracked per limiter at most; beyond it entries whose failures have all expired are
/// dropped, then the oldest are forgotten, so memory stays bounded under a flood of names.
const MAX_KEYS: usize = 100_000;

/// Failures per key in a sliding window.
#[derive(Debug)]
struct Limiter {
    max_failures: usize,
    window: Duration,
    failures: HashMap<String, VecDeque<Instant>>,
}

impl Limiter {
    fn new(max_failures: u32, window: Duration) -> Self {
        Self {
            max_failures: max_failures.max(1) as usize,
            window,
            failures: HashMap::new(),
        }
    }

    /// How long `key` must wait, if it is over the limit.
    fn wait(&mut self, key: &str, now: Instant) -> Option<Duration> {
        let list = self.failures.get_mut(key)?;
        while list
            .front()
            .is_some_and(|t| now.duration_since(*t) >= self.window)
        {
            list.pop_front();
        }
        if list.len() < self.max_failures {
            return None;
        }
        list.front()
            .map(|oldest| self.window.saturating_sub(now.duration_since(*oldest)))
    }

    fn fail(&mut self, key: &str, now: Instant) {
        if self.failures.len() >= MAX_KEYS && !self.failures.contains_key(key) {
            let window = self.window;
            self.failures
                .retain(|_, list| list.back().is_some_and(|t| now.duration_since(*t) < window));
            if self.failures.len() >= MAX_KEYS {
                self.failures.clear();
            }
        }
        let list = self.failures.entry(key.to_owned()).or_default();
        list.push_back(now);
        while list.len() > self.max_failures {
            list.pop_front();
        }
    }

    fn clear(&mut self, key: &str) {
        self.failures.remove(key);
    }
}

/// The two limiters.
#[derive(Debug)]
pub struct LoginThrottle {
    accounts: Limiter,
    addresses: Limiter,
}

impl LoginThrottle {
    /// At most `per_account` failures per username and `per_address` per client address
    /// within `window`.
    pub fn new(per_account: u32, per_address: u32, window: Duration) -> Self {
        Self {
            accounts: Limiter::new(per_account, window),
            addresses: Limiter::new(per_address, window),
        }
    }

    /// `Some((what, wait))` when this attempt must be refused.
    pub fn check(
        &mut self,
        username: &str,
        address: &str,
        now: Instant,
    ) -> Option<(&'static str, Duration)> {
        if let Some(wait) = self.accounts.wait(username, now) {
            return Some(("account", wait));
        }
        self.addresses
            .wait(address, now)
            .map(|wait| ("address", wait))
    }

    /// Records a failed attempt.
    pub fn failed(&mut self, username: &str, address: &str, now: Instant) {
        self.accounts.fail(username, now);
        self.addresses.fail(address, now);
    }

    /// Records a successful login (the account's failures are forgiven).
    pub fn succeeded(&mut self, username: &str) {
        self.accounts.clear(username);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failures_block_per_account_and_per_address_until_they_age_out() {
        let mut t = LoginThrottle::new(3, 5, Duration::from_secs(60));
        let start = Instant::now();
        for i in 0..3 {
            assert!(t.check("ann", "10.0.0.1", start).is_none(), "attempt {i}");
            t.failed("ann", "10.0.0.1", start);
        }
        let (what, wait) = t.check("ann", "10.0.0.2", start).unwrap();
        assert_eq!((what, wait), ("account", Duration::from_secs(60)));
        assert!(
            t.check("bob", "10.0.0.1", start).is_none(),
            "other accounts still may try"
        );
        t.failed("bob", "10.0.0.1", start);
        t.failed("cy", "10.0.0.1", start);
        assert_eq!(
            t.check("dee", "10.0.0.1", start).map(|w| w.0),
            Some("address")
        );
        assert!(t.check("dee", "10.0.0.9", start).is_none());
        let later = start + Duration::from_secs(61);
        assert!(
            t.check("ann", "10.0.0.1", later).is_none(),
            "failures age out"
        );
        t.failed("bob", "10.0.0.3", later);
        t.succeeded("bob");
        assert!(t.check("bob", "10.0.0.3", later).is_none());
    }
}
