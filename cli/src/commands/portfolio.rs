//! `papertrader portfolio [USER]`: holdings valued at the latest prices, and for your own the
//! cash, the total, average cost, P&L and the return of the current period.

use clap::Args;
use papertrader_protocol::data::Portfolio;
use papertrader_protocol::Money;
use serde_json::json;

use super::common::{logged_in, JsonArg, SessionArgs};
use crate::failed::Failed;
use crate::output::{money, outln, rfc3339, table, time, Column, Output};

/// `portfolio`.
#[derive(Debug, Args)]
pub struct PortfolioArgs {
    /// Whose [default: you].
    user: Option<String>,
    #[command(flatten)]
    session: SessionArgs,
    #[command(flatten)]
    pub output: JsonArg,
}

/// What a portfolio is worth.
#[derive(Debug, PartialEq, Eq)]
pub struct Valuation {
    /// Each holding's value (quantity × price), in the portfolio's order.
    pub values: Vec<Money>,
    /// The sum of the holdings' values.
    pub holdings: Money,
    /// Cash plus holdings; `None` when the cash is not shown (another user's portfolio).
    pub total: Option<Money>,
}

/// Values `p`; `None` if a sum overflows (no real portfolio comes near).
pub fn valuation(p: &Portfolio) -> Option<Valuation> {
    let values = p
        .holdings
        .iter()
        .map(|h| h.price.checked_mul(h.quantity))
        .collect::<Option<Vec<Money>>>()?;
    let holdings = values
        .iter()
        .try_fold(Money(0), |sum, &value| sum.checked_add(value))?;
    let total = match p.cash {
        Some(cash) => Some(cash.checked_add(holdings)?),
        None => None,
    };
    Some(Valuation {
        values,
        holdings,
        total,
    })
}

/// A return in millionths as a percentage with four decimals (`-1.2345`).
pub fn percent(ppm: i64) -> String {
    let sign = if ppm < 0 { "-" } else { "" };
    let abs = ppm.unsigned_abs();
    format!("{sign}{}.{:04}", abs / 10_000, abs % 10_000)
}

/// Shows the portfolio: whose it is, then the holdings.
pub async fn run(args: PortfolioArgs, out: Output) -> Result<(), Failed> {
    let (mut client, stored) = logged_in(&args.session).await?;
    let p = client
        .portfolio(args.user.as_deref().unwrap_or(&stored.username))
        .await?;
    let v = valuation(&p).ok_or_else(|| Failed::refused("the portfolio's value overflows"))?;
    let holdings: Vec<_> = p
        .holdings
        .iter()
        .zip(&v.values)
        .map(|(h, &value)| {
            json!({"symbol": h.symbol, "quantity": h.quantity, "price": money(h.price),
                   "value": money(value), "average_cost": h.average_cost.map(money),
                   "unrealised_pnl": h.unrealised_pnl.map(money)})
        })
        .collect();
    let summary = p.summary.as_ref().map(|s| {
        json!({"period": s.period, "period_started_at": rfc3339(s.period_started_at_ms),
               "starting_cash": money(s.starting_cash), "equity": money(s.equity),
               "realised_pnl": money(s.realised_pnl), "unrealised_pnl": money(s.unrealised_pnl),
               "commissions": money(s.commissions), "return_percent": percent(s.return_ppm),
               "reserved_cash": money(s.reserved_cash), "buying_power": money(s.buying_power)})
    });
    out.show(
        json!({"username": p.username, "cash": p.cash.map(money),
               "holdings_value": money(v.holdings), "total_value": v.total.map(money),
               "holdings": holdings, "summary": summary}),
        || {
            match (p.cash, v.total) {
                (Some(cash), Some(total)) => outln!(
                    "portfolio of {}: cash {}, holdings {}, total {}",
                    p.username,
                    money(cash),
                    money(v.holdings),
                    money(total)
                ),
                _ => outln!(
                    "portfolio of {}: holdings {} (their cash is private)",
                    p.username,
                    money(v.holdings)
                ),
            }
            if let Some(s) = &p.summary {
                outln!(
                    "period {} since {}: started with {}, equity {}, return {}%",
                    s.period,
                    time(s.period_started_at_ms),
                    money(s.starting_cash),
                    money(s.equity),
                    percent(s.return_ppm)
                );
                outln!(
                    "P&L realised {}, unrealised {}; commission paid {}",
                    money(s.realised_pnl),
                    money(s.unrealised_pnl),
                    money(s.commissions)
                );
                outln!(
                    "buying power {} ({} reserved by open orders)",
                    money(s.buying_power),
                    money(s.reserved_cash)
                );
            }
            let rows: Vec<Vec<String>> = p
                .holdings
                .iter()
                .zip(&v.values)
                .map(|(h, &value)| {
                    vec![
                        h.symbol.clone(),
                        h.quantity.to_string(),
                        money(h.price),
                        money(value),
                        h.average_cost.map(money).unwrap_or_default(),
                        h.unrealised_pnl.map(money).unwrap_or_default(),
                    ]
                })
                .collect();
            table(
                &[
                    Column::text("SYMBOL"),
                    Column::number("QUANTITY"),
                    Column::number("PRICE"),
                    Column::number("VALUE"),
                    Column::number("AVG COST"),
                    Column::number("UNREALISED"),
                ],
                &rows,
            );
        },
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use papertrader_protocol::data::Holding;

    use super::*;

    #[test]
    fn the_total_is_cash_plus_holdings_when_the_cash_is_known() {
        let holding = |symbol: &str, quantity, units| Holding {
            symbol: symbol.into(),
            quantity,
            price: Money::from_units(units),
            average_cost: None,
            unrealised_pnl: None,
        };
        let mut p = Portfolio {
            username: "al".into(),
            cash: Some(Money::from_units(100)),
            holdings: vec![holding("AAPL", 10, 190), holding("KO", 2, 60)],
            summary: None,
        };
        assert_eq!(
            valuation(&p),
            Some(Valuation {
                values: vec![Money::from_units(1900), Money::from_units(120)],
                holdings: Money::from_units(2020),
                total: Some(Money::from_units(2120)),
            })
        );
        p.cash = None;
        assert_eq!(valuation(&p).and_then(|v| v.total), None);
        p.holdings = vec![holding("AAPL", u64::MAX, 190)];
        assert_eq!(valuation(&p), None);
    }

    #[test]
    fn returns_print_as_percentages_with_four_decimals() {
        assert_eq!(percent(0), "0.0000");
        assert_eq!(percent(12_345), "1.2345");
        assert_eq!(percent(-1_000_000), "-100.0000");
        assert_eq!(percent(-5), "-0.0005");
    }
}
