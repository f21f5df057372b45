//! `papertrader`: one binary for running, administering and using PaperTrader.
//!
//! Exit codes: 0 success; 1 the server refused (the line says why, with its reason code);
//! 2 bad usage; 3 no connection (master or workers unreachable, admin socket missing).

/// mimalloc: cheaper per allocation than the system allocator on the servers' hot paths
/// (`papertrader up`, `master` and `worker` run in this binary).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

mod admin;
mod certs;
mod commands;
mod config_help;
mod failed;
mod output;
mod probe;
mod servers;
mod tui;
mod up;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::failed::Failed;
use crate::output::Output;

/// PaperTrader: paper trading against simulated or real prices.
#[derive(Debug, Parser)]
#[command(name = "papertrader", version, about)]
struct Cli {
    /// JSON output for the client and admin commands (which also take it after their name).
    #[arg(long)]
    json: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run a master and workers in one process: SQLite and the simulated market unless told
    /// otherwise.
    Up(up::UpArgs),
    /// Run the master server alone.
    ///
    /// Every setting is a flag below, a PAPERTRADER_MASTER_* variable, or a key of the TOML
    /// file given with --config; --print-config lists all of them with their defaults.
    Master(servers::MasterCommand),
    /// Run a worker server alone.
    ///
    /// Every setting is a flag below, a PAPERTRADER_WORKER_* variable, or a key of the TOML
    /// file given with --config; --print-config lists all of them with their defaults.
    Worker(servers::WorkerCommand),
    /// Administer a running master (or worker) through its admin socket.
    Admin(admin::AdminArgs),
    /// Make a local CA and a server certificate for TLS (PEM files).
    Certs(certs::CertsArgs),
    /// Ask a server's ops endpoint, e.g. http://127.0.0.1:9090/health/ready: exit 0 when it
    /// answers 200 (for container healthchecks).
    Probe(probe::ProbeArgs),
    /// A terminal UI: live prices and a chart, your portfolio, order entry, open orders and
    /// fills as they happen (needs a login, like the other client commands).
    Tui(tui::TuiArgs),
    #[command(flatten)]
    Client(commands::ClientCommand),
}

fn main() -> ExitCode {
    // `--json` anywhere asks for JSON errors, usage errors included.
    let json_requested = std::env::args_os().any(|a| a == "--json");
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) if json_requested && e.use_stderr() => {
            let rendered = e.render().to_string();
            let first = rendered.lines().next().unwrap_or_default();
            let failed = Failed::usage(first.trim_start_matches("error: "));
            failed.report(true);
            return ExitCode::from(failed.code);
        }
        Err(e) => e.exit(),
    };
    let (result, as_json) = run(cli);
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(failed) => {
            failed.report(as_json);
            ExitCode::from(failed.code)
        }
    }
}

/// Runs the command; also says whether its errors are to be JSON.
fn run(cli: Cli) -> (Result<(), Failed>, bool) {
    let no_json = |name: &str| {
        Failed::usage(format!(
            "--json does nothing for `papertrader {name}`: it prints no tables"
        ))
    };
    match cli.command {
        Command::Up(_) if cli.json => (Err(no_json("up")), true),
        Command::Master(_) if cli.json => (Err(no_json("master")), true),
        Command::Worker(_) if cli.json => (Err(no_json("worker")), true),
        Command::Tui(_) if cli.json => (Err(no_json("tui")), true),
        Command::Up(args) => (up::run(args).map_err(Failed::from), false),
        Command::Master(command) => (servers::master(command), false),
        Command::Worker(command) => (servers::worker(command), false),
        Command::Admin(args) => {
            let out = Output {
                json: cli.json || args.json,
            };
            let result = runtime().and_then(|rt| rt.block_on(admin::run(args, out)));
            (result, out.json)
        }
        Command::Certs(args) => {
            let out = Output { json: cli.json };
            (certs::run(args, out), cli.json)
        }
        Command::Probe(args) => {
            let result = runtime().and_then(|rt| rt.block_on(probe::run(args)));
            (result, cli.json)
        }
        Command::Tui(args) => {
            let result = runtime().and_then(|rt| rt.block_on(tui::run(args)));
            (result, false)
        }
        Command::Client(command) => {
            let out = Output {
                json: cli.json || command.json(),
            };
            let result = runtime().and_then(|rt| rt.block_on(command.run(out)));
            (result, out.json)
        }
    }
}

fn runtime() -> Result<tokio::runtime::Runtime, Failed> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Failed::refused(e.to_string()))
}
