//! `papertrader-worker`: runs a worker until Ctrl-C or SIGTERM.

use clap::Parser;
use papertrader_worker::config::WorkerArgs;

fn main() -> anyhow::Result<()> {
    papertrader_worker::server::run(WorkerArgs::parse().load()?)
}
