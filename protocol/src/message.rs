//! The argument lists of every instruction, one struct per shape.
//!
//! Field order is wire order. Several instructions share a shape (for example
//! `purchaseAsset` and `sellAsset` both take a [`TradeOrder`]); [`crate::instruction`]
//! says which instruction uses which.

use std::net::IpAddr;

use bytes::{Bytes, BytesMut};

use crate::arguments::{arguments, Arguments};
use crate::data::{OrderKind, OrderStatus, Quote, Side, TimeInForce};
use crate::error::ProtocolError;
use crate::instruction::Instruction;
use crate::money::Money;
use crate::state::ConnectionState;

pub use crate::instruction::Message;
pub use crate::reason::Failure;

arguments! {
    /// No arguments.
    pub struct Empty {}
}

arguments! {
    /// `login(username, hashedPass, isExpirable)`.
    pub struct Login {
        /// Account name (not the email).
        pub username: String,
        /// The client-side password hash ([`crate::password::client_password_hash`]).
        pub hashed_password: String,
        /// true: the session ends at its expiry (kept across disconnects);
        /// false: the session ends when this connection closes.
        pub is_expirable: bool,
    }
}

arguments! {
    /// A session id alone: `login(sessionID)`, `logout(sessionID)` and the `sessionID` reply.
    pub struct SessionToken {
        /// 32 lowercase hex characters (128 random bits).
        pub session_id: String,
    }
}

arguments! {
    /// `register(username, email, hashedPass)`.
    pub struct Register {
        /// Account name, 1–24 characters of `A-Z a-z 0-9 _ . -`.
        pub username: String,
        /// Email address, at most 320 characters (see `limits::check_email`).
        pub email: String,
        /// The client-side password hash.
        pub hashed_password: String,
    }
}

arguments! {
    /// `registerWithToken(username, provider, idToken, email)`: an account that signs in
    /// through a third party, with no password.
    pub struct RegisterWithToken {
        /// Account name, as for `register`.
        pub username: String,
        /// The provider's name in the master's configuration (e.g. `google`).
        pub provider: String,
        /// The OpenID Connect ID token (a compact JWS).
        pub id_token: String,
        /// The account's email; `None` takes the token's `email` claim, which must be
        /// verified (`email_verified: true`).
        pub email: Option<String>,
    }
}

arguments! {
    /// `loginWithToken(provider, idToken, isExpirable)`.
    pub struct LoginWithToken {
        /// The provider's name in the master's configuration.
        pub provider: String,
        /// The OpenID Connect ID token.
        pub id_token: String,
        /// As for `login`.
        pub is_expirable: bool,
    }
}

arguments! {
    /// `setPassword(sessionID, newHashedPass, oldHashedPass)`.
    pub struct SetPassword {
        /// The session of the account whose password is set.
        pub session_id: String,
        /// The client-side hash of the new password.
        pub new_hashed_password: String,
        /// The client-side hash of the current password: required when the account has one,
        /// `None` when it has none yet.
        pub old_hashed_password: Option<String>,
    }
}

arguments! {
    /// `linkIdentity(sessionID, provider, idToken)`: another way into the session's account.
    pub struct LinkIdentity {
        /// The session of the account to link to.
        pub session_id: String,
        /// The provider's name in the master's configuration.
        pub provider: String,
        /// An ID token of the identity to link.
        pub id_token: String,
    }
}

arguments! {
    /// `unlinkIdentity(sessionID, provider)`.
    pub struct UnlinkIdentity {
        /// The session of the account.
        pub session_id: String,
        /// The provider whose identity is removed from the account.
        pub provider: String,
    }
}

