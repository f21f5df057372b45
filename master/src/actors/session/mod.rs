//! `SessionActor`: accounts (register, passwords), third-party identities (register, log in,
//! link and unlink with OpenID Connect ID tokens) and sessions (login, resume, authenticate,
//! logout, expiry, revocation, connection-bound sessions).
//!
//! This module holds the actor, its session cache and how sessions end; each concern's
//! messages live in a module of their own: [`accounts`], [`identities`], [`login`] (passwords
//! and ID tokens, through the login throttle),
//! [`lifetime`] (authenticate, resume, logout, connection close, admin listing and
//! revocation), [`data_transfer`] (the DataTransfer states workers hold), and [`hashing`]
//! (bounded bcrypt).
//!
//! bcrypt runs on [`HashPool`]'s low-priority threads (`max_parallel_hashes` of them); beyond
//! `max_waiting_hashes` waiting requests new ones are refused with RateLimited, so a login
//! flood cannot starve anything else. Session tokens are 128 random bits; only their SHA-256
//! is stored or kept in memory.

mod accounts;
mod data_transfer;
mod hashing;
mod identities;
mod lifetime;
mod login;

use std::collections::HashMap;
use std::future::Future;
use std::sync::atomic::AtomicUsize;
use std::sync::Arc;
use std::time::Duration;

use actix::prelude::*;
use papertrader_protocol::Money;
use slog::{warn, Logger};
use tokio::sync::oneshot;

use super::now_ms;
use crate::data_states::{DataStates, Grant};
use crate::db::sessions;
use crate::db::{Db, DbError};
use crate::domain::sessions::{LiveSession, SessionError};
use crate::ended_sessions::EndedSessions;
use crate::hash_pool::HashPool;
use crate::login_throttle::{LoginThrottle, ThrottleSettings};
use crate::oidc::IdTokenVerifier;
use hashing::Hasher;

pub use accounts::{ChangePassword, Register};
pub use data_transfer::{
    CloseDataState, DataStateHolder, EndDataStates, LinkClosed, OpenDataState,
};
pub use identities::{LinkIdentity, RegisterWithToken, SignInMethods, UnlinkIdentity};
pub use lifetime::{Authenticate, ClientClosed, ListSessions, Logout, Resume, Revoke};
pub use login::{Credentials, Login};

/// Settings of the session actor.
#[derive(Debug, Clone)]
pub struct SessionSettings {
    /// bcrypt cost.
    pub bcrypt_cost: u32,
    /// Hashes computed at once.
    pub max_parallel_hashes: usize,
    /// Requests allowed to wait for a hashing slot.
    pub max_waiting_hashes: usize,
    /// Lifetime of expirable sessions.
    pub session_ttl: Duration,
    /// Lifetime cap of connection-bound sessions.
    pub connection_session_ttl: Duration,
    /// Cash of new accounts.
    pub starting_cash: Money,
    /// Password-guess throttling.
    pub throttle: ThrottleSettings,
    /// An address counts as one the account logs in from when a session of the account was
    /// created from it within this long.
    pub known_address_ttl: Duration,
}

/// The session actor.
pub struct SessionActor {
    db: Db,
    settings: SessionSettings,
    hashing: HashPool,
    waiting: Arc<AtomicUsize>,
    live: HashMap<String, LiveSession>,
    hash_of: HashMap<i64, String>,
    by_connection: HashMap<u64, Vec<String>>,
    ended: EndedSessions,
    data_states: DataStates,
    links: HashMap<u64, Recipient<EndDataStates>>,
    throttle: LoginThrottle,
    verifier: IdTokenVerifier,
    held_back: HashMap<(&'static str, String), Vec<oneshot::Sender<()>>>,
    me: Option<Addr<SessionActor>>,
    log: Logger,
}

impl SessionActor {
    /// A session actor over `db`, verifying ID tokens with `verifier`.
    /// Fails only if the hashing threads cannot be started.
    pub fn new(
        db: Db,
        settings: SessionSettings,
        verifier: IdTokenVerifier,
        log: Logger,
    ) -> std::io::Result<Self> {
        let throttle = settings.throttle;
        Ok(Self {
            db,
            hashing: HashPool::new(settings.max_parallel_hashes)?,
            waiting: Arc::new(AtomicUsize::new(0)),
            settings,
            live: HashMap::new(),
            hash_of: HashMap::new(),
            by_connection: HashMap::new(),
            ended: EndedSessions::default(),
            data_states: DataStates::default(),
            links: HashMap::new(),
            throttle: LoginThrottle::new(throttle),
            verifier,
            held_back: HashMap::new(),
            me: None,
            log,
        })
    }

