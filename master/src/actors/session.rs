//! `SessionActor`: accounts (register, third-party accounts, passwords) and sessions (login,
//! resume, authenticate, logout, expiry, revocation, connection-bound sessions).
//!
//! bcrypt runs on [`HashPool`]'s low-priority threads (`max_parallel_hashes` of them); beyond
//! `max_waiting_hashes` waiting requests new ones are refused with RateLimited, so a login
//! flood cannot starve anything else. Session tokens are 128 random bits; only their SHA-256
//! is stored or kept in memory.

use std::collections::HashMap;
use std::future::Future;
use std::net::IpAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use actix::prelude::*;
use papertrader_protocol::{DataStateEnd, Failure, Money, ReasonCode};
use rand::RngCore;
use sha2::{Digest, Sha256};
use slog::{info, warn, Logger};
use tokio::sync::oneshot;

use super::{now_ms, unavailable};
use crate::data_states::{DataStates, Grant};
use crate::db::accounts::{self, NewAccount, Taken};
use crate::db::sessions::{self, NewSession, SessionRecord};
use crate::db::{Db, DbError};
use crate::ended_sessions::EndedSessions;
use crate::hash_pool::HashPool;
use crate::login_throttle::{
    Attempt, LoginThrottle, Outcome, Refusal, ThrottleSettings, ACCOUNT, ADDRESS, PAIR,
};

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

/// Where a request came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Origin {
    /// The connection (for connection-bound sessions).
    pub connection_id: u64,
    /// The client's address.
    pub client_ip: IpAddr,
}

/// A live session as the other actors see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LiveSession {
    /// Database id of the session.
    pub session_id: i64,
    /// Owner account.
    pub account_id: i64,
    /// Owner username.
    pub username: String,
    /// Expiry, ms.
    pub expires_at: i64,
    /// False: the session ends with `connection`.
    pub is_expirable: bool,
    /// The connection a non-expirable session is bound to.
    pub connection: Option<u64>,
}

/// SHA-256 hex of a session token: the only form stored.
pub fn token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

