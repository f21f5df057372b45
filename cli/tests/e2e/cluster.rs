//! `papertrader up`, then a user's whole session from a second terminal; Ctrl-C; up again.

use crate::support::*;

#[test]
fn up_register_trade_read_stop_and_start_again() {
    let dir = tempfile::tempdir().unwrap();
    let ports = free_ports(3);
    let worker_ports = format!("{},{}", ports[1], ports[2]);
    let up_args = [
        "up",
        "--data",
        "data",
        "--master-port",
        &ports[0].to_string(),
        "--worker-ports",
        &worker_ports,
        "--bcrypt-cost",
        "4",
        "--update-interval-ms",
        "200",
    ];
    let up = Server::start(dir.path(), &up_args, "Press Ctrl-C");
    let user = User {
        home: dir.path().join("home"),
        master: format!("127.0.0.1:{}", ports[0]),
        password: "s3cret pass".into(),
    };

    assert_eq!(
        user.ok(&["--json", "register", "sam", "--email", "sam@example.com"])
            .json()["registered"],
        "sam"
    );
    let login = user.ok(&["--json", "login", "sam"]).json();
    assert_eq!(login["username"], "sam");
    let session_file = dir.path().join("home/session.json");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            std::fs::metadata(&session_file)
                .unwrap()
                .permissions()
                .mode()
                & 0o777,
            0o600
        );
    }
    let workers = user.ok(&["--json", "workers"]).json();
    assert_eq!(workers.as_array().unwrap().len(), 2);

    let quotes = user.ok(&["--json", "quote", "AAPL", "KO"]).json();
    assert_eq!(quotes[1]["symbol"], "KO");
    assert!(quotes[0]["price"].as_str().unwrap().parse::<f64>().unwrap() > 0.0);

    let bought = user.ok(&["--json", "buy", "AAPL", "10"]).json();
    assert_eq!(
        (bought["side"].as_str(), bought["quantity"].as_u64()),
        (Some("buy"), Some(10))
    );
    let sold = user.ok(&["--json", "sell", "AAPL", "4"]).json();
    assert_eq!(sold["quantity"], 4);

    let portfolio = user.ok(&["--json", "portfolio"]).json();
    assert_eq!(portfolio["holdings"][0]["symbol"], "AAPL");
    assert_eq!(portfolio["holdings"][0]["quantity"], 6);
    assert_eq!(portfolio["cash"], sold["cash_after"]);
    let trades = user.ok(&["--json", "trades"]).json();
    assert_eq!(trades["trades"].as_array().unwrap().len(), 2);
    assert_eq!(trades["trades"][0]["cash_after"], bought["cash_after"]);

    let day = user
        .ok(&["--json", "history", "AAPL", "--range", "day"])
        .json();
    assert_eq!(day["resolution"], "tick");
    assert!(day["points"].as_array().unwrap().len() >= 288);
    // A year that ended 40 days ago: inside the two backfilled years whatever today is.
    let end = (chrono::Utc::now() - chrono::Duration::days(40))
        .format("%Y-%m-%d")
        .to_string();
    let year = user
        .ok(&[
            "--json", "history", "AAPL", "--range", "year", "--date", &end,
        ])
        .json();
    assert_eq!(
        (
            year["resolution"].as_str(),
            year["points"].as_array().unwrap().len()
        ),
        (Some("monthly"), 12)
    );
    let account = user.ok(&["--json", "account"]).json();
    assert_eq!(account["email"], "sam@example.com");
    let human = user.ok(&["portfolio"]).stdout;
    assert!(
        human.contains("SYMBOL") && human.contains("AAPL"),
        "{human}"
    );

    // Each worker of `up` has its own admin socket.
    let status = admin_json(
        dir.path(),
        &[
            "admin",
            "--socket",
            "data/worker-1/worker.admin.sock",
            "worker",
            "status",
        ],
    );
    assert_eq!(
        (status["link"].as_str(), status["name"].as_str()),
        (Some("up"), Some("worker-1"))
    );

    // The README's session, verbatim.
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../README.md")).unwrap();
    let block = readme
        .split("<!-- session:start -->")
        .nth(1)
        .and_then(|r| r.split("<!-- session:end -->").next())
        .expect("session block");
    let reader = User {
        home: dir.path().join("readme-home"),
        master: user.master.clone(),
        password: "readme pw".into(),
    };
    let commands: Vec<Vec<&str>> = block
        .lines()
        .filter_map(|l| l.strip_prefix("papertrader "))
        .map(|l| l.split_whitespace().collect())
        .collect();
    assert!(commands.len() >= 6, "{block}");
    for args in commands {
        let run = reader.ok(&args);
        assert!(!run.stdout.trim().is_empty(), "{args:?} printed nothing");
    }

    // Ctrl-C stops everything cleanly; the next `up` finds everything where it was.
    up.interrupt();
    assert!(std::fs::read_to_string(dir.path().join("data/master.log"))
        .unwrap()
        .contains("batch settled"));
    let _up = Server::start(dir.path(), &up_args, "Press Ctrl-C");
    let again = user.ok(&["--json", "portfolio"]).json();
    // Holdings are the same; their valuation price moves with every tick.
    assert_eq!(
        again["holdings"][0]["symbol"],
        portfolio["holdings"][0]["symbol"]
    );
    assert_eq!(
        again["holdings"][0]["quantity"],
        portfolio["holdings"][0]["quantity"]
    );
    assert_eq!(again["holdings"].as_array().unwrap().len(), 1);
    assert_eq!(again["cash"], portfolio["cash"]);
    assert_eq!(
        user.ok(&["--json", "trades"]).json()["trades"],
        trades["trades"]
    );

    // Failures: one line on stderr, a non-zero exit code, the reason named.
    let fails = |args: &[&str], code: i32, reason: &str| {
        let run = user.run(args);
        assert_eq!(run.code, code, "{args:?}: {}", run.stderr);
        assert_eq!(
            run.stderr.trim().lines().count(),
            1,
            "{args:?}: {}",
            run.stderr
        );
        assert!(run.stderr.contains(reason), "{args:?}: {}", run.stderr);
    };
    fails(&["sell", "AAPL", "1000"], 1, "InsufficientHoldings");
    fails(&["buy", "NOPE", "1"], 1, "UnknownAsset");
    fails(&["buy", "AAPL", "0"], 1, "InvalidQuantity");
    let wrong = User {
        password: "wrong".into(),
        ..User {
            home: user.home.clone(),
            master: user.master.clone(),
            password: String::new(),
        }
    };
    fails_with(&wrong, &["login", "sam"], 1, "BadCredentials");
    // A revoked session asks the user to log in again.
    let admin = ["admin", "--socket", "data/master.admin.sock"];
    let sessions = admin_json(dir.path(), &[&admin[..], &["sessions", "list"]].concat());
    for s in sessions["sessions"].as_array().unwrap() {
        let id = s["id"].as_i64().unwrap().to_string();
        admin_json(
            dir.path(),
            &[&admin[..], &["sessions", "revoke", &id]].concat(),
        );
    }
    fails(&["portfolio"], 1, "log in again");
    // Nothing listening: exit code 3.
    let nowhere = User {
        master: format!("127.0.0.1:{}", free_ports(1)[0]),
        home: user.home.clone(),
        password: "x".into(),
    };
    fails_with(&nowhere, &["workers"], 3, "error:");
}

fn fails_with(user: &User, args: &[&str], code: i32, reason: &str) {
    let run = user.run(args);
    assert_eq!(run.code, code, "{args:?}: {}", run.stderr);
    assert!(run.stderr.contains(reason), "{args:?}: {}", run.stderr);
}
