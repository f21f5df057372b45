//! Orders, P&L, resets and equity as a user meets them in the CLI, against a running master
//! and worker: `order`, `orders`, `cancel`, `portfolio`, `reset`, `periods`, `equity`.

use std::time::{Duration, Instant};

use serde_json::Value;

use crate::support::*;

fn decimal(v: &Value) -> f64 {
    v.as_str()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("not a decimal string: {v}"))
}

#[test]
fn a_user_places_fills_cancels_resets_and_charts() {
    let dir = tempfile::tempdir().unwrap();
    let cluster = Cluster::start(dir.path(), 1, &["--update-interval-ms", "200"]);
    let user = cluster.user("olly");
    user.ok(&["register", "olly", "--email", "olly@example.com"]);
    user.ok(&["login", "olly"]);
    let quotes = user.ok(&["--json", "quote", "KO"]).json();
    let ko = decimal(&quotes[0]["price"]);

    // A crossing limit (well above the price) and one far below.
    let high = format!("{:.2}", ko * 1.5);
    let fill = user
        .ok(&[
            "order", "buy", "ko", "3", "--limit", &high, "--tif", "gtc", "--json",
        ])
        .json();
    assert_eq!(fill["status"], "new", "{fill}");
    assert_eq!(
        (fill["kind"].as_str(), fill["symbol"].as_str()),
        (Some("limit"), Some("KO"))
    );
    let rest = user
        .ok(&["order", "buy", "KO", "2", "--limit", "1.00", "--json"])
        .json();
    assert_eq!(rest["time_in_force"], "day");
    // Nothing is held yet, so a sale is refused, and the error names the reason.
    let refused = user.run(&["order", "sell", "KO", "50", "--limit", "9999.00"]);
    assert_eq!(refused.code, 1, "{}", refused.stderr);
    assert!(
        refused.stderr.contains("InsufficientHoldings"),
        "{}",
        refused.stderr
    );
    // A stop-limit buy whose limit is below its stop is refused before anything is sent.
    let bad = user.run(&["order", "buy", "KO", "1", "--stop", "5", "--limit", "4"]);
    assert_eq!(bad.code, 2, "{}", bad.stderr);
    assert!(bad.stderr.contains("stop-limit"), "{}", bad.stderr);

    // The crossing one fills at a later tick, at or below its limit.
    let id = fill["order_id"].as_u64().unwrap();
    let started = Instant::now();
    let filled = loop {
        let all = user.ok(&["orders", "--all", "--json"]).json();
        let order = all["orders"]
            .as_array()
            .unwrap()
            .iter()
            .find(|o| o["order_id"].as_u64() == Some(id))
            .cloned()
            .unwrap();
        if order["status"] == "filled" {
            break order;
        }
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "never filled: {all}"
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(decimal(&filled["average_price"]) <= decimal(&filled["limit_price"]));
    let open = user.ok(&["orders", "--json"]).json();
    let open_ids: Vec<u64> = open["orders"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["order_id"].as_u64().unwrap())
        .collect();
    assert!(
        open_ids.contains(&rest["order_id"].as_u64().unwrap()),
        "{open}"
    );
    let table = user.ok(&["orders"]).stdout;
    assert!(
        table.contains("STATUS") && table.contains("LIMIT"),
        "{table}"
    );

    let rest_id = rest["order_id"].as_u64().unwrap().to_string();
    let cancelled = user.ok(&["cancel", &rest_id, "--json"]).json();
    assert_eq!(cancelled["status"], "cancelled");
    let again = user.run(&["cancel", &rest_id]);
    assert_eq!(again.code, 1);
    assert!(again.stderr.contains("OrderNotOpen"), "{}", again.stderr);

    // The portfolio shows cost and P&L; the trades show the fill.
    let p = user.ok(&["portfolio", "--json"]).json();
    let summary = &p["summary"];
    assert_eq!(summary["period"], 0, "{p}");
    let total = decimal(&summary["realised_pnl"]) + decimal(&summary["unrealised_pnl"]);
    let change = decimal(&summary["equity"]) - decimal(&summary["starting_cash"]);
    assert!((total - change).abs() < 1e-6, "{p}");
    assert!(p["holdings"][0]["average_cost"].is_string(), "{p}");
    let trades = user.ok(&["trades", "--json"]).json();
    assert_eq!(
        trades["trades"][0]["order_id"].as_u64(),
        Some(id),
        "{trades}"
    );

    // Reset needs --yes; then the account starts over and the old period stays readable.
    let unconfirmed = user.run(&["reset"]);
    assert_eq!(unconfirmed.code, 2);
    assert!(
        unconfirmed.stderr.contains("--yes"),
        "{}",
        unconfirmed.stderr
    );
    let reset = user.ok(&["reset", "--yes", "--json"]).json();
    assert_eq!(reset["period"], 1);
    assert_eq!(reset["cash"], "100000.00");
    let periods = user.ok(&["periods", "--json"]).json();
    assert_eq!(periods["periods"].as_array().unwrap().len(), 2, "{periods}");
    assert!(periods["periods"][1]["ended_at"].is_null());
    let old = user.ok(&["periods", "--trades", "0", "--json"]).json();
    assert_eq!(old["trades"].as_array().unwrap().len(), 1, "{old}");
    assert!(user.ok(&["trades", "--json"]).json()["trades"]
        .as_array()
        .unwrap()
        .is_empty());

    // The equity chart: JSON points, and a chart (or a clear word that there is none yet).
    let equity = user.ok(&["equity", "--range", "day", "--json"]).json();
    assert_eq!(equity["period"], 1);
    assert!(equity["points"].is_array(), "{equity}");
    let chart = user.ok(&["equity", "--range", "day"]).stdout;
    assert!(chart.starts_with("equity of olly (period 1)"), "{chart}");
}
