//! `papertrader-worker`: runs a worker until Ctrl-C or SIGTERM.

use clap::Parser;
use papertrader_actors::log::{Flush, LogSystem};
use papertrader_worker::config::WorkerArgs;

fn main() -> anyhow::Result<()> {
    let config = WorkerArgs::parse().load()?;
    let logs = LogSystem::new(&config.log_file, config.log_memory_entries);
    logs.install_panic_hook();
    actix::System::new().block_on(async move {
        let worker = papertrader_worker::server::start(config, logs.clone()).await?;
        println!(
            "papertrader worker {} listening on {}",
            worker.uuid, worker.local_addr
        );
        papertrader_actors::signals::shutdown_signal().await;
        let _ = worker.log_actor.send(Flush).await;
        actix::System::current().stop();
        anyhow::Ok(())
    })
}
