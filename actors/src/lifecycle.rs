//! One server lifecycle, for the master, a worker and `papertrader up`: start, print the
//! banner, wait for SIGINT or SIGTERM, shut down in the server's own order, flush the logs,
//! exit 0.
//!
//! A [`Server`]'s shutdown stops accepting first, then finishes or refuses (with a reason)
//! what is in flight and tells its peers; the logs are flushed last, so they hold every step.

use std::future::Future;

use actix::Addr;
use futures::future::LocalBoxFuture;

use crate::log::{Flush, LogActor};
use crate::signals::shutdown_signal;

/// A running server.
pub trait Server {
    /// What is printed on standard output once it is up.
    fn banner(&self) -> String;

    /// Stops it in order (stop accepting, finish or refuse what is in flight, tell peers);
    /// resolves when done. The logs are flushed after.
    fn shut_down(&self) -> LocalBoxFuture<'static, ()>;

    /// Its log actors, flushed last.
    fn log_actors(&self) -> Vec<Addr<LogActor>>;
}

/// Runs the server `start` makes in an actix system of its own until SIGINT or SIGTERM, then
/// shuts it down and flushes its logs. Lines go to standard output without `println!`, which
/// would panic on a closed standard output.
pub fn run<S, Fut>(start: impl FnOnce() -> Fut) -> anyhow::Result<()>
where
    S: Server,
    Fut: Future<Output = anyhow::Result<S>>,
{
    let system = actix::System::new();
    let outcome = system.block_on(async move {
        let server = start().await?;
        say(&server.banner());
        shutdown_signal().await;
        say("shutting down: no new connections; finishing what is in flight");
        server.shut_down().await;
        for log in server.log_actors() {
            let _ = log.send(Flush).await;
        }
        say("stopped");
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
pub fn say(text: &str) {
    use std::io::Write;
    let _ = writeln!(std::io::stdout(), "{text}");
}
