//! The master's admin endpoint (the shared `admin_socket`: a 0600 Unix socket, one JSON
//! request and reply per line). Each request becomes a typed actor message (`AddWorker`,
//! `ListWorkers`, `SetWorkerEnabled`, `RemoveWorker`, `ListSessions`, `Revoke`, `Dump`,
//! `GetQueueStats`, `TickNow`).

use std::net::IpAddr;
use std::path::{Path, PathBuf};

use actix::Addr;
use papertrader_runtime::admin_socket::{self, AdminCommand};
use papertrader_runtime::log::{Dump, LogActor};
use serde::{Deserialize, Serialize};
use slog::Logger;

use crate::actors::asset_fetcher::{AssetFetcherActor, TickNow};
use crate::actors::session::{ListSessions, Revoke};
use crate::actors::trade_queue::GetQueueStats;
use crate::actors::worker_registry::WorkerStatus;
use crate::actors::worker_registry::{
    AddWorker, ListOnline, ListWorkers, RemoveWorker, SetWorkerEnabled,
};
use crate::router::Services;

/// An admin command.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "command", rename_all = "snake_case")]
pub enum AdminRequest {
    /// Register a worker.
    WorkersAdd {
        /// Unique name.
        name: String,
        /// UUID.
        uuid: uuid::Uuid,
        /// `host:port` clients connect to (`tls://host:port` for a TLS port).
        address: String,
        /// Addresses it may connect from.
        allowed_ips: Vec<IpAddr>,
        /// ASCII-armored OpenPGP public key.
        public_key: String,
    },
    /// Every registered worker with its status.
    WorkersList,
    /// Unregister a worker (closing its link).
    WorkersRemove {
        /// Name.
        name: String,
    },
    /// Boot a worker off (disable it, close its link).
    WorkersBoot {
        /// Name.
        name: String,
    },
    /// Allow a booted-off worker back.
    WorkersEnable {
        /// Name.
        name: String,
    },
    /// Live sessions (never their tokens).
    SessionsList,
    /// Revoke a session by id.
    SessionsRevoke {
        /// `sessions list` id.
        id: i64,
    },
    /// The log entries still in memory.
    LogDump,
    /// Health and counters.
    Status,
    /// Fetch prices and settle queued orders now, besides the update interval.
    MarketTick,
}

/// A session row of `sessions list`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionInfo {
    /// Session id (for `sessions revoke`).
    pub id: i64,
    /// Owner.
    pub username: String,
    /// Client address at login.
    pub client_ip: String,
    /// Created, ms since the epoch.
    pub created_at_ms: i64,
    /// Expires, ms since the epoch.
    pub expires_at_ms: i64,
    /// Survives disconnects.
    pub expirable: bool,
}

/// The master's status.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatusInfo {
    /// Database backend.
    pub database: String,
    /// Latest price tick.
    pub tick: u64,
    /// Assets priced.
    pub assets: usize,
    /// Workers online.
    pub workers_online: usize,
    /// Orders waiting for the next tick.
    pub queued_orders: usize,
    /// Orders settled since start.
    pub settled_orders: u64,
}

/// An admin reply.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "reply", rename_all = "snake_case")]
pub enum AdminReply {
    /// Done.
    Ok {
        /// What was done.
        message: String,
    },
    /// `workers list`.
    Workers {
        /// Rows.
        workers: Vec<WorkerStatus>,
    },
    /// `sessions list`.
    Sessions {
        /// Rows.
        sessions: Vec<SessionInfo>,
    },
    /// `log dump`.
    Log {
        /// Lines, oldest first.
        lines: Vec<String>,
    },
    /// `status`.
    Status(StatusInfo),
    /// Failed.
    Error {
        /// Reason code name.
        code: String,
        /// What went wrong.
        message: String,
    },
}

/// The admin reply for an actor's error, named by its reason code.
fn failed(error: impl Into<papertrader_protocol::Failure>) -> AdminReply {
    let failure = error.into();
    AdminReply::Error {
        code: failure.code.name().to_owned(),
        message: failure.message,
    }
}

fn mailbox() -> AdminReply {
    AdminReply::Error {
        code: "Unavailable".into(),
        message: "the actor did not answer".into(),
    }
}

fn done_or_missing(found: bool, done: String, name: &str) -> AdminReply {
    if found {
        AdminReply::Ok { message: done }
    } else {
        AdminReply::Error {
            code: "NotFound".into(),
            message: format!("no worker named {name}"),
        }
    }
}

/// What the admin endpoint reaches.
#[derive(Clone)]
pub struct AdminContext {
    /// The request handlers.
    pub services: Services,
    /// The log system's actor.
    pub log_actor: Addr<LogActor>,
    /// The asset fetcher (for `market_tick`).
    pub fetcher: Addr<AssetFetcherActor>,
}

