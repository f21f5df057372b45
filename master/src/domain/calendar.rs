//! The UTC calendar of bars: where a day and a month start.

use chrono::{DateTime, Datelike, TimeZone, Utc};

/// One day, ms.
pub const DAY_MS: i64 = 86_400_000;

/// Start of the UTC day containing `ms`.
pub fn day_start(ms: i64) -> i64 {
    ms.div_euclid(DAY_MS) * DAY_MS
}

/// Start of the UTC month containing `ms`.
pub fn month_start(ms: i64) -> i64 {
    let at: DateTime<Utc> = Utc.timestamp_millis_opt(ms).single().unwrap_or_default();
    Utc.with_ymd_and_hms(at.year(), at.month(), 1, 0, 0, 0)
        .single()
        .map(|d| d.timestamp_millis())
        .unwrap_or(ms)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn month_and_day_starts() {
        let leap_day_noon = 1_709_208_000_000; // 2024-02-29 12:00 UTC
        assert_eq!(day_start(leap_day_noon), 1_709_164_800_000);
        assert_eq!(month_start(leap_day_noon), 1_706_745_600_000); // 2024-02-01
        assert_eq!(
            day_start(-1),
            -DAY_MS,
            "before 1970 rounds down, not towards zero"
        );
    }
}
