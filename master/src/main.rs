//! `papertrader-master`: runs the master server until Ctrl-C or SIGTERM.

use clap::Parser;
use papertrader_master::config::MasterArgs;

/// mimalloc: cheaper per allocation than the system allocator on the hot paths.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> anyhow::Result<()> {
    papertrader_master::server::run(MasterArgs::parse().load()?)
}
