//! `papertrader account`: your account's profile and cash.

use clap::Args;
use serde_json::json;

use super::common::{logged_in, JsonArg, SessionArgs};
use crate::failed::Failed;
use crate::output::{money, outln, rfc3339, time, Output};

/// `account`.
#[derive(Debug, Args)]
pub struct AccountArgs {
    #[command(flatten)]
    session: SessionArgs,
    #[command(flatten)]
    pub output: JsonArg,
}

/// Shows the logged-in account.
pub async fn run(args: AccountArgs, out: Output) -> Result<(), Failed> {
    let (mut client, stored) = logged_in(&args.session).await?;
    let u = client.user_info(&stored.username).await?;
    out.show(
        json!({"username": u.username, "email": u.email, "cash": u.cash.map(money),
               "has_password": u.has_password, "created_at": rfc3339(u.created_at_ms)}),
        || {
            outln!("{} <{}>", u.username, u.email.clone().unwrap_or_default());
            outln!("cash     {}", u.cash.map(money).unwrap_or_default());
            outln!("created  {} UTC", time(u.created_at_ms));
        },
    );
    Ok(())
}