/// `purchaseAsset(sessionID, name, quantity[, clientOrderId])` and
/// `sellAsset(sessionID, name, quantity[, clientOrderId])`.
///
/// argumentCount 3 is the spec's form; 4 adds the client's id for the order, which makes the
/// order idempotent: the same id again (same account) returns the first one's outcome instead
/// of trading again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TradeOrder {
    /// The caller's session.
    pub session_id: String,
    /// Asset symbol.
    pub symbol: String,
    /// Whole units to buy or sell, 1..=1,000,000,000.
    pub quantity: u64,
    /// The client's id for this order (1–64 characters of `A-Z a-z 0-9 . _ : -`), if any.
    pub client_order_id: Option<String>,
}

impl Arguments for TradeOrder {
    const COUNT: u16 = 3;
    const COUNTS: &'static [u16] = &[3, 4];

    fn argument_count(&self) -> u16 {
        if self.client_order_id.is_some() {
            4
        } else {
            3
        }
    }

    fn encode_payload(&self, out: &mut BytesMut) -> Result<(), ProtocolError> {
        let base = (&self.session_id, &self.symbol, self.quantity);
        match &self.client_order_id {
            None => crate::arguments::encode_bincode(&base, out),
            Some(id) => crate::arguments::encode_bincode(&(base.0, base.1, base.2, id), out),
        }
    }

    fn decode_payload(
        instruction: Instruction,
        payload: &Bytes,
        count: u16,
        _number: u32,
        _max: u32,
    ) -> Result<Self, ProtocolError> {
        if count == 4 {
            let (session_id, symbol, quantity, id) =
                crate::arguments::decode_bincode::<(String, String, u64, String)>(
                    instruction,
                    payload,
                )?;
            Ok(Self {
                session_id,
                symbol,
                quantity,
                client_order_id: Some(id),
            })
        } else {
            let (session_id, symbol, quantity) =
                crate::arguments::decode_bincode::<(String, String, u64)>(instruction, payload)?;
            Ok(Self {
                session_id,
                symbol,
                quantity,
                client_order_id: None,
            })
        }
    }
}

arguments! {
    /// `placeOrder(sessionID, side, name, quantity, kind, limitPrice, stopPrice, timeInForce,
    /// clientOrderId)`: an order that is accepted at once and fills at later ticks.
    pub struct PlaceOrder {
        /// The caller's session.
        pub session_id: String,
        /// Buy or sell.
        pub side: Side,
        /// Asset symbol.
        pub symbol: String,
        /// Whole units, 1..=1,000,000,000.
        pub quantity: u64,
        /// Market, limit, stop or stop-limit.
        pub kind: OrderKind,
        /// Required for limit and stop-limit orders, absent otherwise.
        pub limit_price: Option<Money>,
        /// Required for stop and stop-limit orders, absent otherwise.
        pub stop_price: Option<Money>,
        /// Time in force.
        pub time_in_force: TimeInForce,
        /// The client's id for the order (as for `purchaseAsset`): the same id again returns
        /// the first order's id instead of placing another.
        pub client_order_id: Option<String>,
    }
}

arguments! {
    /// The `orderAccepted` reply: the order is open (or, for a repeated `clientOrderId`, the
    /// order that id placed, as it stands now).
    pub struct OrderAccepted {
        /// The order's id.
        pub order_id: u64,
        /// Its status now.
        pub status: OrderStatus,
        /// When it was placed, ms since the epoch.
        pub placed_at_ms: i64,
    }
}

arguments! {
    /// `cancelOrder(sessionID, orderId)`.
    pub struct CancelOrder {
        /// The caller's session.
        pub session_id: String,
        /// The order to cancel.
        pub order_id: u64,
    }
}

arguments! {
    /// The `cancelSuccess` reply: the order is cancelled; what had filled stays filled.
    pub struct OrderCancelled {
        /// The order's id.
        pub order_id: u64,
        /// Units that had filled before the cancel.
        pub filled_quantity: u64,
    }
}

arguments! {
    /// `getOrders(sessionID, includeClosed)`.
    pub struct OrdersQuery {
        /// The caller's session; only its own account's orders are listed.
        pub session_id: String,
        /// false: open orders only; true: every order of the current period.
        pub include_closed: bool,
    }
}

