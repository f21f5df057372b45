//! The master's admin endpoint: a Unix socket (mode 0600, so only the machine's admin user can
//! use it) speaking one JSON request per line and one JSON reply per line. Each request becomes
//! a typed actor message (`AddWorker`, `ListWorkers`, `SetWorkerEnabled`, `RemoveWorker`,
//! `ListSessions`, `Revoke`, `Dump`, `GetQueueStats`).

use std::net::IpAddr;
use std::path::{Path, PathBuf};

use actix::Addr;
use papertrader_actors::log::{Dump, LogActor};
use serde::{Deserialize, Serialize};
use slog::{info, warn, Logger};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::{UnixListener, UnixStream};

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
        /// `host:port` clients connect to.
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

fn failed(failure: papertrader_protocol::Failure) -> AdminReply {
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

/// Carries out one admin request.
pub async fn execute(
    services: &Services,
    log_actor: &Addr<LogActor>,
    request: AdminRequest,
) -> AdminReply {
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
                Ok(Err(f)) => failed(f),
                Err(_) => mailbox(),
            }
        }
        AdminRequest::WorkersList => match registry.send(ListWorkers).await {
            Ok(Ok(workers)) => AdminReply::Workers { workers },
            Ok(Err(f)) => failed(f),
            Err(_) => mailbox(),
        },
        AdminRequest::WorkersRemove { name } => {
            match registry.send(RemoveWorker { name: name.clone() }).await {
                Ok(Ok(found)) => done_or_missing(found, format!("worker {name} removed"), &name),
                Ok(Err(f)) => failed(f),
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
            Ok(Err(f)) => failed(f),
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
                Ok(Err(f)) => failed(f),
                Err(_) => mailbox(),
            }
        }
        AdminRequest::LogDump => match log_actor.send(Dump).await {
            Ok(entries) => AdminReply::Log {
                lines: entries.iter().map(|e| e.to_line()).collect(),
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
        Ok(Err(f)) => failed(f),
        Err(_) => mailbox(),
    }
}

/// Binds the admin socket (replacing a stale one), restricts it to the owner, and serves it
/// on the current arbiter.
pub fn serve(
    path: &Path,
    services: Services,
    log_actor: Addr<LogActor>,
    log: Logger,
) -> std::io::Result<PathBuf> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)?;
    }
    if path.exists() {
        std::fs::remove_file(path)?;
    }
    let listener = UnixListener::bind(path)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))?;
    }
    info!(log, "admin endpoint ready"; "socket" => %path.display());
    actix::spawn(async move {
        loop {
            match listener.accept().await {
                Ok((stream, _)) => {
                    actix::spawn(serve_one(
                        stream,
                        services.clone(),
                        log_actor.clone(),
                        log.clone(),
                    ));
                }
                Err(e) => {
                    warn!(log, "admin accept failed"; "error" => %e);
                    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                }
            }
        }
    });
    Ok(path.to_path_buf())
}

async fn serve_one(stream: UnixStream, services: Services, log_actor: Addr<LogActor>, log: Logger) {
    let (read, mut write) = stream.into_split();
    let mut lines = BufReader::new(read).lines();
    while let Ok(Some(line)) = lines.next_line().await {
        let reply = match serde_json::from_str::<AdminRequest>(&line) {
            Ok(request) => {
                // Log which command ran, never its arguments (a public key, a session id).
                let name = format!("{request:?}");
                let name = name
                    .split(|c: char| !c.is_alphanumeric())
                    .next()
                    .unwrap_or_default()
                    .to_owned();
                info!(log, "admin command"; "command" => name);
                execute(&services, &log_actor, request).await
            }
            Err(e) => AdminReply::Error {
                code: "Malformed".into(),
                message: e.to_string(),
            },
        };
        let mut text = serde_json::to_string(&reply).unwrap_or_else(|e| {
            format!("{{\"reply\":\"error\",\"code\":\"Internal\",\"message\":\"{e}\"}}")
        });
        text.push('\n');
        if write.write_all(text.as_bytes()).await.is_err() {
            return;
        }
    }
}

/// Sends one request to an admin socket and reads the reply (for the CLI and tests).
pub async fn request(path: &Path, request: &AdminRequest) -> std::io::Result<AdminReply> {
    let mut stream = UnixStream::connect(path).await?;
    let mut line = serde_json::to_string(request).map_err(std::io::Error::other)?;
    line.push('\n');
    stream.write_all(line.as_bytes()).await?;
    let mut reply = String::new();
    BufReader::new(stream).read_line(&mut reply).await?;
    serde_json::from_str(&reply).map_err(std::io::Error::other)
}
