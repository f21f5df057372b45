//! Input limits, in one place: every server checks arguments through [`validate`].

use crate::error::ProtocolError;
use crate::instruction::Message;
use crate::reason::ReasonCode;

/// Longest username (spec 2.4.1).
pub const MAX_USERNAME_CHARS: usize = 24;
/// Longest email: a 64-character local part, `@` and a 255-character domain (the spec's
/// 321 is the bound; no address that obeys the rules below can be longer than 320).
pub const MAX_EMAIL_CHARS: usize = 320;
/// Largest quantity of one order.
pub const MAX_QUANTITY: u64 = 1_000_000_000;
/// Largest limit or stop price of an order: 1,000,000,000.000000 in micro-units.
pub const MAX_PRICE_MICROS: i64 = 1_000_000_000_000_000;
/// Longest asset symbol.
pub const MAX_SYMBOL_CHARS: usize = 16;
/// Length of a session id: 32 lowercase hex characters (128 bits).
pub const SESSION_ID_CHARS: usize = 32;
/// Length of a client password hash: 64 lowercase hex characters.
pub const HASHED_PASSWORD_CHARS: usize = 64;
/// Longest client order id.
pub const MAX_CLIENT_ORDER_ID_CHARS: usize = 64;
/// Longest identity provider name.
pub const MAX_PROVIDER_CHARS: usize = 32;
/// Longest ID token: 16 KiB (providers' tokens are 1–2 KiB).
pub const MAX_ID_TOKEN_CHARS: usize = 16_384;
/// Latest date a history request may name: 9999-12-31T23:59:59.999Z, in ms.
pub const MAX_DATE_MS: i64 = 253_402_300_799_999;

fn invalid(argument: &'static str, code: ReasonCode, reason: impl Into<String>) -> ProtocolError {
    ProtocolError::InvalidArgument {
        argument,
        reason: reason.into(),
        code,
    }
}

fn is_lower_hex(text: &str, len: usize) -> bool {
    text.len() == len && text.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// 1–24 characters of `A-Z a-z 0-9 _ . -`.
pub fn check_username(username: &str) -> Result<(), ProtocolError> {
    let code = ReasonCode::InvalidUsername;
    if username.is_empty() || username.chars().count() > MAX_USERNAME_CHARS {
        return Err(invalid(
            "username",
            code,
            format!("must be 1 to {MAX_USERNAME_CHARS} characters"),
        ));
    }
    if !username
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
    {
        return Err(invalid(
            "username",
            code,
            "may only contain A-Z a-z 0-9 _ . -",
        ));
    }
    Ok(())
}

/// At most 320 characters, `local@domain` with a 1–64 character local part (printable ASCII,
/// no `@`), a domain of at most 255 characters made of at least two dot-separated labels of
/// 1–63 letters, digits and hyphens, none starting or ending with a hyphen.
pub fn check_email(email: &str) -> Result<(), ProtocolError> {
    let code = ReasonCode::InvalidEmail;
    if email.chars().count() > MAX_EMAIL_CHARS {
        return Err(invalid(
            "email",
            code,
            format!("longer than {MAX_EMAIL_CHARS} characters"),
        ));
    }
    let Some((local, domain)) = email.rsplit_once('@') else {
        return Err(invalid("email", code, "has no @"));
    };
    let local_ok = !local.is_empty()
        && local.len() <= 64
        && local.chars().all(|c| c.is_ascii_graphic() && c != '@');
    let labels_ok = domain.split('.').all(|label| {
        !label.is_empty()
            && label.len() <= 63
            && !label.starts_with('-')
            && !label.ends_with('-')
            && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
    });
    if !local_ok || !labels_ok || !domain.contains('.') || domain.len() > 255 {
        return Err(invalid("email", code, "is not a well-formed address"));
    }
    Ok(())
}

/// 1..=[`MAX_QUANTITY`].
pub fn check_quantity(quantity: u64) -> Result<(), ProtocolError> {
    if quantity == 0 || quantity > MAX_QUANTITY {
        return Err(invalid(
            "quantity",
            ReasonCode::InvalidQuantity,
            format!("must be between 1 and {MAX_QUANTITY}"),
        ));
    }
    Ok(())
}

/// A history request's end date: from 1970-01-01T00:00:00Z to 9999-12-31T23:59:59.999Z.
pub fn check_date(date_ms: i64) -> Result<(), ProtocolError> {
    if (0..=MAX_DATE_MS).contains(&date_ms) {
        Ok(())
    } else {
        Err(invalid(
            "date",
            ReasonCode::InvalidArgument,
            format!(
                "{date_ms} is outside 0 ..= {MAX_DATE_MS} (1970-01-01 to 9999-12-31, ms since the epoch)"
            ),
        ))
    }
}

/// 1–16 characters of `A-Z 0-9 . - ^ =` (for example `AAPL`, `BRK.B`, `^GSPC`, `BTC-USD`).
pub fn check_symbol(symbol: &str) -> Result<(), ProtocolError> {
    let ok = !symbol.is_empty()
        && symbol.len() <= MAX_SYMBOL_CHARS
        && symbol
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b"._-^=".contains(&b));
    if !ok {
        return Err(invalid(
            "symbol",
            ReasonCode::UnknownAsset,
            format!("must be 1 to {MAX_SYMBOL_CHARS} characters of A-Z 0-9 . - ^ ="),
        ));
    }
    Ok(())
}

