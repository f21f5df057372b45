//! `papertrader assets`: the traded symbols and their names, from `getServerInfo` (no login).

use clap::Args;
use serde_json::json;

use super::common::{connect, JsonArg, ServerArgs};
use crate::failed::Failed;
use crate::output::{outln, table, Column, Output};

/// `assets`.
#[derive(Debug, Args)]
pub struct AssetsArgs {
    #[command(flatten)]
    server: ServerArgs,
    #[command(flatten)]
    pub output: JsonArg,
}

/// Lists the assets the server trades, with its currency and update interval.
pub async fn run(args: AssetsArgs, out: Output) -> Result<(), Failed> {
    let info = connect(&args.server).await?.server_info().await?;
    let assets: Vec<_> = info
        .assets
        .iter()
        .map(|a| json!({"symbol": a.symbol, "name": a.name}))
        .collect();
    out.show(
        json!({"currency": info.currency, "update_interval_ms": info.update_interval_ms,
               "assets": assets}),
        || {
            let rows: Vec<Vec<String>> = info
                .assets
                .iter()
                .map(|a| vec![a.symbol.clone(), a.name.clone()])
                .collect();
            table(&[Column::text("SYMBOL"), Column::text("NAME")], &rows);
            outln!(
                "{} assets, priced in {}, updated every {} ms",
                info.assets.len(),
                info.currency,
                info.update_interval_ms
            );
        },
    );
    Ok(())
}