arguments! {
    /// The `resetSuccess` reply: the account's new period.
    pub struct AccountReset {
        /// The new period's number.
        pub period: u64,
        /// Its cash: the starting cash.
        pub cash: Money,
    }
}

arguments! {
    /// `getPeriodTransactions(sessionID, period)`.
    pub struct PeriodQuery {
        /// The caller's session; only its own account's trades are listed.
        pub session_id: String,
        /// The period (as `getPeriods` lists them).
        pub period: u64,
    }
}

arguments! {
    /// `getEquityHistory(sessionID, from, to)`.
    pub struct EquityQuery {
        /// The caller's session; only its own account's equity is shown.
        pub session_id: String,
        /// Range start (inclusive), ms since the epoch.
        pub from_ms: i64,
        /// Range end (inclusive), ms since the epoch.
        pub to_ms: i64,
    }
}

arguments! {
    /// The `purchaseSuccess` / `sellSuccess` reply: the settled trade.
    pub struct TradeReceipt {
        /// Transaction id in the account's history.
        pub transaction_id: u64,
        /// Asset symbol.
        pub symbol: String,
        /// Units bought or sold.
        pub quantity: u64,
        /// Settlement price per unit.
        pub price: Money,
        /// The account's cash after settlement.
        pub cash_after: Money,
        /// Settlement time, milliseconds since the Unix epoch (UTC).
        pub settled_at_ms: i64,
        /// Commission paid (included in `cash_after`).
        pub commission: Money,
    }
}

arguments! {
    /// `switchState(sessionID, state)`.
    pub struct SwitchState {
        /// The caller's session.
        pub session_id: String,
        /// The state to switch to.
        pub state: ConnectionState,
    }
}

arguments! {
    /// The `stateSwitchSuccess` reply.
    pub struct StateSwitched {
        /// The connection's state from now on.
        pub state: ConnectionState,
    }
}

arguments! {
    /// `getAssetInfo(asset)`, `getAssetValueCurrent(asset)`, `getAssetValueAllTime(asset)`.
    pub struct AssetQuery {
        /// Asset symbol.
        pub symbol: String,
    }
}

arguments! {
    /// `getAssetValueDay/Week/Month/Year(asset, date)`.
    pub struct AssetRangeQuery {
        /// Asset symbol.
        pub symbol: String,
        /// End of the range, milliseconds since the Unix epoch (UTC).
        pub date_ms: i64,
    }
}

arguments! {
    /// `getUserInfo`, `getUserPortfolio`, `getUserTransactionHistory(sessionID, username)`.
    pub struct UserQuery {
        /// The caller's session; private fields are filled only when it belongs to `username`.
        pub session_id: String,
        /// Whose data.
        pub username: String,
    }
}

arguments! {
    /// One worker a client may connect to.
    pub struct WorkerEndpoint {
        /// The worker's registered name.
        pub name: String,
        /// `host:port` clients should connect to.
        pub address: String,
    }
}

arguments! {
    /// The `workerList` reply: the workers that are online now.
    pub struct WorkerList {
        /// Online workers.
        pub workers: Vec<WorkerEndpoint>,
    }
}

arguments! {
    /// Link: the worker's opening message.
    pub struct WorkerHello {
        /// The worker's registered UUID (16 bytes, RFC 4122 byte order).
        pub worker_uuid: [u8; 16],
        /// Fresh random bytes the master must sign, proving its key to the worker.
        pub worker_nonce: [u8; 32],
    }
}

arguments! {
    /// Link: the master's challenge, with its proof of identity.
    pub struct AdmissionChallenge {
        /// Fresh single-use random bytes the worker must sign.
        pub master_nonce: [u8; 32],
        /// Binary OpenPGP detached signature by the master over the master-proof context.
        pub master_signature: Vec<u8>,
    }
}

arguments! {
    /// Link: the worker's answer to the challenge.
    pub struct AdmissionProof {
        /// Binary OpenPGP detached signature by the worker over the worker-proof context.
        pub signature: Vec<u8>,
    }
}

