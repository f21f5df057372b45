//! `papertrader equity [--range day|week|month|year|all]`: the account's equity over time,
//! drawn as a chart in the terminal.

use clap::{Args, ValueEnum};
use papertrader_protocol::data::EquityPoint;
use serde_json::json;

use super::common::{logged_in, JsonArg, SessionArgs};
use crate::failed::Failed;
use crate::output::{money, outln, rfc3339, time, Output};

/// How far back.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum RangeArg {
    /// The last 24 hours, every recorded point.
    Day,
    /// The last 7 days' closes and the latest point.
    Week,
    /// The last 30 days' closes and the latest point.
    Month,
    /// The last 365 days' closes and the latest point.
    Year,
    /// Every close of the period and the latest point.
    All,
}

/// `equity`.
#[derive(Debug, Args)]
pub struct EquityArgs {
    /// How far back.
    #[arg(long, value_enum, default_value = "month")]
    range: RangeArg,
    /// Chart rows.
    #[arg(long, default_value_t = 12)]
    height: usize,
    #[command(flatten)]
    session: SessionArgs,
    #[command(flatten)]
    pub output: JsonArg,
}

const DAY_MS: i64 = 86_400_000;

/// Fetches the points and draws them.
pub async fn run(args: EquityArgs, out: Output) -> Result<(), Failed> {
    let now = chrono::Utc::now().timestamp_millis();
    let (from, daily) = match args.range {
        RangeArg::Day => (now - DAY_MS, false),
        RangeArg::Week => (now - 7 * DAY_MS, true),
        RangeArg::Month => (now - 30 * DAY_MS, true),
        RangeArg::Year => (now - 365 * DAY_MS, true),
        RangeArg::All => (0, true),
    };
    let (mut client, _) = logged_in(&args.session).await?;
    let history = client.equity(from, now).await?;
    // Daily ranges: the closes, then the latest point of today.
    let mut points: Vec<EquityPoint> = history
        .points
        .iter()
        .filter(|p| p.daily == daily)
        .cloned()
        .collect();
    if daily {
        if let Some(last) = history.points.iter().rev().find(|p| !p.daily) {
            points.push(last.clone());
        }
    }
    let listed: Vec<_> = points
        .iter()
        .map(|p| {
            json!({"at": rfc3339(p.at_ms), "daily_close": p.daily, "equity": money(p.equity),
                   "cash": money(p.cash)})
        })
        .collect();
    out.show(
        json!({"username": history.username, "period": history.period, "points": listed}),
        || {
            let n = points.len();
            let plural = if n == 1 { "" } else { "s" };
            outln!(
                "equity of {} (period {}), {n} point{plural}",
                history.username,
                history.period
            );
            if points.is_empty() {
                outln!("no equity recorded in this range yet (a point is taken every few minutes)");
                return;
            }
            if let [only] = points.as_slice() {
                outln!("{}  {}", time(only.at_ms), money(only.equity));
                return;
            }
            for line in chart(&points, args.height.clamp(3, 60)) {
                outln!("{line}");
            }
        },
    );
    Ok(())
}

/// A text chart of the points' equity: `height` rows, one column per point (at most 60, the
/// latest), the axis labelled with the highest and lowest value, then the first and last time.
pub fn chart(points: &[EquityPoint], height: usize) -> Vec<String> {
    let points = &points[points.len().saturating_sub(60)..];
    let values: Vec<i64> = points.iter().map(|p| p.equity.micros()).collect();
    let (low, high) = (
        values.iter().copied().min().unwrap_or(0),
        values.iter().copied().max().unwrap_or(0),
    );
    let span = (high - low).max(1) as i128;
    let level = |v: i64| ((i128::from(v - low) * (height as i128 - 1)) / span) as usize;
    let label_width = money(papertrader_protocol::Money(high))
        .len()
        .max(money(papertrader_protocol::Money(low)).len());
    let mut lines = Vec::new();
    for row in (0..height).rev() {
        let label = match row {
            r if r == height - 1 => money(papertrader_protocol::Money(high)),
            0 => money(papertrader_protocol::Money(low)),
            _ => String::new(),
        };
        let cells: String = values
            .iter()
            .map(|&v| match level(v) {
                l if l == row => '*',
                l if l > row => '|',
                _ => ' ',
            })
            .collect();
        lines.push(format!("{label:>label_width$} {cells}"));
    }
    let (first, last) = (points[0].at_ms, points[points.len() - 1].at_ms);
    lines.push(format!(
        "{:>label_width$} {} … {}",
        "",
        time(first),
        time(last)
    ));
    lines
}

#[cfg(test)]
mod tests {
    use super::*;
    use papertrader_protocol::Money;

    fn point(at_ms: i64, units: i64) -> EquityPoint {
        EquityPoint {
            at_ms,
            daily: true,
            equity: Money::from_units(units),
            cash: Money(0),
        }
    }

    #[test]
    fn the_chart_puts_the_highest_point_on_top_and_the_lowest_at_the_bottom() {
        let lines = chart(&[point(0, 100), point(1, 150), point(2, 120)], 5);
        assert_eq!(lines.len(), 6);
        assert!(
            lines[0].starts_with("150.00") && lines[0].ends_with(" * "),
            "{lines:?}"
        );
        assert!(
            lines[4].starts_with("100.00") && lines[4].ends_with("*||"),
            "{lines:?}"
        );
        // A flat history is one row of stars, not a division by zero.
        let flat = chart(&[point(0, 5), point(1, 5)], 3);
        assert!(flat[2].ends_with("**"), "{flat:?}");
    }
}
