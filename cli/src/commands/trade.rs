//! `papertrader buy|sell SYMBOL QUANTITY [--client-order-id ID]`: an order, answered once it has
//! settled at the next price update.

use clap::Args;
use papertrader_client::new_order_id;
use papertrader_protocol::data::Side;
use serde_json::json;

use super::common::{logged_in, symbol, JsonArg, SessionArgs};
use crate::failed::Failed;
use crate::output::{money, outln, rfc3339, Output};

/// `buy` and `sell`.
#[derive(Debug, Args)]
pub struct TradeArgs {
    /// Symbol, in any case.
    symbol: String,
    /// Whole units.
    quantity: u64,
    /// The order's id (1–64 of A-Z a-z 0-9 . _ : -) [default: a fresh random one]. An order
    /// sent again with the same id is never traded twice: use the id printed by an order
    /// whose outcome was unknown to learn what became of it.
    #[arg(long = "client-order-id", alias = "order-id")]
    order_id: Option<String>,
    #[command(flatten)]
    session: SessionArgs,
    #[command(flatten)]
    pub output: JsonArg,
}

/// Places the order under its id (resending it with that id while its outcome is unknown)
/// and shows the receipt.
pub async fn run(side: Side, args: TradeArgs, out: Output) -> Result<(), Failed> {
    let order_id = args.order_id.unwrap_or_else(new_order_id);
    if let Err(e) = papertrader_protocol::limits::check_client_order_id(&order_id) {
        return Err(Failed::usage(format!("--client-order-id: {e}")));
    }
    let (mut client, _) = logged_in(&args.session).await?;
    let r = client
        .place(side, &symbol(&args.symbol), args.quantity, &order_id)
        .await?;
    let (name, verb) = match side {
        Side::Buy => ("buy", "bought"),
        Side::Sell => ("sell", "sold"),
    };
    out.show(
        json!({"transaction_id": r.transaction_id, "client_order_id": order_id, "side": name,
               "symbol": r.symbol, "quantity": r.quantity, "price": money(r.price),
               "cash_after": money(r.cash_after), "settled_at": rfc3339(r.settled_at_ms),
               "commission": money(r.commission)}),
        || {
            let fee = if r.commission.micros() > 0 {
                format!(", commission {}", money(r.commission))
            } else {
                String::new()
            };
            outln!(
                "{verb} {} {} at {}{fee} (cash now {}), transaction #{} (client order id {order_id})",
                r.quantity,
                r.symbol,
                money(r.price),
                money(r.cash_after),
                r.transaction_id
            )
        },
    );
    Ok(())
}
