//! OHLCV points, and folding them into bars: one per UTC day or month, whatever the input
//! repeats.

/// One OHLCV point (a tick or a bar), prices in micro-units.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ohlcv {
    /// Start time, ms.
    pub at: i64,
    /// Open.
    pub open: i64,
    /// High.
    pub high: i64,
    /// Low.
    pub low: i64,
    /// Close.
    pub close: i64,
    /// Volume.
    pub volume: i64,
}

/// Folds `point` into `bar`: higher high, lower low, its close, added volume.
pub fn fold(bar: &mut Ohlcv, point: &Ohlcv) {
    bar.high = bar.high.max(point.high);
    bar.low = bar.low.min(point.low);
    bar.close = point.close;
    bar.volume = bar.volume.saturating_add(point.volume);
}

/// One bar per bucket (`bucket(at)` is the bucket's start), in time order. Points are taken
/// in time order; several points in one bucket — including exact duplicates, which providers
/// do send — fold into one bar, so the result never repeats a bucket.
pub fn aggregate(points: &[Ohlcv], bucket: impl Fn(i64) -> i64) -> Vec<Ohlcv> {
    let mut sorted = points.to_vec();
    sorted.sort_by_key(|p| p.at);
    let mut out: Vec<Ohlcv> = Vec::new();
    for point in &sorted {
        let start = bucket(point.at);
        match out.last_mut() {
            Some(bar) if bar.at == start => fold(bar, point),
            _ => out.push(Ohlcv {
                at: start,
                ..*point
            }),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::calendar::{day_start, month_start};

    fn p(at: i64, price: i64, volume: i64) -> Ohlcv {
        Ohlcv {
            at,
            open: price,
            high: price,
            low: price,
            close: price,
            volume,
        }
    }

    #[test]
    fn duplicates_and_disorder_fold_into_one_bar_per_bucket() {
        let day = 86_400_000;
        let points = [
            p(day + 5, 3, 1),
            p(5, 1, 1),
            p(10, 2, 1),
            p(10, 2, 1),
            p(day + 1, 4, 1),
        ];
        let daily = aggregate(&points, day_start);
        assert_eq!(daily.len(), 2);
        assert_eq!(
            (
                daily[0].at,
                daily[0].open,
                daily[0].close,
                daily[0].high,
                daily[0].volume
            ),
            (0, 1, 2, 2, 3)
        );
        assert_eq!(
            (daily[1].at, daily[1].open, daily[1].close, daily[1].low),
            (day, 4, 3, 3)
        );
        assert_eq!(aggregate(&daily, month_start).len(), 1);
    }
}
