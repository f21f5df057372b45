//! The list of assets to retrieve (spec 2.3.1): a built-in default or a file.
//!
//! File format: one asset per line, `SYMBOL,Name[,start price]`; blank lines and lines
//! starting with `#` are ignored. The start price (decimal) seeds the simulated market.

use papertrader_protocol::{limits, Money};

/// One tradable asset.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AssetSpec {
    /// Symbol.
    pub symbol: String,
    /// Human-readable name.
    pub name: String,
    /// Where the simulated market starts its walk.
    pub start_price: Money,
}

const DEFAULT_ASSETS: &str = "\
AAPL,Apple Inc.,190.00
MSFT,Microsoft Corporation,410.00
GOOG,Alphabet Inc.,170.00
AMZN,Amazon.com Inc.,180.00
NVDA,NVIDIA Corporation,120.00
META,Meta Platforms Inc.,500.00
TSLA,Tesla Inc.,200.00
IBM,International Business Machines,180.00
KO,The Coca-Cola Company,62.00
BRK.B,Berkshire Hathaway Inc. Class B,410.00
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
        let mut fields = line.splitn(3, ',').map(str::trim);
        let symbol = fields.next().unwrap_or_default().to_owned();
        limits::check_symbol(&symbol).map_err(|e| error(e.to_string()))?;
        let name = fields
            .next()
            .filter(|n| !n.is_empty())
            .unwrap_or(&symbol)
            .to_owned();
        let start_price = match fields.next() {
            Some(price) => price.parse::<Money>().map_err(|e| error(e.to_string()))?,
            None => Money::from_units(100),
        };
        if start_price.micros() <= 0 {
            return Err(error("start price must be positive".into()));
        }
        if out.iter().any(|a| a.symbol == symbol) {
            return Err(error(format!("{symbol} is listed twice")));
        }
        out.push(AssetSpec {
            symbol,
            name,
            start_price,
        });
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
    }

    #[test]
    fn files_are_checked() {
        let ok = parse_asset_list("# comment\n\nXYZ\nABC, Alpha Beta ,12.5\n").unwrap();
        assert_eq!(ok[0].name, "XYZ");
        assert_eq!(ok[1].name, "Alpha Beta");
        assert_eq!(ok[1].start_price, Money(12_500_000));
        for bad in ["xyz", "A,B,-1", "A,B,abc", "A\nA", "", "# only"] {
            assert!(parse_asset_list(bad).is_err(), "{bad:?}");
        }
    }
}
