//! Waiting for the signals that stop a server.

/// Resolves on Ctrl-C (SIGINT) or, on Unix, SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = ctrl_c => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = ctrl_c.await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = ctrl_c.await;
    }
}

/// Runs a server with its own actix system until Ctrl-C or SIGTERM: sets up the log system
/// (and its panic hook), awaits `start`, prints `banner(&server)`, waits for the signal, then
/// flushes the log through the actor `log_actor(&server)` returns. The banner lines are
/// written without `println!`, which would panic on a closed standard output.
pub fn run_until_signal<S, Fut>(
    log_file: &std::path::Path,
    log_memory_entries: usize,
    start: impl FnOnce(crate::log::LogSystem) -> Fut,
    banner: impl FnOnce(&S) -> String,
    log_actor: impl FnOnce(&S) -> actix::Addr<crate::log::LogActor>,
) -> anyhow::Result<()>
where
    Fut: std::future::Future<Output = anyhow::Result<S>>,
{
    let logs = crate::log::LogSystem::new(log_file, log_memory_entries);
    logs.install_panic_hook();
    let system = actix::System::new();
    let outcome = system.block_on(async move {
        let server = start(logs).await?;
        say(&banner(&server));
        shutdown_signal().await;
        say("shutting down");
        let _ = log_actor(&server).send(crate::log::Flush).await;
        anyhow::Ok(())
    });
    // Stop inside the runtime, also when `start` failed half-way: actors it had already
    // started then start and stop here. Dropped outside the runtime instead, actix would run
    // their `started` hooks there and panic ("there is no reactor running").
    actix::System::current().stop();
    let _ = system.run();
    outcome
}

/// Prints a line on standard output, ignoring a reader that has gone away.
fn say(text: &str) {
    use std::io::Write;
    let _ = writeln!(std::io::stdout(), "{text}");
}
