//! Throttling of password guesses that stops guessing without handing an attacker a lockout of
//! somebody else.
//!
//! Three keys, each with a free allowance of failures and then exponential back-off (one
//! attempt allowed per back-off period: `base × 2^(failures − allowance)`, capped):
//!
//! | key | counts failures | allowance (default) |
//! |---|---|---|
//! | account + address | always | 5 |
//! | account | only from addresses the account has never logged in from | 20 |
//! | address | only on accounts the address has never logged in to | 50 |
//!
//! So one address guessing one account is slowed after 5 failures; many addresses guessing one
//! account after 20, without touching the owner at an address they have logged in from; one
//! address guessing many accounts after 50, without touching the users behind the same NAT who
//! have logged in from it before. Attempts *in flight* count against the allowance: an attempt
//! reserves its place before bcrypt runs, so a hundred parallel guesses cannot all pass a limit
//! of five (the session actor holds back an attempt whose account + address allowance is taken
//! only by attempts still running, and lets it go when one finishes: parallel logins with the
//! right password all succeed, just not all at once). A key's failures are forgotten `memory` after its last failure; a successful login
//! forgives its account + address key.

use std::collections::HashMap;
use std::hash::Hash;
use std::time::{Duration, Instant};

/// Keys tracked per limiter at most; beyond it records whose failures have been forgotten are
/// dropped, then all (memory stays bounded under a flood of names).
const MAX_KEYS: usize = 100_000;

/// The throttle's numbers.
#[derive(Debug, Clone, Copy)]
pub struct ThrottleSettings {
    /// Free failures per account + address.
    pub per_account_address: u32,
    /// Free failures per account from addresses it has never logged in from.
    pub per_account: u32,
    /// Free failures per address on accounts it has never logged in to.
    pub per_address: u32,
    /// First back-off period after the allowance.
    pub backoff_base: Duration,
    /// Longest back-off period.
    pub backoff_max: Duration,
    /// A key's failures are forgotten this long after its last failure.
    pub memory: Duration,
}

impl Default for ThrottleSettings {
    fn default() -> Self {
        Self {
            per_account_address: 5,
            per_account: 20,
            per_address: 50,
            backoff_base: Duration::from_secs(1),
            backoff_max: Duration::from_secs(15 * 60),
            memory: Duration::from_secs(3600),
        }
    }
}

#[derive(Debug, Default)]
struct Record {
    failures: u32,
    last_failure: Option<Instant>,
    in_flight: u32,
}

/// Failures and attempts in flight per key.
#[derive(Debug)]
struct Limiter<K> {
    allowance: u32,
    base: Duration,
    max: Duration,
    memory: Duration,
    records: HashMap<K, Record>,
}

impl<K: Hash + Eq + Clone> Limiter<K> {
    fn new(allowance: u32, settings: &ThrottleSettings) -> Self {
        Self {
            allowance: allowance.max(1),
            base: settings.backoff_base,
            max: settings.backoff_max,
            memory: settings.memory,
            records: HashMap::new(),
        }
    }

    /// The back-off period after `over` failures beyond the allowance (`over` ≥ 1).
    fn backoff(&self, over: u32) -> Duration {
        let factor = 1u32
            .checked_shl(over.saturating_sub(1).min(31))
            .unwrap_or(u32::MAX);
        self.base.saturating_mul(factor).min(self.max)
    }

    /// Whether an attempt on `key` must wait, and for what.
    fn wait(&mut self, key: &K, now: Instant) -> Option<Blocked> {
        let record = self.records.get_mut(key)?;
        if record
            .last_failure
            .is_some_and(|t| now.duration_since(t) >= self.memory)
        {
            record.failures = 0;
            record.last_failure = None;
        }
        if record.failures + record.in_flight < self.allowance {
            return None;
        }
        if record.failures < self.allowance || record.in_flight > 0 {
            // Within the allowance but all of it is in flight, or past it with an attempt
            // already running: wait for those to finish.
            return Some(Blocked::InFlight);
        }
        let (last_failure, over) = (record.last_failure?, record.failures - self.allowance + 1);
        let ready = last_failure + self.backoff(over);
        (now < ready).then(|| Blocked::BackOff(ready - now))
    }

