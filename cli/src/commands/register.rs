//! `papertrader register USERNAME --email ADDRESS`: create an account.

use clap::Args;
use serde_json::json;

use super::common::{connect, JsonArg, ServerArgs};
use super::password::{self, PasswordArgs, Prompt};
use crate::failed::Failed;
use crate::output::{outln, Output};

/// `register`.
#[derive(Debug, Args)]
pub struct RegisterArgs {
    /// Username (1-24 of A-Z a-z 0-9 _ . -).
    username: String,
    /// Email address.
    #[arg(long)]
    email: String,
    #[command(flatten)]
    password: PasswordArgs,
    #[command(flatten)]
    server: ServerArgs,
    #[command(flatten)]
    pub output: JsonArg,
}

/// Asks for the password (twice on a terminal), then registers.
pub async fn run(args: RegisterArgs, out: Output) -> Result<(), Failed> {
    let password = password::read(&args.password, Prompt::Twice)?;
    connect(&args.server)
        .await?
        .register(&args.username, &args.email, &password)
        .await?;
    let username = args.username;
    out.show(json!({"registered": username}), || {
        outln!("registered {username}; now run: papertrader login {username}")
    });
    Ok(())
}
