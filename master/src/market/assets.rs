//! The list of assets to retrieve (spec 2.3.1): a built-in default or a file.
//!
//! File format: one asset per line,
//! `SYMBOL,Name[,start price[,volatility %[,drift %[,daily volume]]]]`; blank lines and lines
//! starting with `#` are ignored. Everything after the name drives only the simulated market
//! (see [`super::simulated`]):
//!
//! - start price: a positive decimal, where the walk starts (default 100);
//! - volatility: the annualised standard deviation of log returns, in percent with at most two
//!   decimals, `27`, `27.5` or `27.5%`, from 0 to 300 (default 25);
//! - drift: the annualised expected return, in percent likewise, from -100 to 100 (default 7);
//! - daily volume: the shares traded in an average day, a whole number from 1 to 10^12
//!   (default 5 000 000).
//!
//! A field may be left empty (`XYZ,Name,,40`) to keep its default.

use papertrader_protocol::{limits, Money};

/// One tradable asset, and how the simulated market moves it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AssetSpec {
    /// Symbol.
    pub symbol: String,
    /// Human-readable name.
    pub name: String,
    /// Where the simulated market starts its walk.
    pub start_price: Money,
    /// Annualised volatility of the simulated price (standard deviation of log returns over a
    /// year), basis points: 2500 is 25 %.
    pub volatility_bps: u32,
    /// Annualised drift of the simulated price (expected return over a year), basis points.
    pub drift_bps: i32,
    /// Shares the simulated market trades in an average day (a session with market hours on,
    /// a calendar day otherwise).
    pub daily_volume: u64,
}

/// Volatility of an asset whose line does not say: 25 %, a typical large company.
pub const DEFAULT_VOLATILITY_BPS: u32 = 2_500;
/// Drift of an asset whose line does not say: 7 % a year.
pub const DEFAULT_DRIFT_BPS: i32 = 700;
/// Daily volume of an asset whose line does not say.
pub const DEFAULT_DAILY_VOLUME: u64 = 5_000_000;
/// Largest volatility a file may set: 300 %.
pub const MAX_VOLATILITY_BPS: u32 = 30_000;
/// Largest drift, up or down, a file may set: 100 %.
pub const MAX_DRIFT_BPS: i32 = 10_000;
/// Largest daily volume a file may set.
pub const MAX_DAILY_VOLUME: u64 = 1_000_000_000_000;

impl AssetSpec {
    /// An asset starting at `start_price` with the default model settings
    /// ([`DEFAULT_VOLATILITY_BPS`], [`DEFAULT_DRIFT_BPS`], [`DEFAULT_DAILY_VOLUME`]).
    pub fn new(symbol: impl Into<String>, name: impl Into<String>, start_price: Money) -> Self {
        Self {
            symbol: symbol.into(),
            name: name.into(),
            start_price,
            volatility_bps: DEFAULT_VOLATILITY_BPS,
            drift_bps: DEFAULT_DRIFT_BPS,
            daily_volume: DEFAULT_DAILY_VOLUME,
        }
    }
}

/// The built-in list: the volatilities and average daily volumes are round figures of the
/// real names' recent years (a utility-like Coca-Cola calm, Tesla wild); drifts 5–12 %.
const DEFAULT_ASSETS: &str = "\
# symbol, name, start price, volatility %, drift %, daily volume
AAPL,Apple Inc.,190.00,27,10,55000000
MSFT,Microsoft Corporation,410.00,25,10,20000000
GOOG,Alphabet Inc.,170.00,30,10,25000000
AMZN,Amazon.com Inc.,180.00,33,11,40000000
NVDA,NVIDIA Corporation,120.00,50,12,250000000
META,Meta Platforms Inc.,500.00,40,12,15000000
TSLA,Tesla Inc.,200.00,60,12,100000000
IBM,International Business Machines,180.00,22,5,4000000
KO,The Coca-Cola Company,62.00,15,5,14000000
BRK.B,Berkshire Hathaway Inc. Class B,410.00,18,8,4000000
";

