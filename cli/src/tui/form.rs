//! The order form: what is typed for an order (quantity, limit and stop prices, time in
//! force), checked the way `papertrader order` checks it, and the [`OrderSpec`] it makes.

use papertrader_client::OrderSpec;
use papertrader_protocol::data::{Side, TimeInForce};
use papertrader_protocol::limits::{
    check_order_prices, check_quantity, MAX_PRICE_MICROS, MAX_QUANTITY,
};
use papertrader_protocol::{Money, ProtocolError};

use crate::output::money;

/// Longest text a field takes (a price has at most 13 digits and a point).
const MAX_FIELD_CHARS: usize = 16;

/// The times in force, in the order the form cycles through them.
const TIMES_IN_FORCE: [TimeInForce; 4] = [
    TimeInForce::Day,
    TimeInForce::GoodTillCancelled,
    TimeInForce::ImmediateOrCancel,
    TimeInForce::FillOrKill,
];

/// A field of the form.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    /// Whole units.
    Quantity,
    /// The limit price (empty: none).
    Limit,
    /// The stop price (empty: none).
    Stop,
    /// Day, gtc, ioc or fok.
    TimeInForce,
}

impl Field {
    const ALL: [Field; 4] = [
        Field::Quantity,
        Field::Limit,
        Field::Stop,
        Field::TimeInForce,
    ];
}

/// An order being typed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderForm {
    /// Buy or sell.
    pub side: Side,
    /// The symbol (the watchlist's selection when the form opened).
    pub symbol: String,
    /// The field keys go to.
    pub field: Field,
    /// The quantity as typed.
    pub quantity: String,
    /// The limit price as typed.
    pub limit: String,
    /// The stop price as typed.
    pub stop: String,
    /// The time in force.
    pub time_in_force: TimeInForce,
    /// Why the last Enter did not make an order.
    pub error: Option<String>,
}

impl OrderForm {
    /// An empty form for `side` of `symbol`: quantity first, day order.
    pub fn new(side: Side, symbol: impl Into<String>) -> Self {
        Self {
            side,
            symbol: symbol.into(),
            field: Field::Quantity,
            quantity: String::new(),
            limit: String::new(),
            stop: String::new(),
            time_in_force: TimeInForce::Day,
            error: None,
        }
    }

    /// Moves to the next field (`forward`) or the previous one, wrapping around.
    pub fn move_field(&mut self, forward: bool) {
        let at = Field::ALL
            .iter()
            .position(|f| *f == self.field)
            .unwrap_or(0);
        let n = Field::ALL.len();
        self.field = Field::ALL[if forward {
            (at + 1) % n
        } else {
            (at + n - 1) % n
        }];
    }

    /// The text of the current field, if it is a text field.
    fn text_mut(&mut self) -> Option<&mut String> {
        match self.field {
            Field::Quantity => Some(&mut self.quantity),
            Field::Limit => Some(&mut self.limit),
            Field::Stop => Some(&mut self.stop),
            Field::TimeInForce => None,
        }
    }

    /// Types `c` into the current field: digits (and one point in prices) only, and a minus
    /// sign first (kept, so that [`OrderForm::spec`] refuses it rather than the order silently
    /// turning positive); on the time in force a space cycles it.
    pub fn type_char(&mut self, c: char) {
        if self.field == Field::TimeInForce {
            if c == ' ' {
                self.cycle_time_in_force(true);
            }
            return;
        }
        let is_price = self.field != Field::Quantity;
        if let Some(text) = self.text_mut() {
            let fits = text.chars().count() < MAX_FIELD_CHARS;
            let allowed = c.is_ascii_digit()
                || (is_price && c == '.' && !text.contains('.'))
                || (c == '-' && text.is_empty());
            if fits && allowed {
                text.push(c);
                self.error = None;
            }
        }
    }

    /// Deletes the last character of the current field.
    pub fn backspace(&mut self) {
        if let Some(text) = self.text_mut() {
            text.pop();
        }
    }

    /// The next (`forward`) or previous time in force.
    pub fn cycle_time_in_force(&mut self, forward: bool) {
        let at = TIMES_IN_FORCE
            .iter()
            .position(|t| *t == self.time_in_force)
            .unwrap_or(0);
        let n = TIMES_IN_FORCE.len();
        self.time_in_force = TIMES_IN_FORCE[if forward {
            (at + 1) % n
        } else {
            (at + n - 1) % n
        }];
    }

    /// The order the form describes, or why it is not one (checked like `papertrader order`
    /// checks its arguments, before anything is sent).
    pub fn spec(&self) -> Result<OrderSpec, String> {
        if self.quantity.starts_with('-') {
            return Err(format!(
                "quantity must be above 0: {} is not",
                self.quantity
            ));
        }
        let quantity: u64 = self
            .quantity
            .parse()
            .map_err(|_| "quantity: type a whole number of units, like 10".to_owned())?;
        if quantity == 0 || quantity > MAX_QUANTITY {
            return Err(format!("quantity: from 1 to {MAX_QUANTITY}"));
        }
        check_quantity(quantity).map_err(reason)?;
        let limit_price = price(&self.limit, "limit price")?;
        let stop_price = price(&self.stop, "stop price")?;
        if let (Some(limit), Some(stop)) = (limit_price, stop_price) {
            match self.side {
                Side::Buy if limit < stop => {
                    return Err("a stop-limit buy's limit must be at or above its stop".into())
                }
                Side::Sell if limit > stop => {
                    return Err("a stop-limit sell's limit must be at or below its stop".into())
                }
                _ => {}
            }
        }
        let spec = OrderSpec {
            side: self.side,
            symbol: self.symbol.clone(),
            quantity,
            kind: OrderSpec::kind_of(limit_price, stop_price),
            limit_price,
            stop_price,
            time_in_force: self.time_in_force,
        };
        check_order_prices(&spec.clone().message(String::new(), None)).map_err(reason)?;
        Ok(spec)
    }
}