    fn reserve(&mut self, key: &K, now: Instant) {
        if self.records.len() >= MAX_KEYS && !self.records.contains_key(key) {
            let memory = self.memory;
            self.records.retain(|_, r| {
                r.in_flight > 0
                    || r.last_failure
                        .is_some_and(|t| now.duration_since(t) < memory)
            });
            if self.records.len() >= MAX_KEYS {
                self.records.retain(|_, r| r.in_flight > 0);
            }
        }
        self.records.entry(key.clone()).or_default().in_flight += 1;
    }

    fn release(&mut self, key: &K, failed: bool, now: Instant) {
        let Some(record) = self.records.get_mut(key) else {
            return;
        };
        record.in_flight = record.in_flight.saturating_sub(1);
        if failed {
            record.failures = record.failures.saturating_add(1);
            record.last_failure = Some(now);
        } else if record.failures == 0 && record.in_flight == 0 {
            self.records.remove(key);
        }
    }

    fn clear(&mut self, key: &K) {
        if let Some(record) = self.records.get_mut(key) {
            record.failures = 0;
            record.last_failure = None;
            if record.in_flight == 0 {
                self.records.remove(key);
            }
        }
    }
}

/// [`Refusal::by`] of the account + address limit.
pub const PAIR: &str = "account and address";
/// [`Refusal::by`] of the account limit.
pub const ACCOUNT: &str = "account";
/// [`Refusal::by`] of the address limit.
pub const ADDRESS: &str = "address";

/// Why an attempt may not start now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Blocked {
    /// The allowance is taken by attempts still running: it may start when they finish.
    InFlight,
    /// Past the allowance: not before this long.
    BackOff(Duration),
}

/// Which limit refused an attempt, and for how long.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Refusal {
    /// "account and address", "account" or "address".
    pub by: &'static str,
    /// How long until an attempt may start again; `None` when the limit's allowance is taken
    /// by attempts still running (it may start as soon as one of them finishes).
    pub wait: Option<Duration>,
}

impl Refusal {
    fn from(by: &'static str, blocked: Blocked) -> Self {
        let wait = match blocked {
            Blocked::InFlight => None,
            Blocked::BackOff(wait) => Some(wait),
        };
        Self { by, wait }
    }

    /// True when only attempts still running stand in the way.
    pub fn is_busy(&self) -> bool {
        self.wait.is_none()
    }

    /// The text a client gets with RateLimited.
    pub fn message(&self) -> String {
        match self.wait {
            Some(wait) => format!(
                "too many failed logins for this {}; try again in {} s",
                self.by,
                wait.as_secs().max(1)
            ),
            None => format!(
                "too many logins in progress for this {}; try again shortly",
                self.by
            ),
        }
    }
}

/// How a login attempt ended, for [`LoginThrottle::finish`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Wrong password or unknown user.
    Failed,
    /// Logged in.
    Succeeded,
    /// Neither (refused by another limit, database down, no password set).
    Abandoned,
}

/// An attempt in flight: the places it reserved. Give it back with [`LoginThrottle::finish`].
#[derive(Debug)]
#[must_use = "an attempt holds reserved places until it is finished"]
pub struct Attempt {
    pair: (String, String),
    /// Set when the account+address pair has never logged in (the wide keys count).
    wide: bool,
}

impl Attempt {
    /// True once the attempt also holds places on the account and address keys.
    pub fn is_wide(&self) -> bool {
        self.wide
    }
}

/// The three limiters.
#[derive(Debug)]
pub struct LoginThrottle {
    pairs: Limiter<(String, String)>,
    accounts: Limiter<String>,
    addresses: Limiter<String>,
}

