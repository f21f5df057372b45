//! `papertrader master` and `papertrader worker`: run one server alone, or print its settings.

use clap::Args;
use papertrader_master::config::{MasterArgs, MasterConfig};
use papertrader_worker::config::{WorkerArgs, WorkerConfig};
use toml::Value;

use crate::config_help::{self, mask_url_password};
use crate::failed::Failed;
use crate::output::outln;

/// `papertrader master`.
#[derive(Debug, Args)]
pub struct MasterCommand {
    #[command(flatten)]
    args: MasterArgs,
    /// Print every setting (flags, PAPERTRADER_MASTER_* variables and --config keys alike)
    /// with what it does, its default and the value these arguments give, then exit.
    #[arg(long)]
    print_config: bool,
}

/// `papertrader worker`.
#[derive(Debug, Args)]
pub struct WorkerCommand {
    #[command(flatten)]
    args: WorkerArgs,
    /// Print every setting (flags, PAPERTRADER_WORKER_* variables and --config keys alike)
    /// with what it does, its default and the value these arguments give, then exit.
    #[arg(long)]
    print_config: bool,
}

/// Runs the master, or prints its settings.
pub fn master(command: MasterCommand) -> Result<(), Failed> {
    let config = command.args.load().map_err(anyhow::Error::from)?;
    if command.print_config {
        let docs = config_help::field_docs(config_help::MASTER_SOURCE, "MasterConfig");
        let mask = |key: &str, value: Value| match (key, value) {
            ("database_url", Value::String(url)) => Value::String(mask_url_password(&url)),
            (_, value) => value,
        };
        let text = config_help::render(
            "papertrader master: every setting, with its default and the value in effect \
             (defaults, then the --config file, then PAPERTRADER_MASTER_* variables and flags). \
             Saved to a file, this is a --config file. Secrets are read from the environment \
             only: PAPERTRADER_MASTER_KEY_PASSPHRASE (the key file's passphrase) and \
             PAPERTRADER_PROVIDER_API_KEY (finnhub's key).",
            &config,
            &MasterConfig::default(),
            &docs,
            &mask,
        )
        .map_err(|e| Failed::refused(format!("printing the configuration: {e}")))?;
        outln!("{}", text.trim_end());
        return Ok(());
    }
    papertrader_master::server::run(config).map_err(Failed::from)
}

/// Runs a worker, or prints its settings.
pub fn worker(command: WorkerCommand) -> Result<(), Failed> {
    let config = command.args.load().map_err(anyhow::Error::from)?;
    if command.print_config {
        let docs = config_help::field_docs(config_help::WORKER_SOURCE, "WorkerConfig");
        let text = config_help::render(
            "papertrader worker: every setting, with its default and the value in effect \
             (defaults, then the --config file, then PAPERTRADER_WORKER_* variables and flags). \
             Saved to a file, this is a --config file. The key file's passphrase is read from \
             PAPERTRADER_WORKER_KEY_PASSPHRASE only.",
            &config,
            &WorkerConfig::default(),
            &docs,
            &|_, value| value,
        )
        .map_err(|e| Failed::refused(format!("printing the configuration: {e}")))?;
        outln!("{}", text.trim_end());
        return Ok(());
    }
    papertrader_worker::server::run(config).map_err(Failed::from)
}
