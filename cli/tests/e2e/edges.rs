//! The CLI's edges as a new user meets them, against a running master and worker: symbols in
//! any case, one bad symbol among good ones, the asset list, passwords typed on a terminal,
//! JSON for scripts, tables for people, and a session an admin revoked.

use serde_json::Value;

use crate::support::*;

/// An RFC 3339 time with its zone.
fn assert_rfc3339(value: &Value, what: &str) {
    let text = value.as_str().unwrap_or_else(|| panic!("{what}: {value}"));
    assert!(
        chrono::DateTime::parse_from_rfc3339(text).is_ok() && text.ends_with('Z'),
        "{what}: {text}"
    );
}

#[test]
fn a_new_users_session_from_register_to_a_revoked_session() {
    let dir = tempfile::tempdir().unwrap();
    let cluster = Cluster::start(dir.path(), 1, &["--update-interval-ms", "200"]);
    let user = cluster.user("ann");

    // On a terminal, register asks for the password twice: different ones send nothing.
    let mut register = user.command(&["register", "ann", "--email", "ann@example.com"]);
    register.env_remove("PAPERTRADER_PASSWORD");
    let (run, screen) = run_on_terminal(register, "Password", &["pw", "typo"]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(run.stderr.contains("differ"), "{}", run.stderr);
    assert_eq!(screen.matches("Password").count(), 2, "{screen:?}");
    // An empty one is refused at once.
    let mut register = user.command(&["register", "ann", "--email", "ann@example.com"]);
    register.env_remove("PAPERTRADER_PASSWORD");
    let (run, _) = run_on_terminal(register, "Password", &[""]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(run.stderr.contains("empty"), "{}", run.stderr);
    // The same one twice registers; logging in asks once.
    let mut register = user.command(&["register", "ann", "--email", "ann@example.com"]);
    register.env_remove("PAPERTRADER_PASSWORD");
    let (run, _) = run_on_terminal(register, "Password", &["pw", "pw"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let mut login = user.command(&["login", "ann"]);
    login.env_remove("PAPERTRADER_PASSWORD");
    let (run, screen) = run_on_terminal(login, "Password", &["pw"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(screen.matches("Password").count(), 1, "{screen:?}");

    // The traded symbols, without logging in.
    let assets = cluster.user("nobody").ok(&["assets", "--json"]).json();
    let symbols: Vec<&str> = assets["assets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["symbol"].as_str().unwrap())
        .collect();
    assert!(
        symbols.contains(&"AAPL") && symbols.contains(&"KO"),
        "{assets}"
    );
    let text = cluster.user("nobody").ok(&["assets"]).stdout;
    assert!(
        text.lines()
            .any(|l| l.starts_with("AAPL") && l.contains("Apple")),
        "{text}"
    );

    // Symbols in any case.
    let quotes = user.ok(&["--json", "quote", "aapl", "Ko"]).json();
    assert_eq!(
        (quotes[0]["symbol"].as_str(), quotes[1]["symbol"].as_str()),
        (Some("AAPL"), Some("KO"))
    );
    assert_rfc3339(&quotes[0]["at"], "quote at");
    let bought = user.ok(&["buy", "aapl", "10", "--json"]).json();
    assert_eq!(bought["symbol"], "AAPL");
    assert_rfc3339(&bought["settled_at"], "settled_at");
    user.ok(&["info", "ko"]);
    user.ok(&["history", "ko", "--range", "day"]);

    // One bad symbol does not hide the others: they are shown, it is reported, exit 1.
    let run = user.run(&["quote", "AAPL", "NOPE", "MSFT"]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    let rows: Vec<&str> = run.stdout.lines().collect();
    assert!(rows[0].starts_with("SYMBOL"), "{}", run.stdout);
    assert!(
        rows[1].starts_with("AAPL") && rows[2].starts_with("MSFT"),
        "{}",
        run.stdout
    );
    assert_eq!(run.stderr.trim().lines().count(), 1, "{}", run.stderr);
    assert!(
        run.stderr.contains("NOPE") && run.stderr.contains("UnknownAsset"),
        "{}",
        run.stderr
    );
    let run = user.run(&["quote", "AAPL", "NOPE", "MSFT", "--json"]);
    assert_eq!(run.code, 1);
    let entries = run.json();
    assert_eq!(entries[0]["symbol"], "AAPL");
    assert_eq!(entries[1]["symbol"], "NOPE");
    assert_eq!(entries[1]["error"]["reason"], "UnknownAsset");
    assert_eq!(entries[2]["symbol"], "MSFT");

    // Errors with --json: one JSON object on standard error with the reason code.
    let run = user.run(&["--json", "buy", "NOPE", "1"]);
    assert_eq!(run.code, 1);
    assert!(run.stdout.is_empty(), "{}", run.stdout);
    let error: Value = serde_json::from_str(run.stderr.trim()).expect("a JSON error");
    assert_eq!(error["error"]["reason"], "UnknownAsset");
    assert_eq!(error["error"]["reason_code"], 30);
    assert_eq!(error["error"]["exit_code"], 1);

    // JSON times are RFC 3339 with a zone; history says its span.
    let history = user
        .ok(&["history", "AAPL", "--range", "week", "--json"])
        .json();
    assert_rfc3339(&history["from"], "from");
    assert_rfc3339(&history["to"], "to");
    assert_rfc3339(&history["points"][0]["at"], "point");
    let from = chrono::DateTime::parse_from_rfc3339(history["from"].as_str().unwrap()).unwrap();
    let to = chrono::DateTime::parse_from_rfc3339(history["to"].as_str().unwrap()).unwrap();
    assert!(from < to, "{history}");
    assert_rfc3339(
        &user.ok(&["account", "--json"]).json()["created_at"],
        "created_at",
    );
    let trades = user.ok(&["trades", "--json"]).json();
    assert_rfc3339(&trades["trades"][0]["settled_at"], "trade");

    // The portfolio's total value: cash plus holdings, money as decimal strings.
    let portfolio = user.ok(&["portfolio", "--json"]).json();
    let money = |v: &Value| -> i128 {
        let text = v
            .as_str()
            .unwrap_or_else(|| panic!("not a decimal string: {v}"));
        let (units, cents) = text.split_once('.').unwrap_or((text, ""));
        units.parse::<i128>().unwrap() * 100 + format!("{cents:0<2}")[..2].parse::<i128>().unwrap()
    };
    assert_eq!(
        money(&portfolio["total_value"]),
        money(&portfolio["cash"]) + money(&portfolio["holdings_value"]),
        "{portfolio}"
    );
    assert_eq!(
        portfolio["holdings_value"],
        portfolio["holdings"][0]["value"]
    );

    // Tables: whose portfolio it is, numbers right-aligned under their headers.
    let text = user.ok(&["portfolio"]).stdout;
    let lines: Vec<&str> = text.lines().collect();
    assert!(
        lines[0].contains("ann") && lines[0].contains("total"),
        "{text}"
    );
    // Then the period's equity, P&L and return, buying power, then the table.
    assert!(
        lines[1].starts_with("period 0 since")
            && lines[2].starts_with("P&L realised")
            && lines[3].starts_with("buying power"),
        "{text}"
    );
    let header = lines[4];
    let row = lines[5];
    for column in ["QUANTITY", "PRICE", "VALUE", "AVG COST", "UNREALISED"] {
        let end = header.find(column).unwrap() + column.len();
        assert!(
            row.len() >= end && row.as_bytes()[end - 1].is_ascii_digit(),
            "{column} not right-aligned:\n{text}"
        );
    }
    assert!(
        row[header.find("QUANTITY").unwrap()..].starts_with(' '),
        "{text}"
    );

    // Another user's portfolio says whose it is, and that the cash is not shown.
    let bob = cluster.user("bob");
    bob.ok(&["register", "bob", "--email", "bob@example.com"]);
    bob.ok(&["login", "bob"]);
    bob.ok(&["buy", "KO", "3"]);
    let text = user.ok(&["portfolio", "bob"]).stdout;
    assert!(text.lines().next().unwrap().contains("bob"), "{text}");
    assert!(text.contains("private"), "{text}");
    let theirs = user.ok(&["portfolio", "bob", "--json"]).json();
    assert_eq!(
        (theirs["cash"].clone(), theirs["total_value"].clone()),
        (Value::Null, Value::Null)
    );
    assert!(user
        .ok(&["trades", "bob"])
        .stdout
        .lines()
        .next()
        .unwrap()
        .contains("bob"));

    // An admin revokes ann's session: one clear message, then logout cleans up.
    let sessions = cluster.admin_json(&[
        "admin",
        "--socket",
        "data/master.admin.sock",
        "sessions",
        "list",
    ]);
    let ann: Vec<String> = sessions["sessions"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["username"] == "ann")
        .map(|s| s["id"].to_string())
        .collect();
    assert!(!ann.is_empty(), "{sessions}");
    assert_rfc3339(&sessions["sessions"][0]["created_at"], "admin JSON");
    for id in &ann {
        cluster.admin_json(&[
            "admin",
            "sessions",
            "revoke",
            id,
            "--socket",
            "data/master.admin.sock",
        ]);
    }
    let run = user.run(&["portfolio"]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert_eq!(run.stderr.trim().lines().count(), 1, "{}", run.stderr);
    assert!(
        run.stderr.contains("papertrader login ann"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("SessionInvalid"), "{}", run.stderr);
    assert_eq!(
        run.stderr.matches("log in again").count(),
        1,
        "{}",
        run.stderr
    );
    let session_file = user.home.join("session.json");
    assert!(session_file.exists());
    let run = user.ok(&["logout"]);
    assert!(run.stdout.contains("already ended"), "{}", run.stdout);
    assert!(!session_file.exists());
    // Logged out for good: the next command says so, and login works again.
    let run = user.run(&["portfolio"]);
    assert!(
        run.code == 1 && run.stderr.contains("not logged in"),
        "{}",
        run.stderr
    );
    user.ok(&["login", "ann"]);
    user.ok(&["portfolio"]);
}
