//! `papertrader history SYMBOL --range R [--date D]`: price history, with a progress bar on a
//! terminal for long transfers.

use std::io::IsTerminal;

use clap::Args;
use papertrader_client::HistoryRange;
use serde_json::json;

use super::common::{logged_in, symbol, JsonArg, SessionArgs};
use crate::failed::Failed;
use crate::output::{money, rfc3339, table, time, Column, Output};

/// `history`.
#[derive(Debug, Args)]
pub struct HistoryArgs {
    /// Symbol, in any case.
    symbol: String,
    /// Range: day (the intraday points of the 24 hours up to the date), week (the daily bars
    /// of the 7 days ending with the date's day), month (of the 30 days), year (the monthly
    /// bars of the 12 months ending with the date's month), all (every monthly bar).
    #[arg(long, default_value = "week", value_parser = parse_range)]
    range: HistoryRange,
    /// End of the range: YYYY-MM-DD (the end of that UTC day) or an RFC 3339 time
    /// [default: now].
    #[arg(long, value_parser = parse_date)]
    date: Option<i64>,
    #[command(flatten)]
    session: SessionArgs,
    #[command(flatten)]
    pub output: JsonArg,
}

/// `--range`: a [`HistoryRange`] name, in any case.
fn parse_range(text: &str) -> Result<HistoryRange, String> {
    text.parse()
        .map_err(|e: papertrader_protocol::history_range::UnknownRange| e.to_string())
}

/// `--date`: milliseconds since the epoch of the end of a `YYYY-MM-DD` UTC day, or of an RFC
/// 3339 time. Anything else is a usage error (exit 2).
pub fn parse_date(text: &str) -> Result<i64, String> {
    if let Ok(day) = chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d") {
        return day
            .and_hms_milli_opt(23, 59, 59, 999)
            .map(|end| end.and_utc().timestamp_millis())
            .ok_or_else(|| format!("{text} has no end of day"));
    }
    chrono::DateTime::parse_from_rfc3339(text)
        .map(|t| t.timestamp_millis())
        .map_err(|_| "expected YYYY-MM-DD or an RFC 3339 time like 2026-06-30T14:30:00Z".into())
}

/// Fetches and shows the range.
pub async fn run(args: HistoryArgs, out: Output) -> Result<(), Failed> {
    let date_ms = args
        .date
        .unwrap_or_else(|| chrono::Utc::now().timestamp_millis());
    let (mut client, _) = logged_in(&args.session).await?;
    let bar = (!out.json && std::io::stderr().is_terminal()).then(indicatif::ProgressBar::hidden);
    let mut progress = |received: u32, max: u32| {
        if let Some(bar) = &bar {
            if bar.is_hidden() && max > 1 {
                bar.set_draw_target(indicatif::ProgressDrawTarget::stderr());
            }
            bar.set_length(u64::from(max));
            bar.set_position(u64::from(received));
        }
    };
    let history = client
        .history(&symbol(&args.symbol), args.range, date_ms, &mut progress)
        .await?;
    if let Some(bar) = &bar {
        bar.finish_and_clear();
    }
    let points: Vec<_> = history
        .bars
        .iter()
        .map(|b| {
            json!({"at": rfc3339(b.at_ms), "open": money(b.open), "high": money(b.high),
                   "low": money(b.low), "close": money(b.close), "volume": b.volume})
        })
        .collect();
    out.show(
        json!({"symbol": history.symbol,
               "resolution": format!("{:?}", history.resolution).to_lowercase(),
               "from": rfc3339(history.from_ms), "to": rfc3339(history.to_ms),
               "points": points}),
        || {
            let rows: Vec<Vec<String>> = history
                .bars
                .iter()
                .map(|b| {
                    vec![
                        time(b.at_ms),
                        money(b.open),
                        money(b.high),
                        money(b.low),
                        money(b.close),
                        b.volume.to_string(),
                    ]
                })
                .collect();
            table(
                &[
                    Column::text("AT (UTC)"),
                    Column::number("OPEN"),
                    Column::number("HIGH"),
                    Column::number("LOW"),
                    Column::number("CLOSE"),
                    Column::number("VOLUME"),
                ],
                &rows,
            )
        },
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_are_the_end_of_a_utc_day_or_rfc3339() {
        assert_eq!(parse_date("1970-01-01"), Ok(86_399_999));
        assert_eq!(parse_date("1970-01-01T01:00:00+01:00"), Ok(0));
        for bad in ["yesterday", "2026-13-01", "30/06/2026", ""] {
            assert!(parse_date(bad).is_err(), "{bad}");
        }
    }
}
