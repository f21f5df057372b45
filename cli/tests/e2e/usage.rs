//! The CLI's edges that need no running server: exit codes of usage errors, what a connection
//! error names, help texts, `--print-config`, and the session file.

use crate::support::*;

/// A user of a master that is not running (a free port).
fn user_of_nothing(dir: &std::path::Path) -> User {
    User {
        home: dir.join("home"),
        master: format!("127.0.0.1:{}", free_ports(1)[0]),
        password: "pw".into(),
    }
}

fn assert_fails(run: &Run, code: i32, says: &[&str]) {
    assert_eq!(run.code, code, "{}", run.stderr);
    for text in says {
        assert!(run.stderr.contains(text), "{text:?} not in: {}", run.stderr);
    }
}

#[test]
fn usage_errors_exit_2_and_not_logged_in_exits_1_with_a_hint() {
    let dir = tempfile::tempdir().unwrap();
    let user = user_of_nothing(dir.path());

    // A bad --date is bad usage, said before anything is sent.
    let run = user.run(&["history", "AAPL", "--date", "30/06/2026"]);
    assert_fails(&run, 2, &["--date", "YYYY-MM-DD"]);
    // With --json, as a JSON object.
    let run = user.run(&["history", "AAPL", "--date", "yesterday", "--json"]);
    assert_eq!(run.code, 2);
    let error: serde_json::Value = serde_json::from_str(run.stderr.trim()).expect("JSON error");
    assert_eq!(error["error"]["exit_code"], 2);
    assert!(error["error"]["message"]
        .as_str()
        .unwrap()
        .contains("--date"));

    // No terminal to ask for the password on, and neither --password-stdin nor the variable.
    let mut login = user.command(&["login", "sam"]);
    login.env_remove("PAPERTRADER_PASSWORD");
    assert_fails(
        &run_without_terminal(login),
        2,
        &["no terminal", "--password-stdin", "PAPERTRADER_PASSWORD"],
    );

    // Empty passwords are refused before anything is sent (nothing listens: exit 3 otherwise).
    let mut empty = user.command(&["register", "sam", "--email", "sam@example.com"]);
    empty.env("PAPERTRADER_PASSWORD", "");
    assert_fails(&run_bounded(empty), 2, &["password is empty"]);
    // Nothing at all on standard input says so.
    let mut empty = user.command(&["login", "sam", "--password-stdin"]);
    empty.env_remove("PAPERTRADER_PASSWORD");
    assert_fails(
        &run_bounded(empty),
        2,
        &["standard input ended before the password"],
    );

    // Not logged in: exit 1, and what to run.
    assert_fails(
        &user.run(&["portfolio"]),
        1,
        &["not logged in", "papertrader login"],
    );
    assert_fails(&user.run(&["logout"]), 1, &["not logged in"]);
}

#[test]
fn a_damaged_session_file_is_named_with_how_to_repair_it_and_logout_removes_it() {
    let dir = tempfile::tempdir().unwrap();
    let user = user_of_nothing(dir.path());
    let file = user.home.join("session.json");
    std::fs::create_dir_all(&user.home).unwrap();
    std::fs::write(&file, "{\"session_id\": \"abc\", \"user").unwrap();

    let run = user.run(&["quote", "AAPL"]);
    assert_fails(
        &run,
        2,
        &[file.to_str().unwrap(), "papertrader logout", "log in again"],
    );
    assert_eq!(run.stderr.trim().lines().count(), 1, "{}", run.stderr);

    // `logout` repairs it without a server.
    let run = user.ok(&["logout"]);
    assert!(run.stdout.contains("removed"), "{}", run.stdout);
    assert!(!file.exists());
    assert_fails(&user.run(&["quote", "AAPL"]), 1, &["not logged in"]);
}

#[test]
fn connection_errors_name_what_was_unreachable_and_what_to_run() {
    let dir = tempfile::tempdir().unwrap();
    let user = user_of_nothing(dir.path());

    // The master is down: named, with what to run.
    let run = user.run(&["workers"]);
    assert_fails(
        &run,
        3,
        &["master", &user.master, "papertrader up", "--master"],
    );

    // An unreachable --worker is the worker, not the master.
    let worker = format!("127.0.0.1:{}", free_ports(1)[0]);
    std::fs::create_dir_all(&user.home).unwrap();
    std::fs::write(
        user.home.join("session.json"),
        r#"{"session_id": "abc", "username": "sam"}"#,
    )
    .unwrap();
    let run = user.run(&["quote", "AAPL", "--worker", &worker]);
    assert_fails(&run, 3, &["worker at", &worker, "--worker"]);
    assert!(!run.stderr.contains("master at"), "{}", run.stderr);

    // A host without a port means port 2048 (for --worker, 2049). Nothing but a PaperTrader
    // master would answer `workers` on 127.0.0.3:2048: either one did, or the error names
    // that address.
    let run = user.run(&["workers", "--master", "127.0.0.3"]);
    if run.code != 0 {
        assert_fails(&run, 3, &["127.0.0.3:2048"]);
    }
    let run = user.run(&["quote", "AAPL", "--worker", "127.0.0.3"]);
    if run.code == 3 {
        assert!(run.stderr.contains("127.0.0.3:2049"), "{}", run.stderr);
    }
}

