//! The tests' own hygiene: no developer's environment leaks into them, and nothing depends on
//! the calendar.

use std::process::Command;

use crate::support::*;

#[test]
fn spawned_processes_get_none_of_the_developers_papertrader_variables() {
    // A variable no test sets; the helpers must drop it like any other PAPERTRADER_* one.
    std::env::set_var("PAPERTRADER_E2E_LEAK_CHECK", "leaked");
    let run = run_bounded(clean(Command::new("env")));
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        !run.stdout.contains("PAPERTRADER_"),
        "leaked into a child: {}",
        run.stdout
    );
    let user = User {
        home: "home".into(),
        master: "127.0.0.1:1".into(),
        password: "pw".into(),
    };
    let command = user.command(&[]);
    let set: Vec<String> = command
        .get_envs()
        .filter(|(_, value)| value.is_some())
        .map(|(key, _)| key.to_string_lossy().into_owned())
        .collect();
    assert_eq!(
        set,
        [
            "PAPERTRADER_HOME",
            "PAPERTRADER_MASTER",
            "PAPERTRADER_PASSWORD"
        ],
        "only what the test sets on purpose"
    );
}

/// No e2e test asks the servers about a fixed date of this century: the simulated market's
/// history is the two years up to today, so such a query stops working one day (the year query
/// of `cluster.rs` did, after mid-2027). Dates are computed from today instead.
#[test]
fn no_test_depends_on_the_calendar() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/e2e");
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.file_name() == Some("hygiene.rs".as_ref()) {
            continue;
        }
        let text = std::fs::read_to_string(&path).unwrap();
        for (number, line) in text.lines().enumerate() {
            let fixed = line.match_indices("\"20").any(|(at, _)| {
                let date = line.as_bytes().get(at + 1..at + 11).unwrap_or_default();
                date.len() == 10
                    && date.iter().enumerate().all(|(i, b)| {
                        if i == 4 || i == 7 {
                            *b == b'-'
                        } else {
                            b.is_ascii_digit()
                        }
                    })
            });
            assert!(
                !fixed,
                "{}:{}: a fixed date: {line}",
                path.display(),
                number + 1
            );
        }
    }
}

/// Benchmark outputs written by hand (`papertrader-load … >idle.json 2>idle.err` at the
/// repository's root) are ignored, not committed.
#[test]
fn benchmark_outputs_are_ignored() {
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/..");
    let ignored = |path: &str| {
        let mut check = Command::new("git");
        check.args(["-C", root, "check-ignore", "--no-index", "-q", path]);
        let run = run_bounded(check);
        assert!(
            run.code == 0 || run.code == 1,
            "git check-ignore: {}",
            run.stderr
        );
        run.code == 0
    };
    for output in ["idle.json", "idle.err", "quotes.json", "run.err"] {
        assert!(ignored(output), "{output} is not ignored");
    }
    for source in [
        "docs/PROTOCOL.md",
        "cli/Cargo.toml",
        "README.md",
        "docker-compose.yml",
    ] {
        assert!(!ignored(source), "{source} is ignored");
    }
}
