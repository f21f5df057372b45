//! The one place where the domain's errors become the protocol's reason codes, and its
//! results the protocol's replies.
//!
//! Everything under [`crate::domain`] speaks in its own enums; the client router answers with
//! what this module makes of them, and the order-id store keeps a refusal as the client was
//! told it. This module depends on the domain and the protocol only, so every layer may use
//! it.

use papertrader_protocol::{Failure, ReasonCode, TradeReceipt};

use crate::domain::identities::TokenError;
use crate::domain::orders::{OrderError, Receipt, Rejection};
use crate::domain::sessions::SessionError;

/// The failure a client gets when the database is unreachable; the details go to the log.
pub fn unavailable() -> Failure {
    Failure::new(
        ReasonCode::Unavailable,
        "the database is unavailable; nothing was changed",
    )
}

/// The reason code of a rejection by the settlement rules.
fn rejection_code(rejection: &Rejection) -> ReasonCode {
    match rejection {
        Rejection::NoPrice { .. } => ReasonCode::NoData,
        Rejection::StalePrice { .. } => ReasonCode::StalePrice,
        Rejection::UnknownAccount => ReasonCode::UnknownUser,
        Rejection::QuantityTooLarge | Rejection::ValueOverflow | Rejection::CashOverflow => {
            ReasonCode::InvalidQuantity
        }
        Rejection::InsufficientCash { .. } => ReasonCode::InsufficientCash,
        Rejection::InsufficientHoldings { .. } => ReasonCode::InsufficientHoldings,
    }
}

/// The reply an order that got no receipt is answered with.
pub fn order_failure(error: &OrderError) -> Failure {
    let code = match error {
        OrderError::Rejected(rejection) => rejection_code(rejection),
        OrderError::IdReused { .. } => ReasonCode::InvalidArgument,
        OrderError::RefusedBefore { reason, .. } => {
            ReasonCode::from_u16(*reason).unwrap_or(ReasonCode::Internal)
        }
        OrderError::NotTraded { .. } => ReasonCode::UnknownAsset,
        OrderError::QueueFull => ReasonCode::QueueFull,
        OrderError::ShuttingDown | OrderError::SettlementFailed => ReasonCode::Unavailable,
        OrderError::Dropped => ReasonCode::Internal,
        OrderError::UnknownOrder(_) => ReasonCode::UnknownOrder,
        OrderError::OrderNotOpen { .. } => ReasonCode::OrderNotOpen,
        OrderError::NoReferencePrice { .. } => ReasonCode::NoData,
        OrderError::StopAlreadyReached(_) => ReasonCode::InvalidOrder,
        OrderError::OrderIdReused { .. } => ReasonCode::InvalidArgument,
        OrderError::ReplayTooLong { .. } => ReasonCode::InvalidArgument,
    };
    Failure::new(code, error.to_string())
}

impl From<OrderError> for Failure {
    fn from(error: OrderError) -> Self {
        order_failure(&error)
    }
}

/// The reply an account or session request refused by the session actor gets.
pub fn session_failure(error: &SessionError) -> Failure {
    let code = match error {
        SessionError::UsernameTaken => ReasonCode::UsernameTaken,
        SessionError::EmailTaken => ReasonCode::EmailTaken,
        SessionError::WrongCredentials => ReasonCode::BadCredentials,
        SessionError::PasswordNotSet(_) => ReasonCode::PasswordNotSet,
        SessionError::Token(TokenError::UnknownProvider(_)) => ReasonCode::UnknownProvider,
        SessionError::Token(TokenError::KeysUnavailable(_)) => ReasonCode::Unavailable,
        SessionError::Token(_) => ReasonCode::InvalidToken,
        SessionError::UnknownIdentity(_) | SessionError::NotLinked(_) => {
            ReasonCode::UnknownIdentity
        }
        SessionError::EmailNotVerified => ReasonCode::EmailNotVerified,
        SessionError::NoEmail => ReasonCode::InvalidEmail,
        SessionError::IdentityLinked(_)
        | SessionError::AlreadyYours(_)
        | SessionError::ProviderLinked(_) => ReasonCode::IdentityTaken,
        SessionError::LastSignInMethod(_) => ReasonCode::LastSignInMethod,
        SessionError::Throttled(_) | SessionError::TooManyLogins => ReasonCode::RateLimited,
        SessionError::Invalid => ReasonCode::SessionInvalid,
        SessionError::Expired => ReasonCode::SessionExpired,
        SessionError::BoundToItsConnection => ReasonCode::NotAuthorized,
        SessionError::HashingStopped | SessionError::HashingFailed => ReasonCode::Internal,
        SessionError::Unavailable => return unavailable(),
    };
    Failure::new(code, error.to_string())
}

impl From<SessionError> for Failure {
    fn from(error: SessionError) -> Self {
        session_failure(&error)
    }
}

/// The receipt a settled order is answered with.
pub fn trade_receipt(receipt: Receipt) -> TradeReceipt {
    TradeReceipt {
        transaction_id: receipt.transaction_id,
        symbol: receipt.symbol,
        quantity: receipt.quantity,
        price: receipt.price,
        cash_after: receipt.cash_after,
        settled_at_ms: receipt.settled_at_ms,
        commission: receipt.commission,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use papertrader_protocol::Money;

    #[test]
    fn every_order_error_keeps_the_reason_code_clients_were_documented() {
        let cases = [
            (
                OrderError::Rejected(Rejection::InsufficientCash {
                    cost: Money(2_000_000),
                    cash: Money(1_000_000),
                    reserved: Money(0),
                }),
                ReasonCode::InsufficientCash,
                "costs 2.00 but cash is 1.00",
            ),
            (
                Rejection::NoPrice {
                    symbol: "AAPL".into(),
                }
                .into(),
                ReasonCode::NoData,
                "AAPL has no price yet; no order in it can settle",
            ),
            (
                OrderError::RefusedBefore {
                    reason: ReasonCode::StalePrice as u16,
                    message: "as before".into(),
                },
                ReasonCode::StalePrice,
                "as before",
            ),
            (
                OrderError::IdReused { id: "x1".into() },
                ReasonCode::InvalidArgument,
                "clientOrderId x1 was already used for a different order; nothing was traded",
            ),
            (
                OrderError::ShuttingDown,
                ReasonCode::Unavailable,
                "the master is shutting down; the order was not placed",
            ),
        ];
        for (error, code, message) in cases {
            let failure = order_failure(&error);
            assert_eq!((failure.code, failure.message.as_str()), (code, message));
        }
    }

    #[test]
    fn session_errors_keep_their_documented_reason_codes() {
        let cases = [
            (SessionError::WrongCredentials, ReasonCode::BadCredentials),
            (
                SessionError::Throttled("wait".into()),
                ReasonCode::RateLimited,
            ),
            (SessionError::TooManyLogins, ReasonCode::RateLimited),
            (
                SessionError::BoundToItsConnection,
                ReasonCode::NotAuthorized,
            ),
            (SessionError::Invalid, ReasonCode::SessionInvalid),
            (SessionError::Expired, ReasonCode::SessionExpired),
            (SessionError::Unavailable, ReasonCode::Unavailable),
        ];
        for (error, code) in cases {
            let failure = session_failure(&error);
            assert_eq!(failure.code, code);
            assert_eq!(failure.message, error.to_string());
        }
        assert_eq!(
            session_failure(&SessionError::Throttled("try again in 4 s".into())).message,
            "try again in 4 s"
        );
    }
}