/// 32 lowercase hex characters.
pub fn check_session_id(session_id: &str) -> Result<(), ProtocolError> {
    if !is_lower_hex(session_id, SESSION_ID_CHARS) {
        return Err(invalid(
            "sessionID",
            ReasonCode::SessionInvalid,
            format!("must be {SESSION_ID_CHARS} lowercase hex characters"),
        ));
    }
    Ok(())
}

/// 64 lowercase hex characters (see [`crate::password`]).
pub fn check_hashed_password(hashed: &str) -> Result<(), ProtocolError> {
    if !is_lower_hex(hashed, HASHED_PASSWORD_CHARS) {
        return Err(invalid(
            "hashedPass",
            ReasonCode::InvalidArgument,
            format!("must be {HASHED_PASSWORD_CHARS} lowercase hex characters"),
        ));
    }
    Ok(())
}

/// 1–64 characters of `A-Z a-z 0-9 . _ : -`.
pub fn check_client_order_id(id: &str) -> Result<(), ProtocolError> {
    let ok = !id.is_empty()
        && id.len() <= MAX_CLIENT_ORDER_ID_CHARS
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b':' | b'-'));
    if ok {
        Ok(())
    } else {
        Err(invalid(
            "clientOrderId",
            ReasonCode::InvalidArgument,
            format!("must be 1 to {MAX_CLIENT_ORDER_ID_CHARS} characters of A-Z a-z 0-9 . _ : -"),
        ))
    }
}

/// 1–32 characters of `a-z 0-9 _ -` (a provider's name in the master's configuration).
pub fn check_provider(provider: &str) -> Result<(), ProtocolError> {
    let ok = !provider.is_empty()
        && provider.len() <= MAX_PROVIDER_CHARS
        && provider
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'_' | b'-'));
    if ok {
        Ok(())
    } else {
        Err(invalid(
            "provider",
            ReasonCode::UnknownProvider,
            format!("must be 1 to {MAX_PROVIDER_CHARS} characters of a-z 0-9 _ -"),
        ))
    }
}

/// A compact JWS: three non-empty base64url parts joined by dots (the third may be empty only
/// in an unsigned token, which verification refuses), at most [`MAX_ID_TOKEN_CHARS`].
pub fn check_id_token(token: &str) -> Result<(), ProtocolError> {
    let parts: Vec<&str> = token.split('.').collect();
    let ok = token.len() <= MAX_ID_TOKEN_CHARS
        && parts.len() == 3
        && !parts[0].is_empty()
        && !parts[1].is_empty()
        && parts.iter().all(|p| {
            p.bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_'))
        });
    if ok {
        Ok(())
    } else {
        Err(invalid(
            "idToken",
            ReasonCode::InvalidToken,
            format!(
                "must be a compact JWS (three base64url parts joined by dots), at most \
                 {MAX_ID_TOKEN_CHARS} characters"
            ),
        ))
    }
}

