//! The worker's admin endpoint (the shared 0600 admin socket): `status` and `log dump`.
//! Registering, booting and listing workers is done on the master.

use std::path::{Path, PathBuf};

use actix::Addr;
use papertrader_runtime::admin_socket::{self, AdminCommand};
use papertrader_runtime::log::{Dump, LogActor};
use serde::{Deserialize, Serialize};
use slog::Logger;

use crate::cache::PriceCache;
use crate::link::{GetLinkStatus, LinkState, MasterLinkActor};

/// A worker admin command.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "command", rename_all = "snake_case")]
pub enum WorkerAdminRequest {
    /// The link, counters and cache.
    Status,
    /// The log entries still in memory.
    LogDump,
}

/// The worker's status.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WorkerStatusInfo {
    /// This worker's UUID.
    pub uuid: String,
    /// "up", "admitting" or "down".
    pub link: String,
    /// The master's name for this worker, when admitted.
    pub name: Option<String>,
    /// Why the link is down, if it is.
    pub last_error: Option<String>,
    /// Requests forwarded to the master since start.
    pub forwarded: u64,
    /// Requests waiting for the master now.
    pub pending: usize,
    /// Requests answered from the price cache since start.
    pub cache_hits: u64,
    /// The last price tick received.
    pub tick: u64,
}

/// A worker admin reply.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "reply", rename_all = "snake_case")]
pub enum WorkerAdminReply {
    /// `status`.
    Status(WorkerStatusInfo),
    /// `log dump`.
    Log {
        /// Lines, oldest first.
        lines: Vec<String>,
    },
    /// Failed.
    Error {
        /// Reason code name.
        code: String,
        /// What went wrong.
        message: String,
    },
}

impl AdminCommand for WorkerAdminRequest {
    type Reply = WorkerAdminReply;

    fn malformed(reason: String) -> WorkerAdminReply {
        WorkerAdminReply::Error {
            code: "Malformed".into(),
            message: reason,
        }
    }
}

/// What the endpoint reads.
#[derive(Clone)]
pub struct WorkerAdmin {
    /// This worker's UUID.
    pub uuid: uuid::Uuid,
    /// The master link.
    pub link: Addr<MasterLinkActor>,
    /// The price cache.
    pub cache: PriceCache,
    /// The log actor.
    pub log_actor: Addr<LogActor>,
}

impl WorkerAdmin {
    async fn execute(&self, request: WorkerAdminRequest) -> WorkerAdminReply {
        let unavailable = || WorkerAdminReply::Error {
            code: "Unavailable".into(),
            message: "the actor did not answer".into(),
        };
        match request {
            WorkerAdminRequest::Status => {
                let Ok(status) = self.link.send(GetLinkStatus).await else {
                    return unavailable();
                };
                let (link, name, last_error) = match status.state {
                    LinkState::Up { name } => ("up", Some(name), None),
                    LinkState::Admitting => ("admitting", None, None),
                    LinkState::Down { last_error } => ("down", None, last_error),
                };
                WorkerAdminReply::Status(WorkerStatusInfo {
                    uuid: self.uuid.hyphenated().to_string(),
                    link: link.to_owned(),
                    name,
                    last_error,
                    forwarded: status.forwarded,
                    pending: status.pending,
                    cache_hits: self.cache.hits(),
                    tick: self.cache.tick(),
                })
            }
            WorkerAdminRequest::LogDump => match self.log_actor.send(Dump).await {
                Ok(entries) => WorkerAdminReply::Log {
                    lines: entries.iter().map(|e| e.to_line()).collect(),
                },
                Err(_) => unavailable(),
            },
        }
    }
}

/// Serves the worker's admin socket at `path` on the current arbiter.
pub fn serve(path: &Path, admin: WorkerAdmin, log: Logger) -> std::io::Result<PathBuf> {
    admin_socket::serve(path, log, move |request: WorkerAdminRequest| {
        let admin = admin.clone();
        async move { admin.execute(request).await }
    })
}

/// Sends one request to a worker's admin socket (for the CLI and tests).
pub async fn request(
    path: &Path,
    request: &WorkerAdminRequest,
) -> std::io::Result<WorkerAdminReply> {
    admin_socket::request(path, request).await
}
