//! Machine-readable reason codes carried by every Fail reply.

use serde::{Deserialize, Serialize};

macro_rules! reason_codes {
    ($($(#[$doc:meta])* $name:ident = $code:literal,)*) => {
        /// Why a request failed. Encoded as a big-endian `u16`; the numbers are stable.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
        #[serde(try_from = "u16", into = "u16")]
        #[repr(u16)]
        pub enum ReasonCode {
            $($(#[$doc])* $name = $code,)*
        }

        impl ReasonCode {
            /// Every reason code, in numeric order.
            pub const ALL: &'static [ReasonCode] = &[$(ReasonCode::$name),*];

            /// The code for a wire number, if it names one.
            pub fn from_u16(code: u16) -> Option<Self> {
                match code {
                    $($code => Some(Self::$name),)*
                    _ => None,
                }
            }

            /// The code's name as PROTOCOL.md lists it.
            pub fn name(self) -> &'static str {
                match self {
                    $(Self::$name => stringify!($name),)*
                }
            }
        }
    };
}

reason_codes! {
    /// The frame or its arguments could not be decoded.
    Malformed = 1,
    /// The instruction is not legal in the connection's current state.
    WrongState = 2,
    /// The instruction number is unknown, or not served by this peer.
    UnknownInstruction = 3,
    /// An argument is out of range or badly formatted.
    InvalidArgument = 4,
    /// A message would exceed the maximum frame size.
    TooLarge = 5,
    /// Unknown username or wrong password.
    BadCredentials = 10,
    /// The session id is unknown, revoked or malformed.
    SessionInvalid = 11,
    /// The session has expired.
    SessionExpired = 12,
    /// The session may not see or do this (for example another user's private data).
    NotAuthorized = 13,
    /// The account has no password (third-party login only).
    PasswordNotSet = 14,
    /// Too many attempts; try again later.
    RateLimited = 15,
    /// The ID token failed verification (signature, issuer, audience, times, algorithm).
    InvalidToken = 16,
    /// No identity provider of that name is configured.
    UnknownProvider = 17,
    /// The token's identity (issuer, subject) belongs to no account.
    UnknownIdentity = 18,
    /// The email was to be taken from the token, which does not say it is verified.
    EmailNotVerified = 19,
    /// The username is already registered.
    UsernameTaken = 20,
    /// The email is already registered.
    EmailTaken = 21,
    /// The username breaks the username rules.
    InvalidUsername = 22,
    /// The email is not a well-formed address or is too long.
    InvalidEmail = 23,
    /// The identity (issuer, subject) is already linked to an account, or the account already
    /// has an identity from that provider.
    IdentityTaken = 24,
    /// Removing it would leave the account with no way to sign in.
    LastSignInMethod = 25,
    /// The order was cancelled by a reset of its account.
    AccountReset = 26,
    /// The asset symbol is not traded here.
    UnknownAsset = 30,
    /// The quantity is zero or above the maximum.
    InvalidQuantity = 31,
    /// Not enough cash to settle the purchase.
    InsufficientCash = 32,
    /// Not enough holdings to settle the sale.
    InsufficientHoldings = 33,
    /// The asset's last price is stale; trading in it is paused.
    StalePrice = 34,
    /// The trade queue is full; the order was not accepted.
    QueueFull = 35,
    /// The order's kind, prices and time in force do not fit together (e.g. a limit order
    /// without a limit price, a stop-limit buy whose limit is below its stop).
    InvalidOrder = 36,
    /// No order of the session's account has that id.
    UnknownOrder = 37,
    /// The order is no longer open (filled, cancelled, expired or rejected).
    OrderNotOpen = 38,
    /// An ioc or fok order could not fill (fully, for fok) at its one tick; the rest is
    /// cancelled.
    NotFilled = 39,
    /// No data exists for the requested range.
    NoData = 40,
    /// The requested user does not exist.
    UnknownUser = 41,
    /// The subscriber fell behind its pushes for longer than the server allows; its
    /// subscriptions ended.
    SlowConsumer = 42,
    /// The connection already has a subscription with this id.
    SubscriptionExists = 43,
    /// The connection has no subscription with this id.
    UnknownSubscription = 44,
    /// A needed service (the master, the database) is unreachable right now.
    Unavailable = 50,
    /// An unexpected server error; nothing was changed.
    Internal = 51,
    /// The order reached the master but its outcome is unknown (the master or the link went
    /// away before answering): it may have settled. Send it again with the same
    /// `clientOrderId` to learn the outcome, or read the transaction history.
    OutcomeUnknown = 52,
    /// The worker UUID is not registered.
    WorkerUnknown = 60,
    /// The worker connects from an address not whitelisted for its UUID.
    AddressNotAllowed = 61,
    /// The OpenPGP signature did not verify.
    BadSignature = 62,
    /// The admission exchange broke its order or reused a challenge.
    HandshakeViolation = 63,
    /// An admin booted the worker off.
    BootedOff = 64,
    /// The worker's registered OpenPGP key is expired, revoked or may not sign.
    KeyNotValid = 65,
}

impl From<ReasonCode> for u16 {
    fn from(code: ReasonCode) -> u16 {
        code as u16
    }
}

impl TryFrom<u16> for ReasonCode {
    type Error = String;

    fn try_from(code: u16) -> Result<Self, Self::Error> {
        Self::from_u16(code).ok_or_else(|| format!("unknown reason code {code}"))
    }
}

impl std::fmt::Display for ReasonCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({})", self.name(), *self as u16)
    }
}

crate::arguments::arguments! {
    /// The arguments of every Fail reply: a reason code and a human-readable message.
    pub struct Failure {
        /// What went wrong, for programs.
        pub code: ReasonCode,
        /// What went wrong, for people.
        pub message: String,
    }
}

impl Failure {
    /// A failure with a code and message.
    pub fn new(code: ReasonCode, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
        }
    }
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.code.name(), self.message)
    }
}

impl std::error::Error for Failure {}
