//! History ranges: which `getAssetValue…` request asks for which span (PROTOCOL.md §5.2).

use std::str::FromStr;

use crate::instruction::Instruction;
use crate::message::{AssetQuery, AssetRangeQuery, Message};

/// A history range.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum HistoryRange {
    /// `getAssetValueDay`: the intraday points of the 24 hours up to the date.
    Day,
    /// `getAssetValueWeek`: 7 daily bars.
    Week,
    /// `getAssetValueMonth`: 30 daily bars.
    Month,
    /// `getAssetValueYear`: 12 monthly bars.
    Year,
    /// `getAssetValueAllTime`: every monthly bar (no date).
    AllTime,
}

impl HistoryRange {
    /// Every range, shortest first.
    pub const ALL: [HistoryRange; 5] = [
        HistoryRange::Day,
        HistoryRange::Week,
        HistoryRange::Month,
        HistoryRange::Year,
        HistoryRange::AllTime,
    ];

    /// The request instruction asking for this range.
    pub fn instruction(self) -> Instruction {
        match self {
            HistoryRange::Day => Instruction::GetAssetValueDay,
            HistoryRange::Week => Instruction::GetAssetValueWeek,
            HistoryRange::Month => Instruction::GetAssetValueMonth,
            HistoryRange::Year => Instruction::GetAssetValueYear,
            HistoryRange::AllTime => Instruction::GetAssetValueAllTime,
        }
    }

    /// The range `instruction` asks for, if it is a history request.
    pub fn of(instruction: Instruction) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|r| r.instruction() == instruction)
    }

    /// The request for this range of `symbol`, ending at `date_ms` (ignored for
    /// [`HistoryRange::AllTime`]).
    pub fn request(self, symbol: String, date_ms: i64) -> Message {
        let query = AssetRangeQuery { symbol, date_ms };
        match self {
            HistoryRange::Day => Message::GetAssetValueDay(query),
            HistoryRange::Week => Message::GetAssetValueWeek(query),
            HistoryRange::Month => Message::GetAssetValueMonth(query),
            HistoryRange::Year => Message::GetAssetValueYear(query),
            HistoryRange::AllTime => Message::GetAssetValueAllTime(AssetQuery {
                symbol: query.symbol,
            }),
        }
    }

    /// The range's short name: `day`, `week`, `month`, `year`, `all`.
    pub fn name(self) -> &'static str {
        match self {
            HistoryRange::Day => "day",
            HistoryRange::Week => "week",
            HistoryRange::Month => "month",
            HistoryRange::Year => "year",
            HistoryRange::AllTime => "all",
        }
    }
}

/// A name that is no history range.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown range {0:?}: day, week, month, year or all")]
pub struct UnknownRange(pub String);

impl FromStr for HistoryRange {
    type Err = UnknownRange;

    /// A [`HistoryRange::name`], in any case (`alltime` too).
    fn from_str(text: &str) -> Result<Self, UnknownRange> {
        let lower = text.to_ascii_lowercase();
        if lower == "alltime" {
            return Ok(HistoryRange::AllTime);
        }
        Self::ALL
            .into_iter()
            .find(|r| r.name() == lower)
            .ok_or_else(|| UnknownRange(text.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_instructions_and_requests_agree() {
        for range in HistoryRange::ALL {
            assert_eq!(range.name().parse::<HistoryRange>(), Ok(range));
            assert_eq!(HistoryRange::of(range.instruction()), Some(range));
            assert_eq!(
                range.request("KO".into(), 5).instruction(),
                range.instruction()
            );
        }
        assert_eq!("ALLTIME".parse::<HistoryRange>(), Ok(HistoryRange::AllTime));
        assert!("decade".parse::<HistoryRange>().is_err());
        assert_eq!(HistoryRange::of(Instruction::GetAssetInfo), None);
    }
}