fn new_token() -> String {
    let mut bytes = [0u8; 16];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    hex::encode(bytes)
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
    held_back: HashMap<(&'static str, String), Vec<oneshot::Sender<()>>>,
    me: Option<Addr<SessionActor>>,
    log: Logger,
}

impl SessionActor {
    /// A session actor over `db`.
    /// Fails only if the hashing threads cannot be started.
    pub fn new(db: Db, settings: SessionSettings, log: Logger) -> std::io::Result<Self> {
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
    }

    fn forget(&mut self, hash: &str) -> Option<LiveSession> {
        let session = self.live.remove(hash)?;
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
        reason: ReasonCode,
    ) -> impl Future<Output = Result<usize, Failure>> + 'static {
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
        reason: ReasonCode,
    ) -> impl Future<Output = ()> + 'static {
        let mut by_link: HashMap<u64, Vec<DataStateEnd>> = HashMap::new();
        for grant in grants {
            by_link
                .entry(grant.link_id)
                .or_default()
                .push(DataStateEnd {
                    client_connection: grant.client_connection,
                    grant: grant.grant,
                    reason,
                });
        }
        let sends: Vec<_> = by_link
            .into_iter()
            .filter_map(|(link_id, ends)| {
                let link = self.links.get(&link_id)?.clone();
                Some(async move {
                    let _ = link.send(EndDataStates(ends)).await;
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

    fn db_failure(&self, what: &str) -> impl Fn(DbError) -> Failure {
        let log = self.log.clone();
        let what = what.to_owned();
        move |e| {
            warn!(log, "database error"; "during" => &what, "error" => %e);
            unavailable()
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
                self.tell_workers(expired, ReasonCode::SessionExpired)
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
        });
        ctx.run_interval(SWEEP_EVERY, |act, ctx| act.sweep(ctx));
    }
}

/// Bounded access to bcrypt on the low-priority hashing threads.
#[derive(Clone)]
struct Hasher {
    pool: HashPool,
    waiting: Arc<AtomicUsize>,
    max_waiting: usize,
    cost: u32,
}

impl Hasher {
    async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce(u32) -> T + Send + 'static,
    ) -> Result<T, Failure> {
        if self.waiting.fetch_add(1, Ordering::SeqCst) >= self.max_waiting {
            self.waiting.fetch_sub(1, Ordering::SeqCst);
            return Err(Failure::new(
                ReasonCode::RateLimited,
                "too many logins in progress; try again shortly",
            ));
        }
        let cost = self.cost;
        let result = self.pool.run(move || work(cost)).await;
        self.waiting.fetch_sub(1, Ordering::SeqCst);
        result.ok_or_else(|| Failure::new(ReasonCode::Internal, "password hashing stopped"))
    }

    async fn hash(&self, hashed_password: String) -> Result<String, Failure> {
        self.run(move |cost| bcrypt::hash(hashed_password, cost))
            .await?
            .map_err(|_| Failure::new(ReasonCode::Internal, "password hashing failed"))
    }

    async fn verify(
        &self,
        hashed_password: String,
        stored: Option<String>,
    ) -> Result<bool, Failure> {
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

/// Register a password account.
#[derive(Message)]
#[rtype(result = "Result<(), Failure>")]
pub struct Register {
    /// Username (validated).
    pub username: String,
    /// Email (validated).
    pub email: String,
    /// Client-side password hash.
    pub hashed_password: String,
}

fn taken_failure(taken: Taken) -> Failure {
    match taken {
        Taken::Username => Failure::new(ReasonCode::UsernameTaken, "that username is taken"),
        Taken::Email => Failure::new(ReasonCode::EmailTaken, "that email is already registered"),
    }
}

/// Inserts an account; maps unique violations to UsernameTaken / EmailTaken.
async fn insert_account(
    db: Db,
    fail: impl Fn(DbError) -> Failure,
    cash: i64,
    username: String,
    email: String,
    password_hash: Option<String>,
) -> Result<(), Failure> {
    let inserted = db
        .run(move |c| {
            accounts::insert(
                c,
                &NewAccount {
                    username: &username,
                    email: &email,
                    is_password: password_hash.is_some(),
                    password_hash: password_hash.as_deref(),
                    cash,
                    created_at: now_ms(),
                },
            )
        })
        .await
        .map_err(fail)?;
    inserted.map(|_| ()).map_err(taken_failure)
}

impl Handler<Register> for SessionActor {
    type Result = ResponseFuture<Result<(), Failure>>;

    fn handle(&mut self, msg: Register, _: &mut Context<Self>) -> Self::Result {
        let hasher = self.hasher();
        let db = self.db.clone();
        let fail = self.db_failure("register");
        let cash = self.settings.starting_cash.micros();
        let log = self.log.clone();
        Box::pin(async move {
            let hash = hasher.hash(msg.hashed_password).await?;
            let username = msg.username.clone();
            insert_account(db, fail, cash, msg.username, msg.email, Some(hash)).await?;
            info!(log, "account registered"; "username" => username);
            Ok(())
        })
    }
}

/// Register an account that logs in through a third party and has no password yet
/// (spec 3.1.3). It cannot log in with `login` until [`SetPassword`] gives it one.
#[derive(Message)]
#[rtype(result = "Result<(), Failure>")]
pub struct RegisterThirdParty {
    /// Username (validated).
    pub username: String,
    /// Email (validated).
    pub email: String,
}

impl Handler<RegisterThirdParty> for SessionActor {
    type Result = ResponseFuture<Result<(), Failure>>;

    fn handle(&mut self, msg: RegisterThirdParty, _: &mut Context<Self>) -> Self::Result {
        let fut = insert_account(
            self.db.clone(),
            self.db_failure("register third-party"),
            self.settings.starting_cash.micros(),
            msg.username,
            msg.email,
            None,
        );
        Box::pin(fut)
    }
}

/// Give an account a password (or replace it), making it password-capable.
#[derive(Message)]
#[rtype(result = "Result<(), Failure>")]
pub struct SetPassword {
    /// The account.
    pub username: String,
    /// Client-side password hash.
    pub hashed_password: String,
}

impl Handler<SetPassword> for SessionActor {
    type Result = ResponseFuture<Result<(), Failure>>;

    fn handle(&mut self, msg: SetPassword, _: &mut Context<Self>) -> Self::Result {
        let hasher = self.hasher();
        let db = self.db.clone();
        let fail = self.db_failure("set password");
        Box::pin(async move {
            let hash = hasher.hash(msg.hashed_password).await?;
            let username = msg.username;
            let updated = db
                .run(move |c| match accounts::find_by_username(c, &username)? {
                    Some(account) => accounts::set_password(c, account.id, &hash),
                    None => Ok(false),
                })
                .await
                .map_err(fail)?;
            if updated {
                Ok(())
            } else {
                Err(Failure::new(ReasonCode::UnknownUser, "no such user"))
            }
        })
    }
}

/// Log in with a password; resolves to the new session token.
#[derive(Message)]
#[rtype(result = "Result<String, Failure>")]
pub struct Login {
    /// Username.
    pub username: String,
    /// Client-side password hash.
    pub hashed_password: String,
    /// See the protocol's `isExpirable`.
    pub is_expirable: bool,
    /// Where the login came from.
    pub origin: Origin,
}

fn bad_credentials() -> Failure {
    Failure::new(
        ReasonCode::BadCredentials,
        "unknown username or wrong password",
    )
}

fn throttled(refusal: Refusal) -> Failure {
    Failure::new(ReasonCode::RateLimited, refusal.message())
}

impl Handler<Login> for SessionActor {
    type Result = ResponseActFuture<Self, Result<String, Failure>>;

    /// Throttle (account + address) → look the account up, and whether it has logged in from
    /// this address before → throttle (account, address, for unknown pairs) → bcrypt → store
    /// the session. Every reservation is given back however the attempt ends.
    fn handle(&mut self, msg: Login, ctx: &mut Context<Self>) -> Self::Result {
        let address = msg.origin.client_ip.to_string();
        let mut attempt = match self.throttle.begin(&msg.username, &address, Instant::now()) {
            Ok(attempt) => attempt,
            Err(refusal) if refusal.is_busy() => {
                let key = held_back_key(refusal.by, &msg.username, &address);
                return self.hold_back(msg, key, ctx);
            }
            Err(refusal) => {
                warn!(self.log, "login throttled"; "by" => refusal.by, "address" => &address);
                return Box::pin(fut::ready(Err(throttled(refusal))));
            }
        };
        let db = self.db.clone();
        let fail = self.db_failure("login");
        let since = now_ms().saturating_sub(self.settings.known_address_ttl.as_millis() as i64);
        let username = msg.username.clone();
        let lookup_address = address.clone();
        let lookup = async move {
            db.run(move |c| {
                let account = accounts::find_by_username(c, &username)?;
                let known = match &account {
                    Some(a) => sessions::has_logged_in_from(c, a.id, &lookup_address, since)?,
                    None => false,
                };
                Ok((account, known))
            })
            .await
            .map_err(fail)
        };
        Box::pin(lookup.into_actor(self).then(move |found, act, ctx| {
            let now = Instant::now();
            let (account, known) = match found {
                Ok(found) => found,
                Err(failure) => {
                    act.finish_attempt(attempt, Outcome::Abandoned, &msg.username, &address);
                    return Box::pin(fut::ready(Err(failure)))
                        as ResponseActFuture<Self, Result<String, Failure>>;
                }
            };
            if let Err(refusal) = act.throttle.widen(&mut attempt, known, now) {
                // `widen` has given the attempt back.
                act.let_held_back_go(&msg.username, &address, false);
                if refusal.is_busy() {
                    let key = held_back_key(refusal.by, &msg.username, &address);
                    return act.hold_back(msg, key, ctx);
                }
                warn!(act.log, "login throttled"; "by" => refusal.by, "address" => &address);
                return Box::pin(fut::ready(Err(throttled(refusal))));
            }
            let msg_username = msg.username.clone();
            let work = act.password_login(msg, account);
            Box::pin(work.into_actor(act).map(move |result, act, _| {
                let outcome = match &result {
                    Ok(_) => Outcome::Succeeded,
                    Err(f) if f.code == ReasonCode::BadCredentials => Outcome::Failed,
                    Err(_) => Outcome::Abandoned,
                };
                act.finish_attempt(attempt, outcome, &msg_username, &address);
                let (token, hash, live) = result?;
                info!(act.log, "login"; "username" => &live.username, "expirable" => live.is_expirable);
                act.remember(hash, live);
                Ok(token)
            }))
        }))
    }
}

/// Logins held back per limit key at most; more are refused.
const MAX_HELD_BACK: usize = 256;

/// The limit key (as [`Refusal::by`] names it) a login on `username` from `address` waits on.
fn held_back_key(by: &'static str, username: &str, address: &str) -> (&'static str, String) {
    let key = match by {
        ACCOUNT => username.to_owned(),
        ADDRESS => address.to_owned(),
        _ => format!("{username}\n{address}"),
    };
    (by, key)
}

impl SessionActor {
    /// Holds a login back until an attempt holding the limit that stopped it (`key`, see
    /// [`held_back_key`]) finishes: that limit's allowance is taken by attempts still running.
    /// It is then tried again from the start.
    fn hold_back(
        &mut self,
        msg: Login,
        key: (&'static str, String),
        ctx: &mut Context<Self>,
    ) -> ResponseActFuture<Self, Result<String, Failure>> {
        let waiting = self.held_back.entry(key).or_default();
        if waiting.len() >= MAX_HELD_BACK {
            return Box::pin(fut::ready(Err(Failure::new(
                ReasonCode::RateLimited,
                "too many logins in progress; try again shortly",
            ))));
        }
        let (go, released) = oneshot::channel();
        waiting.push(go);
        let me = ctx.address();
        Box::pin(
            async move {
                let _ = released.await;
                me.send(msg).await.unwrap_or_else(|_| Err(unavailable()))
            }
            .into_actor(self),
        )
    }

    /// Ends an attempt and lets the logins held back behind its places try again.
    fn finish_attempt(
        &mut self,
        attempt: Attempt,
        outcome: Outcome,
        username: &str,
        address: &str,
    ) {
        let wide = attempt.is_wide();
        self.throttle.finish(attempt, outcome, Instant::now());
        self.let_held_back_go(username, address, wide);
    }

    /// Places on these keys were given back: the logins held back behind them try again.
    fn let_held_back_go(&mut self, username: &str, address: &str, wide: bool) {
        let mut keys = vec![held_back_key(PAIR, username, address)];
        if wide {
            keys.push(held_back_key(ACCOUNT, username, address));
            keys.push(held_back_key(ADDRESS, username, address));
        }
        for key in keys {
            for go in self.held_back.remove(&key).unwrap_or_default() {
                let _ = go.send(());
            }
        }
    }

    /// Checks the password of `account` (a dummy check when there is none, so timing does not
    /// tell) and stores a new session: its token, the token's hash, the live session.
    fn password_login(
        &self,
        msg: Login,
        account: Option<accounts::Account>,
    ) -> impl Future<Output = Result<(String, String, LiveSession), Failure>> + 'static {
        let hasher = self.hasher();
        let db = self.db.clone();
        let fail = self.db_failure("login");
        let ttl = if msg.is_expirable {
            self.settings.session_ttl
        } else {
            self.settings.connection_session_ttl
        };
        async move {
            let verified = hasher
                .verify(
                    msg.hashed_password,
                    account.as_ref().and_then(|a| a.password_hash.clone()),
                )
                .await?;
            let account = account.ok_or_else(bad_credentials)?;
            if !account.is_password {
                return Err(Failure::new(
                    ReasonCode::PasswordNotSet,
                    "this account signs in through a third party; set a password first",
                ));
            }
            if !verified {
                return Err(bad_credentials());
            }
            let token = new_token();
            let hash = token_hash(&token);
            let now = now_ms();
            let expires_at = now.saturating_add(ttl.as_millis() as i64);
            let client_ip = msg.origin.client_ip.to_string();
            let stored_hash = hash.clone();
            let session_id = db
                .run(move |c| {
                    sessions::insert(
                        c,
                        &NewSession {
                            token_hash: &stored_hash,
                            account_id: account.id,
                            created_at: now,
                            expires_at,
                            client_ip: &client_ip,
                            is_active: true,
                            is_expirable: msg.is_expirable,
                        },
                    )
                })
                .await
                .map_err(&fail)?;
            let live = LiveSession {
                session_id,
                account_id: account.id,
                username: account.username,
                expires_at,
                is_expirable: msg.is_expirable,
                connection: (!msg.is_expirable).then_some(msg.origin.connection_id),
            };
            Ok((token, hash, live))
        }
    }
}

/// Check a session token; resolves to the live session.
#[derive(Message)]
#[rtype(result = "Result<LiveSession, Failure>")]
pub struct Authenticate {
    /// The token as the client sent it.
    pub token: String,
}

impl SessionActor {
    /// Looks a token up in memory, then in the database; checks activity and expiry. A
    /// session that ended in this process is never revived by a read that raced its end.
    fn authenticate(
        &mut self,
        token: &str,
    ) -> ResponseActFuture<Self, Result<LiveSession, Failure>> {
        let hash = token_hash(token);
        let now = now_ms();
        if let Some(live) = self.live.get(&hash) {
            if live.expires_at > now {
                return Box::pin(fut::ready(Ok(live.clone())));
            }
            self.forget(&hash);
            return Box::pin(fut::ready(Err(expired())));
        }
        let db = self.db.clone();
        let fail = self.db_failure("authenticate");
        let lookup_hash = hash.clone();
        let ticket = self.ended.begin_load();
        let work = async move {
            db.run(move |c| sessions::find_by_token_hash(c, &lookup_hash))
                .await
                .map_err(fail)
        };
        Box::pin(work.into_actor(self).map(move |found, act, _| {
            // Asked before the read is marked finished: finishing it may forget the end.
            let ended = matches!(&found, Ok(Some(r)) if act.ended.is_ended(r.id));
            act.ended.finish_load(ticket);
            let record = found?.ok_or_else(invalid_session)?;
            // A connection-bound session lives only in this cache while its connection is
            // open; one found only in the database has lost its connection.
            if !record.is_active || !record.is_expirable || ended {
                return Err(invalid_session());
            }
            if record.expires_at <= now {
                return Err(expired());
            }
            if let Some(cached) = act.live.get(&hash) {
                // Another request loaded it meanwhile.
                return Ok(cached.clone());
            }
            let live = LiveSession {
                session_id: record.id,
                account_id: record.account_id,
                username: record.username,
                expires_at: record.expires_at,
                is_expirable: record.is_expirable,
                connection: None,
            };
            act.remember(hash, live.clone());
            Ok(live)
        }))
    }
}

fn invalid_session() -> Failure {
    Failure::new(
        ReasonCode::SessionInvalid,
        "unknown or ended session; log in again",
    )
}

fn expired() -> Failure {
    Failure::new(
        ReasonCode::SessionExpired,
        "the session has expired; log in again",
    )
}

impl Handler<Authenticate> for SessionActor {
    type Result = ResponseActFuture<Self, Result<LiveSession, Failure>>;

    fn handle(&mut self, msg: Authenticate, _: &mut Context<Self>) -> Self::Result {
        self.authenticate(&msg.token)
    }
}

/// `login(sessionID)`: resume a live expirable session, possibly from another connection or
/// worker. A connection-bound session cannot be moved: it lives exactly as long as the
/// connection that logged in, so resuming it elsewhere is refused (NotAuthorized).
#[derive(Message)]
#[rtype(result = "Result<LiveSession, Failure>")]
pub struct Resume {
    /// The token.
    pub token: String,
    /// The resuming connection.
    pub origin: Origin,
}

impl Handler<Resume> for SessionActor {
    type Result = ResponseActFuture<Self, Result<LiveSession, Failure>>;

    fn handle(&mut self, msg: Resume, _: &mut Context<Self>) -> Self::Result {
        let origin = msg.origin;
        Box::pin(self.authenticate(&msg.token).map(move |result, _, _| {
            let live = result?;
            if !live.is_expirable && live.connection != Some(origin.connection_id) {
                return Err(Failure::new(
                    ReasonCode::NotAuthorized,
                    "a connection-bound session (isExpirable = false) ends with the connection \
                     that logged in and cannot be resumed elsewhere; log in again",
                ));
            }
            Ok(live)
        }))
    }
}

/// End a session now (logout or admin revocation by token).
#[derive(Message)]
#[rtype(result = "Result<(), Failure>")]
pub struct Logout {
    /// The token.
    pub token: String,
}

impl Handler<Logout> for SessionActor {
    type Result = ResponseActFuture<Self, Result<(), Failure>>;

    fn handle(&mut self, msg: Logout, _: &mut Context<Self>) -> Self::Result {
        Box::pin(self.authenticate(&msg.token).then(move |result, act, _| {
            let work: futures::future::LocalBoxFuture<'static, Result<(), Failure>> = match result {
                Ok(live) => {
                    let ended = act.end_sessions(vec![live.session_id], ReasonCode::SessionInvalid);
                    Box::pin(async move { ended.await.map(|_| ()) })
                }
                Err(failure) => Box::pin(fut::ready(Err(failure))),
            };
            work.into_actor(act)
        }))
    }
}

/// A connection closed: its connection-bound sessions end.
#[derive(Message)]
#[rtype(result = "()")]
pub struct ClientClosed {
    /// The closed connection.
    pub connection_id: u64,
}

impl Handler<ClientClosed> for SessionActor {
    type Result = ();

    fn handle(&mut self, msg: ClientClosed, ctx: &mut Context<Self>) {
        let Some(hashes) = self.by_connection.remove(&msg.connection_id) else {
            return;
        };
        let ids: Vec<i64> = hashes
            .iter()
            .filter_map(|h| self.live.get(h))
            .map(|s| s.session_id)
            .collect();
        if ids.is_empty() {
            return;
        }
        let log = self.log.clone();
        let ended = self.end_sessions(ids, ReasonCode::SessionInvalid);
        ctx.spawn(
            async move {
                if let Err(e) = ended.await {
                    warn!(log, "could not store the end of connection-bound sessions"; "error" => %e);
                }
            }
            .into_actor(self),
        );
    }
}

/// Admin: the live sessions.
#[derive(Message)]
#[rtype(result = "Result<Vec<SessionRecord>, Failure>")]
pub struct ListSessions;

impl Handler<ListSessions> for SessionActor {
    type Result = ResponseFuture<Result<Vec<SessionRecord>, Failure>>;

    fn handle(&mut self, _: ListSessions, _: &mut Context<Self>) -> Self::Result {
        let db = self.db.clone();
        let fail = self.db_failure("list sessions");
        Box::pin(async move {
            db.run(|c| sessions::list_live(c, now_ms()))
                .await
                .map_err(fail)
        })
    }
}

/// Admin: revoke a session by its database id.
#[derive(Message)]
#[rtype(result = "Result<bool, Failure>")]
pub struct Revoke {
    /// `sessions.id`.
    pub session_id: i64,
}

impl Handler<Revoke> for SessionActor {
    type Result = ResponseFuture<Result<bool, Failure>>;

    fn handle(&mut self, msg: Revoke, _: &mut Context<Self>) -> Self::Result {
        let ended = self.end_sessions(vec![msg.session_id], ReasonCode::SessionInvalid);
        Box::pin(async move { Ok(ended.await? > 0) })
    }
}

/// Open (or re-open) a client connection's DataTransfer state with a session: resolves to the
/// live session, and remembers the worker connection's grant so that the worker is told when
/// the session ends.
#[derive(Message)]
#[rtype(result = "Result<LiveSession, Failure>")]
pub struct OpenDataState {
    /// The session's token.
    pub token: String,
    /// The worker connection and where to tell it (none for a direct client).
    pub holder: Option<DataStateHolder>,
}

/// A worker client connection that holds a DataTransfer state, and its link.
#[derive(Clone)]
pub struct DataStateHolder {
    /// The connection and the grant.
    pub grant: Grant,
    /// The link actor to tell.
    pub link: Recipient<EndDataStates>,
}

impl Handler<OpenDataState> for SessionActor {
    type Result = ResponseActFuture<Self, Result<LiveSession, Failure>>;

    fn handle(&mut self, msg: OpenDataState, _: &mut Context<Self>) -> Self::Result {
        Box::pin(self.authenticate(&msg.token).map(move |result, act, _| {
            let live = result?;
            if let Some(holder) = msg.holder {
                act.links.insert(holder.grant.link_id, holder.link);
                act.data_states
                    .open(live.session_id, live.expires_at, holder.grant);
            }
            Ok(live)
        }))
    }
}

/// A worker client connection left DataTransfer state, or closed.
#[derive(Message)]
#[rtype(result = "()")]
pub struct CloseDataState {
    /// The worker link.
    pub link_id: u64,
    /// The worker's id for the connection.
    pub client_connection: u64,
}

impl Handler<CloseDataState> for SessionActor {
    type Result = ();

    fn handle(&mut self, msg: CloseDataState, _: &mut Context<Self>) {
        self.data_states.close(msg.link_id, msg.client_connection);
    }
}

/// A worker link closed: its connections' DataTransfer states are gone.
#[derive(Message)]
#[rtype(result = "()")]
pub struct LinkClosed {
    /// The link.
    pub link_id: u64,
}

impl Handler<LinkClosed> for SessionActor {
    type Result = ();

    fn handle(&mut self, msg: LinkClosed, _: &mut Context<Self>) {
        self.data_states.close_link(msg.link_id);
        self.links.remove(&msg.link_id);
    }
}

/// To a worker link: these DataTransfer states ended; resolves once the worker has applied
/// it (or the link gave up on the worker).
#[derive(Message)]
#[rtype(result = "()")]
pub struct EndDataStates(pub Vec<DataStateEnd>);

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
