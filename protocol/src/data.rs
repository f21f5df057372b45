//! What `data` transfers carry: one [`DataBody`], bincode-encoded, split into packets.

use serde::{Deserialize, Serialize};

use crate::arguments;
use crate::money::Money;

/// The payload of a complete data transfer. Encoded as a `u32` variant index
/// (0 AssetInfo … 5 Transactions, 6 ServerInfo, 7 SignInMethods, 8 Orders, 9 Periods, 10 Equity) followed by the variant's fields.
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
    /// Reply to `getServerInfo`.
    ServerInfo(ServerInfo),
    /// Reply to `getSignInMethods`.
    SignInMethods(SignInMethods),
    /// Reply to `getOrders`.
    Orders(OrderList),
    /// Reply to `getPeriods`.
    Periods(PeriodList),
    /// Reply to `getEquityHistory`.
    Equity(EquityHistory),
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

/// How the session's account can sign in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignInMethods {
    /// Account name.
    pub username: String,
    /// Whether a password login works.
    pub has_password: bool,
    /// The third-party identities linked to the account, oldest first.
    pub identities: Vec<LinkedIdentity>,
}

/// One third-party identity of an account.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LinkedIdentity {
    /// The provider's name in the master's configuration.
    pub provider: String,
    /// The token issuer (`iss`).
    pub issuer: String,
    /// The subject (`sub`): the provider's id of the user.
    pub subject: String,
    /// When it was linked, ms since the epoch.
    pub linked_at_ms: i64,
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
    /// Average cost per unit, commission included (owner only).
    pub average_cost: Option<Money>,
    /// Units × price − cost (owner only).
    pub unrealised_pnl: Option<Money>,
}

/// An account's positions. `cash` and `summary` are `None` unless the caller owns the account.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Portfolio {
    /// Account name.
    pub username: String,
    /// Cash balance (owner only).
    pub cash: Option<Money>,
    /// Positions, by symbol.
    pub holdings: Vec<Holding>,
    /// Equity and P&L of the current period (owner only).
    pub summary: Option<AccountSummary>,
}

/// Where the current trading period stands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccountSummary {
    /// The period's number (0 until the first reset).
    pub period: u64,
    /// When it began, ms since the epoch.
    pub period_started_at_ms: i64,
    /// Cash it began with.
    pub starting_cash: Money,
    /// Cash + holdings at their latest prices.
    pub equity: Money,
    /// P&L of the sales (proceeds − commission − average cost of the units sold).
    pub realised_pnl: Money,
    /// P&L of the holdings at their latest prices.
    pub unrealised_pnl: Money,
    /// Commission paid in the period.
    pub commissions: Money,
    /// (equity − starting cash) / starting cash, in millionths (10 000 = 1 %).
    pub return_ppm: i64,
    /// Cash held back by open orders.
    pub reserved_cash: Money,
    /// Cash free for new orders: cash − reserved cash.
    pub buying_power: Money,
}

/// One trading period of an account.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PeriodSummary {
    /// The period's number.
    pub period: u64,
    /// When it began, ms since the epoch.
    pub started_at_ms: i64,
    /// When a reset ended it (`None`: the current period).
    pub ended_at_ms: Option<i64>,
    /// Cash it began with.
    pub starting_cash: Money,
    /// Equity when it ended (`None`: the current period; see the portfolio).
    pub ending_equity: Option<Money>,
    /// Trades in it.
    pub trades: u64,
}

/// Reply to `getPeriods`: the session's account's periods, oldest first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PeriodList {
    /// Account name.
    pub username: String,
    /// Periods, oldest first; the last is the current one.
    pub periods: Vec<PeriodSummary>,
}

/// Buy or sell. Encoded as a `u32` variant index.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Side {
    /// 0: a purchase.
    Buy,
    /// 1: a sale.
    Sell,
}

impl Side {
    /// `buy` or `sell`.
    pub fn name(self) -> &'static str {
        match self {
            Self::Buy => "buy",
            Self::Sell => "sell",
        }
    }
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
    /// Commission paid (included in `cash_after`).
    pub commission: Money,
    /// The `placeOrder` order it fills; `None` for `purchaseAsset`/`sellAsset`.
    pub order_id: Option<u64>,
}

/// An account's settled trades, oldest first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TransactionHistory {
    /// Account name.
    pub username: String,
    /// Trades, oldest first.
    pub entries: Vec<Transaction>,
}

/// One traded asset.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Listing {
    /// Asset symbol.
    pub symbol: String,
    /// Human-readable name.
    pub name: String,
}

/// The input limits of PROTOCOL.md §4, as the server enforces them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InputLimits {
    /// Longest username, characters.
    pub max_username_chars: u32,
    /// Longest email, characters.
    pub max_email_chars: u32,
    /// Longest symbol, characters.
    pub max_symbol_chars: u32,
    /// Largest quantity of one order.
    pub max_quantity: u64,
    /// Longest client order id, characters.
    pub max_client_order_id_chars: u32,
    /// Earliest history date, ms since the epoch.
    pub min_date_ms: i64,
    /// Latest history date, ms since the epoch.
    pub max_date_ms: i64,
}

/// Reply to `getServerInfo`: what a client should know before anything else.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServerInfo {
    /// The protocol version (the header's first byte).
    pub protocol_version: u8,
    /// Largest payload this server accepts and sends, bytes.
    pub max_payload: u32,
    /// Body bytes per `data` packet (every packet but the last is exactly this long).
    pub chunk_size: u32,
    /// Price update interval: orders settle at the next tick, ms.
    pub update_interval_ms: u64,
    /// ISO 4217 currency of every amount.
    pub currency: String,
    /// Cash of a new account.
    pub starting_cash: Money,
    /// Lifetime of an expirable session, ms.
    pub session_ttl_ms: u64,
    /// Longest life of a connection-bound session, ms.
    pub connection_session_ttl_ms: u64,
    /// The input limits.
    pub limits: InputLimits,
    /// The traded assets, by symbol.
    pub assets: Vec<Listing>,
}

