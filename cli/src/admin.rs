//! `papertrader admin …`: typed admin commands sent to the master's admin socket.

use std::net::IpAddr;
use std::path::PathBuf;

use clap::{Args, Subcommand};
use papertrader_master::admin::{request, AdminReply, AdminRequest};
use serde_json::json;

use crate::failed::Failed;
use crate::output::{self, outln, table, Column, Output};

/// `papertrader admin`.
#[derive(Debug, Args)]
pub struct AdminArgs {
    /// The admin socket: the master's, or a worker's for `admin worker …` (before or after
    /// the subcommand).
    #[arg(
        long,
        global = true,
        env = "PAPERTRADER_ADMIN_SOCKET",
        default_value = "data/master.admin.sock"
    )]
    socket: PathBuf,
    /// Print the reply as JSON (times also in RFC 3339); an error is one JSON object on
    /// standard error.
    #[arg(long, global = true)]
    pub json: bool,
    #[command(subcommand)]
    command: AdminCommand,
}

#[derive(Debug, Subcommand)]
enum AdminCommand {
    #[command(flatten)]
    Master(MasterCommand),
    /// Commands for a worker's own admin socket (pass its `--socket`).
    #[command(subcommand)]
    Worker(WorkerCommand),
}

/// Commands for the master's admin socket.
#[derive(Debug, Subcommand)]
enum MasterCommand {
    /// Manage registered workers.
    #[command(subcommand)]
    Workers(WorkersCommand),
    /// Manage sessions.
    #[command(subcommand)]
    Sessions(SessionsCommand),
    /// The log system.
    #[command(subcommand)]
    Log(LogCommand),
    /// Health and counters of the master.
    Status,
}

#[derive(Debug, Subcommand)]
enum WorkerCommand {
    /// The worker's link to the master, counters and cache.
    Status,
    /// The worker's log entries still in memory.
    Log,
}

#[derive(Debug, Subcommand)]
enum WorkersCommand {
    /// Register a worker.
    Add {
        /// Unique name.
        name: String,
        /// The worker's UUID (its `uuid_file`).
        #[arg(long)]
        uuid: uuid::Uuid,
        /// `host:port` clients should connect to; `tls://host:port` when the worker's port
        /// takes TLS.
        #[arg(long)]
        address: String,
        /// An address the worker may connect from (repeat for several).
        #[arg(long = "allow-ip", required = true)]
        allow_ips: Vec<IpAddr>,
        /// The worker's ASCII-armored public key file (`gpg --export --armor`).
        #[arg(long)]
        key: PathBuf,
    },
    /// List registered workers and whether they are online.
    List,
    /// Unregister a worker (its link closes).
    Remove {
        /// Name.
        name: String,
    },
    /// Boot a worker off: its link closes now and it stays out until enabled.
    Boot {
        /// Name.
        name: String,
    },
    /// Let a booted-off worker back in.
    Enable {
        /// Name.
        name: String,
    },
}

#[derive(Debug, Subcommand)]
enum SessionsCommand {
    /// List live sessions.
    List,
    /// Revoke a session by id.
    Revoke {
        /// The id from `sessions list`.
        id: i64,
    },
}

#[derive(Debug, Subcommand)]
enum LogCommand {
    /// Print the log entries still in memory.
    Dump,
}

fn to_request(command: MasterCommand) -> Result<AdminRequest, Failed> {
    Ok(match command {
        MasterCommand::Workers(WorkersCommand::Add {
            name,
            uuid,
            address,
            allow_ips,
            key,
        }) => {
            let public_key = std::fs::read_to_string(&key)
                .map_err(|e| Failed::refused(format!("reading {}: {e}", key.display())))?;
            AdminRequest::WorkersAdd {
                name,
                uuid,
                address,
                allowed_ips: allow_ips,
                public_key,
            }
        }
        MasterCommand::Workers(WorkersCommand::List) => AdminRequest::WorkersList,
        MasterCommand::Workers(WorkersCommand::Remove { name }) => {
            AdminRequest::WorkersRemove { name }
        }
        MasterCommand::Workers(WorkersCommand::Boot { name }) => AdminRequest::WorkersBoot { name },
        MasterCommand::Workers(WorkersCommand::Enable { name }) => {
            AdminRequest::WorkersEnable { name }
        }
        MasterCommand::Sessions(SessionsCommand::List) => AdminRequest::SessionsList,
        MasterCommand::Sessions(SessionsCommand::Revoke { id }) => {
            AdminRequest::SessionsRevoke { id }
        }
        MasterCommand::Log(LogCommand::Dump) => AdminRequest::LogDump,
        MasterCommand::Status => AdminRequest::Status,
    })
}