arguments! {
    /// Link: the worker is admitted.
    pub struct Admitted {
        /// The name the master has registered for this worker.
        pub worker_name: String,
        /// The master's price update interval in milliseconds.
        pub update_interval_ms: u64,
    }
}

/// Link: a client request forwarded by a worker.
///
/// Encoded as the bincode of its fields in order, `frame` as a `u64` length and the bytes —
/// decoded without copying the frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Forward {
    /// Worker-chosen id; every reply frame to this request carries it back.
    pub request_id: u64,
    /// The forwarding worker's UUID; the master refuses one that is not the link's.
    pub worker_uuid: [u8; 16],
    /// The worker's id for the client connection (unique per worker link); the master ends
    /// that connection's connection-bound sessions on `clientClosed`.
    pub client_connection: u64,
    /// The client's address as the worker saw it.
    pub client_ip: IpAddr,
    /// When the worker received the request, milliseconds since the Unix epoch (UTC).
    pub received_at_ms: i64,
    /// The client's request as one complete frame (header and payload), as received.
    pub frame: Bytes,
}

impl Arguments for Forward {
    const COUNT: u16 = 6;

    fn encode_payload(&self, out: &mut BytesMut) -> Result<(), ProtocolError> {
        let head = (
            self.request_id,
            self.worker_uuid,
            self.client_connection,
            self.client_ip,
            self.received_at_ms,
        );
        crate::arguments::encode_bincode(&head, out)?;
        crate::arguments::put_bytes(out, &self.frame);
        Ok(())
    }

    fn decode_payload(
        instruction: Instruction,
        payload: &Bytes,
        _count: u16,
        _number: u32,
        _max: u32,
    ) -> Result<Self, ProtocolError> {
        let ((request_id, worker_uuid, client_connection, client_ip, received_at_ms), frame) =
            crate::arguments::decode_with_bytes::<(u64, [u8; 16], u64, IpAddr, i64)>(
                instruction,
                payload,
            )?;
        Ok(Self {
            request_id,
            worker_uuid,
            client_connection,
            client_ip,
            received_at_ms,
            frame,
        })
    }
}

/// Link: one reply frame to a forwarded request (a `data` reply is several of these).
///
/// Encoded as `requestId: u64`, then `frame` as a `u64` length and the bytes — decoded without
/// copying the frame, which the worker passes on to its client as it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ForwardReply {
    /// The `request_id` of the [`Forward`] being answered.
    pub request_id: u64,
    /// One complete reply frame.
    pub frame: Bytes,
}

impl ForwardReply {
    /// Appends the `forwardReply` frame answering `request_id` with `reply`, which is encoded
    /// in place: its bytes are written once, straight into `out`. `max_payload` bounds both
    /// the reply's frame and the `forwardReply`'s own payload; on `Err`, `out` is as it was.
    pub fn write_around(
        request_id: u64,
        reply: &Message,
        max_payload: u32,
        out: &mut BytesMut,
    ) -> Result<(), ProtocolError> {
        use bytes::BufMut;
        let start = out.len();
        let prefix = crate::header::HEADER_LEN + 16;
        out.resize(start + prefix, 0);
        if let Err(e) = reply.write_frame(max_payload, out) {
            out.truncate(start);
            return Err(e);
        }
        let inner = out.len() - start - prefix;
        let payload = 16 + inner;
        if payload > max_payload as usize {
            out.truncate(start);
            return Err(ProtocolError::TooLarge {
                instruction: Instruction::ForwardReply,
                size: payload,
                max: max_payload,
            });
        }
        let mut head = &mut out[start..start + prefix];
        crate::header::RawHeader {
            version: crate::header::PROTOCOL_VERSION,
            message_type: crate::header::MessageType::Link as u8,
            instruction: Instruction::ForwardReply as u16,
            data_size: payload as u32,
            argument_count: Self::COUNT,
            data_message_number: 1,
            data_message_max: 1,
        }
        .write(&mut head);
        head.put_u64(request_id);
        head.put_u64(inner as u64);
        Ok(())
    }
}

