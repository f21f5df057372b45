//! Printing: aligned text tables for people, JSON for scripts.
//!
//! Everything goes through [`line`] (the [`outln!`] macro), never `println!`: `println!`
//! panics when standard output is a pipe whose reader has gone
//! (`papertrader admin workers list | grep -q w1`).

use std::io::{self, Write};

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

/// Prints `rows` under `headers`, columns padded to their widest cell.
pub fn table(headers: &[&str], rows: &[Vec<String>]) {
    let mut widths: Vec<usize> = headers.iter().map(|h| h.len()).collect();
    for row in rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let line = |cells: Vec<String>| {
        let padded: Vec<String> = cells
            .iter()
            .zip(&widths)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect();
        outln!("{}", padded.join("  ").trim_end());
    };
    line(headers.iter().map(|h| h.to_string()).collect());
    for row in rows {
        line(row.clone());
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

/// A UTC timestamp from milliseconds.
pub fn time(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|t| t.format("%Y-%m-%d %H:%M:%S").to_string())
        .unwrap_or_else(|| ms.to_string())
}
