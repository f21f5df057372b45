//! Standard output as containers and shell pipelines use it: a reader that has gone away
//! (`| grep -q`, `| head -1`) is no panic, and `--log-file -` sends the log system's lines,
//! with their file and line fields, to standard output (`docker compose logs`).

use std::process::Stdio;
use std::time::{Duration, Instant};

use crate::support::*;

/// Runs `papertrader ARGS` in `dir` with standard output a pipe nobody reads any more, as
/// after `| grep -q` has matched: every write fails with EPIPE.
fn run_with_stdout_closed(dir: &std::path::Path, args: &[&str]) -> (i32, String) {
    let (reader, writer) = std::io::pipe().expect("pipe");
    drop(reader);
    let mut child = papertrader()
        .args(args)
        .current_dir(dir)
        .env("PAPERTRADER_HOME", dir.join("home"))
        .env("PAPERTRADER_PASSWORD", "s3cret pass")
        .stdout(writer)
        .stderr(Stdio::piped())
        .spawn()
        .expect("run papertrader");
    let run = finish(&mut child, &format!("{args:?}"));
    (run.code, run.stderr)
}

#[test]
fn a_closed_stdout_is_no_panic() {
    let dir = tempfile::tempdir().unwrap();
    let ports = free_ports(3);
    let master = format!("127.0.0.1:{}", ports[0]);
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
    ];
    let _up = Server::start(dir.path(), &up_args, "Press Ctrl-C");
    let socket = "data/master.admin.sock";
    for args in [
        &["admin", "--socket", socket, "workers", "list"][..],
        &["--json", "admin", "--socket", socket, "workers", "list"],
        &["admin", "--socket", socket, "log", "dump"],
        &["workers", "--master", &master],
        &[
            "register",
            "pipe",
            "--email",
            "pipe@example.com",
            "--master",
            &master,
        ],
    ] {
        let (code, stderr) = run_with_stdout_closed(dir.path(), args);
        assert!(!stderr.contains("panicked"), "{args:?} panicked: {stderr}");
        assert_eq!(code, 0, "{args:?}: {stderr}");
    }
    // The command still did its work: the account exists.
    let user = User {
        home: dir.path().join("home"),
        master,
        password: "s3cret pass".into(),
    };
    assert_eq!(
        user.ok(&["--json", "login", "pipe"]).json()["username"],
        "pipe"
    );
}

#[test]
fn log_file_dash_writes_the_log_to_stdout_with_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_ports(1)[0];
    let listen = format!("127.0.0.1:{port}");
    let master = Server::start(
        dir.path(),
        &[
            "master",
            "--listen",
            &listen,
            "--log-file",
            "-",
            "--database-url",
            "master.db",
            "--key-file",
            "master.sec.asc",
            "--public-key-file",
            "master.pub.asc",
            "--admin-socket",
            "master.admin.sock",
        ],
        // The banner; the log lines follow within the flush interval (5 s by default).
        "papertrader master listening on",
    );
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut seen = Vec::new();
    let entry = loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match master.lines.recv_timeout(left) {
            Ok(line) if line.contains("| master listening") => break line,
            Ok(line) => seen.push(line),
            Err(_) => panic!("no `master listening` log entry on stdout: {seen:#?}"),
        }
    };
    assert!(entry.contains(" INFO "), "level: {entry}");
    assert!(
        entry.contains("master/src/server.rs:"),
        "file and line: {entry}"
    );
    assert!(
        entry.contains("papertrader_master::server"),
        "module: {entry}"
    );
    assert!(
        !dir.path().join("-").exists(),
        "`-` is standard output, not a file named -"
    );
}
