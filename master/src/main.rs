//! `papertrader-master`: runs the master server until Ctrl-C or SIGTERM.

use clap::Parser;
use papertrader_master::config::MasterArgs;

fn main() -> anyhow::Result<()> {
    papertrader_master::server::run(MasterArgs::parse().load()?)
}