/// Carries out one admin request.
pub async fn execute(context: &AdminContext, request: AdminRequest) -> AdminReply {
    let (services, log_actor) = (&context.services, &context.log_actor);
    let registry = &services.registry;
    match request {
        AdminRequest::WorkersAdd {
            name,
            uuid,
            address,
            allowed_ips,
            public_key,
        } => {
            let message = format!("worker {name} registered");
            match registry
                .send(AddWorker {
                    name,
                    uuid,
                    address,
                    allowed_ips,
                    public_key,
                })
                .await
            {
                Ok(Ok(())) => AdminReply::Ok { message },
                Ok(Err(e)) => failed(e),
                Err(_) => mailbox(),
            }
        }
        AdminRequest::WorkersList => match registry.send(ListWorkers).await {
            Ok(Ok(workers)) => AdminReply::Workers { workers },
            Ok(Err(e)) => failed(e),
            Err(_) => mailbox(),
        },
        AdminRequest::WorkersRemove { name } => {
            match registry.send(RemoveWorker { name: name.clone() }).await {
                Ok(Ok(found)) => done_or_missing(found, format!("worker {name} removed"), &name),
                Ok(Err(e)) => failed(e),
                Err(_) => mailbox(),
            }
        }
        AdminRequest::WorkersBoot { name } => set_enabled(services, name, false).await,
        AdminRequest::WorkersEnable { name } => set_enabled(services, name, true).await,
        AdminRequest::SessionsList => match services.sessions.send(ListSessions).await {
            Ok(Ok(rows)) => AdminReply::Sessions {
                sessions: rows
                    .into_iter()
                    .map(|s| SessionInfo {
                        id: s.id,
                        username: s.username,
                        client_ip: s.client_ip,
                        created_at_ms: s.created_at,
                        expires_at_ms: s.expires_at,
                        expirable: s.is_expirable,
                    })
                    .collect(),
            },
            Ok(Err(e)) => failed(e),
            Err(_) => mailbox(),
        },
        AdminRequest::SessionsRevoke { id } => {
            match services.sessions.send(Revoke { session_id: id }).await {
                Ok(Ok(true)) => AdminReply::Ok {
                    message: format!("session {id} revoked"),
                },
                Ok(Ok(false)) => AdminReply::Error {
                    code: "NotFound".into(),
                    message: format!("no active session {id}"),
                },
                Ok(Err(e)) => failed(e),
                Err(_) => mailbox(),
            }
        }
        AdminRequest::LogDump => match log_actor.send(Dump).await {
            Ok(entries) => AdminReply::Log {
                lines: entries.iter().map(|e| e.to_line()).collect(),
            },
            Err(_) => mailbox(),
        },
        AdminRequest::MarketTick => match context.fetcher.send(TickNow).await {
            Ok(()) => AdminReply::Ok {
                message: "prices fetched; queued orders settle now".into(),
            },
            Err(_) => mailbox(),
        },
        AdminRequest::Status => {
            let snapshot = services.book.snapshot();
            let online = registry
                .send(ListOnline)
                .await
                .map(|w| w.len())
                .unwrap_or(0);
            let queue = services.trades.send(GetQueueStats).await.ok();
            AdminReply::Status(StatusInfo {
                database: services.db.backend_name().to_owned(),
                tick: snapshot.tick,
                assets: snapshot.quotes.len(),
                workers_online: online,
                queued_orders: queue.map(|q| q.queued).unwrap_or(0),
                settled_orders: queue.map(|q| q.settled_total).unwrap_or(0),
            })
        }
    }
}

async fn set_enabled(services: &Services, name: String, enabled: bool) -> AdminReply {
    let verb = if enabled { "enabled" } else { "booted off" };
    match services
        .registry
        .send(SetWorkerEnabled {
            name: name.clone(),
            enabled,
        })
        .await
    {
        Ok(Ok(found)) => done_or_missing(found, format!("worker {name} {verb}"), &name),
        Ok(Err(e)) => failed(e),
        Err(_) => mailbox(),
    }
}

impl AdminCommand for AdminRequest {
    type Reply = AdminReply;

    fn malformed(reason: String) -> AdminReply {
        AdminReply::Error {
            code: "Malformed".into(),
            message: reason,
        }
    }
}

/// Serves the master's admin socket at `path` on the current arbiter.
pub fn serve(path: &Path, context: AdminContext, log: Logger) -> std::io::Result<PathBuf> {
    admin_socket::serve(path, log, move |request: AdminRequest| {
        let context = context.clone();
        async move { execute(&context, request).await }
    })
}

/// Sends one request to a master's admin socket (for the CLI and tests).
pub async fn request(path: &Path, request: &AdminRequest) -> std::io::Result<AdminReply> {
    admin_socket::request(path, request).await
}