impl LoginThrottle {
    /// A throttle with these numbers.
    pub fn new(settings: ThrottleSettings) -> Self {
        Self {
            pairs: Limiter::new(settings.per_account_address, &settings),
            accounts: Limiter::new(settings.per_account, &settings),
            addresses: Limiter::new(settings.per_address, &settings),
        }
    }

    /// Starts an attempt on `username` from `address`, reserving its account + address place.
    pub fn begin(
        &mut self,
        username: &str,
        address: &str,
        now: Instant,
    ) -> Result<Attempt, Refusal> {
        let pair = (username.to_owned(), address.to_owned());
        if let Some(blocked) = self.pairs.wait(&pair, now) {
            return Err(Refusal::from(PAIR, blocked));
        }
        self.pairs.reserve(&pair, now);
        Ok(Attempt { pair, wide: false })
    }

    /// Once it is known whether this account has ever logged in from this address: if not,
    /// the attempt also needs places on the account and address keys. On `Err` the attempt
    /// has been finished (abandoned).
    pub fn widen(
        &mut self,
        attempt: &mut Attempt,
        known: bool,
        now: Instant,
    ) -> Result<(), Refusal> {
        if known {
            return Ok(());
        }
        let (account, address) = (&attempt.pair.0, &attempt.pair.1);
        let refusal = if let Some(blocked) = self.accounts.wait(account, now) {
            Some(Refusal::from(ACCOUNT, blocked))
        } else {
            self.addresses
                .wait(address, now)
                .map(|blocked| Refusal::from(ADDRESS, blocked))
        };
        if let Some(refusal) = refusal {
            self.pairs.release(&attempt.pair, false, now);
            return Err(refusal);
        }
        self.accounts.reserve(account, now);
        self.addresses.reserve(address, now);
        attempt.wide = true;
        Ok(())
    }

