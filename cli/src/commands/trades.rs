//! `papertrader trades [USER]`: settled trades, oldest first.

use clap::Args;
use papertrader_protocol::data::TransactionHistory;
use serde_json::json;

use super::common::{logged_in, JsonArg, SessionArgs};
use crate::failed::Failed;
use crate::output::{money, outln, rfc3339, table, time, Column, Output};

/// `trades`.
#[derive(Debug, Args)]
pub struct TradesArgs {
    /// Whose [default: you].
    user: Option<String>,
    #[command(flatten)]
    session: SessionArgs,
    #[command(flatten)]
    pub output: JsonArg,
}

/// Shows whose trades they are, then the trades (with the cash after each for your own).
pub async fn run(args: TradesArgs, out: Output) -> Result<(), Failed> {
    let (mut client, stored) = logged_in(&args.session).await?;
    let t = client
        .trades(args.user.as_deref().unwrap_or(&stored.username))
        .await?;
    let heading = format!("trades of {} ({})", t.username, t.entries.len());
    show(&t, json!({"username": t.username}), &heading, out);
    Ok(())
}

/// Shows `t`'s trades: JSON as `head` plus `"trades"`, text as `heading` and a table.
pub fn show(t: &TransactionHistory, mut head: serde_json::Value, heading: &str, out: Output) {
    let entries: Vec<_> = t
        .entries
        .iter()
        .map(|e| {
            json!({"id": e.id, "side": e.side.name(), "symbol": e.symbol, "quantity": e.quantity,
                   "price": money(e.price), "settled_at": rfc3339(e.settled_at_ms),
                   "cash_after": e.cash_after.map(money), "commission": money(e.commission),
                   "order_id": e.order_id})
        })
        .collect();
    head["trades"] = json!(entries);
    out.show(head, || {
        outln!("{heading}");
        let rows: Vec<Vec<String>> = t
            .entries
            .iter()
            .map(|e| {
                vec![
                    e.id.to_string(),
                    e.side.name().into(),
                    e.symbol.clone(),
                    e.quantity.to_string(),
                    money(e.price),
                    time(e.settled_at_ms),
                    money(e.commission),
                    e.cash_after.map(money).unwrap_or_default(),
                ]
            })
            .collect();
        table(
            &[
                Column::number("ID"),
                Column::text("SIDE"),
                Column::text("SYMBOL"),
                Column::number("QUANTITY"),
                Column::number("PRICE"),
                Column::text("SETTLED (UTC)"),
                Column::number("COMMISSION"),
                Column::number("CASH AFTER"),
            ],
            &rows,
        )
    });
}