/// A `placeOrder`'s prices fit its kind: a limit price exactly for limit and stop-limit
/// orders, a stop price exactly for stop and stop-limit orders, every price above zero and at
/// most [`MAX_PRICE_MICROS`]; a stop-limit buy's limit at or above its stop (a sell's at or
/// below), so the order can fill when it triggers.
pub fn check_order_prices(order: &crate::message::PlaceOrder) -> Result<(), ProtocolError> {
    use crate::data::{OrderKind, Side};
    let bad = |why: &str| Err(invalid("price", ReasonCode::InvalidOrder, why.to_owned()));
    let (needs_limit, needs_stop) = match order.kind {
        OrderKind::Market => (false, false),
        OrderKind::Limit => (true, false),
        OrderKind::Stop => (false, true),
        OrderKind::StopLimit => (true, true),
    };
    if needs_limit != order.limit_price.is_some() {
        return bad(if needs_limit {
            "this kind of order needs a limit price"
        } else {
            "this kind of order takes no limit price"
        });
    }
    if needs_stop != order.stop_price.is_some() {
        return bad(if needs_stop {
            "this kind of order needs a stop price"
        } else {
            "this kind of order takes no stop price"
        });
    }
    let in_range =
        |p: Option<crate::Money>| p.is_none_or(|p| (1..=MAX_PRICE_MICROS).contains(&p.micros()));
    if !in_range(order.limit_price) || !in_range(order.stop_price) {
        return bad("prices must be above 0 and at most 1,000,000,000.00");
    }
    let whole_cents = |p: Option<crate::Money>| p.is_none_or(|p| p.micros() % 10_000 == 0);
    if !whole_cents(order.limit_price) || !whole_cents(order.stop_price) {
        return bad("limit and stop prices are in whole cents (at most 2 decimals)");
    }
    if let (Some(limit), Some(stop)) = (order.limit_price, order.stop_price) {
        let fits = match order.side {
            Side::Buy => limit >= stop,
            Side::Sell => limit <= stop,
        };
        if !fits {
            return bad(
                "a stop-limit buy's limit must be at or above its stop, a sell's at or below",
            );
        }
    }
    Ok(())
}

/// Checks every argument of a request against the limits above. Non-request messages pass.
pub fn validate(message: &Message) -> Result<(), ProtocolError> {
    match message {
        Message::Login(a) => {
            check_username(&a.username)?;
            check_hashed_password(&a.hashed_password)
        }
        Message::Register(a) => {
            check_username(&a.username)?;
            check_email(&a.email)?;
            check_hashed_password(&a.hashed_password)
        }
        Message::LoginWithSession(a)
        | Message::Logout(a)
        | Message::GetSignInMethods(a)
        | Message::ResetAccount(a)
        | Message::GetPeriods(a) => check_session_id(&a.session_id),
        Message::GetPeriodTransactions(a) => check_session_id(&a.session_id),
        Message::GetEquityHistory(a) => {
            check_session_id(&a.session_id)?;
            check_date(a.from_ms)?;
            check_date(a.to_ms)
        }
        Message::RegisterWithToken(a) => {
            check_username(&a.username)?;
            check_provider(&a.provider)?;
            check_id_token(&a.id_token)?;
            a.email.as_deref().map_or(Ok(()), check_email)
        }
        Message::LoginWithToken(a) => {
            check_provider(&a.provider)?;
            check_id_token(&a.id_token)
        }
        Message::SetPassword(a) => {
            check_session_id(&a.session_id)?;
            check_hashed_password(&a.new_hashed_password)?;
            a.old_hashed_password
                .as_deref()
                .map_or(Ok(()), check_hashed_password)
        }
        Message::LinkIdentity(a) => {
            check_session_id(&a.session_id)?;
            check_provider(&a.provider)?;
            check_id_token(&a.id_token)
        }
        Message::UnlinkIdentity(a) => {
            check_session_id(&a.session_id)?;
            check_provider(&a.provider)
        }
        Message::PurchaseAsset(a) | Message::SellAsset(a) => {
            check_session_id(&a.session_id)?;
            check_symbol(&a.symbol)?;
            check_quantity(a.quantity)?;
            a.client_order_id
                .as_deref()
                .map_or(Ok(()), check_client_order_id)
        }
        Message::PlaceOrder(a) => {
            check_session_id(&a.session_id)?;
            check_symbol(&a.symbol)?;
            check_quantity(a.quantity)?;
            check_order_prices(a)?;
            a.client_order_id
                .as_deref()
                .map_or(Ok(()), check_client_order_id)
        }
        Message::CancelOrder(a) => check_session_id(&a.session_id),
        Message::GetOrders(a) => check_session_id(&a.session_id),
        Message::SwitchState(a) => check_session_id(&a.session_id),
        Message::GetAssetInfo(a)
        | Message::GetAssetValueCurrent(a)
        | Message::GetAssetValueAllTime(a) => check_symbol(&a.symbol),
        Message::GetAssetValueDay(a)
        | Message::GetAssetValueWeek(a)
        | Message::GetAssetValueMonth(a)
        | Message::GetAssetValueYear(a) => {
            check_symbol(&a.symbol)?;
            check_date(a.date_ms)
        }
        Message::SubscribeQuotes(a) => check_subscribed_symbols(&a.symbols),
        Message::SubscribeAccount(a) => check_session_id(&a.session_id),
        Message::GetUserInfo(a)
        | Message::GetUserPortfolio(a)
        | Message::GetUserTransactionHistory(a) => {
            check_session_id(&a.session_id)?;
            check_username(&a.username)
        }
        _ => Ok(()),
    }
}