impl Arguments for ForwardReply {
    const COUNT: u16 = 2;

    fn encode_payload(&self, out: &mut BytesMut) -> Result<(), ProtocolError> {
        out.extend_from_slice(&self.request_id.to_be_bytes());
        crate::arguments::put_bytes(out, &self.frame);
        Ok(())
    }

    fn decode_payload(
        instruction: Instruction,
        payload: &Bytes,
        _count: u16,
        _number: u32,
        _max: u32,
    ) -> Result<Self, ProtocolError> {
        let (request_id, frame) = crate::arguments::decode_with_bytes::<u64>(instruction, payload)?;
        Ok(Self { request_id, frame })
    }
}

arguments! {
    /// Link: a client connection of the worker has closed.
    pub struct ClientClosed {
        /// The `client_connection` used in its [`Forward`]s.
        pub client_connection: u64,
    }
}

/// One client connection whose DataTransfer state ended with its session.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct DataStateEnd {
    /// The worker's id for the client connection (as in its `forward`s).
    pub client_connection: u64,
    /// The `requestId` of the `switchState` forward that opened the state.
    pub grant: u64,
    /// Why: SessionInvalid (logged out, revoked, its connection closed) or SessionExpired.
    pub reason: crate::reason::ReasonCode,
}

arguments! {
    /// Link: master → worker, the sessions behind these client connections' DataTransfer
    /// state have ended; their data requests must be refused from now on. The worker answers
    /// with [`DataStateEndedAck`] once it has applied it.
    pub struct DataStateEnded {
        /// Echoed by the acknowledgement.
        pub seq: u64,
        /// The connections and why.
        pub ends: Vec<DataStateEnd>,
    }
}

arguments! {
    /// Link: worker → master, [`DataStateEnded`] `seq` is applied.
    pub struct DataStateEndedAck {
        /// The `seq` of the applied message.
        pub seq: u64,
    }
}

arguments! {
    /// Link: new prices, pushed by the master to every worker once per update interval.
    pub struct PriceTick {
        /// Tick sequence number, increasing by one per interval.
        pub tick: u64,
        /// Time of the tick, milliseconds since the Unix epoch (UTC).
        pub at_ms: i64,
        /// The latest quote of every asset.
        pub quotes: Vec<Quote>,
        /// When the master sent this tick to the worker, ms (subscribers' pushes carry it).
        pub published_at_ms: i64,
    }
}

arguments! {
    /// `subscribeQuotes(subscriptionId, symbols)`: push the quotes of `symbols` at every tick.
    pub struct SubscribeQuotes {
        /// Chosen by the client; unique among the connection's live subscriptions.
        pub subscription_id: u64,
        /// 1 to [`crate::stream::MAX_SUBSCRIBED_SYMBOLS`] listed symbols.
        pub symbols: Vec<String>,
    }
}

arguments! {
    /// `subscribeAccount(sessionID, subscriptionId, sinceTransactionId)`: push the session's
    /// own account events; with `sinceTransactionId`, first the fills after that transaction.
    pub struct SubscribeAccount {
        /// The caller's session (its account's events are pushed).
        pub session_id: String,
        /// Chosen by the client; unique among the connection's live subscriptions.
        pub subscription_id: u64,
        /// Replay the fills with a larger transaction id first (none: live events only).
        pub since_transaction_id: Option<u64>,
    }
}

arguments! {
    /// `unsubscribe(subscriptionId)`.
    pub struct SubscriptionId {
        /// The subscription.
        pub subscription_id: u64,
    }
}

arguments! {
    /// The `subscribeSuccess` reply: the subscription is live.
    pub struct Subscribed {
        /// The subscription.
        pub subscription_id: u64,
        /// For `subscribeAccount`: the account's last transaction id when the subscription
        /// started (after any replayed fills). A client that saw no fill since subscribes
        /// again with it as `sinceTransactionId` and misses nothing. 0 for quotes.
        pub resume_from: u64,
    }
}

