//! `papertrader reset --yes` and `papertrader periods [--trades N]`: start the account over at
//! the starting cash, and read the periods (and their trades) it has had.

use clap::Args;
use serde_json::json;

use super::common::{logged_in, JsonArg, SessionArgs};
use crate::failed::Failed;
use crate::output::{money, outln, rfc3339, table, time, Column, Output};

/// `reset`.
#[derive(Debug, Args)]
pub struct ResetArgs {
    /// Confirm: open orders are cancelled, holdings removed and cash set to the starting cash
    /// (the old period's trades stay readable with `papertrader periods`).
    #[arg(long)]
    yes: bool,
    #[command(flatten)]
    session: SessionArgs,
    #[command(flatten)]
    pub output: JsonArg,
}

/// `periods`.
#[derive(Debug, Args)]
pub struct PeriodsArgs {
    /// Show the trades of this period instead of the list of periods.
    #[arg(long)]
    trades: Option<u64>,
    #[command(flatten)]
    session: SessionArgs,
    #[command(flatten)]
    pub output: JsonArg,
}

/// Resets the account after `--yes`.
pub async fn reset(args: ResetArgs, out: Output) -> Result<(), Failed> {
    if !args.yes {
        return Err(Failed::usage(
            "reset cancels your open orders, removes your holdings and sets your cash to the \
             starting cash; run it again with --yes to do it",
        ));
    }
    let (mut client, _) = logged_in(&args.session).await?;
    let r = client.reset_account().await?;
    out.show(json!({"period": r.period, "cash": money(r.cash)}), || {
        outln!(
            "account reset: period {} begins with {} (earlier periods: papertrader periods)",
            r.period,
            money(r.cash)
        )
    });
    Ok(())
}

/// Lists the periods, or one period's trades.
pub async fn list(args: PeriodsArgs, out: Output) -> Result<(), Failed> {
    let (mut client, _) = logged_in(&args.session).await?;
    if let Some(period) = args.trades {
        let t = client.period_trades(period).await?;
        let heading = format!("trades of period {period} ({})", t.entries.len());
        super::trades::show(&t, json!({"period": period}), &heading, out);
        return Ok(());
    }
    let list = client.periods().await?;
    let periods: Vec<_> = list
        .periods
        .iter()
        .map(|p| {
            json!({"period": p.period, "started_at": rfc3339(p.started_at_ms),
                   "ended_at": p.ended_at_ms.map(rfc3339), "starting_cash": money(p.starting_cash),
                   "ending_equity": p.ending_equity.map(money), "trades": p.trades})
        })
        .collect();
    out.show(
        json!({"username": list.username, "periods": periods}),
        || {
            outln!("periods of {} ({})", list.username, list.periods.len());
            let rows: Vec<Vec<String>> = list
                .periods
                .iter()
                .map(|p| {
                    vec![
                        p.period.to_string(),
                        time(p.started_at_ms),
                        p.ended_at_ms
                            .map(time)
                            .unwrap_or_else(|| "(current)".into()),
                        money(p.starting_cash),
                        p.ending_equity.map(money).unwrap_or_default(),
                        p.trades.to_string(),
                    ]
                })
                .collect();
            table(
                &[
                    Column::number("PERIOD"),
                    Column::text("STARTED (UTC)"),
                    Column::text("ENDED (UTC)"),
                    Column::number("STARTING CASH"),
                    Column::number("ENDING EQUITY"),
                    Column::number("TRADES"),
                ],
                &rows,
            )
        },
    );
    Ok(())
}
