//! `papertrader-master`: runs the master server until Ctrl-C or SIGTERM.

use clap::Parser;
use papertrader_actors::log::{Flush, LogSystem};
use papertrader_master::config::MasterArgs;

fn main() -> anyhow::Result<()> {
    let args = MasterArgs::parse();
    let config = args.load()?;
    let logs = LogSystem::new(&config.log_file, config.log_memory_entries);
    logs.install_panic_hook();
    actix::System::new().block_on(async move {
        let master = papertrader_master::server::start(config, logs.clone()).await?;
        println!("papertrader master listening on {}", master.local_addr);
        papertrader_actors::signals::shutdown_signal().await;
        println!("shutting down");
        let _ = master.log_actor.send(Flush).await;
        actix::System::current().stop();
        anyhow::Ok(())
    })?;
    Ok(())
}