    /// Ends an attempt: its places are given back, a failure is counted against its keys, a
    /// success forgives its account + address key.
    pub fn finish(&mut self, attempt: Attempt, outcome: Outcome, now: Instant) {
        let failed = outcome == Outcome::Failed;
        self.pairs.release(&attempt.pair, failed, now);
        if attempt.wide {
            self.accounts.release(&attempt.pair.0, failed, now);
            self.addresses.release(&attempt.pair.1, failed, now);
        }
        if outcome == Outcome::Succeeded {
            self.pairs.clear(&attempt.pair);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn throttle() -> LoginThrottle {
        LoginThrottle::new(ThrottleSettings {
            per_account_address: 3,
            per_account: 5,
            per_address: 6,
            ..ThrottleSettings::default()
        })
    }

    fn fail(t: &mut LoginThrottle, user: &str, ip: &str, known: bool, now: Instant) {
        let mut a = t.begin(user, ip, now).expect("allowed");
        t.widen(&mut a, known, now).expect("allowed");
        t.finish(a, Outcome::Failed, now);
    }

    #[test]
    fn attempts_in_flight_count_so_parallel_guesses_cannot_pass_the_allowance() {
        let mut t = throttle();
        let now = Instant::now();
        let mut running = Vec::new();
        let mut refused = 0;
        for _ in 0..100 {
            match t.begin("ann", "10.0.0.1", now) {
                Ok(a) => running.push(a),
                Err(r) => {
                    assert_eq!(r.by, "account and address");
                    refused += 1
                }
            }
        }
        assert_eq!((running.len(), refused), (3, 97));
        assert!(t.begin("ann", "10.0.0.1", now).unwrap_err().is_busy());
        for a in running {
            t.finish(a, Outcome::Failed, now);
        }
        // Past the allowance: one attempt per back-off period, doubling.
        let wait = t.begin("ann", "10.0.0.1", now).unwrap_err().wait;
        assert_eq!(wait, Some(Duration::from_secs(1)));
        let later = now + Duration::from_secs(1);
        let a = t
            .begin("ann", "10.0.0.1", later)
            .expect("after the back-off");
        assert!(t.begin("ann", "10.0.0.1", later).is_err(), "one at a time");
        t.finish(a, Outcome::Failed, later);
        assert_eq!(
            t.begin("ann", "10.0.0.1", later).unwrap_err().wait,
            Some(Duration::from_secs(2))
        );
    }

    #[test]
    fn an_attacker_cannot_lock_the_owner_out_from_where_the_owner_logs_in() {
        let mut t = throttle();
        let now = Instant::now();
        // Guessing from six addresses the account never logged in from.
        for i in 0..6 {
            for _ in 0..3 {
                let ip = format!("10.9.0.{i}");
                match t.begin("ann", &ip, now) {
                    Ok(mut a) => match t.widen(&mut a, false, now) {
                        Ok(()) => t.finish(a, Outcome::Failed, now),
                        Err(r) => assert_eq!(r.by, "account"),
                    },
                    Err(r) => assert_eq!(r.by, "account and address"),
                }
            }
        }
        // The account is slowed for unknown addresses…
        let mut a = t.begin("ann", "10.9.9.9", now).unwrap();
        assert_eq!(t.widen(&mut a, false, now).unwrap_err().by, "account");
        // …but the owner at an address they have logged in from is not.
        let mut a = t.begin("ann", "192.168.1.5", now).unwrap();
        t.widen(&mut a, true, now).unwrap();
        t.finish(a, Outcome::Succeeded, now);
    }

    #[test]
    fn one_address_spraying_accounts_does_not_lock_out_its_known_users() {
        let mut t = throttle();
        let now = Instant::now();
        for i in 0..6 {
            fail(&mut t, &format!("victim{i}"), "203.0.113.7", false, now);
        }
        let mut a = t.begin("newcomer", "203.0.113.7", now).unwrap();
        assert_eq!(t.widen(&mut a, false, now).unwrap_err().by, "address");
        // A user who has logged in from behind that NAT before still can.
        let mut a = t.begin("regular", "203.0.113.7", now).unwrap();
        t.widen(&mut a, true, now).unwrap();
        t.finish(a, Outcome::Succeeded, now);
    }

    #[test]
    fn failures_are_forgotten_after_the_memory_and_forgiven_by_a_success() {
        let mut t = throttle();
        let now = Instant::now();
        for _ in 0..3 {
            fail(&mut t, "bob", "10.0.0.3", true, now);
        }
        assert!(t.begin("bob", "10.0.0.3", now).is_err());
        let much_later = now + Duration::from_secs(3600);
        let a = t.begin("bob", "10.0.0.3", much_later).expect("forgotten");
        t.finish(a, Outcome::Succeeded, much_later);
        for _ in 0..2 {
            fail(&mut t, "bob", "10.0.0.3", true, much_later);
        }
        let a = t.begin("bob", "10.0.0.3", much_later).unwrap();
        t.finish(a, Outcome::Succeeded, much_later);
        for _ in 0..3 {
            fail(&mut t, "bob", "10.0.0.3", true, much_later);
        }
    }

    #[test]
    fn the_back_off_doubles_up_to_its_cap_and_stays_there() {
        let mut t = throttle();
        let mut now = Instant::now();
        for _ in 0..3 {
            fail(&mut t, "cap", "10.0.0.4", true, now);
        }
        let mut waits = Vec::new();
        for _ in 0..14 {
            let wait = t
                .begin("cap", "10.0.0.4", now)
                .unwrap_err()
                .wait
                .expect("a back-off, not attempts in flight");
            waits.push(wait.as_secs());
            now += wait;
            fail(&mut t, "cap", "10.0.0.4", true, now);
        }
        assert_eq!(
            waits,
            [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 900, 900, 900, 900],
            "1 s doubling, capped at 15 min"
        );
    }
}
