//! `papertrader order buy|sell SYMBOL QTY [--limit P] [--stop P] [--tif …]`, `orders [--all]`
//! and `cancel ID`: orders that rest until a price update fills them.

use clap::{Args, ValueEnum};
use papertrader_client::OrderSpec;
use papertrader_protocol::data::{OrderRecord, Side, TimeInForce};
use papertrader_protocol::{Money, ReasonCode};
use serde_json::{json, Value};

use super::common::{logged_in, symbol, JsonArg, SessionArgs};
use crate::failed::Failed;
use crate::output::{money, outln, rfc3339, table, time, Column, Output};

/// Buy or sell, as typed.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum SideArg {
    /// Buy.
    Buy,
    /// Sell.
    Sell,
}

/// A time in force, as typed.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum TifArg {
    /// Until the end of the UTC day.
    Day,
    /// Until filled or cancelled.
    Gtc,
    /// What fills at the next price update; the rest is cancelled.
    Ioc,
    /// All at the next price update, or nothing.
    Fok,
}

/// `order`.
#[derive(Debug, Args)]
pub struct OrderArgs {
    /// buy or sell.
    side: SideArg,
    /// Symbol, in any case.
    symbol: String,
    /// Whole units.
    quantity: u64,
    /// Limit price, in whole cents: fill at this price or better (with --stop: a stop-limit
    /// order).
    #[arg(long, allow_negative_numbers = true)]
    limit: Option<Money>,
    /// Stop price, in whole cents: the order becomes active when the price reaches it — a buy
    /// stop above the latest price, a sell stop below it.
    #[arg(long, allow_negative_numbers = true)]
    stop: Option<Money>,
    /// Time in force.
    #[arg(long, value_enum, default_value = "day")]
    tif: TifArg,
    #[command(flatten)]
    session: SessionArgs,
    #[command(flatten)]
    pub output: JsonArg,
}

/// `orders`.
#[derive(Debug, Args)]
pub struct OrdersArgs {
    /// Every order of the account (filled, cancelled, expired, rejected too), not only the
    /// open ones.
    #[arg(long)]
    all: bool,
    #[command(flatten)]
    session: SessionArgs,
    #[command(flatten)]
    pub output: JsonArg,
}

/// `cancel`.
#[derive(Debug, Args)]
pub struct CancelArgs {
    /// The order's id (as `order` and `orders` show it).
    order_id: u64,
    #[command(flatten)]
    session: SessionArgs,
    #[command(flatten)]
    pub output: JsonArg,
}

/// Why an order ended, in words (`None` when it did not end for a reason).
pub fn reason_name(reason: u16) -> Option<&'static str> {
    if reason == 0 {
        return None;
    }
    Some(match ReasonCode::from_u16(reason) {
        Some(ReasonCode::NotFilled) => "could not fill at its tick",
        Some(ReasonCode::AccountReset) => "account reset",
        Some(ReasonCode::InsufficientCash) => "not enough cash",
        Some(ReasonCode::InsufficientHoldings) => "not enough units",
        Some(code) => code.name(),
        None => "unknown reason",
    })
}

/// Places the order and shows its id.
pub async fn place(args: OrderArgs, out: Output) -> Result<(), Failed> {
    let side = match args.side {
        SideArg::Buy => Side::Buy,
        SideArg::Sell => Side::Sell,
    };
    let time_in_force = match args.tif {
        TifArg::Day => TimeInForce::Day,
        TifArg::Gtc => TimeInForce::GoodTillCancelled,
        TifArg::Ioc => TimeInForce::ImmediateOrCancel,
        TifArg::Fok => TimeInForce::FillOrKill,
    };
    let spec = OrderSpec {
        side,
        symbol: symbol(&args.symbol),
        quantity: args.quantity,
        kind: OrderSpec::kind_of(args.limit, args.stop),
        limit_price: args.limit,
        stop_price: args.stop,
        time_in_force,
    };
    let message = spec.clone().message(String::new(), None);
    // Mistakes in what was typed are usage errors, found before anything is sent.
    papertrader_protocol::limits::check_quantity(spec.quantity)
        .and_then(|()| papertrader_protocol::limits::check_order_prices(&message))
        .map_err(|e| Failed::usage(e.to_string()))?;
    let (mut client, _) = logged_in(&args.session).await?;
    let accepted = client.place_order(spec.clone()).await?;
    let price = |p: Option<Money>| p.map(money);
    out.show(
        json!({"order_id": accepted.order_id, "status": accepted.status.name(),
               "side": side.name(), "symbol": spec.symbol, "quantity": spec.quantity,
               "kind": spec.kind.name(), "limit_price": price(spec.limit_price),
               "stop_price": price(spec.stop_price), "time_in_force": time_in_force.name(),
               "placed_at": rfc3339(accepted.placed_at_ms)}),
        || {
            let terms = match (spec.stop_price, spec.limit_price) {
                (None, None) => "at market".to_owned(),
                (None, Some(limit)) => format!("limit {}", money(limit)),
                (Some(stop), None) => format!("stop {}", money(stop)),
                (Some(stop), Some(limit)) => format!("stop {} limit {}", money(stop), money(limit)),
            };
            outln!(
                "order #{} accepted: {} {} {} {terms} ({}), {}; it trades from the next price update",
                accepted.order_id,
                side.name(),
                spec.quantity,
                spec.symbol,
                time_in_force.name(),
                accepted.status.name()
            )
        },
    );
    Ok(())
}

