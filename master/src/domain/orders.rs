//! Orders and what becomes of them: the receipt of a settled trade, or why it was not traded.

use papertrader_protocol::data::Side;
use papertrader_protocol::Money;
use thiserror::Error;

/// One market order, waiting for the next tick.
#[derive(Debug, Clone)]
pub struct Order {
    /// The ordering account.
    pub account_id: i64,
    /// Buy or sell.
    pub side: Side,
    /// Asset symbol.
    pub symbol: String,
    /// Units (already checked to be within the protocol limits).
    pub quantity: u64,
    /// When it was received, ms.
    pub placed_at: i64,
    /// The client's address.
    pub client_ip: String,
    /// The forwarding worker, if any.
    pub worker_uuid: Option<String>,
    /// The client's id for the order, which makes it idempotent.
    pub client_order_id: Option<String>,
}

impl Order {
    /// True when `other` is the same trade (side, symbol, quantity): what a repeated client
    /// order id must name.
    pub fn same_trade(&self, side: Side, symbol: &str, quantity: u64) -> bool {
        (self.side, self.symbol.as_str(), self.quantity) == (side, symbol, quantity)
    }
}

/// A settled trade.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Receipt {
    /// The transaction's id.
    pub transaction_id: u64,
    /// Asset symbol.
    pub symbol: String,
    /// Units.
    pub quantity: u64,
    /// Price per unit it settled at.
    pub price: Money,
    /// The account's cash after it.
    pub cash_after: Money,
    /// When it settled, ms.
    pub settled_at_ms: i64,
    /// Commission paid, micro-units.
    pub commission: Money,
}

/// Why the settlement rules refused an order.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum Rejection {
    /// A traded asset without a price yet.
    #[error("{symbol} has no price yet; no order in it can settle")]
    NoPrice {
        /// The asset.
        symbol: String,
    },
    /// The asset's price source failed; its last price is old.
    #[error("the price of {symbol} is stale; trading in it is paused")]
    StalePrice {
        /// The asset.
        symbol: String,
    },
    /// The account was deleted after the order was queued.
    #[error("the account no longer exists")]
    UnknownAccount,
    /// More units than an `i64` holds.
    #[error("quantity too large")]
    QuantityTooLarge,
    /// Price × quantity overflows.
    #[error("order value overflows")]
    ValueOverflow,
    /// A buy costing more than the account's cash free of open orders' reservations.
    #[error("{}", cash_shortfall(*cost, *cash, *reserved))]
    InsufficientCash {
        /// Price × quantity (+ commission).
        cost: Money,
        /// The account's free cash at that point of the batch.
        cash: Money,
        /// What its open orders reserve on top.
        reserved: Money,
    },
    /// A sale of more units than are held free of open sales' reservations.
    #[error("{}", units_shortfall(*quantity, symbol, *held, *reserved))]
    InsufficientHoldings {
        /// The asset.
        symbol: String,
        /// Units offered.
        quantity: i64,
        /// Units held and free at that point of the batch.
        held: i64,
        /// Units its open sales reserve on top.
        reserved: i64,
    },
    /// A sale whose proceeds overflow the account's cash.
    #[error("cash would overflow")]
    CashOverflow,
}

fn cash_shortfall(cost: Money, free: Money, reserved: Money) -> String {
    if reserved.micros() > 0 {
        format!("costs {cost} but only {free} of the cash is free ({reserved} is reserved by open orders)")
    } else {
        format!("costs {cost} but cash is {free}")
    }
}

fn units_shortfall(quantity: i64, symbol: &str, free: i64, reserved: i64) -> String {
    if reserved > 0 {
        format!(
            "selling {quantity} {symbol} but only {free} are free ({} held, {reserved} reserved by open orders)",
            free + reserved
        )
    } else {
        format!("selling {quantity} {symbol} but {free} are held")
    }
}

/// Why an order got no receipt.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum OrderError {
    /// The settlement rules refused it.
    #[error(transparent)]
    Rejected(#[from] Rejection),
    /// Its client order id was used before for a different trade.
    #[error("clientOrderId {id} was already used for a different order; nothing was traded")]
    IdReused {
        /// The client order id.
        id: String,
    },
    /// Its client order id was refused before: the same refusal again, as stored then
    /// (the reason code's number and the message the client was given).
    #[error("{message}")]
    RefusedBefore {
        /// The stored reason code.
        reason: u16,
        /// The stored message.
        message: String,
    },
    /// Not traded: the asset is not in the asset list.
    #[error("{symbol} is not traded here")]
    NotTraded {
        /// The asset.
        symbol: String,
    },
    /// The queue holds its capacity until the next tick.
    #[error("the trade queue is full; try again next interval")]
    QueueFull,
    /// The master is shutting down and places no more orders.
    #[error("the master is shutting down; the order was not placed")]
    ShuttingDown,
    /// The batch's transaction failed; nothing of it was applied.
    #[error("settlement failed; nothing was traded")]
    SettlementFailed,
    /// The queue went away before settling it.
    #[error("the order was dropped before settlement")]
    Dropped,
    /// No order of the account has this id.
    #[error("no order #{0} of yours exists")]
    UnknownOrder(u64),
    /// The order is not open any more.
    #[error("order #{id} is {status} and can no longer be cancelled")]
    OrderNotOpen {
        /// The order.
        id: u64,
        /// Its status, in words.
        status: &'static str,
    },
    /// A stop on the side of the market where it would trigger at once.
    #[error("{0}")]
    StopAlreadyReached(String),
    /// A market order placed before the asset's first price: nothing to reserve cash at.
    #[error("{symbol} has no price yet; place a limit order instead")]
    NoReferencePrice {
        /// The asset.
        symbol: String,
    },
    /// More fills were missed than a subscription replays.
    #[error(
        "more than {max} fills were made since that transaction: read the transaction history \
         and subscribe again from its last transaction id"
    )]
    ReplayTooLong {
        /// The most a subscription replays.
        max: usize,
    },
    /// Its client order id was used for a different order.
    #[error("clientOrderId {id} was already used for order #{order_id}, a different order")]
    OrderIdReused {
        /// The client order id.
        id: String,
        /// The order that used it.
        order_id: u64,
    },
}

/// What became of one order.
pub type OrderOutcome = Result<Receipt, OrderError>;
