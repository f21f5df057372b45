//! `papertrader quote SYMBOL…`: latest prices. A symbol that cannot be quoted is reported on
//! its own line and does not hide the others.

use clap::Args;
use papertrader_protocol::data::Quote;
use serde_json::{json, Value};

use super::common::{logged_in, session_ended, symbol, JsonArg, SessionArgs};
use crate::failed::Failed;
use crate::output::{money, rfc3339, table, time, Column, Output};

/// `quote`.
#[derive(Debug, Args)]
pub struct QuoteArgs {
    /// Symbols, in any case (`aapl` is `AAPL`); `papertrader assets` lists them.
    #[arg(required = true)]
    symbols: Vec<String>,
    #[command(flatten)]
    session: SessionArgs,
    #[command(flatten)]
    pub output: JsonArg,
}

/// A quote as JSON (also used by `info`).
pub fn quote_json(q: &Quote) -> Value {
    json!({"symbol": q.symbol, "price": money(q.close), "open": money(q.open), "high": money(q.high),
           "low": money(q.low), "volume": q.volume, "at": rfc3339(q.at_ms), "stale": q.stale})
}

/// Quotes every symbol. One that fails (unknown, no price yet) is reported on its own line on
/// standard error (with `--json`, also as `{"symbol", "error"}` in the array) and makes the exit
/// code 1, but the others are shown; a failure that is not about a symbol (the session ended,
/// the connection was lost) stops the command.
pub async fn run(args: QuoteArgs, out: Output) -> Result<(), Failed> {
    let (mut client, _) = logged_in(&args.session).await?;
    let mut quotes = Vec::new();
    let mut entries = Vec::new();
    let mut failures = Vec::new();
    for typed in &args.symbols {
        let name = symbol(typed);
        match client.quote(&name).await.map_err(Failed::from) {
            Ok(quote) => {
                entries.push(quote_json(&quote));
                quotes.push(quote);
            }
            Err(failed) if failed.reason().is_some() && !session_ended(&failed) => {
                let failed = if failed.message().contains(&name) {
                    failed
                } else {
                    let message = format!("{name}: {}", failed.message());
                    failed.with_message(message)
                };
                let mut entry = failed.to_json();
                entry["symbol"] = json!(name);
                entries.push(entry);
                failures.push(failed);
            }
            Err(failed) => return Err(failed),
        }
    }
    out.show(json!(entries), || {
        if quotes.is_empty() {
            return;
        }
        let rows: Vec<Vec<String>> = quotes
            .iter()
            .map(|q| {
                vec![
                    q.symbol.clone(),
                    money(q.close),
                    money(q.open),
                    money(q.high),
                    money(q.low),
                    time(q.at_ms),
                    if q.stale { "stale" } else { "" }.to_owned(),
                ]
            })
            .collect();
        table(
            &[
                Column::text("SYMBOL"),
                Column::number("PRICE"),
                Column::number("OPEN"),
                Column::number("HIGH"),
                Column::number("LOW"),
                Column::text("AT (UTC)"),
                Column::text(""),
            ],
            &rows,
        )
    });
    for failed in &failures {
        failed.report(out.json);
    }
    match failures.is_empty() {
        true => Ok(()),
        false => Err(Failed::already_reported(1)),
    }
}
