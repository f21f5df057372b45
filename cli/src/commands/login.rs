//! `papertrader login USERNAME`: log in and keep the session in the session file.

use clap::Args;
use papertrader_client::session_file::{self, StoredSession};
use serde_json::json;

use super::common::{connect, JsonArg, SessionArgs};
use super::password::{self, PasswordArgs, Prompt};
use crate::failed::Failed;
use crate::output::{outln, Output};

/// `login`.
#[derive(Debug, Args)]
pub struct LoginArgs {
    /// Username.
    username: String,
    #[command(flatten)]
    password: PasswordArgs,
    #[command(flatten)]
    session: SessionArgs,
    #[command(flatten)]
    pub output: JsonArg,
}

/// Logs in with an expirable session and stores it (mode 0600).
pub async fn run(args: LoginArgs, out: Output) -> Result<(), Failed> {
    let password = password::read(&args.password, Prompt::Once)?;
    let mut client = connect(&args.session.server).await?;
    let session_id = client.login(&args.username, &password, true).await?;
    let path = args.session.path();
    let username = args.username;
    session_file::save(
        &path,
        &StoredSession {
            session_id,
            username: username.clone(),
        },
    )
    .map_err(|e| Failed::refused(format!("saving the session to {}: {e}", path.display())))?;
    let worker = client.worker().to_owned();
    out.show(json!({"username": username, "worker": worker}), || {
        outln!("logged in as {username} (via {worker})")
    });
    Ok(())
}
