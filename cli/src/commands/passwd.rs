//! `papertrader passwd`: set the logged-in account's password. An account that signs in only
//! with a third-party identity gains one (then both ways work); changing an existing one asks
//! for the current one first.

use clap::Args;
use serde_json::json;

use super::common::{logged_in, JsonArg, SessionArgs};
use super::password::{self, PasswordArgs, Prompt, Which, PASSWORD};
use crate::failed::Failed;
use crate::output::{outln, Output};

/// `passwd`.
#[derive(Debug, Args)]
pub struct PasswdArgs {
    #[command(flatten)]
    password: PasswordArgs,
    #[command(flatten)]
    session: SessionArgs,
    #[command(flatten)]
    pub output: JsonArg,
}

/// The new password.
const NEW_PASSWORD: Which = Which {
    env: "PAPERTRADER_NEW_PASSWORD",
    label: "New password",
    prompt: Prompt::Twice,
};

/// Sets the password.
pub async fn run(args: PasswdArgs, out: Output) -> Result<(), Failed> {
    let (mut client, _) = logged_in(&args.session).await?;
    let methods = client.sign_in_methods().await?;
    let current = if methods.has_password {
        Some(password::read_which(
            &args.password,
            Which {
                label: "Current password",
                ..PASSWORD
            },
        )?)
    } else {
        None
    };
    let new = password::read_which(&args.password, NEW_PASSWORD)?;
    client
        .set_password(&methods.username, &new, current.as_deref())
        .await?;
    let username = methods.username;
    let had = methods.has_password;
    out.show(
        json!({"username": username, "password_set": true, "changed": had}),
        || {
            if had {
                outln!("password of {username} changed");
            } else {
                outln!("{username} has a password now: papertrader login {username} works too");
            }
        },
    );
    Ok(())
}
