//! Fixed-point money and prices: signed 64-bit integers of micro-units (10^-6).

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// Micro-units per whole unit of currency.
pub const MICROS_PER_UNIT: i64 = 1_000_000;

/// An amount of money or a price, in micro-units of the account currency
/// (`Money(1_500_000)` is 1.50). On the wire: an `i64`, big-endian.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize,
)]
#[serde(transparent)]
pub struct Money(pub i64);

impl Money {
    /// Zero.
    pub const ZERO: Money = Money(0);

    /// Whole units (`Money::from_units(5)` is 5.000000).
    pub const fn from_units(units: i64) -> Self {
        Money(units * MICROS_PER_UNIT)
    }

    /// The raw micro-unit count.
    pub const fn micros(self) -> i64 {
        self.0
    }

    /// `self * quantity`, or `None` on overflow.
    pub fn checked_mul(self, quantity: u64) -> Option<Money> {
        let quantity = i64::try_from(quantity).ok()?;
        self.0.checked_mul(quantity).map(Money)
    }

    /// `self + other`, or `None` on overflow.
    pub fn checked_add(self, other: Money) -> Option<Money> {
        self.0.checked_add(other.0).map(Money)
    }

    /// `self - other`, or `None` on overflow.
    pub fn checked_sub(self, other: Money) -> Option<Money> {
        self.0.checked_sub(other.0).map(Money)
    }
}

impl fmt::Display for Money {
    /// Formats with two decimals at least and up to six, trailing zeros trimmed:
    /// `1.50`, `0.000001`, `-12.00`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sign = if self.0 < 0 { "-" } else { "" };
        let abs = self.0.unsigned_abs();
        let units = abs / MICROS_PER_UNIT as u64;
        let mut frac = format!("{:06}", abs % MICROS_PER_UNIT as u64);
        while frac.len() > 2 && frac.ends_with('0') {
            frac.pop();
        }
        write!(f, "{sign}{units}.{frac}")
    }
}

/// Why a decimal string is not a [`Money`] amount.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not a decimal amount with at most 6 fraction digits: {0:?}")]
pub struct ParseMoneyError(String);

impl FromStr for Money {
    type Err = ParseMoneyError;

    /// Parses `123`, `123.45`, `-0.000001`; more than 6 fraction digits is an error, never rounded.
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let bad = || ParseMoneyError(text.to_owned());
        let (negative, digits) = match text.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, text),
        };
        let (whole, frac) = digits.split_once('.').unwrap_or((digits, ""));
        let all_digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
        if whole.is_empty() || !all_digits(whole) || !all_digits(frac) || frac.len() > 6 {
            return Err(bad());
        }
        let whole: i64 = whole.parse().map_err(|_| bad())?;
        let frac_micros: i64 = format!("{frac:0<6}").parse().map_err(|_| bad())?;
        let micros = whole
            .checked_mul(MICROS_PER_UNIT)
            .and_then(|m| m.checked_add(frac_micros))
            .ok_or_else(bad)?;
        Ok(Money(if negative { -micros } else { micros }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_and_parses_back() {
        for (micros, text) in [
            (1_500_000, "1.50"),
            (1, "0.000001"),
            (-12_000_000, "-12.00"),
            (123_456_789, "123.456789"),
        ] {
            assert_eq!(Money(micros).to_string(), text);
            assert_eq!(text.parse::<Money>(), Ok(Money(micros)));
        }
    }

    #[test]
    fn refuses_rounding_and_garbage() {
        for text in [
            "1.0000001",
            "",
            ".5",
            "1e3",
            "--1",
            "1.2.3",
            "99999999999999999999",
        ] {
            assert!(text.parse::<Money>().is_err(), "{text}");
        }
    }
}
