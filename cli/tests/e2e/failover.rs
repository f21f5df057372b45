//! A deployment of separate processes: `papertrader master`, two `papertrader worker`s
//! registered with `papertrader admin`; one worker dies and the CLI carries on with the other.

use crate::support::*;

#[test]
fn the_cli_fails_over_when_a_worker_dies() {
    let dir = tempfile::tempdir().unwrap();
    let mut cluster = Cluster::start(dir.path(), 2, &["--update-interval-ms", "200"]);
    let user = cluster.user("tess");
    user.ok(&["register", "tess", "--email", "tess@example.com"]);
    let login = user.ok(&["--json", "login", "tess"]).json();
    user.ok(&["buy", "KO", "5"]);

    // Kill the worker the CLI used; the session resumes on the other one.
    let used = login["worker"].as_str().unwrap().to_owned();
    let index = cluster
        .worker_addrs
        .iter()
        .position(|a| *a == used)
        .expect("a known worker");
    cluster.workers.remove(index).kill();
    let portfolio = user.ok(&["--json", "portfolio"]).json();
    assert_eq!(portfolio["holdings"][0]["quantity"], 5);
    user.ok(&["sell", "KO", "2"]);
    assert_eq!(
        user.ok(&["--json", "trades"]).json()["trades"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
}
