//! `papertrader logout`: end the session and forget it.

use clap::Args;
use papertrader_client::session_file::{self, LoadError};
use serde_json::json;

use super::common::{logged_in, session_ended, stored_session, JsonArg, SessionArgs};
use crate::failed::Failed;
use crate::output::{outln, Output};

/// `logout`.
#[derive(Debug, Args)]
pub struct LogoutArgs {
    #[command(flatten)]
    session: SessionArgs,
    #[command(flatten)]
    pub output: JsonArg,
}

/// Ends the session on the server and removes the session file. A session that had already
/// ended (revoked, expired) and a damaged session file are removed too, with a notice: either
/// way the user is logged out afterwards.
pub async fn run(args: LogoutArgs, out: Output) -> Result<(), Failed> {
    let path = args.session.path();
    let remove = || {
        session_file::remove(&path).map_err(|e| {
            Failed::usage(format!("removing the session file {}: {e}", path.display()))
        })
    };
    if let Err(LoadError::Corrupt(_)) = session_file::load(&path) {
        remove()?;
        out.show(json!({"logged_out": null, "removed": path}), || {
            outln!(
                "removed the damaged session file {}; you are logged out",
                path.display()
            )
        });
        return Ok(());
    }
    // Not logged in is an error (exit 1): there was nothing to log out of.
    let username = stored_session(&args.session)?.username;
    match logged_in(&args.session).await {
        Ok((mut client, _)) => client.logout().await?,
        Err(failed) if session_ended(&failed) => {
            remove()?;
            out.show(
                json!({"logged_out": username, "already_ended": true}),
                || {
                    outln!(
                        "the session of {username} had already ended (revoked or expired); \
                         removed the session file {}",
                        path.display()
                    )
                },
            );
            return Ok(());
        }
        Err(failed) => return Err(failed),
    }
    remove()?;
    out.show(
        json!({"logged_out": username, "already_ended": false}),
        || outln!("logged out {username}"),
    );
    Ok(())
}
