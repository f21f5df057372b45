//! `WorkerRegistryActor`: registered workers (database) and which of them are online.
//!
//! Only registered, enabled workers connecting from a whitelisted address and proving their
//! OpenPGP key are admitted (see `worker_link`). Booting a worker off disables it, closes its
//! link at once and removes it from the list clients get; it stays off until re-enabled.

use std::collections::{BTreeMap, HashSet};
use std::net::IpAddr;
use std::sync::{Arc, PoisonError, RwLock};

use actix::prelude::*;
use papertrader_protocol::{Failure, ReasonCode, WorkerEndpoint};
use papertrader_runtime::identity::VerifyingIdentity;
use slog::{info, warn, Logger};

use super::now_ms;
use crate::db::workers::{self, WorkerRow};
use crate::db::Db;
use crate::reasons::unavailable;

/// A registered worker as admission needs it.
#[derive(Debug, Clone)]
pub struct RegisteredWorker {
    /// Name.
    pub name: String,
    /// Client-facing address.
    pub address: String,
    /// Addresses it may connect from.
    pub allowed_ips: Vec<IpAddr>,
    /// Its public key.
    pub key: VerifyingIdentity,
    /// False after a boot-off.
    pub enabled: bool,
}

/// One row of `workers list` (also its admin-endpoint JSON form).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct WorkerStatus {
    /// Name.
    pub name: String,
    /// UUID.
    pub uuid: String,
    /// Client-facing address.
    pub address: String,
    /// Whitelisted addresses.
    pub allowed_ips: Vec<String>,
    /// Enabled (not booted off).
    pub enabled: bool,
    /// Connected and admitted now.
    pub online: bool,
}

/// The addresses enabled, registered workers may connect from: shared with the accept loop,
/// which keeps places for them before they have said who they are.
#[derive(Debug, Clone, Default)]
pub struct WorkerAddresses(Arc<RwLock<HashSet<IpAddr>>>);

impl WorkerAddresses {
    /// True when some enabled worker may connect from `ip`.
    pub fn contains(&self, ip: IpAddr) -> bool {
        let set = self.0.read().unwrap_or_else(PoisonError::into_inner);
        set.contains(&ip.to_canonical())
    }

    fn replace(&self, ips: HashSet<IpAddr>) {
        *self.0.write().unwrap_or_else(PoisonError::into_inner) = ips;
    }
}

struct Online {
    name: String,
    address: String,
    link: Recipient<CloseLink>,
}

/// The worker registry.
pub struct WorkerRegistryActor {
    db: Db,
    online: BTreeMap<String, Online>,
    addresses: WorkerAddresses,
    log: Logger,
}

impl WorkerRegistryActor {
    /// A registry over `db`, keeping `addresses` equal to the whitelists of enabled workers.
    pub fn new(db: Db, addresses: WorkerAddresses, log: Logger) -> Self {
        Self {
            db,
            online: BTreeMap::new(),
            addresses,
            log,
        }
    }

    /// Reloads [`WorkerAddresses`] from the database.
    fn refresh_addresses(&self, ctx: &mut Context<Self>) {
        let db = self.db.clone();
        let addresses = self.addresses.clone();
        let log = self.log.clone();
        ctx.spawn(
            async move {
                match db.run(workers::list).await {
                    Ok(rows) => addresses.replace(
                        rows.iter()
                            .filter(|r| r.enabled)
                            .flat_map(|r| parse_ips(&r.allowed_ips))
                            .map(|ip| ip.to_canonical())
                            .collect(),
                    ),
                    Err(e) => warn!(log, "cannot load worker addresses"; "error" => %e),
                }
            }
            .into_actor(self),
        );
    }

    fn db_failure(&self) -> impl Fn(crate::db::DbError) -> Failure {
        let log = self.log.clone();
        move |e| {
            warn!(log, "worker registry database error"; "error" => %e);
            unavailable()
        }
    }
}

impl Actor for WorkerRegistryActor {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        self.refresh_addresses(ctx);
    }
}

/// The registrations changed: reload [`WorkerAddresses`].
#[derive(Message)]
#[rtype(result = "()")]
struct RefreshAddresses;

impl Handler<RefreshAddresses> for WorkerRegistryActor {
    type Result = ();

    fn handle(&mut self, _: RefreshAddresses, ctx: &mut Context<Self>) {
        self.refresh_addresses(ctx);
    }
}

fn parse_ips(list: &str) -> Vec<IpAddr> {
    list.split(',')
        .filter_map(|s| s.trim().parse().ok())
        .collect()
}

/// Register a worker (admin `workers add`).
#[derive(Message)]
#[rtype(result = "Result<(), Failure>")]
pub struct AddWorker {
    /// Unique name.
    pub name: String,
    /// UUID.
    pub uuid: uuid::Uuid,
    /// `host:port` clients connect to.
    pub address: String,
    /// Addresses it may connect from (at least one).
    pub allowed_ips: Vec<IpAddr>,
    /// ASCII-armored OpenPGP public key.
    pub public_key: String,
}

