//! Printing: aligned text tables for people, JSON for scripts.
//!
//! Everything goes through [`line`] (the [`outln!`] macro), never `println!`: `println!`
//! panics when standard output is a pipe whose reader has gone
//! (`papertrader admin workers list | grep -q w1`).

use std::io::{self, Write};

use chrono::SecondsFormat;
use papertrader_protocol::Money;
use serde_json::Value;

/// Writes one line to standard output. A reader that has gone away (`| head -1`,
/// `| grep -q …`) is no error: the rest of the output is dropped and the command still exits
/// with its own status. Any other write error (a full disk) ends the process with exit code 1.
pub fn line(text: std::fmt::Arguments<'_>) {
    let mut out = io::stdout().lock();
    match out
        .write_fmt(text)
        .and_then(|()| out.write_all(b"\n"))
        .and_then(|()| out.flush())
    {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => {}
        Err(e) => {
            eprintln!("error: writing to standard output: {e}");
            std::process::exit(1);
        }
    }
}

/// `println!` that survives a closed standard output: see [`line`].
macro_rules! outln {
    ($($arg:tt)*) => {
        $crate::output::line(format_args!($($arg)*))
    };
}
pub(crate) use outln;

/// How a command prints: tables and sentences, or JSON.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Output {
    /// Print JSON (and report errors as JSON).
    pub json: bool,
}

impl Output {
    /// Prints `value` with `--json`, else runs `human`.
    pub fn show(&self, value: Value, human: impl FnOnce()) {
        if self.json {
            json(&value)
        } else {
            human()
        }
    }
}

/// A column of a [`table`]: its header and how its cells line up.
#[derive(Debug, Clone, Copy)]
pub struct Column {
    header: &'static str,
    right: bool,
}

impl Column {
    /// Text, aligned on the left.
    pub const fn text(header: &'static str) -> Self {
        Self {
            header,
            right: false,
        }
    }

    /// Numbers (money, quantities, ids), aligned on the right so their digits line up.
    pub const fn number(header: &'static str) -> Self {
        Self {
            header,
            right: true,
        }
    }
}

/// The lines of a table: `rows` under the headers of `columns`, each column as wide as its
/// widest cell, two spaces between columns, no trailing spaces.
pub fn render_table(columns: &[Column], rows: &[Vec<String>]) -> Vec<String> {
    let mut widths: Vec<usize> = columns.iter().map(|c| c.header.chars().count()).collect();
    for row in rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let render = |cells: &mut dyn Iterator<Item = &str>| {
        let padded: Vec<String> = cells
            .zip(columns.iter().zip(&widths))
            .map(|(cell, (column, &width))| {
                if column.right {
                    format!("{cell:>width$}")
                } else {
                    format!("{cell:<width$}")
                }
            })
            .collect();
        padded.join("  ").trim_end().to_owned()
    };
    let mut lines = vec![render(&mut columns.iter().map(|c| c.header))];
    lines.extend(
        rows.iter()
            .map(|row| render(&mut row.iter().map(String::as_str))),
    );
    lines
}

/// Prints a table (see [`render_table`]).
pub fn table(columns: &[Column], rows: &[Vec<String>]) {
    for text in render_table(columns, rows) {
        outln!("{text}");
    }
}

/// Prints a JSON value on one line.
pub fn json(value: &Value) {
    outln!("{value}");
}

/// Money as a decimal string (for JSON too: never a float).
pub fn money(m: Money) -> String {
    m.to_string()
}

/// A UTC time for people, from milliseconds since the epoch: `2026-06-30 14:30:00` (tables
/// say `(UTC)` in the header).
pub fn time(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|t| t.format("%Y-%m-%d %H:%M:%S").to_string())
        .unwrap_or_else(|| ms.to_string())
}

/// A time for JSON, from milliseconds since the epoch: RFC 3339 with its zone,
/// `2026-06-30T14:30:00.000Z`. A time outside chrono's range stays the number it was.
pub fn rfc3339(ms: i64) -> Value {
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|t| Value::String(t.to_rfc3339_opts(SecondsFormat::Millis, true)))
        .unwrap_or_else(|| Value::from(ms))
}

/// Adds, beside every `…at_ms` number anywhere in `value`, the same time in RFC 3339 under
/// the name without `_ms` (`created_at_ms` → `created_at`), for JSON made from wire types.
pub fn add_rfc3339_times(value: &mut Value) {
    match value {
        Value::Object(map) => {
            let times: Vec<(String, Value)> = map
                .iter()
                .filter_map(|(key, v)| {
                    let name = key.strip_suffix("_ms").filter(|n| n.ends_with("at"))?;
                    Some((name.to_owned(), rfc3339(v.as_i64()?)))
                })
                .collect();
            for v in map.values_mut() {
                add_rfc3339_times(v);
            }
            for (name, time) in times {
                map.entry(name).or_insert(time);
            }
        }
        Value::Array(items) => items.iter_mut().for_each(add_rfc3339_times),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn numbers_are_right_aligned_and_text_left_aligned() {
        let lines = render_table(
            &[
                Column::text("SYMBOL"),
                Column::number("QUANTITY"),
                Column::number("PRICE"),
            ],
            &[
                vec!["AAPL".into(), "10".into(), "190.00".into()],
                vec!["BRK.B".into(), "1234567890".into(), "5.5".into()],
            ],
        );
        assert_eq!(
            lines,
            [
                "SYMBOL    QUANTITY   PRICE",
                "AAPL            10  190.00",
                "BRK.B   1234567890     5.5",
            ]
        );
    }

    #[test]
    fn json_times_are_rfc3339_with_their_zone() {
        assert_eq!(rfc3339(0), json!("1970-01-01T00:00:00.000Z"));
        assert_eq!(
            rfc3339(1_782_829_800_123),
            json!("2026-06-30T14:30:00.123Z")
        );
        let mut reply = json!({"sessions": [{"id": 1, "created_at_ms": 0, "ttl_ms": 5}]});
        add_rfc3339_times(&mut reply);
        assert_eq!(
            reply,
            json!({"sessions": [{"id": 1, "created_at_ms": 0, "created_at": "1970-01-01T00:00:00.000Z", "ttl_ms": 5}]})
        );
    }
}
