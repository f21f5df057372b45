//! Live streams: what a subscription pushes.
//!
//! A client in DataTransfer state subscribes to quotes for some symbols
//! (`subscribeQuotes`) or to its own account's events (`subscribeAccount`). From then on the
//! server sends *pushes*: frames of messageType 5 (`Push`) that answer no request. Each
//! carries the subscription's id (chosen by the client) and a sequence number that starts
//! at 1 and grows by one per update the subscription was given; a quote update replaced by a
//! newer one before it could be sent (conflation) leaves a gap, so a client sees what it
//! missed. Pushes go out only between replies, never inside one.

use serde::{Deserialize, Serialize};

use crate::data::Side;
use crate::money::Money;

/// Most symbols one quote subscription may name.
pub const MAX_SUBSCRIBED_SYMBOLS: usize = 64;
/// Most fills a `subscribeAccount` replays (`sinceTransactionId`); more must be read from the
/// transaction history.
pub const MAX_REPLAYED_FILLS: usize = 1_000;
/// Most subscriptions one connection may hold at once.
pub const MAX_SUBSCRIPTIONS_PER_CONNECTION: usize = 16;

/// What happened to an order (or a queued trade). Encoded as a `u32` variant index.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum AccountEventKind {
    /// 0: an order was accepted and rests until it can fill.
    Accepted,
    /// 1: some of an order filled; the rest is still open.
    PartiallyFilled,
    /// 2: an order (or a `purchaseAsset`/`sellAsset` trade) filled completely.
    Filled,
    /// 3: an order was cancelled: by its owner, its time in force, or a reset.
    Cancelled,
    /// 4: a day order reached the end of its day.
    Expired,
    /// 5: an order (or a queued trade) was refused when it would have filled.
    Rejected,
}

impl AccountEventKind {
    /// The kind in words (`partially filled`).
    pub fn name(self) -> &'static str {
        match self {
            Self::Accepted => "accepted",
            Self::PartiallyFilled => "partially filled",
            Self::Filled => "filled",
            Self::Cancelled => "cancelled",
            Self::Expired => "expired",
            Self::Rejected => "rejected",
        }
    }
}

/// One fill: the transaction it wrote.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FillDetail {
    /// The transaction's id (as in the transaction history): the resume point of
    /// `subscribeAccount`.
    pub transaction_id: u64,
    /// Units filled now.
    pub quantity: u64,
    /// Price per unit.
    pub price: Money,
    /// Commission charged for this fill.
    pub commission: Money,
}

/// One event of an account.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccountEvent {
    /// What happened.
    pub kind: AccountEventKind,
    /// The order's id; none for a `purchaseAsset`/`sellAsset` trade.
    pub order_id: Option<u64>,
    /// Buy or sell.
    pub side: Side,
    /// Asset symbol.
    pub symbol: String,
    /// Units the order asked for.
    pub quantity: u64,
    /// Units filled so far, this event included.
    pub filled_quantity: u64,
    /// The fill, for `PartiallyFilled` and `Filled`.
    pub fill: Option<FillDetail>,
    /// The account's cash after the fill (none when nothing filled).
    pub cash_after: Option<Money>,
    /// Why it ended or was refused (a reason code; 0 otherwise).
    pub reason: u16,
    /// When it happened, ms since the Unix epoch (UTC).
    pub at_ms: i64,
    /// True for a fill sent again on request (`sinceTransactionId`), not as it happened.
    pub replayed: bool,
}
