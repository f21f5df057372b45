//! `papertrader watch` against a running master and worker: live quotes as JSON lines or
//! plain lines, and the user's own fills as they happen.

use std::process::Stdio;
use std::time::Duration;

use serde_json::Value;

use crate::support::*;

#[test]
fn watch_streams_quotes_and_the_users_fills() {
    let dir = tempfile::tempdir().unwrap();
    let cluster = Cluster::start(dir.path(), 1, &["--update-interval-ms", "100"]);
    let user = cluster.user("wanda");
    user.ok(&["register", "wanda", "--email", "wanda@example.com"]);
    user.ok(&["login", "wanda"]);

    // Plain lines when standard output is not a terminal: one per quote.
    let plain = user.ok(&["watch", "ko", "--count", "3"]);
    let lines: Vec<&str> = plain.stdout.lines().collect();
    assert_eq!(lines.len(), 3, "{}", plain.stdout);
    assert!(
        lines.iter().all(|l| l.contains("  KO  ")),
        "{}",
        plain.stdout
    );

    // JSON lines, with a fill made meanwhile by another command.
    let mut watch = user
        .command(&["watch", "KO", "AAPL", "--fills", "--json", "--count", "30"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // Buy once the watch is live (its first quote line is out), so the fill is pushed.
    let stdout = watch.stdout.take().unwrap();
    let (first_tx, first_rx) = std::sync::mpsc::channel();
    let reader = std::thread::spawn(move || {
        let mut lines = Vec::new();
        for line in std::io::BufRead::lines(std::io::BufReader::new(stdout)) {
            let Ok(line) = line else { break };
            if lines.is_empty() {
                let _ = first_tx.send(());
            }
            lines.push(line);
        }
        lines
    });
    first_rx
        .recv_timeout(Duration::from_secs(20))
        .expect("watch printed nothing");
    let bought = user.ok(&["buy", "KO", "2", "--json"]).json();
    let status = wait_bounded(&mut watch, Duration::from_secs(30), "watch");
    assert!(status.success(), "watch exited {status:?}");
    let lines = reader.join().unwrap();
    let objects: Vec<Value> = lines
        .iter()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    let all = lines.join("\n");
    let quotes: Vec<&Value> = objects.iter().filter(|o| o["type"] == "quote").collect();
    assert!(quotes.len() >= 30, "{} quotes", quotes.len());
    let symbols: std::collections::BTreeSet<&str> =
        quotes.iter().filter_map(|q| q["symbol"].as_str()).collect();
    assert_eq!(symbols.into_iter().collect::<Vec<_>>(), ["AAPL", "KO"]);
    let sequences: Vec<u64> = quotes
        .iter()
        .filter_map(|q| q["sequence"].as_u64())
        .collect();
    assert!(sequences.windows(2).all(|w| w[0] <= w[1]), "{sequences:?}");
    let fill = objects
        .iter()
        .find(|o| o["type"] == "account" && o["event"] == "filled")
        .unwrap_or_else(|| panic!("no fill in {all}"));
    assert_eq!(fill["symbol"], "KO");
    assert_eq!(fill["fill"]["quantity"], 2);
    assert_eq!(
        fill["fill"]["transaction_id"], bought["transaction_id"],
        "{fill} vs {bought}"
    );
    assert_eq!(fill["cash_after"], bought["cash_after"]);
}