impl Handler<AddWorker> for WorkerRegistryActor {
    type Result = ResponseFuture<Result<(), Failure>>;

    fn handle(&mut self, msg: AddWorker, ctx: &mut Context<Self>) -> Self::Result {
        let db = self.db.clone();
        let fail = self.db_failure();
        let log = self.log.clone();
        let me = ctx.address();
        Box::pin(async move {
            VerifyingIdentity::from_armored(&msg.public_key)
                .and_then(|key| key.check_valid().map(|()| key))
                .map_err(|e| Failure::new(ReasonCode::InvalidArgument, e.to_string()))?;
            if msg.allowed_ips.is_empty() {
                return Err(Failure::new(
                    ReasonCode::InvalidArgument,
                    "at least one allowed IP address is needed",
                ));
            }
            let row = WorkerRow {
                uuid: msg.uuid.hyphenated().to_string(),
                name: msg.name.clone(),
                address: msg.address,
                allowed_ips: msg
                    .allowed_ips
                    .iter()
                    .map(|ip| ip.to_string())
                    .collect::<Vec<_>>()
                    .join(","),
                public_key: msg.public_key,
                enabled: true,
                created_at: now_ms(),
            };
            if !db
                .run(move |c| workers::insert(c, &row))
                .await
                .map_err(fail)?
            {
                return Err(Failure::new(
                    ReasonCode::InvalidArgument,
                    "a worker with that name or UUID exists",
                ));
            }
            info!(log, "worker registered"; "name" => msg.name, "uuid" => %msg.uuid);
            me.do_send(RefreshAddresses);
            Ok(())
        })
    }
}

/// Look a worker up for admission.
#[derive(Message)]
#[rtype(result = "Result<Option<RegisteredWorker>, Failure>")]
pub struct Lookup {
    /// The UUID from `workerHello`.
    pub uuid: uuid::Uuid,
}

impl Handler<Lookup> for WorkerRegistryActor {
    type Result = ResponseFuture<Result<Option<RegisteredWorker>, Failure>>;

    fn handle(&mut self, msg: Lookup, _: &mut Context<Self>) -> Self::Result {
        let db = self.db.clone();
        let fail = self.db_failure();
        let log = self.log.clone();
        Box::pin(async move {
            let uuid = msg.uuid.hyphenated().to_string();
            let Some(row) = db
                .run(move |c| workers::find_by_uuid(c, &uuid))
                .await
                .map_err(fail)?
            else {
                return Ok(None);
            };
            let key = match VerifyingIdentity::from_armored(&row.public_key) {
                Ok(key) => key,
                Err(e) => {
                    warn!(log, "registered worker has an unusable key"; "name" => &row.name, "error" => %e);
                    return Ok(None);
                }
            };
            Ok(Some(RegisteredWorker {
                allowed_ips: parse_ips(&row.allowed_ips),
                name: row.name,
                address: row.address,
                key,
                enabled: row.enabled,
            }))
        })
    }
}

/// To a worker link: close now, telling the worker why (boot-off, replacement, shutdown).
/// The registry knows links only as recipients of this message.
#[derive(Message)]
#[rtype(result = "()")]
pub struct CloseLink(pub Failure);

/// A worker was admitted on `link`; an older link of the same worker is closed.
#[derive(Message)]
#[rtype(result = "()")]
pub struct WorkerOnline {
    /// UUID.
    pub uuid: String,
    /// Name.
    pub name: String,
    /// Client-facing address.
    pub address: String,
    /// Its link actor.
    pub link: Recipient<CloseLink>,
}

impl Handler<WorkerOnline> for WorkerRegistryActor {
    type Result = ();

    fn handle(&mut self, msg: WorkerOnline, _: &mut Context<Self>) {
        info!(self.log, "worker online"; "name" => &msg.name);
        let new = Online {
            name: msg.name,
            address: msg.address,
            link: msg.link,
        };
        if let Some(old) = self.online.insert(msg.uuid, new) {
            old.link.do_send(CloseLink(Failure::new(
                ReasonCode::HandshakeViolation,
                "replaced by a newer link",
            )));
        }
    }
}

/// A worker's link ended.
#[derive(Message)]
#[rtype(result = "()")]
pub struct WorkerOffline {
    /// UUID.
    pub uuid: String,
    /// The link that ended (ignored if a newer link replaced it).
    pub link: Recipient<CloseLink>,
}

impl Handler<WorkerOffline> for WorkerRegistryActor {
    type Result = ();

    fn handle(&mut self, msg: WorkerOffline, _: &mut Context<Self>) {
        if self
            .online
            .get(&msg.uuid)
            .is_some_and(|o| o.link == msg.link)
        {
            if let Some(gone) = self.online.remove(&msg.uuid) {
                info!(self.log, "worker offline"; "name" => gone.name);
            }
        }
    }
}