/// A price field: none when empty, else a price above zero in whole cents, or why not, in
/// words that fit the form.
fn price(text: &str, what: &str) -> Result<Option<Money>, String> {
    if text.is_empty() {
        return Ok(None);
    }
    if text.starts_with('-') {
        return Err(format!("{what} must be above 0: {text} is not"));
    }
    let price = text
        .parse::<Money>()
        .map_err(|_| format!("{what}: type a price like 190.25"))?;
    if price.micros() <= 0 {
        return Err(format!("{what} must be above 0"));
    }
    if price.micros() > MAX_PRICE_MICROS {
        return Err(format!(
            "{what}: at most {}",
            money(Money(MAX_PRICE_MICROS))
        ));
    }
    if price.micros() % 10_000 != 0 {
        return Err(format!("prices are whole cents: {text} is not"));
    }
    Ok(Some(price))
}

/// A check's reason without the protocol's wording around it (`argument price: …`).
fn reason(e: ProtocolError) -> String {
    match e {
        ProtocolError::InvalidArgument { reason, .. } => reason,
        other => other.to_string(),
    }
}

/// An order in words: `Buy 10 AAPL limit 190.00 (day)`, `Sell 5 KO at market (gtc)`.
pub fn describe(spec: &OrderSpec) -> String {
    let side = match spec.side {
        Side::Buy => "Buy",
        Side::Sell => "Sell",
    };
    format!("{side} {}", describe_rest(spec))
}

/// [`describe`] mid-sentence: `buy 10 AAPL limit 190.00 (day)`.
pub fn describe_lower(spec: &OrderSpec) -> String {
    format!("{} {}", spec.side.name(), describe_rest(spec))
}

fn describe_rest(spec: &OrderSpec) -> String {
    format!(
        "{} {} {} ({})",
        spec.quantity,
        spec.symbol,
        terms(spec.limit_price, spec.stop_price),
        spec.time_in_force.name()
    )
}

/// How an order is priced, as `papertrader order` says it: `at market`, `limit 190.00`,
/// `stop 180.00`, `stop 180.00 limit 181.00`.
pub fn terms(limit: Option<Money>, stop: Option<Money>) -> String {
    match (stop, limit) {
        (None, None) => "at market".to_owned(),
        (None, Some(limit)) => format!("limit {}", money(limit)),
        (Some(stop), None) => format!("stop {}", money(stop)),
        (Some(stop), Some(limit)) => format!("stop {} limit {}", money(stop), money(limit)),
    }
}

#[cfg(test)]
mod tests {
    use papertrader_protocol::data::OrderKind;

    use super::*;

    fn typed(form: &mut OrderForm, text: &str) {
        text.chars().for_each(|c| form.type_char(c));
    }

    #[test]
    fn a_limit_order_is_typed_field_by_field() {
        let mut form = OrderForm::new(Side::Buy, "AAPL");
        typed(&mut form, "1x0");
        form.move_field(true);
        typed(&mut form, "190.0.0");
        form.move_field(true);
        form.move_field(true);
        form.cycle_time_in_force(true);
        let spec = form.spec().unwrap();
        assert_eq!(spec.quantity, 10);
        assert_eq!(spec.kind, OrderKind::Limit);
        assert_eq!(spec.limit_price, Some(Money::from_units(190)));
        assert_eq!(spec.time_in_force, TimeInForce::GoodTillCancelled);
        assert_eq!(describe(&spec), "Buy 10 AAPL limit 190.00 (gtc)");
        assert_eq!(describe_lower(&spec), "buy 10 AAPL limit 190.00 (gtc)");
    }

    #[test]
    fn bad_input_is_explained_not_sent() {
        let mut form = OrderForm::new(Side::Sell, "KO");
        assert!(form.spec().unwrap_err().starts_with("quantity"));
        typed(&mut form, "0");
        assert!(form.spec().unwrap_err().starts_with("quantity"));
        form.backspace();
        typed(&mut form, "5");
        form.move_field(false);
        assert_eq!(form.field, Field::TimeInForce);
        form.move_field(false);
        typed(&mut form, "1.001");
        assert_eq!(
            form.spec().unwrap_err(),
            "prices are whole cents: 1.001 is not"
        );
        form.stop.clear();
        typed(&mut form, "-5");
        assert_eq!(form.stop, "-5", "the minus sign shows");
        assert_eq!(
            form.spec().unwrap_err(),
            "stop price must be above 0: -5 is not"
        );
        typed(&mut form, "-");
        assert_eq!(form.stop, "-5", "a minus sign only first");
        form.stop = "0".into();
        assert_eq!(form.spec().unwrap_err(), "stop price must be above 0");
        form.stop = "181".into();
        form.limit = "182".into();
        assert_eq!(
            form.spec().unwrap_err(),
            "a stop-limit sell's limit must be at or below its stop"
        );
        form.limit.clear();
        form.stop.clear();
        form.quantity = "-5".into();
        assert_eq!(
            form.spec().unwrap_err(),
            "quantity must be above 0: -5 is not"
        );
        form.quantity = "5".into();
        for text in ["5", "99999999999999999"] {
            form.limit = text.into();
            let error = form.spec().err().unwrap_or_default();
            assert!(!error.starts_with("argument"), "{error}");
        }
        form.limit.clear();
        assert_eq!(describe(&form.spec().unwrap()), "Sell 5 KO at market (day)");
    }
}