    fn remember(&mut self, hash: String, session: LiveSession) {
        if let Some(connection) = session.connection {
            self.by_connection
                .entry(connection)
                .or_default()
                .push(hash.clone());
        }
        self.hash_of.insert(session.session_id, hash.clone());
        self.live.insert(hash, session);
        metrics::gauge!("papertrader_sessions_live").set(self.live.len() as f64);
    }

    fn forget(&mut self, hash: &str) -> Option<LiveSession> {
        let session = self.live.remove(hash)?;
        metrics::gauge!("papertrader_sessions_live").set(self.live.len() as f64);
        self.hash_of.remove(&session.session_id);
        if let Some(connection) = session.connection {
            if let Some(list) = self.by_connection.get_mut(&connection) {
                list.retain(|h| h != hash);
            }
        }
        Some(session)
    }

    /// Ends sessions now: every later request with them fails, on every worker. They are
    /// marked ended in memory at once, then stored, and every worker holding one of their
    /// DataTransfer states is told. The future resolves once the end is stored and every such
    /// worker has acknowledged (or had its link closed for not doing so in time); it fails
    /// with Unavailable only if the end could not be stored (it is retried in the background,
    /// and the sessions stay ended in this process meanwhile).
    fn end_sessions(
        &mut self,
        session_ids: Vec<i64>,
        reason: SessionError,
    ) -> impl Future<Output = Result<usize, SessionError>> + 'static {
        let mut grants = Vec::new();
        for &id in &session_ids {
            self.ended.end(id);
            if let Some(hash) = self.hash_of.get(&id).cloned() {
                self.forget(&hash);
            }
            grants.extend(self.data_states.take_session(id));
        }
        let told = self.tell_workers(grants, reason);
        let db = self.db.clone();
        let fail = self.db_failure("end sessions");
        let me = self.me.clone();
        async move {
            let ids = session_ids.clone();
            let stored = db.run(move |c| sessions::deactivate(c, &ids)).await;
            if stored.is_ok() {
                if let Some(me) = &me {
                    me.do_send(EndsStored(session_ids));
                }
            }
            told.await;
            stored.map_err(fail)
        }
    }

    /// Tells the workers of `grants` that those DataTransfer states ended; resolves when all
    /// have acknowledged (each link enforces its own deadline).
    fn tell_workers(
        &self,
        grants: Vec<Grant>,
        reason: SessionError,
    ) -> impl Future<Output = ()> + 'static {
        let mut by_link: HashMap<u64, Vec<Grant>> = HashMap::new();
        for grant in grants {
            by_link.entry(grant.link_id).or_default().push(grant);
        }
        let sends: Vec<_> = by_link
            .into_iter()
            .filter_map(|(link_id, grants)| {
                let link = self.links.get(&link_id)?.clone();
                let reason = reason.clone();
                Some(async move {
                    let _ = link.send(EndDataStates { grants, reason }).await;
                })
            })
            .collect();
        async move {
            futures::future::join_all(sends).await;
        }
    }

    fn hasher(&self) -> Hasher {
        Hasher {
            pool: self.hashing.clone(),
            waiting: self.waiting.clone(),
            max_waiting: self.settings.max_waiting_hashes,
            cost: self.settings.bcrypt_cost,
        }
    }

    fn db_failure(&self, what: &str) -> impl Fn(DbError) -> SessionError {
        let log = self.log.clone();
        let what = what.to_owned();
        move |e| {
            warn!(log, "database error"; "during" => &what, "error" => %e);
            SessionError::Unavailable
        }
    }
}

/// Cached sessions kept at most; past it, expirable ones are dropped (they reload from the
/// database when next used). Connection-bound ones are never dropped: their binding to a
/// connection exists only here.
const MAX_CACHED_SESSIONS: usize = 200_000;
/// How often expired sessions leave the cache.
const PRUNE_EVERY: Duration = Duration::from_secs(60);
/// How often sessions that expired while holding a worker's DataTransfer state are reported,
/// and unstored ends are retried.
const SWEEP_EVERY: Duration = Duration::from_secs(1);

