//! The instruction table: every instruction's number, wire name, message type and argument
//! list, and the typed [`Message`] enum generated from the same table, so the two cannot
//! disagree. Numbers are stable: `0x01xx` Command, `0x02xx` DataRequest, `0x03xx` Return,
//! `0x04xx` Link, `0x05xx` Push.

use bytes::{Bytes, BytesMut};

use crate::arguments::Arguments;
use crate::error::{ProtocolError, Rejected};
use crate::header::{Header, MessageType, RawHeader, HEADER_LEN};
use crate::message::*;
use crate::reason::Failure;

macro_rules! instruction_table {
    ($($(#[$doc:meta])* $variant:ident($args:ty) = $number:literal, $kind:ident, $name:literal;)*) => {
        /// An instruction number. `as u16` gives the wire value.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        #[repr(u16)]
        pub enum Instruction {
            $($(#[$doc])* $variant = $number,)*
        }

        impl Instruction {
            /// Every instruction, in numeric order.
            pub const ALL: &'static [Instruction] = &[$(Instruction::$variant),*];

            /// The instruction for a wire number, if it names one.
            pub fn from_u16(number: u16) -> Option<Self> {
                match number {
                    $($number => Some(Self::$variant),)*
                    _ => None,
                }
            }

            /// The instruction's name as the spec and PROTOCOL.md spell it.
            pub fn name(self) -> &'static str {
                match self {
                    $(Self::$variant => $name,)*
                }
            }

            /// The messageType every frame of this instruction carries.
            pub fn message_type(self) -> MessageType {
                match self {
                    $(Self::$variant => MessageType::$kind,)*
                }
            }

            /// The argumentCount of this instruction's frames (the shortest form where
            /// trailing arguments are optional; see [`Instruction::argument_counts`]).
            pub fn argument_count(self) -> u16 {
                match self {
                    $(Self::$variant => <$args as Arguments>::COUNT,)*
                }
            }

            /// Every argumentCount a frame of this instruction may carry.
            pub fn argument_counts(self) -> &'static [u16] {
                match self {
                    $(Self::$variant => <$args as Arguments>::COUNTS,)*
                }
            }
        }

        /// A typed protocol message: an instruction with its arguments.
        #[derive(Debug, Clone, PartialEq, Eq)]
        pub enum Message {
            $($(#[$doc])* $variant($args),)*
        }

        impl Message {
            /// The instruction of this message.
            pub fn instruction(&self) -> Instruction {
                match self {
                    $(Self::$variant(_) => Instruction::$variant,)*
                }
            }

            fn encode_payload(&self, out: &mut BytesMut) -> Result<(), ProtocolError> {
                match self {
                    $(Self::$variant(args) => args.encode_payload(out),)*
                }
            }

            fn packet_position(&self) -> (u32, u32) {
                match self {
                    $(Self::$variant(args) => args.packet_position(),)*
                }
            }

            /// The argumentCount of this message's frame.
            pub fn argument_count(&self) -> u16 {
                match self {
                    $(Self::$variant(args) => args.argument_count(),)*
                }
            }

            fn decode_payload(header: &Header, payload: &Bytes) -> Result<Self, ProtocolError> {
                let (number, max) = (header.data_message_number, header.data_message_max);
                let count = header.argument_count;
                match header.instruction {
                    $(Instruction::$variant => {
                        <$args>::decode_payload(header.instruction, payload, count, number, max)
                            .map(Self::$variant)
                    })*
                }
            }
        }
    };
}

instruction_table! {
    /// `login(username, hashedPass, isExpirable)`.
    Login(Login) = 0x0101, Command, "login";
    /// `login(sessionID)`: resume a session on any worker.
    LoginWithSession(SessionToken) = 0x0102, Command, "loginWithSession";
    /// `register(username, email, hashedPass)`.
    Register(Register) = 0x0103, Command, "register";
    /// `purchaseAsset(sessionID, name, quantity)`.
    PurchaseAsset(TradeOrder) = 0x0104, Command, "purchaseAsset";
    /// `sellAsset(sessionID, name, quantity)`.
    SellAsset(TradeOrder) = 0x0105, Command, "sellAsset";
    /// `switchState(sessionID, state)`; legal in both states.
    SwitchState(SwitchState) = 0x0106, Command, "switchState";
    /// Ask the master for the online workers.
    GetWorkerList(Empty) = 0x0107, Command, "getWorkerList";
    /// End a session now.
    Logout(SessionToken) = 0x0108, Command, "logout";
    /// `registerWithToken(username, provider, idToken, email)`: a password-less account.
    RegisterWithToken(RegisterWithToken) = 0x0109, Command, "registerWithToken";
    /// `loginWithToken(provider, idToken, isExpirable)`.
    LoginWithToken(LoginWithToken) = 0x010A, Command, "loginWithToken";
    /// `setPassword(sessionID, newHashedPass, oldHashedPass)`.
    SetPassword(SetPassword) = 0x010B, Command, "setPassword";
    /// `linkIdentity(sessionID, provider, idToken)`.
    LinkIdentity(LinkIdentity) = 0x010C, Command, "linkIdentity";
    /// `unlinkIdentity(sessionID, provider)`.
    UnlinkIdentity(UnlinkIdentity) = 0x010D, Command, "unlinkIdentity";
    /// `placeOrder(sessionID, side, name, quantity, kind, limitPrice, stopPrice, timeInForce,
    /// clientOrderId)`.
    PlaceOrder(PlaceOrder) = 0x010E, Command, "placeOrder";
    /// `cancelOrder(sessionID, orderId)`.
    CancelOrder(CancelOrder) = 0x010F, Command, "cancelOrder";
    /// `resetAccount(sessionID)`: a new period at the starting cash.
    ResetAccount(SessionToken) = 0x0110, Command, "resetAccount";
    /// `getAssetInfo(asset)`.
    GetAssetInfo(AssetQuery) = 0x0201, DataRequest, "getAssetInfo";
    /// `getAssetValueCurrent(asset)`.
    GetAssetValueCurrent(AssetQuery) = 0x0202, DataRequest, "getAssetValueCurrent";
    /// `getAssetValueDay(asset, date)`.
    GetAssetValueDay(AssetRangeQuery) = 0x0203, DataRequest, "getAssetValueDay";
    /// `getAssetValueWeek(asset, date)`.
    GetAssetValueWeek(AssetRangeQuery) = 0x0204, DataRequest, "getAssetValueWeek";
    /// `getAssetValueMonth(asset, date)`.
    GetAssetValueMonth(AssetRangeQuery) = 0x0205, DataRequest, "getAssetValueMonth";
    /// `getAssetValueYear(asset, date)`.
    GetAssetValueYear(AssetRangeQuery) = 0x0206, DataRequest, "getAssetValueYear";
    /// `getAssetValueAllTime(asset)`.
    GetAssetValueAllTime(AssetQuery) = 0x0207, DataRequest, "getAssetValueAllTime";
    /// `getUserInfo(sessionID, username)`.
    GetUserInfo(UserQuery) = 0x0208, DataRequest, "getUserInfo";
    /// `getUserPortfolio(sessionID, username)`.
    GetUserPortfolio(UserQuery) = 0x0209, DataRequest, "getUserPortfolio";
    /// `getUserTransactionHistory(sessionID, username)`.
    GetUserTransactionHistory(UserQuery) = 0x020A, DataRequest, "getUserTransactionHistory";
    /// `getServerInfo`: what a client should know first; legal in both states, no session.
    GetServerInfo(Empty) = 0x020B, DataRequest, "getServerInfo";
    /// `getSignInMethods(sessionID)`: the session's account's password flag and identities.
    GetSignInMethods(SessionToken) = 0x020C, DataRequest, "getSignInMethods";
    /// `getOrders(sessionID, includeClosed)`: the session's account's orders.
    GetOrders(OrdersQuery) = 0x020D, DataRequest, "getOrders";
    /// `getPeriods(sessionID)`: the session's account's trading periods.
    GetPeriods(SessionToken) = 0x020E, DataRequest, "getPeriods";
    /// `getPeriodTransactions(sessionID, period)`: the trades of one period.
    GetPeriodTransactions(PeriodQuery) = 0x020F, DataRequest, "getPeriodTransactions";
    /// `getEquityHistory(sessionID, from, to)`: the account's equity over a range.
    GetEquityHistory(EquityQuery) = 0x0210, DataRequest, "getEquityHistory";
    /// Push the quotes of some symbols at every tick (see [`crate::stream`]).
    SubscribeQuotes(SubscribeQuotes) = 0x0211, DataRequest, "subscribeQuotes";
    /// Push the session's own account events, after the fills missed since a transaction.
    SubscribeAccount(SubscribeAccount) = 0x0212, DataRequest, "subscribeAccount";
    /// End a subscription.
    Unsubscribe(SubscriptionId) = 0x0213, DataRequest, "unsubscribe";
    /// `loginFail`.
    LoginFail(Failure) = 0x0301, Return, "loginFail";
    /// `sessionID`: the session id of a successful login.
    SessionId(SessionToken) = 0x0302, Return, "sessionID";
    /// `registerSuccess`.
    RegisterSuccess(Empty) = 0x0303, Return, "registerSuccess";
    /// `registerFail`.
    RegisterFail(Failure) = 0x0304, Return, "registerFail";
    /// `purchaseSuccess`, with the settled trade.
    PurchaseSuccess(TradeReceipt) = 0x0305, Return, "purchaseSuccess";
    /// `purchaseFail`.
    PurchaseFail(Failure) = 0x0306, Return, "purchaseFail";
    /// `sellSuccess`, with the settled trade.
    SellSuccess(TradeReceipt) = 0x0307, Return, "sellSuccess";
    /// `sellFail`.
    SellFail(Failure) = 0x0308, Return, "sellFail";
    /// `stateSwitchSuccess`.
    StateSwitchSuccess(StateSwitched) = 0x0309, Return, "stateSwitchSuccess";
    /// `stateSwitchFail`.
    StateSwitchFail(Failure) = 0x030A, Return, "stateSwitchFail";
    /// `data`: one packet of a data transfer.
    Data(DataPacket) = 0x030B, Return, "data";
    /// `dataFail`.
    DataFail(Failure) = 0x030C, Return, "dataFail";
    /// The online workers (reply to `getWorkerList`).
    WorkerList(WorkerList) = 0x030D, Return, "workerList";
    /// `logout` succeeded.
    LogoutSuccess(Empty) = 0x030E, Return, "logoutSuccess";
    /// `logout` failed.
    LogoutFail(Failure) = 0x030F, Return, "logoutFail";
    /// `setPassword` succeeded.
    SetPasswordSuccess(Empty) = 0x0310, Return, "setPasswordSuccess";
    /// `setPassword` failed.
    SetPasswordFail(Failure) = 0x0311, Return, "setPasswordFail";
    /// `linkIdentity` succeeded.
    LinkIdentitySuccess(Empty) = 0x0312, Return, "linkIdentitySuccess";
    /// `linkIdentity` failed.
    LinkIdentityFail(Failure) = 0x0313, Return, "linkIdentityFail";
    /// `unlinkIdentity` succeeded.
    UnlinkIdentitySuccess(Empty) = 0x0314, Return, "unlinkIdentitySuccess";
    /// `unlinkIdentity` failed.
    UnlinkIdentityFail(Failure) = 0x0315, Return, "unlinkIdentityFail";
    /// `placeOrder` accepted the order.
    OrderAccepted(OrderAccepted) = 0x0316, Return, "orderAccepted";
    /// `placeOrder` refused the order.
    OrderFail(Failure) = 0x0317, Return, "orderFail";
    /// `cancelOrder` cancelled the order.
    CancelSuccess(OrderCancelled) = 0x0318, Return, "cancelSuccess";
    /// `cancelOrder` failed.
    CancelFail(Failure) = 0x0319, Return, "cancelFail";
    /// `resetAccount` succeeded.
    ResetSuccess(AccountReset) = 0x031A, Return, "resetSuccess";
    /// `resetAccount` failed.
    ResetFail(Failure) = 0x031B, Return, "resetFail";
    /// The subscription is live; pushes may follow this reply.
    SubscribeSuccess(Subscribed) = 0x031C, Return, "subscribeSuccess";
    /// A subscribe request failed.
    SubscribeFail(Failure) = 0x031D, Return, "subscribeFail";
    /// The subscription ended; no push of it follows this reply.
    UnsubscribeSuccess(Unsubscribed) = 0x031E, Return, "unsubscribeSuccess";
    /// `unsubscribe` failed (no such subscription).
    UnsubscribeFail(Failure) = 0x031F, Return, "unsubscribeFail";
    /// A frame that could not be attributed to a request, or a request this peer does not serve.
    Error(Failure) = 0x03FF, Return, "error";
    /// Link: worker → master, first message.
    WorkerHello(WorkerHello) = 0x0401, Link, "workerHello";
    /// Link: master → worker, challenge and master proof.
    AdmissionChallenge(AdmissionChallenge) = 0x0402, Link, "admissionChallenge";
    /// Link: worker → master, signed challenge.
    AdmissionProof(AdmissionProof) = 0x0403, Link, "admissionProof";
    /// Link: master → worker, admitted.
    Admitted(Admitted) = 0x0404, Link, "admitted";
    /// Link: master → worker, refused; the master closes the link after it.
    AdmissionRefused(Failure) = 0x0405, Link, "admissionRefused";
    /// Link: worker → master, a client request with its origin.
    Forward(Forward) = 0x0406, Link, "forward";
    /// Link: master → worker, one reply frame to a forwarded request.
    ForwardReply(ForwardReply) = 0x0407, Link, "forwardReply";
    /// Link: master → worker, the latest prices.
    PriceTick(PriceTick) = 0x0408, Link, "priceTick";
    /// Link: master → worker, the link is being closed (boot-off, shutdown).
    LinkClosed(Failure) = 0x0409, Link, "linkClosed";
    /// Link: worker → master, a client connection closed.
    ClientClosed(ClientClosed) = 0x040A, Link, "clientClosed";
    /// Link: master → worker, sessions behind DataTransfer states have ended.
    DataStateEnded(DataStateEnded) = 0x040B, Link, "dataStateEnded";
    /// Link: worker → master, a `dataStateEnded` is applied.
    DataStateEndedAck(DataStateEndedAck) = 0x040C, Link, "dataStateEndedAck";
    /// Link: master → worker, account events for a client subscription.
    AccountEvents(AccountEvents) = 0x040D, Link, "accountEvents";
    /// Link: worker → master, a client subscription to account events ended.
    Unwatch(Unwatch) = 0x040E, Link, "unwatch";
    /// Push: the latest quotes of a quote subscription.
    QuotePush(QuotePush) = 0x0501, Push, "quotes";
    /// Push: one event of the subscriber's account.
    AccountPush(AccountPush) = 0x0502, Push, "accountEvent";
    /// Push: the server ended a subscription.
    SubscriptionEnded(SubscriptionEnded) = 0x0503, Push, "subscriptionEnded";
}

impl Instruction {
    /// True for `data`, the only instruction whose frames may have `dataMessageMax > 1`.
    pub fn is_multi_packet(self) -> bool {
        self == Instruction::Data
    }

    /// True for the Fail replies (`loginFail`, …, `error`): their arguments are a reason code
    /// and a message.
    pub fn is_failure(self) -> bool {
        matches!(
            self,
            Self::LoginFail
                | Self::RegisterFail
                | Self::PurchaseFail
                | Self::SellFail
                | Self::StateSwitchFail
                | Self::DataFail
                | Self::LogoutFail
                | Self::SetPasswordFail
                | Self::LinkIdentityFail
                | Self::UnlinkIdentityFail
                | Self::OrderFail
                | Self::CancelFail
                | Self::ResetFail
                | Self::SubscribeFail
                | Self::UnsubscribeFail
                | Self::Error
        )
    }

    /// True for instructions a client sends (Command and DataRequest types).
    pub fn is_request(self) -> bool {
        matches!(
            self.message_type(),
            MessageType::Command | MessageType::DataRequest
        )
    }

    /// The Fail reply that answers this request when it fails: `loginFail` for both logins,
    /// `registerFail` for both registrations, `dataFail` for every data request, and so on;
    /// `error` for anything else.
    pub fn failure_reply(self, failure: Failure) -> Message {
        match self {
            Self::Login | Self::LoginWithSession | Self::LoginWithToken => {
                Message::LoginFail(failure)
            }
            Self::Register | Self::RegisterWithToken => Message::RegisterFail(failure),
            Self::SetPassword => Message::SetPasswordFail(failure),
            Self::LinkIdentity => Message::LinkIdentityFail(failure),
            Self::UnlinkIdentity => Message::UnlinkIdentityFail(failure),
            Self::PurchaseAsset => Message::PurchaseFail(failure),
            Self::SellAsset => Message::SellFail(failure),
            Self::PlaceOrder => Message::OrderFail(failure),
            Self::CancelOrder => Message::CancelFail(failure),
            Self::ResetAccount => Message::ResetFail(failure),
            Self::SubscribeQuotes | Self::SubscribeAccount => Message::SubscribeFail(failure),
            Self::Unsubscribe => Message::UnsubscribeFail(failure),
            Self::SwitchState => Message::StateSwitchFail(failure),
            Self::Logout => Message::LogoutFail(failure),
            _ if self.message_type() == MessageType::DataRequest => Message::DataFail(failure),
            _ => Message::Error(failure),
        }
    }
}

impl std::fmt::Display for Instruction {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} (0x{:04x})", self.name(), *self as u16)
    }
}

impl Message {
    /// The reason and message of a Fail reply; `None` for anything else.
    pub fn failure(&self) -> Option<&Failure> {
        match self {
            Message::LoginFail(f)
            | Message::RegisterFail(f)
            | Message::PurchaseFail(f)
            | Message::SellFail(f)
            | Message::StateSwitchFail(f)
            | Message::DataFail(f)
            | Message::LogoutFail(f)
            | Message::SetPasswordFail(f)
            | Message::LinkIdentityFail(f)
            | Message::UnlinkIdentityFail(f)
            | Message::OrderFail(f)
            | Message::CancelFail(f)
            | Message::ResetFail(f)
            | Message::SubscribeFail(f)
            | Message::UnsubscribeFail(f)
            | Message::Error(f) => Some(f),
            _ => None,
        }
    }

    /// Appends this message as one complete frame to `out`, the payload written in place and
    /// the header filled in after it (no intermediate buffer). The payload may be at most
    /// `max_payload` bytes; on `Err`, `out` is as it was.
    pub fn write_frame(&self, max_payload: u32, out: &mut BytesMut) -> Result<(), ProtocolError> {
        let instruction = self.instruction();
        let start = out.len();
        out.resize(start + HEADER_LEN, 0);
        if let Err(e) = self.encode_payload(out) {
            out.truncate(start);
            return Err(e);
        }
        let size = out.len() - start - HEADER_LEN;
        if size > max_payload as usize {
            out.truncate(start);
            return Err(ProtocolError::TooLarge {
                instruction,
                size,
                max: max_payload,
            });
        }
        let (number, max) = self.packet_position();
        let header = Header {
            message_type: instruction.message_type(),
            instruction,
            data_size: size as u32,
            argument_count: self.argument_count(),
            data_message_number: number,
            data_message_max: max,
        };
        header
            .to_raw()
            .write(&mut &mut out[start..start + HEADER_LEN]);
        Ok(())
    }

    /// This message as one complete frame's bytes.
    pub fn to_frame_bytes(&self, max_payload: u32) -> Result<Bytes, ProtocolError> {
        let mut out = BytesMut::new();
        self.write_frame(max_payload, &mut out)?;
        Ok(out.freeze())
    }

    /// Encodes this message as the bytes of one complete frame.
    pub fn to_bytes(&self, max_payload: u32) -> Result<Vec<u8>, ProtocolError> {
        Ok(self.to_frame_bytes(max_payload)?.to_vec())
    }

    /// Decodes a frame whose header passed [`RawHeader::check_framing`]; `payload` is shared,
    /// not copied (a `data` packet's chunk is a slice of it).
    pub fn from_raw(raw: &RawHeader, payload: Bytes) -> Result<Self, Rejected> {
        let header = raw.validate().map_err(|error| Rejected {
            instruction: Instruction::from_u16(raw.instruction),
            error,
        })?;
        Self::decode_payload(&header, &payload).map_err(|error| Rejected {
            instruction: Some(header.instruction),
            error,
        })
    }

    /// Decodes exactly one complete frame from `bytes` (as carried inside [`Forward`]).
    pub fn from_bytes(bytes: &[u8], max_payload: u32) -> Result<Self, Rejected> {
        Self::from_frame(Bytes::copy_from_slice(bytes), max_payload)
    }

    /// Decodes exactly one complete frame, sharing its bytes.
    pub fn from_frame(frame: Bytes, max_payload: u32) -> Result<Self, Rejected> {
        let raw = check_frame(&frame, max_payload).map_err(|error| Rejected {
            instruction: None,
            error,
        })?;
        Self::from_raw(&raw, frame.slice(HEADER_LEN..))
    }
}

/// The header of `frame` when it is exactly one well-framed frame (version, `dataSize` within
/// `max_payload` and equal to what follows the header).
pub fn check_frame(frame: &[u8], max_payload: u32) -> Result<RawHeader, ProtocolError> {
    let raw = RawHeader::read(frame).ok_or_else(|| {
        ProtocolError::header(
            crate::error::HeaderField::DataSize,
            format!("frame of {} bytes is shorter than the header", frame.len()),
        )
    })?;
    raw.check_framing(max_payload)?;
    let payload = frame.len() - HEADER_LEN;
    if payload != raw.data_size as usize {
        return Err(ProtocolError::header(
            crate::error::HeaderField::DataSize,
            format!("says {} bytes, frame holds {payload}", raw.data_size),
        ));
    }
    Ok(raw)
}
