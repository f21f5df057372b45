//! `papertrader`: one binary for running, administering and using PaperTrader.
//!
//! Exit codes: 0 success; 1 the server refused (the line says why, with its reason code);
//! 2 bad usage; 3 no connection (master or workers unreachable, admin socket missing).

mod admin;
mod client_commands;
mod output;
mod up;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use papertrader_client::ClientError;

/// PaperTrader: paper trading against simulated or real prices.
#[derive(Debug, Parser)]
#[command(name = "papertrader", version, about)]
struct Cli {
    /// Print machine-readable JSON instead of tables.
    #[arg(long, global = true)]
    json: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run a master and workers in one process on SQLite and the simulated market.
    Up(up::UpArgs),
    /// Run the master server (see `papertrader master --help` for its settings).
    Master(papertrader_master::config::MasterArgs),
    /// Run a worker server (see `papertrader worker --help` for its settings).
    Worker(papertrader_worker::config::WorkerArgs),
    /// Administer a running master through its admin socket.
    Admin(admin::AdminArgs),
    /// Client commands: register, login, trade, read prices and portfolios.
    #[command(flatten)]
    Client(client_commands::ClientCommand),
}

/// A failure with its exit code.
pub struct Failed {
    code: u8,
    message: String,
}

impl Failed {
    /// Exit code 1: the server refused.
    pub fn refused(message: impl Into<String>) -> Self {
        Self {
            code: 1,
            message: message.into(),
        }
    }

    /// Exit code 2: bad usage (an argument the command cannot use).
    pub fn usage(message: impl Into<String>) -> Self {
        Self {
            code: 2,
            message: message.into(),
        }
    }

    /// Exit code 3: could not reach the service.
    pub fn unreachable(message: impl Into<String>) -> Self {
        Self {
            code: 3,
            message: message.into(),
        }
    }
}

impl From<ClientError> for Failed {
    fn from(e: ClientError) -> Self {
        match &e {
            ClientError::Failed { failure, .. } => {
                Failed::refused(format!("{} [{}]", failure.message, failure.code.name()))
            }
            ClientError::Io(_) | ClientError::Closed => Failed::unreachable(e.to_string()),
            _ => Failed::refused(e.to_string()),
        }
    }
}

impl From<anyhow::Error> for Failed {
    fn from(e: anyhow::Error) -> Self {
        Failed::refused(format!("{e:#}"))
    }
}

/// Where logins are remembered.
pub fn session_path(explicit: &Option<PathBuf>) -> PathBuf {
    explicit
        .clone()
        .unwrap_or_else(papertrader_client::session_file::default_path)
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result: Result<(), Failed> = match cli.command {
        Command::Up(args) => up::run(args).map_err(Failed::from),
        Command::Master(args) => args
            .load()
            .map_err(anyhow::Error::from)
            .and_then(papertrader_master::server::run)
            .map_err(Failed::from),
        Command::Worker(args) => args
            .load()
            .map_err(anyhow::Error::from)
            .and_then(papertrader_worker::server::run)
            .map_err(Failed::from),
        Command::Admin(args) => runtime().and_then(|rt| rt.block_on(admin::run(args, cli.json))),
        Command::Client(command) => {
            runtime().and_then(|rt| rt.block_on(client_commands::run(command, cli.json)))
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(failed) => {
            eprintln!("error: {}", failed.message);
            ExitCode::from(failed.code)
        }
    }
}

fn runtime() -> Result<tokio::runtime::Runtime, Failed> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Failed::refused(e.to_string()))
}