/// Why an asset list was refused.
#[derive(Debug, thiserror::Error)]
#[error("asset list line {line}: {reason}")]
pub struct AssetListError {
    /// 1-based line number.
    pub line: usize,
    /// What is wrong.
    pub reason: String,
}

/// The built-in asset list.
pub fn default_assets() -> Vec<AssetSpec> {
    // The built-in text is a constant checked by a test, so it always parses.
    parse_asset_list(DEFAULT_ASSETS).unwrap_or_default()
}

/// A percentage with at most two decimals (`27`, `-3.5`, `12.25%`) in basis points.
fn parse_percent_bps(text: &str) -> Result<i64, String> {
    let bad = || format!("{text:?} is not a percentage with at most two decimals");
    let number = text.strip_suffix('%').unwrap_or(text).trim();
    let micros = number.parse::<Money>().map_err(|_| bad())?.micros();
    // One percent is 100 bps and one unit is 1 000 000 micros: a bp is 10 000 micros.
    if micros % 10_000 != 0 {
        return Err(bad());
    }
    Ok(micros / 10_000)
}

/// Parses an asset list file's text.
pub fn parse_asset_list(text: &str) -> Result<Vec<AssetSpec>, AssetListError> {
    let mut out: Vec<AssetSpec> = Vec::new();
    for (index, raw) in text.lines().enumerate() {
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let error = |reason: String| AssetListError {
            line: index + 1,
            reason,
        };
        let fields: Vec<&str> = line.split(',').map(str::trim).collect();
        if fields.len() > 6 {
            return Err(error(format!(
                "{} fields; at most 6: SYMBOL,Name,start price,volatility %,drift %,daily volume",
                fields.len()
            )));
        }
        // A missing or empty field keeps its default.
        let field = |i: usize| fields.get(i).copied().filter(|f| !f.is_empty());
        let symbol = fields.first().copied().unwrap_or_default().to_owned();
        limits::check_symbol(&symbol).map_err(|e| error(e.to_string()))?;
        let name = field(1).unwrap_or(&symbol).to_owned();
        let mut spec = AssetSpec::new(symbol, name, Money::from_units(100));
        if let Some(price) = field(2) {
            spec.start_price = price
                .parse::<Money>()
                .map_err(|e| error(format!("start price: {e}")))?;
            if spec.start_price.micros() <= 0 {
                return Err(error("start price must be positive".into()));
            }
        }
        if let Some(text) = field(3) {
            let bps = parse_percent_bps(text).map_err(|e| error(format!("volatility: {e}")))?;
            spec.volatility_bps = u32::try_from(bps)
                .ok()
                .filter(|v| *v <= MAX_VOLATILITY_BPS)
                .ok_or_else(|| {
                    error(format!(
                        "volatility {text} is outside 0 to {} %",
                        MAX_VOLATILITY_BPS / 100
                    ))
                })?;
        }
        if let Some(text) = field(4) {
            let bps = parse_percent_bps(text).map_err(|e| error(format!("drift: {e}")))?;
            spec.drift_bps = i32::try_from(bps)
                .ok()
                .filter(|d| d.abs() <= MAX_DRIFT_BPS)
                .ok_or_else(|| {
                    error(format!(
                        "drift {text} is outside -{0} to {0} %",
                        MAX_DRIFT_BPS / 100
                    ))
                })?;
        }
        if let Some(text) = field(5) {
            spec.daily_volume = text
                .parse::<u64>()
                .ok()
                .filter(|v| (1..=MAX_DAILY_VOLUME).contains(v))
                .ok_or_else(|| {
                    error(format!(
                        "daily volume {text:?} is not a whole number from 1 to {MAX_DAILY_VOLUME}"
                    ))
                })?;
        }
        if out.iter().any(|a| a.symbol == spec.symbol) {
            return Err(error(format!("{} is listed twice", spec.symbol)));
        }
        out.push(spec);
    }
    if out.is_empty() {
        return Err(AssetListError {
            line: 0,
            reason: "no assets listed".into(),
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_list_parses() {
        let list = parse_asset_list(DEFAULT_ASSETS).expect("built-in list");
        assert_eq!(list.len(), 10);
        assert_eq!(list[0].symbol, "AAPL");
        assert_eq!(list[0].start_price, Money::from_units(190));
        let vol = |s: &str| list.iter().find(|a| a.symbol == s).unwrap().volatility_bps;
        assert_eq!((vol("KO"), vol("TSLA")), (1_500, 6_000));
        // Calm names calm, growth names wild, drifts 5–12 %.
        assert!(vol("KO") < vol("IBM") && vol("IBM") < vol("AAPL") && vol("AAPL") < vol("NVDA"));
        assert!(list.iter().all(|a| (500..=1_200).contains(&a.drift_bps)));
        assert!(list.iter().all(|a| a.daily_volume >= 1_000_000));
    }

    #[test]
    fn files_are_checked() {
        let ok = parse_asset_list("# comment\n\nXYZ\nABC, Alpha Beta ,12.5\n").unwrap();
        assert_eq!(ok[0].name, "XYZ");
        assert_eq!(ok[0], AssetSpec::new("XYZ", "XYZ", Money::from_units(100)));
        assert_eq!(ok[1].name, "Alpha Beta");
        assert_eq!(ok[1].start_price, Money(12_500_000));
        assert_eq!(
            (ok[1].volatility_bps, ok[1].drift_bps, ok[1].daily_volume),
            (2_500, 700, 5_000_000),
            "defaults when the line stops after the price"
        );
        for bad in ["xyz", "A,B,-1", "A,B,0", "A,B,abc", "A\nA", "", "# only"] {
            assert!(parse_asset_list(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn volatility_drift_and_volume_columns() {
        let list = parse_asset_list(
            "UTIL,Calm Power,40,12.5,4\nWILD,Rocket,10,90%,-3.25,250000\nSKIP,Defaults,,,,7\nFLAT,Bond,100,0,0\n",
        )
        .unwrap();
        let get = |i: usize| {
            let a = &list[i];
            (a.start_price, a.volatility_bps, a.drift_bps, a.daily_volume)
        };
        assert_eq!(get(0), (Money::from_units(40), 1_250, 400, 5_000_000));
        assert_eq!(get(1), (Money::from_units(10), 9_000, -325, 250_000));
        assert_eq!(get(2), (Money::from_units(100), 2_500, 700, 7));
        assert_eq!(get(3), (Money::from_units(100), 0, 0, 5_000_000));
    }

    #[test]
    fn bad_model_columns_name_the_line_and_the_field() {
        for (text, says) in [
            ("A,B,10,abc", "volatility"),
            ("A,B,10,-5", "volatility"),
            ("A,B,10,301", "volatility"),
            ("A,B,10,25.125", "volatility"),
            ("A,B,10,25,x", "drift"),
            ("A,B,10,25,101", "drift"),
            ("A,B,10,25,-100.5", "drift"),
            ("A,B,10,25,5,0", "daily volume"),
            ("A,B,10,25,5,-3", "daily volume"),
            ("A,B,10,25,5,1.5", "daily volume"),
            ("A,B,10,25,5,1000000000001", "daily volume"),
            ("A,B,10,25,5,100,extra", "at most 6"),
        ] {
            let error = parse_asset_list(&format!("# header\n{text}\n")).unwrap_err();
            assert_eq!(error.line, 2, "{text}");
            assert!(error.to_string().contains(says), "{text}: {error}");
        }
        // The limits themselves are accepted.
        assert!(parse_asset_list("A,B,10,300,-100,1000000000000\nC,D,1,0,100,1").is_ok());
    }
}