impl InputLimits {
    /// The limits of this crate's [`crate::limits`].
    pub fn current() -> Self {
        use crate::limits::*;
        Self {
            max_username_chars: MAX_USERNAME_CHARS as u32,
            max_email_chars: MAX_EMAIL_CHARS as u32,
            max_symbol_chars: MAX_SYMBOL_CHARS as u32,
            max_quantity: MAX_QUANTITY,
            max_client_order_id_chars: MAX_CLIENT_ORDER_ID_CHARS as u32,
            min_date_ms: 0,
            max_date_ms: MAX_DATE_MS,
        }
    }
}

/// How an order's price is set. Encoded as a `u32` variant index.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum OrderKind {
    /// 0: at the next tick's price.
    Market,
    /// 1: at the limit price or better.
    Limit,
    /// 2: a market order once the price reaches the stop price.
    Stop,
    /// 3: a limit order once the price reaches the stop price.
    StopLimit,
}

/// How long an order stays open. Encoded as a `u32` variant index.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum TimeInForce {
    /// 0: until the end of the UTC day it was placed on.
    Day,
    /// 1: until filled or cancelled.
    GoodTillCancelled,
    /// 2: whatever fills at the first tick; the rest is cancelled.
    ImmediateOrCancel,
    /// 3: all of it at the first tick, or nothing (cancelled).
    FillOrKill,
}

/// Where an order stands. Encoded as a `u32` variant index.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum OrderStatus {
    /// 0: accepted, nothing filled yet.
    New,
    /// 1: some filled, the rest still open.
    PartiallyFilled,
    /// 2: all filled.
    Filled,
    /// 3: cancelled by its owner, or by its time in force (ioc, fok).
    Cancelled,
    /// 4: a day order that reached the end of its day.
    Expired,
    /// 5: refused at a tick (e.g. not enough cash when it would have filled).
    Rejected,
}

impl OrderKind {
    /// The kind in words, as the CLI takes and shows it (`stop-limit`).
    pub fn name(self) -> &'static str {
        match self {
            Self::Market => "market",
            Self::Limit => "limit",
            Self::Stop => "stop",
            Self::StopLimit => "stop-limit",
        }
    }
}

impl TimeInForce {
    /// The usual abbreviation (`day`, `gtc`, `ioc`, `fok`).
    pub fn name(self) -> &'static str {
        match self {
            Self::Day => "day",
            Self::GoodTillCancelled => "gtc",
            Self::ImmediateOrCancel => "ioc",
            Self::FillOrKill => "fok",
        }
    }
}

impl OrderStatus {
    /// The status in words (`partially filled`).
    pub fn name(self) -> &'static str {
        match self {
            Self::New => "new",
            Self::PartiallyFilled => "partially filled",
            Self::Filled => "filled",
            Self::Cancelled => "cancelled",
            Self::Expired => "expired",
            Self::Rejected => "rejected",
        }
    }

    /// True while the order can still fill or be cancelled.
    pub fn is_open(self) -> bool {
        matches!(self, Self::New | Self::PartiallyFilled)
    }
}

/// One order as its owner sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderRecord {
    /// The order id.
    pub order_id: u64,
    /// Buy or sell.
    pub side: Side,
    /// Asset symbol.
    pub symbol: String,
    /// Market, limit, stop or stop-limit.
    pub kind: OrderKind,
    /// Units ordered.
    pub quantity: u64,
    /// Units filled so far.
    pub filled_quantity: u64,
    /// The limit price (limit and stop-limit orders).
    pub limit_price: Option<Money>,
    /// The stop price (stop and stop-limit orders).
    pub stop_price: Option<Money>,
    /// Time in force.
    pub time_in_force: TimeInForce,
    /// Where it stands.
    pub status: OrderStatus,
    /// A stop or stop-limit whose stop price has been reached (a stop-limit then rests as a
    /// limit order); false for other kinds.
    pub triggered: bool,
    /// Average price of the fills (`None` before the first).
    pub average_price: Option<Money>,
    /// Commission paid on its fills so far.
    pub commission: Money,
    /// Why it was rejected, cancelled by its time in force, or expired: a reason code
    /// (0 when cancelled by its owner or still open).
    pub reason: u16,
    /// When it was placed, ms since the epoch.
    pub placed_at_ms: i64,
    /// When it last changed, ms since the epoch.
    pub updated_at_ms: i64,
    /// The client's id for the order, if it gave one.
    pub client_order_id: Option<String>,
}

/// Reply to `getOrders`: the session's account's orders, newest first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderList {
    /// Account name.
    pub username: String,
    /// Orders, newest first.
    pub orders: Vec<OrderRecord>,
}

/// One point of an equity history.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EquityPoint {
    /// The tick's time (intraday), or the start of the UTC day (daily close), ms.
    pub at_ms: i64,
    /// True for a day's close, false for a point during the day.
    pub daily: bool,
    /// Cash + holdings at that tick's prices.
    pub equity: Money,
    /// Cash then.
    pub cash: Money,
}

/// Reply to `getEquityHistory`: the session's account's equity in its current period.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EquityHistory {
    /// Account name.
    pub username: String,
    /// The period the points belong to.
    pub period: u64,
    /// Points in time order.
    pub points: Vec<EquityPoint>,
}