/// Close every worker link, telling each worker why (`linkClosed`), at shutdown.
#[derive(Message)]
#[rtype(result = "usize")]
pub struct CloseAllLinks(pub Failure);

impl Handler<CloseAllLinks> for WorkerRegistryActor {
    type Result = usize;

    fn handle(&mut self, msg: CloseAllLinks, _: &mut Context<Self>) -> usize {
        for online in self.online.values() {
            online.link.do_send(CloseLink(msg.0.clone()));
        }
        self.online.len()
    }
}

/// The online workers, for clients.
#[derive(Message)]
#[rtype(result = "Vec<WorkerEndpoint>")]
pub struct ListOnline;

impl Handler<ListOnline> for WorkerRegistryActor {
    type Result = MessageResult<ListOnline>;

    fn handle(&mut self, _: ListOnline, _: &mut Context<Self>) -> Self::Result {
        let mut list: Vec<WorkerEndpoint> = self
            .online
            .values()
            .map(|o| WorkerEndpoint {
                name: o.name.clone(),
                address: o.address.clone(),
            })
            .collect();
        list.sort_by(|a, b| a.name.cmp(&b.name));
        MessageResult(list)
    }
}

/// Every registered worker with its status (admin `workers list`).
#[derive(Message)]
#[rtype(result = "Result<Vec<WorkerStatus>, Failure>")]
pub struct ListWorkers;

impl Handler<ListWorkers> for WorkerRegistryActor {
    type Result = ResponseActFuture<Self, Result<Vec<WorkerStatus>, Failure>>;

    fn handle(&mut self, _: ListWorkers, _: &mut Context<Self>) -> Self::Result {
        let db = self.db.clone();
        let fail = self.db_failure();
        let rows = async move { db.run(workers::list).await.map_err(fail) };
        Box::pin(rows.into_actor(self).map(|rows, act, _| {
            Ok(rows?
                .into_iter()
                .map(|r| WorkerStatus {
                    online: act.online.contains_key(&r.uuid),
                    allowed_ips: r.allowed_ips.split(',').map(str::to_owned).collect(),
                    name: r.name,
                    uuid: r.uuid,
                    address: r.address,
                    enabled: r.enabled,
                })
                .collect())
        }))
    }
}

/// Boot a worker off (disable it and close its link now), or re-enable it.
#[derive(Message)]
#[rtype(result = "Result<bool, Failure>")]
pub struct SetWorkerEnabled {
    /// Name.
    pub name: String,
    /// False to boot off, true to allow it back.
    pub enabled: bool,
}

impl Handler<SetWorkerEnabled> for WorkerRegistryActor {
    type Result = ResponseActFuture<Self, Result<bool, Failure>>;

    fn handle(&mut self, msg: SetWorkerEnabled, _: &mut Context<Self>) -> Self::Result {
        let db = self.db.clone();
        let fail = self.db_failure();
        let name = msg.name.clone();
        let update = async move {
            db.run(move |c| workers::set_enabled(c, &name, msg.enabled))
                .await
                .map_err(fail)
        };
        Box::pin(update.into_actor(self).map(move |found, act, ctx| {
            let found = found?;
            act.refresh_addresses(ctx);
            if found && !msg.enabled {
                act.boot(
                    &msg.name,
                    Failure::new(ReasonCode::BootedOff, "booted off by an admin"),
                );
            }
            Ok(found)
        }))
    }
}

impl WorkerRegistryActor {
    fn boot(&mut self, name: &str, reason: Failure) {
        let uuids: Vec<String> = self
            .online
            .iter()
            .filter(|(_, o)| o.name == name)
            .map(|(u, _)| u.clone())
            .collect();
        for uuid in uuids {
            if let Some(online) = self.online.remove(&uuid) {
                info!(self.log, "worker booted off"; "name" => name);
                online.link.do_send(CloseLink(reason.clone()));
            }
        }
    }
}

/// Unregister a worker (closing its link if online).
#[derive(Message)]
#[rtype(result = "Result<bool, Failure>")]
pub struct RemoveWorker {
    /// Name.
    pub name: String,
}

impl Handler<RemoveWorker> for WorkerRegistryActor {
    type Result = ResponseActFuture<Self, Result<bool, Failure>>;

    fn handle(&mut self, msg: RemoveWorker, _: &mut Context<Self>) -> Self::Result {
        let db = self.db.clone();
        let fail = self.db_failure();
        let name = msg.name.clone();
        let delete = async move {
            db.run(move |c| workers::delete(c, &name))
                .await
                .map_err(fail)
        };
        Box::pin(delete.into_actor(self).map(move |found, act, ctx| {
            let found = found?;
            act.refresh_addresses(ctx);
            act.boot(
                &msg.name,
                Failure::new(ReasonCode::WorkerUnknown, "the worker was unregistered"),
            );
            Ok(found)
        }))
    }
}
