//! Latency histograms and error counts per operation, and their printing.

use std::collections::BTreeMap;
use std::time::Duration;

use hdrhistogram::Histogram;
use serde_json::{json, Value};

/// What one operation kind recorded.
pub struct OpStats {
    /// Latencies in microseconds.
    pub latency: Histogram<u64>,
    /// Failures by reason (reason code name, or the transport error kind).
    pub errors: BTreeMap<String, u64>,
}

impl OpStats {
    /// Empty stats (1 µs to 60 s, 3 significant digits).
    pub fn new() -> Self {
        // Auto-resizing: records any latency, whatever the bounds.
        let mut latency =
            Histogram::new(3).expect("3 significant digits is within hdrhistogram's 0..=5");
        latency.auto(true);
        Self {
            latency,
            errors: BTreeMap::new(),
        }
    }

    /// Records one successful call.
    pub fn record(&mut self, took: Duration) {
        let micros = u64::try_from(took.as_micros()).unwrap_or(u64::MAX).max(1);
        let _ = self.latency.record(micros);
    }

    /// Records one failed call.
    pub fn fail(&mut self, reason: String) {
        *self.errors.entry(reason).or_insert(0) += 1;
    }

    /// Adds another connection's stats.
    pub fn merge(&mut self, other: &OpStats) {
        let _ = self.latency.add(&other.latency);
        for (reason, n) in &other.errors {
            *self.errors.entry(reason.clone()).or_insert(0) += n;
        }
    }
}

/// One operation's summary as JSON (latencies in microseconds).
pub fn summary(op: &str, stats: &OpStats, elapsed: Duration) -> Value {
    let h = &stats.latency;
    let ok = h.len();
    json!({
        "op": op,
        "ok": ok,
        "errors": stats.errors,
        "per_second": ok as f64 / elapsed.as_secs_f64().max(1e-9),
        "latency_us": {
            "p50": h.value_at_quantile(0.50),
            "p99": h.value_at_quantile(0.99),
            "p999": h.value_at_quantile(0.999),
            "max": h.max(),
            "mean": h.mean().round(),
        },
    })
}

/// Prints summaries as a table.
pub fn print_table(rows: &[Value]) {
    println!(
        "{:<8} {:>10} {:>12} {:>9} {:>9} {:>9} {:>9}  errors",
        "op", "ok", "per second", "p50 µs", "p99 µs", "p99.9 µs", "max µs"
    );
    for r in rows {
        let l = &r["latency_us"];
        println!(
            "{:<8} {:>10} {:>12.0} {:>9} {:>9} {:>9} {:>9}  {}",
            r["op"].as_str().unwrap_or_default(),
            r["ok"],
            r["per_second"].as_f64().unwrap_or_default(),
            l["p50"],
            l["p99"],
            l["p999"],
            l["max"],
            r["errors"]
        );
    }
}
