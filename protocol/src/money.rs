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

impl Money {
    /// Parses a decimal number as external sources write it (`189.25000762939453`, `-0.5`,
    /// `1.2e3`, `7`) and rounds it to the nearest micro-unit, halves away from zero. For
    /// prices read from a provider's JSON text: the value never passes through a float.
    /// `None` for anything that is not a finite decimal number or does not fit.
    pub fn from_decimal_rounded(text: &str) -> Option<Money> {
        let text = text.trim();
        let (negative, body) = match text.as_bytes().first()? {
            b'-' => (true, &text[1..]),
            b'+' => (false, &text[1..]),
            _ => (false, text),
        };
        let (mantissa, exponent) = match body.find(['e', 'E']) {
            Some(i) => (&body[..i], body[i + 1..].parse::<i32>().ok()?),
            None => (body, 0),
        };
        let (whole, frac) = mantissa.split_once('.').unwrap_or((mantissa, ""));
        if (whole.is_empty() && frac.is_empty())
            || !whole
                .bytes()
                .chain(frac.bytes())
                .all(|b| b.is_ascii_digit())
        {
            return None;
        }
        // value = digits × 10^(exponent − frac.len()); micros = value × 10^6.
        let digits = format!("{whole}{frac}");
        let digits = digits.trim_start_matches('0');
        let shift = exponent - frac.len() as i32 + 6;
        let mut micros: i128 = 0;
        let mut round_up = false;
        if shift >= 0 {
            for b in digits.bytes() {
                micros = micros.checked_mul(10)?.checked_add(i128::from(b - b'0'))?;
            }
            micros = micros.checked_mul(10i128.checked_pow(shift as u32)?)?;
        } else {
            let keep = digits.len() as i64 + i64::from(shift);
            if keep >= 0 {
                let (kept, dropped) = digits.split_at(keep as usize);
                for b in kept.bytes() {
                    micros = micros.checked_mul(10)?.checked_add(i128::from(b - b'0'))?;
                }
                round_up = dropped.as_bytes().first().is_some_and(|&d| d >= b'5');
            } else {
                round_up = false; // far below one micro-unit
            }
        }
        if round_up {
            micros += 1;
        }
        let micros = i64::try_from(if negative { -micros } else { micros }).ok()?;
        Some(Money(micros))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn provider_decimals_round_to_micro_units_without_floats() {
        for (text, micros) in [
            ("189.25000762939453", 189_250_008),
            ("189.2500004", 189_250_000),
            ("189.2500005", 189_250_001),
            ("-0.0000005", -1),
            ("7", 7_000_000),
            ("1.5e2", 150_000_000),
            ("2.5E-3", 2_500),
            ("0.00000049", 0),
            ("1e-20", 0),
            (".5", 500_000),
        ] {
            assert_eq!(
                Money::from_decimal_rounded(text),
                Some(Money(micros)),
                "{text}"
            );
        }
        for bad in [
            "",
            "-",
            "abc",
            "1.2.3",
            "1e",
            "nan",
            "inf",
            "1e400",
            "99999999999999999999",
        ] {
            assert_eq!(Money::from_decimal_rounded(bad), None, "{bad}");
        }
    }

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