/// Runs one command against a worker's admin socket.
async fn run_worker(
    socket: &std::path::Path,
    command: WorkerCommand,
    out: Output,
) -> Result<(), Failed> {
    use papertrader_worker::admin::{request, WorkerAdminReply, WorkerAdminRequest};
    let message = match command {
        WorkerCommand::Status => WorkerAdminRequest::Status,
        WorkerCommand::Log => WorkerAdminRequest::LogDump,
    };
    let reply = request(socket, &message)
        .await
        .map_err(|e| Failed::unreachable(format!("admin socket {}: {e}", socket.display())))?;
    if let WorkerAdminReply::Error { code, message } = &reply {
        return Err(Failed::refused(format!("{message} [{code}]")));
    }
    if out.json {
        output::json(&with_times(&reply));
        return Ok(());
    }
    match reply {
        WorkerAdminReply::Status(s) => table(
            &[
                Column::text("UUID"),
                Column::text("LINK"),
                Column::text("NAME"),
                Column::number("FORWARDED"),
                Column::number("PENDING"),
                Column::number("CACHE HITS"),
                Column::number("TICK"),
                Column::text("LAST ERROR"),
            ],
            &[vec![
                s.uuid,
                s.link,
                s.name.unwrap_or_default(),
                s.forwarded.to_string(),
                s.pending.to_string(),
                s.cache_hits.to_string(),
                s.tick.to_string(),
                s.last_error.unwrap_or_default(),
            ]],
        ),
        WorkerAdminReply::Log { lines } => lines.iter().for_each(|l| outln!("{l}")),
        WorkerAdminReply::Error { .. } => {}
    }
    Ok(())
}

/// Runs one admin command.
pub async fn run(args: AdminArgs, out: Output) -> Result<(), Failed> {
    let command = match args.command {
        AdminCommand::Worker(command) => return run_worker(&args.socket, command, out).await,
        AdminCommand::Master(command) => command,
    };
    let request_message = to_request(command)?;
    let reply = request(&args.socket, &request_message)
        .await
        .map_err(|e| Failed::unreachable(format!("admin socket {}: {e}", args.socket.display())))?;
    if let AdminReply::Error { code, message } = &reply {
        return Err(Failed::refused(format!("{message} [{code}]")));
    }
    if out.json {
        output::json(&with_times(&reply));
        return Ok(());
    }
    match reply {
        AdminReply::Ok { message } => outln!("{message}"),
        AdminReply::Workers { workers } => table(
            &[
                Column::text("NAME"),
                Column::text("UUID"),
                Column::text("ADDRESS"),
                Column::text("ALLOWED IPS"),
                Column::text("ENABLED"),
                Column::text("ONLINE"),
            ],
            &workers
                .into_iter()
                .map(|w| {
                    vec![
                        w.name,
                        w.uuid,
                        w.address,
                        w.allowed_ips.join(","),
                        yes(w.enabled),
                        yes(w.online),
                    ]
                })
                .collect::<Vec<_>>(),
        ),
        AdminReply::Sessions { sessions } => table(
            &[
                Column::number("ID"),
                Column::text("USER"),
                Column::text("CLIENT IP"),
                Column::text("CREATED (UTC)"),
                Column::text("EXPIRES (UTC)"),
                Column::text("KIND"),
            ],
            &sessions
                .into_iter()
                .map(|s| {
                    let kind = if s.expirable {
                        "expirable"
                    } else {
                        "connection"
                    }
                    .to_owned();
                    vec![
                        s.id.to_string(),
                        s.username,
                        s.client_ip,
                        output::time(s.created_at_ms),
                        output::time(s.expires_at_ms),
                        kind,
                    ]
                })
                .collect::<Vec<_>>(),
        ),
        AdminReply::Log { lines } => lines.iter().for_each(|l| outln!("{l}")),
        AdminReply::Status(s) => table(
            &[
                Column::text("DATABASE"),
                Column::number("TICK"),
                Column::number("ASSETS"),
                Column::number("WORKERS ONLINE"),
                Column::number("QUEUED"),
                Column::number("SETTLED"),
            ],
            &[vec![
                s.database,
                s.tick.to_string(),
                s.assets.to_string(),
                s.workers_online.to_string(),
                s.queued_orders.to_string(),
                s.settled_orders.to_string(),
            ]],
        ),
        AdminReply::Error { .. } => {}
    }
    Ok(())
}

/// A reply as JSON, with every `…at_ms` time also in RFC 3339.
fn with_times(reply: &impl serde::Serialize) -> serde_json::Value {
    let mut value = serde_json::to_value(reply).unwrap_or(json!(null));
    output::add_rfc3339_times(&mut value);
    value
}

fn yes(value: bool) -> String {
    if value { "yes" } else { "no" }.to_owned()
}