/// A quote subscription names 1 to [`crate::stream::MAX_SUBSCRIBED_SYMBOLS`] valid symbols.
pub fn check_subscribed_symbols(symbols: &[String]) -> Result<(), ProtocolError> {
    let max = crate::stream::MAX_SUBSCRIBED_SYMBOLS;
    if symbols.is_empty() || symbols.len() > max {
        return Err(invalid(
            "symbols",
            ReasonCode::InvalidArgument,
            format!(
                "a subscription names 1 to {max} symbols, not {}",
                symbols.len()
            ),
        ));
    }
    symbols.iter().try_for_each(|s| check_symbol(s))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usernames() {
        assert!(check_username("alice_01.x-y").is_ok());
        assert!(check_username(&"a".repeat(24)).is_ok());
        for bad in ["", &"a".repeat(25), "al ice", "bob'; DROP TABLE", "é"] {
            assert!(check_username(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn emails() {
        assert!(check_email("a@b.co").is_ok());
        assert!(check_email("first.last+tag@mail.example.org").is_ok());
        let long = format!("{}@{}.com", "a".repeat(64), "b".repeat(63));
        assert!(check_email(&long).is_ok());
        for bad in [
            "",
            "plain",
            "@x.com",
            "a@",
            "a@b",
            "a b@c.com",
            "a@-b.com",
            "a@b..com",
            &format!("{}@x.com", "a".repeat(65)),
            &format!("a@{}.com", "b".repeat(320)),
            "a@b-.com",
            &format!("a@{}.com", "b".repeat(64)),
        ] {
            assert!(check_email(bad).is_err(), "{bad:?}");
        }
        // The longest address the rules allow: 64 + 1 + 255 = 320 characters.
        let label = "c".repeat(63);
        let domain = format!("{label}.{label}.{label}.{}", "d".repeat(63));
        assert_eq!(domain.len(), 255);
        let longest = format!("{}@{domain}", "a".repeat(64));
        assert_eq!(longest.len(), MAX_EMAIL_CHARS);
        assert!(check_email(&longest).is_ok());
        assert!(check_email(&format!("{}@c{domain}", "a".repeat(64))).is_err());
    }

    #[test]
    fn quantities_symbols_and_ids() {
        assert!(check_quantity(1).is_ok() && check_quantity(MAX_QUANTITY).is_ok());
        assert!(check_quantity(0).is_err() && check_quantity(MAX_QUANTITY + 1).is_err());
        for good in ["AAPL", "BRK.B", "^GSPC", "BTC-USD", "EURUSD=X"] {
            assert!(check_symbol(good).is_ok(), "{good}");
        }
        for bad in ["", "aapl", "A PL", "ABCDEFGHIJKLMNOPQ"] {
            assert!(check_symbol(bad).is_err(), "{bad}");
        }
        assert!(check_session_id(&"0a".repeat(16)).is_ok());
        assert!(check_session_id(&"0A".repeat(16)).is_err());
        assert!(check_session_id("abc").is_err());
    }
}
