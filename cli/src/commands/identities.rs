//! `papertrader link --provider P --id-token FILE|-` and `papertrader unlink PROVIDER`: add or
//! remove a third-party identity of the logged-in account (never its last way in).

use clap::Args;
use serde_json::json;

use papertrader_client::ClientError;
use papertrader_protocol::ReasonCode;

use super::common::{logged_in, JsonArg, SessionArgs};
use super::id_token::TokenArgs;
use crate::failed::Failed;
use crate::output::{outln, Output};

/// `link`.
#[derive(Debug, Args)]
pub struct LinkArgs {
    #[command(flatten)]
    token: TokenArgs,
    #[command(flatten)]
    session: SessionArgs,
    #[command(flatten)]
    pub output: JsonArg,
}

/// `unlink`.
#[derive(Debug, Args)]
pub struct UnlinkArgs {
    /// The provider whose identity is removed.
    provider: String,
    #[command(flatten)]
    session: SessionArgs,
    #[command(flatten)]
    pub output: JsonArg,
}

/// A refusal of a sign-in request, with what to run next in this CLI.
pub fn hinted(error: ClientError) -> Failed {
    Failed::from(error)
        .hint(ReasonCode::PasswordNotSet, || {
            "with this CLI: papertrader login --provider PROVIDER --id-token FILE, then \
             papertrader passwd adds a password"
                .into()
        })
        .hint(ReasonCode::UnknownIdentity, || {
            "with this CLI: papertrader register NAME --provider PROVIDER --id-token FILE, or log \
             in and run papertrader link --provider PROVIDER --id-token FILE"
                .into()
        })
        .hint(ReasonCode::EmailNotVerified, || {
            "add --email ADDRESS".into()
        })
        .hint(ReasonCode::LastSignInMethod, || {
            "papertrader passwd adds a password first".into()
        })
}

/// Links the token's identity to the account.
pub async fn link(args: LinkArgs, out: Output) -> Result<(), Failed> {
    let token = args
        .token
        .read()?
        .ok_or_else(|| Failed::usage("give --provider and --id-token"))?;
    let (mut client, stored) = logged_in(&args.session).await?;
    client
        .link_identity(&token.provider, &token.token)
        .await
        .map_err(hinted)?;
    let (username, provider) = (stored.username, token.provider);
    out.show(json!({"username": username, "linked": provider}), || {
        outln!("{username} can now log in with {provider}: papertrader login --provider {provider} --id-token FILE")
    });
    Ok(())
}

/// Unlinks the account's identity from the provider.
pub async fn unlink(args: UnlinkArgs, out: Output) -> Result<(), Failed> {
    let (mut client, stored) = logged_in(&args.session).await?;
    client
        .unlink_identity(&args.provider)
        .await
        .map_err(hinted)?;
    let (username, provider) = (stored.username, args.provider);
    out.show(json!({"username": username, "unlinked": provider}), || {
        outln!("{username} no longer logs in with {provider}")
    });
    Ok(())
}
