//! `papertrader-worker`: runs a worker until Ctrl-C or SIGTERM.

use clap::Parser;
use papertrader_worker::config::WorkerArgs;

/// mimalloc: cheaper per allocation than the system allocator on the hot paths.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> anyhow::Result<()> {
    papertrader_worker::server::run(WorkerArgs::parse().load()?)
}