fn record_json(o: &OrderRecord) -> Value {
    json!({"order_id": o.order_id, "side": o.side.name(), "symbol": o.symbol,
           "kind": o.kind.name(), "quantity": o.quantity, "filled_quantity": o.filled_quantity,
           "limit_price": o.limit_price.map(money), "stop_price": o.stop_price.map(money),
           "time_in_force": o.time_in_force.name(), "status": o.status.name(),
           "triggered": o.triggered,
           "average_price": o.average_price.map(money), "commission": money(o.commission),
           "reason": reason_name(o.reason), "placed_at": rfc3339(o.placed_at_ms),
           "updated_at": rfc3339(o.updated_at_ms), "client_order_id": o.client_order_id})
}

/// Lists the open orders (or all) as a table.
pub async fn list(args: OrdersArgs, out: Output) -> Result<(), Failed> {
    let (mut client, _) = logged_in(&args.session).await?;
    let list = client.orders(args.all).await?;
    let orders: Vec<Value> = list.orders.iter().map(record_json).collect();
    out.show(json!({"username": list.username, "orders": orders}), || {
        let which = if args.all { "orders" } else { "open orders" };
        outln!("{which} of {} ({})", list.username, list.orders.len());
        let rows: Vec<Vec<String>> = list
            .orders
            .iter()
            .map(|o| {
                let status = match (reason_name(o.reason), o.triggered && o.status.is_open()) {
                    (Some(reason), _) => format!("{} ({reason})", o.status.name()),
                    (None, true) => format!("{} (stop reached)", o.status.name()),
                    (None, false) => o.status.name().to_owned(),
                };
                vec![
                    o.order_id.to_string(),
                    o.side.name().into(),
                    o.symbol.clone(),
                    o.kind.name().into(),
                    format!("{}/{}", o.filled_quantity, o.quantity),
                    o.limit_price.map(money).unwrap_or_default(),
                    o.stop_price.map(money).unwrap_or_default(),
                    o.time_in_force.name().into(),
                    status,
                    o.average_price.map(money).unwrap_or_default(),
                    money(o.commission),
                    time(o.placed_at_ms),
                ]
            })
            .collect();
        table(
            &[
                Column::number("ID"),
                Column::text("SIDE"),
                Column::text("SYMBOL"),
                Column::text("TYPE"),
                Column::number("FILLED"),
                Column::number("LIMIT"),
                Column::number("STOP"),
                Column::text("TIF"),
                Column::text("STATUS"),
                Column::number("AVG PRICE"),
                Column::number("COMMISSION"),
                Column::text("PLACED (UTC)"),
            ],
            &rows,
        )
    });
    Ok(())
}

/// Cancels an open order.
pub async fn cancel(args: CancelArgs, out: Output) -> Result<(), Failed> {
    let (mut client, _) = logged_in(&args.session).await?;
    let c = client.cancel_order(args.order_id).await?;
    out.show(
        json!({"order_id": c.order_id, "status": "cancelled", "filled_quantity": c.filled_quantity}),
        || {
            outln!(
                "order #{} cancelled ({} had filled)",
                c.order_id,
                c.filled_quantity
            )
        },
    );
    Ok(())
}
