//! A server that cannot start says why in one clean line and exits non-zero: no panic, no
//! "there is no reactor running", nothing else on standard error.

use crate::support::*;

/// Runs `papertrader ARGS` in `dir` (with `env`) and returns its exit code and standard error.
fn fails(dir: &std::path::Path, args: &[&str], env: &[(&str, &str)]) -> (i32, String) {
    let mut command = papertrader();
    command
        .args(args)
        .current_dir(dir)
        .envs(env.iter().copied());
    let run = run_bounded(command);
    (run.code, run.stderr)
}

fn assert_one_clean_line(what: &str, (code, stderr): (i32, String), says: &str) {
    assert_ne!(code, 0, "{what}: exit code 0");
    let lines: Vec<&str> = stderr.lines().collect();
    assert_eq!(lines.len(), 1, "{what}: {stderr}");
    assert!(
        lines[0].starts_with("error: ") && lines[0].contains(says),
        "{what}: {stderr}"
    );
    assert!(
        !stderr.contains("panicked") && !stderr.contains("reactor"),
        "{what}: {stderr}"
    );
}

#[test]
fn start_up_errors_are_one_clean_line_and_a_non_zero_exit() {
    let dir = tempfile::tempdir().unwrap();
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().to_string();
    assert_one_clean_line(
        "taken port",
        fails(dir.path(), &["master", "--listen", &port], &[]),
        "Address already in use",
    );
    let ports = free_ports(1);
    let free = format!("127.0.0.1:{}", ports[0]);
    std::fs::write(dir.path().join("not-a-key.asc"), "not a key").unwrap();
    assert_one_clean_line(
        "unreadable key",
        fails(
            dir.path(),
            &["master", "--listen", &free, "--key-file", "not-a-key.asc"],
            &[],
        ),
        "not-a-key.asc",
    );
    assert_one_clean_line(
        "refused provider setting",
        fails(
            dir.path(),
            &["master", "--listen", &free, "--provider", "finnhub"],
            &[("PAPERTRADER_PROVIDER_API_KEY", "")],
        ),
        "API key",
    );
    assert_one_clean_line(
        "worker on a taken port",
        fails(dir.path(), &["worker", "--listen", &port], &[]),
        "Address already in use",
    );
}
