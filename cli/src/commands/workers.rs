//! `papertrader workers`: the workers the master lists as online.

use clap::Args;
use serde_json::json;

use super::common::{worker_list, JsonArg, MasterArg};
use crate::failed::Failed;
use crate::output::{table, Column, Output};

/// `workers`.
#[derive(Debug, Args)]
pub struct WorkersArgs {
    #[command(flatten)]
    master: MasterArg,
    #[command(flatten)]
    pub output: JsonArg,
}

/// Asks the master for its worker list.
pub async fn run(args: WorkersArgs, out: Output) -> Result<(), Failed> {
    let workers = worker_list(&args.master).await?;
    let value = json!(workers
        .iter()
        .map(|w| json!({"name": w.name, "address": w.address}))
        .collect::<Vec<_>>());
    out.show(value, || {
        let rows: Vec<Vec<String>> = workers
            .iter()
            .map(|w| vec![w.name.clone(), w.address.clone()])
            .collect();
        table(&[Column::text("NAME"), Column::text("ADDRESS")], &rows)
    });
    Ok(())
}