arguments! {
    /// The `unsubscribeSuccess` reply: no push of the subscription follows it.
    pub struct Unsubscribed {
        /// The subscription.
        pub subscription_id: u64,
        /// The sequence number of its last push (0: none was sent).
        pub last_sequence: u64,
    }
}

arguments! {
    /// Push `quotes`: the latest quotes of a quote subscription's symbols (those the tick carries).
    pub struct QuotePush {
        /// The subscription.
        pub subscription_id: u64,
        /// 1, 2, … per update given to the subscription; a gap means conflated updates.
        pub sequence: u64,
        /// The master's tick number of these quotes.
        pub tick: u64,
        /// When the master published the tick, ms since the Unix epoch (UTC).
        pub published_at_ms: i64,
        /// One quote per subscribed symbol the tick carried.
        pub quotes: Vec<Quote>,
    }
}

arguments! {
    /// Push `accountEvent`: one event of the subscriber's own account.
    pub struct AccountPush {
        /// The subscription.
        pub subscription_id: u64,
        /// 1, 2, … per event; account events are never conflated.
        pub sequence: u64,
        /// What happened (boxed: it is the largest body of a frame kept in memory).
        pub event: Box<crate::stream::AccountEvent>,
    }
}

arguments! {
    /// Push `subscriptionEnded`: the server ended the subscription; nothing of it follows.
    pub struct SubscriptionEnded {
        /// The subscription.
        pub subscription_id: u64,
        /// The sequence number of its last push (0: none was sent).
        pub last_sequence: u64,
        /// Why (SlowConsumer, SessionInvalid, SessionExpired, WrongState, Unavailable).
        pub reason: crate::reason::ReasonCode,
        /// The reason in words.
        pub message: String,
    }
}

/// Account events for one client subscription, inside [`AccountEvents`].
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct WatchedEvents {
    /// The worker's id for the client connection.
    pub client_connection: u64,
    /// The subscription's watch id: the `requestId` of the `subscribeAccount` forward that
    /// made it (unique on the link, unlike the client's subscription id, which may be reused).
    pub watch: u64,
    /// The events, in order.
    pub events: Vec<crate::stream::AccountEvent>,
}

arguments! {
    /// Link: master → worker, account events for client subscriptions, in order.
    pub struct AccountEvents {
        /// One entry per subscription (a subscription's events may span entries and frames,
        /// in order).
        pub entries: Vec<WatchedEvents>,
    }
}

arguments! {
    /// Link: worker → master, stop sending a client subscription's account events.
    pub struct Unwatch {
        /// The worker's id for the client connection.
        pub client_connection: u64,
        /// The subscription's watch id (see [`WatchedEvents::watch`]).
        pub watch: u64,
    }
}

/// One `data` packet: a slice of an encoded [`crate::DataBody`].
///
/// Its position travels in the header (`dataMessageNumber`, `dataMessageMax`); the payload is
/// the raw chunk, with no length prefix. `argumentCount` is 1.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DataPacket {
    /// 1-based packet number.
    pub number: u32,
    /// Total packets in this transfer.
    pub max: u32,
    /// This packet's bytes of the encoded body.
    pub chunk: Bytes,
}

impl Arguments for DataPacket {
    const COUNT: u16 = 1;

    fn encode_payload(&self, out: &mut BytesMut) -> Result<(), ProtocolError> {
        out.extend_from_slice(&self.chunk);
        Ok(())
    }

    fn decode_payload(
        _instruction: Instruction,
        payload: &Bytes,
        _count: u16,
        number: u32,
        max: u32,
    ) -> Result<Self, ProtocolError> {
        Ok(Self {
            number,
            max,
            chunk: payload.clone(),
        })
    }

    fn packet_position(&self) -> (u32, u32) {
        (self.number, self.max)
    }
}