/// `papertrader ARGS --help`.
fn help(args: &[&str]) -> String {
    let mut command = papertrader();
    command.args(args).arg("--help");
    let run = run_bounded(command);
    assert_eq!(run.code, 0, "{args:?}: {}", run.stderr);
    run.stdout
}

#[test]
fn help_texts_point_nowhere_circular_and_offer_json_only_where_it_works() {
    for server in ["master", "worker"] {
        let text = help(&[server]);
        assert!(
            !text.contains(&format!("papertrader {server} --help")),
            "{server} --help points at itself: {text}"
        );
        assert!(text.contains("--print-config"), "{text}");
    }
    for quiet in [&["up"][..], &["master"], &["worker"]] {
        let text = help(quiet);
        assert!(!text.contains("--json"), "{quiet:?} offers --json: {text}");
        let mut command = papertrader();
        command.arg("--json").args(quiet);
        assert_fails(&run_bounded(command), 2, &["--json does nothing"]);
    }
    for talkative in [
        &["quote"][..],
        &["portfolio"],
        &["assets"],
        &["workers"],
        &["admin", "status"],
        &["admin", "worker", "status"],
    ] {
        assert!(help(talkative).contains("--json"), "{talkative:?}");
    }
    // Nor options a command would ignore: `workers` only asks the master; `register` keeps no
    // session.
    assert!(!help(&["workers"]).contains("--worker "));
    assert!(!help(&["register", "x", "--email", "x@example.com"]).contains("--session-file"));
}

#[test]
fn admin_takes_socket_and_json_after_the_subcommand_too() {
    let dir = tempfile::tempdir().unwrap();
    let socket = dir.path().join("nowhere.sock");
    let socket = socket.to_str().unwrap();
    for args in [
        &["admin", "workers", "list", "--socket", socket][..],
        &["admin", "--socket", socket, "workers", "list"],
        &["admin", "worker", "status", "--socket", socket],
    ] {
        let mut command = papertrader();
        command.args(args);
        let run = run_bounded(command);
        assert_fails(&run, 3, &[socket]);
    }
    let mut command = papertrader();
    command.args(["admin", "status", "--socket", socket, "--json"]);
    let run = run_bounded(command);
    let error: serde_json::Value = serde_json::from_str(run.stderr.trim()).expect("JSON error");
    assert_eq!(error["error"]["exit_code"], 3);
}

/// `papertrader SERVER --print-config ARGS` in `dir`.
fn print_config(dir: &std::path::Path, server: &str, args: &[&str]) -> String {
    let mut command = papertrader();
    command
        .arg(server)
        .arg("--print-config")
        .args(args)
        .current_dir(dir);
    let run = run_bounded(command);
    assert_eq!(run.code, 0, "{}", run.stderr);
    run.stdout
}

#[test]
fn print_config_documents_every_key_with_its_default_as_a_config_file() {
    let dir = tempfile::tempdir().unwrap();
    for (server, keys) in [
        (
            "master",
            &[
                "simulated_trading_hours",
                "csv_speed",
                "csv_loop",
                "session_ttl_secs",
                "connection_session_ttl_secs",
                "update_interval_ms",
                "login_backoff_base_ms",
                "max_payload",
            ][..],
        ),
        (
            "worker",
            &[
                "request_timeout_secs",
                "idle_timeout_secs",
                "cache_max_entries",
                "master",
            ],
        ),
    ] {
        let text = print_config(dir.path(), server, &[]);
        let parsed: toml::Table = text.parse().expect("valid TOML");
        for key in keys {
            assert!(parsed.contains_key(*key), "{server}: {key} missing: {text}");
        }
        // Every key: a doc comment, then its default, then the value (or `# key = (unset)`).
        let lines: Vec<&str> = text.lines().collect();
        let mut documented = 0;
        for (i, line) in lines.iter().enumerate() {
            let key = match line.strip_prefix("# ") {
                Some(comment) => match comment.strip_suffix(" = (unset)") {
                    Some(key) => key,
                    None => continue,
                },
                None => match line.split_once(" = ") {
                    Some((key, _)) => key,
                    None => continue,
                },
            };
            assert!(
                lines[i - 1].starts_with("# default: "),
                "{server}: {key} has no default: {text}"
            );
            assert!(
                lines[i - 2].len() > 2 && lines[i - 2].starts_with("# "),
                "{server}: {key} has no doc: {text}"
            );
            documented += 1;
        }
        assert!(documented >= parsed.len() && documented > 15, "{text}");

        // It is a config file: read back, it prints the same; flags override it.
        std::fs::write(dir.path().join("printed.toml"), &text).unwrap();
        assert_eq!(
            print_config(dir.path(), server, &["--config", "printed.toml"]),
            text
        );
        let changed = print_config(
            dir.path(),
            server,
            &["--config", "printed.toml", "--listen", "127.0.0.1:7"],
        );
        assert!(
            changed.contains("listen = \"127.0.0.1:7\""),
            "{server}: {changed}"
        );
        assert!(
            changed.contains("# default: \"0.0.0.0:20"),
            "{server}: {changed}"
        );
    }
    // A database password is not printed.
    let text = print_config(
        dir.path(),
        "master",
        &["--database-url", "postgres://pt:s3cret@db/pt"],
    );
    assert!(!text.contains("s3cret"), "{text}");
    assert!(text.contains("postgres://pt:***@db/pt"), "{text}");
}
