//! `papertrader info SYMBOL`: an asset's name, currency and latest price.

use clap::Args;
use serde_json::json;

use super::common::{logged_in, symbol, JsonArg, SessionArgs};
use super::quote::quote_json;
use crate::failed::Failed;
use crate::output::{money, outln, time, Output};

/// `info`.
#[derive(Debug, Args)]
pub struct InfoArgs {
    /// Symbol, in any case.
    symbol: String,
    #[command(flatten)]
    session: SessionArgs,
    #[command(flatten)]
    pub output: JsonArg,
}

/// Shows the asset.
pub async fn run(args: InfoArgs, out: Output) -> Result<(), Failed> {
    let (mut client, _) = logged_in(&args.session).await?;
    let info = client.info(&symbol(&args.symbol)).await?;
    out.show(
        json!({"symbol": info.symbol, "name": info.name, "currency": info.currency,
               "latest": quote_json(&info.latest)}),
        || {
            outln!(
                "{} — {} ({}), last {} at {} UTC",
                info.symbol,
                info.name,
                info.currency,
                money(info.latest.close),
                time(info.latest.at_ms)
            )
        },
    );
    Ok(())
}
