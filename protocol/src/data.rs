//! What `data` transfers carry: one [`DataBody`], bincode-encoded, split into packets.

use serde::{Deserialize, Serialize};

use crate::arguments;
use crate::money::Money;

/// The payload of a complete data transfer. Encoded as a `u32` variant index
/// (0 AssetInfo … 5 Transactions) followed by the variant's fields.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum DataBody {
    /// Reply to `getAssetInfo`.
    AssetInfo(AssetInfo),
    /// Reply to `getAssetValueCurrent`.
    Quote(Quote),
    /// Reply to `getAssetValueDay/Week/Month/Year/AllTime`.
    History(History),
    /// Reply to `getUserInfo`.
    UserInfo(UserInfo),
    /// Reply to `getUserPortfolio`.
    Portfolio(Portfolio),
    /// Reply to `getUserTransactionHistory`.
    Transactions(TransactionHistory),
}

impl DataBody {
    /// The body's bytes, ready to split into packets.
    pub fn encode(&self) -> Vec<u8> {
        // Encoding plain data into a Vec cannot fail: no maps, no unsized lengths.
        arguments::encode(self).unwrap_or_default()
    }

    /// Parses a reassembled body.
    pub fn decode(bytes: &[u8]) -> Result<Self, bincode::Error> {
        arguments::decode(bytes)
    }
}

/// The latest price of an asset (spec 2.4.3 asset structure plus time and staleness).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Quote {
    /// Asset symbol.
    pub symbol: String,
    /// Opening price of the current day.
    pub open: Money,
    /// Highest price of the current day.
    pub high: Money,
    /// Lowest price of the current day.
    pub low: Money,
    /// Latest price.
    pub close: Money,
    /// Units traded in the current day.
    pub volume: u64,
    /// Time of the price, milliseconds since the Unix epoch (UTC).
    pub at_ms: i64,
    /// True when the provider failed and this is the last good price.
    pub stale: bool,
}

/// Static facts about an asset plus its latest quote.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AssetInfo {
    /// Asset symbol.
    pub symbol: String,
    /// Human-readable name.
    pub name: String,
    /// ISO 4217 currency code of prices.
    pub currency: String,
    /// Latest quote.
    pub latest: Quote,
}

/// Spacing of the points in a [`History`]. Encoded as a `u32` variant index.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Resolution {
    /// 0: one point per update interval.
    Tick,
    /// 1: one point per UTC day.
    Daily,
    /// 2: one point per UTC month.
    Monthly,
}

/// One OHLCV point of a history.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Bar {
    /// Start of the bar, milliseconds since the Unix epoch (UTC).
    pub at_ms: i64,
    /// Opening price.
    pub open: Money,
    /// Highest price.
    pub high: Money,
    /// Lowest price.
    pub low: Money,
    /// Closing price.
    pub close: Money,
    /// Units traded.
    pub volume: u64,
}

/// Price history of one asset over a range.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct History {
    /// Asset symbol.
    pub symbol: String,
    /// Spacing of `bars`.
    pub resolution: Resolution,
    /// Range start (inclusive), ms since the epoch.
    pub from_ms: i64,
    /// Range end (inclusive), ms since the epoch.
    pub to_ms: i64,
    /// Points in time order.
    pub bars: Vec<Bar>,
}

/// An account's profile. `Option` fields are `None` unless the caller owns the account.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserInfo {
    /// Account name.
    pub username: String,
    /// Registration time, ms since the epoch.
    pub created_at_ms: i64,
    /// True when the caller's session belongs to this account.
    pub is_owner: bool,
    /// Email (owner only).
    pub email: Option<String>,
    /// Whether the account can log in with a password (owner only).
    pub has_password: Option<bool>,
    /// Cash balance (owner only).
    pub cash: Option<Money>,
}

/// One position.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Holding {
    /// Asset symbol.
    pub symbol: String,
    /// Units held.
    pub quantity: u64,
    /// Latest price per unit (the valuation price).
    pub price: Money,
}

/// An account's positions. `cash` is `None` unless the caller owns the account.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Portfolio {
    /// Account name.
    pub username: String,
    /// Cash balance (owner only).
    pub cash: Option<Money>,
    /// Positions, by symbol.
    pub holdings: Vec<Holding>,
}

/// Buy or sell. Encoded as a `u32` variant index.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Side {
    /// 0: a purchase.
    Buy,
    /// 1: a sale.
    Sell,
}

/// One settled trade.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Transaction {
    /// Transaction id.
    pub id: u64,
    /// Buy or sell.
    pub side: Side,
    /// Asset symbol.
    pub symbol: String,
    /// Units.
    pub quantity: u64,
    /// Settlement price per unit.
    pub price: Money,
    /// Settlement time, ms since the epoch.
    pub settled_at_ms: i64,
    /// Cash after the trade (owner only).
    pub cash_after: Option<Money>,
}

/// An account's settled trades, oldest first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TransactionHistory {
    /// Account name.
    pub username: String,
    /// Trades, oldest first.
    pub entries: Vec<Transaction>,
}
