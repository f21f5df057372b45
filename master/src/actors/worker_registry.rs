//! `WorkerRegistryActor`: which workers are online, for the list clients get from the master.
//!
//! Admission (OpenPGP keys, UUIDs, IP whitelist) builds on this actor: a worker is listed only
//! while it is marked online.

use std::collections::BTreeMap;

use actix::prelude::*;
use papertrader_protocol::WorkerEndpoint;

/// The worker registry.
#[derive(Debug, Default)]
pub struct WorkerRegistryActor {
    online: BTreeMap<String, WorkerEndpoint>,
}

impl Actor for WorkerRegistryActor {
    type Context = Context<Self>;
}

/// A worker came online (after admission).
#[derive(Message)]
#[rtype(result = "()")]
pub struct WorkerOnline(pub WorkerEndpoint);

/// A worker went offline (link closed or booted off).
#[derive(Message)]
#[rtype(result = "()")]
pub struct WorkerOffline {
    /// The worker's name.
    pub name: String,
}

/// The online workers, by name.
#[derive(Message)]
#[rtype(result = "Vec<WorkerEndpoint>")]
pub struct ListOnline;

impl Handler<WorkerOnline> for WorkerRegistryActor {
    type Result = ();

    fn handle(&mut self, msg: WorkerOnline, _: &mut Context<Self>) {
        self.online.insert(msg.0.name.clone(), msg.0);
    }
}

impl Handler<WorkerOffline> for WorkerRegistryActor {
    type Result = ();

    fn handle(&mut self, msg: WorkerOffline, _: &mut Context<Self>) {
        self.online.remove(&msg.name);
    }
}

impl Handler<ListOnline> for WorkerRegistryActor {
    type Result = MessageResult<ListOnline>;

    fn handle(&mut self, _: ListOnline, _: &mut Context<Self>) -> Self::Result {
        MessageResult(self.online.values().cloned().collect())
    }
}