impl SessionActor {
    /// Tells workers about sessions that expired while they held DataTransfer states, and
    /// retries storing ends that failed to store.
    fn sweep(&mut self, ctx: &mut Context<Self>) {
        let expired = self.data_states.take_expired(now_ms());
        if !expired.is_empty() {
            ctx.spawn(
                self.tell_workers(expired, SessionError::Expired)
                    .into_actor(self),
            );
        }
        let unstored = self.ended.unstored();
        if !unstored.is_empty() {
            let db = self.db.clone();
            let log = self.log.clone();
            let me = ctx.address();
            ctx.spawn(
                async move {
                    let ids = unstored.clone();
                    match db.run(move |c| sessions::deactivate(c, &ids)).await {
                        Ok(_) => me.do_send(EndsStored(unstored)),
                        Err(e) => warn!(log, "ended sessions still not stored"; "count" => unstored.len(), "error" => %e),
                    }
                }
                .into_actor(self),
            );
        }
    }
}

/// The end of these sessions is in the database.
#[derive(Message)]
#[rtype(result = "()")]
struct EndsStored(Vec<i64>);

impl Handler<EndsStored> for SessionActor {
    type Result = ();

    fn handle(&mut self, msg: EndsStored, _: &mut Context<Self>) {
        self.ended.stored(&msg.0);
    }
}

/// Drops expired sessions from `live` (and their connection bindings), then expirable ones if
/// more than `max` remain. Returns how many were dropped.
fn prune_cache(
    live: &mut HashMap<String, LiveSession>,
    by_connection: &mut HashMap<u64, Vec<String>>,
    now_ms: i64,
    max: usize,
) -> usize {
    let before = live.len();
    live.retain(|_, s| s.expires_at > now_ms);
    if live.len() > max {
        let excess = live.len() - max;
        let evict: Vec<String> = live
            .iter()
            .filter(|(_, s)| s.connection.is_none())
            .map(|(h, _)| h.clone())
            .take(excess)
            .collect();
        for hash in evict {
            live.remove(&hash);
        }
    }
    by_connection.retain(|_, hashes| {
        hashes.retain(|h| live.contains_key(h));
        !hashes.is_empty()
    });
    before - live.len()
}

impl Actor for SessionActor {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        self.me = Some(ctx.address());
        ctx.run_interval(PRUNE_EVERY, |act, _| {
            prune_cache(
                &mut act.live,
                &mut act.by_connection,
                now_ms(),
                MAX_CACHED_SESSIONS,
            );
            act.hash_of.retain(|_, hash| act.live.contains_key(hash));
            metrics::gauge!("papertrader_sessions_live").set(act.live.len() as f64);
        });
        ctx.run_interval(SWEEP_EVERY, |act, ctx| act.sweep(ctx));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn session(id: i64, expires_at: i64, connection: Option<u64>) -> LiveSession {
        LiveSession {
            session_id: id,
            account_id: 1,
            username: "u".into(),
            expires_at,
            is_expirable: connection.is_none(),
            connection,
        }
    }

    #[test]
    fn the_cache_forgets_expired_sessions_and_stays_bounded_without_losing_bindings() {
        let mut live = HashMap::new();
        let mut by_connection = HashMap::new();
        live.insert("old".to_owned(), session(1, 100, Some(7)));
        by_connection.insert(7, vec!["old".to_owned()]);
        live.insert("bound".to_owned(), session(2, 10_000, Some(8)));
        by_connection.insert(8, vec!["bound".to_owned()]);
        for i in 0..5 {
            live.insert(format!("e{i}"), session(10 + i, 10_000, None));
        }
        assert_eq!(prune_cache(&mut live, &mut by_connection, 500, 3), 4);
        assert!(
            !live.contains_key("old") && !by_connection.contains_key(&7),
            "expired: gone with its binding"
        );
        assert!(
            live.contains_key("bound") && by_connection.contains_key(&8),
            "bound sessions are never evicted"
        );
        assert_eq!(live.len(), 3);
    }
}
