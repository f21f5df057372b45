//! `papertrader register USERNAME --email ADDRESS`: create an account with a password; or
//! `papertrader register USERNAME --provider P --id-token FILE|-`: one that signs in with a
//! third-party identity and has no password (the email comes from the token unless given).

use clap::Args;
use serde_json::json;

use super::common::{connect, JsonArg, ServerArgs};
use super::id_token::TokenArgs;
use super::identities::hinted;
use super::password::{self, PasswordArgs, Prompt};
use crate::failed::Failed;
use crate::output::{outln, Output};

/// `register`.
#[derive(Debug, Args)]
pub struct RegisterArgs {
    /// Username (1-24 of A-Z a-z 0-9 _ . -).
    username: String,
    /// Email address (required with a password; with --provider, default: the token's
    /// verified email).
    #[arg(long)]
    email: Option<String>,
    #[command(flatten)]
    token: TokenArgs,
    #[command(flatten)]
    password: PasswordArgs,
    #[command(flatten)]
    server: ServerArgs,
    #[command(flatten)]
    pub output: JsonArg,
}

/// Registers with the ID token if one is given, else asks for the password (twice on a
/// terminal) and registers with it.
pub async fn run(args: RegisterArgs, out: Output) -> Result<(), Failed> {
    let username = args.username.clone();
    let next = if let Some(token) = args.token.read()? {
        connect(&args.server)
            .await?
            .register_with_token(
                &username,
                &token.provider,
                &token.token,
                args.email.as_deref(),
            )
            .await
            .map_err(|e| {
                hinted(e).hint(papertrader_protocol::ReasonCode::InvalidEmail, || {
                    "add --email ADDRESS".into()
                })
            })?;
        format!(
            "papertrader login --provider {} --id-token FILE",
            token.provider
        )
    } else {
        let email = args.email.as_deref().ok_or_else(|| {
            Failed::usage(
                "--email is required (or --provider and --id-token to register with a \
                 third-party identity)",
            )
        })?;
        let password = password::read(&args.password, Prompt::Twice)?;
        connect(&args.server)
            .await?
            .register(&username, email, &password)
            .await?;
        format!("papertrader login {username}")
    };
    out.show(json!({"registered": username}), || {
        outln!("registered {username}; now run: {next}")
    });
    Ok(())
}
