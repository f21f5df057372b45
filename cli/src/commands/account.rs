//! `papertrader account`: your account's profile, cash, and how it signs in (password,
//! linked third-party identities).

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
    let methods = client.sign_in_methods().await?;
    let identities: Vec<_> = methods
        .identities
        .iter()
        .map(|i| {
            json!({"provider": i.provider, "issuer": i.issuer, "subject": i.subject,
                   "linked_at": rfc3339(i.linked_at_ms)})
        })
        .collect();
    out.show(
        json!({"username": u.username, "email": u.email, "cash": u.cash.map(money),
               "has_password": methods.has_password, "identities": identities,
               "created_at": rfc3339(u.created_at_ms)}),
        || {
            outln!("{} <{}>", u.username, u.email.clone().unwrap_or_default());
            outln!("cash     {}", u.cash.map(money).unwrap_or_default());
            outln!("created  {} UTC", time(u.created_at_ms));
            outln!(
                "password {}",
                if methods.has_password {
                    "set"
                } else {
                    "none (papertrader passwd adds one)"
                }
            );
            for i in &methods.identities {
                outln!(
                    "login    {} (subject {}, linked {} UTC)",
                    i.provider,
                    i.subject,
                    time(i.linked_at_ms)
                );
            }
        },
    );
    Ok(())
}
