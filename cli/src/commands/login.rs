//! `papertrader login USERNAME` (password) or `papertrader login --provider P --id-token FILE|-`
//! (third-party identity): log in and keep the session in the session file.

use clap::Args;
use papertrader_client::session_file::{self, StoredSession};
use serde_json::json;

use super::common::{connect, JsonArg, SessionArgs};
use super::id_token::TokenArgs;
use super::identities::hinted;
use super::password::{self, PasswordArgs, Prompt};
use crate::failed::Failed;
use crate::output::{outln, Output};

/// `login`.
#[derive(Debug, Args)]
pub struct LoginArgs {
    /// Username (not with --provider: the token says who you are).
    #[arg(required_unless_present = "provider", conflicts_with = "provider")]
    username: Option<String>,
    #[command(flatten)]
    token: TokenArgs,
    #[command(flatten)]
    password: PasswordArgs,
    #[command(flatten)]
    session: SessionArgs,
    #[command(flatten)]
    pub output: JsonArg,
}

/// Logs in with an expirable session and stores it (mode 0600).
pub async fn run(args: LoginArgs, out: Output) -> Result<(), Failed> {
    let token = args.token.read()?;
    let password = match (&token, &args.username) {
        (None, Some(_)) => Some(password::read(&args.password, Prompt::Once)?),
        _ => None,
    };
    let mut client = connect(&args.session.server).await?;
    let (session_id, username) = match (token, args.username, password) {
        (Some(token), _, _) => {
            let session_id = client
                .login_with_token(&token.provider, &token.token, true)
                .await
                .map_err(hinted)?;
            // The token names an identity; the account's name comes from the server.
            (session_id, client.sign_in_methods().await?.username)
        }
        (None, Some(username), Some(password)) => {
            let session_id = client
                .login(&username, &password, true)
                .await
                .map_err(hinted)?;
            (session_id, username)
        }
        _ => {
            return Err(Failed::usage(
                "give a username, or --provider and --id-token",
            ))
        }
    };
    let path = args.session.path();
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
