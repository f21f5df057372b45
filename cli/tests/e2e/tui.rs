//! `papertrader tui` in a real pseudo-terminal (tmux) against a running master and worker:
//! prices arrive, an order is placed and fills, another is placed and cancelled from the
//! open-orders list, a too-small window says so, and `q` ends it.

use std::process::Command;
use std::time::{Duration, Instant};

use crate::support::*;

/// tmux on a socket of this test's own.
struct Tmux {
    socket: String,
}

impl Tmux {
    fn run(&self, args: &[&str]) -> String {
        let out = Command::new("tmux")
            .arg("-L")
            .arg(&self.socket)
            .args(args)
            .output()
            .expect("tmux runs");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    fn screen(&self) -> String {
        self.run(&["capture-pane", "-p", "-t", "tui"])
    }

    fn keys(&self, keys: &[&str]) {
        for key in keys {
            self.run(&["send-keys", "-t", "tui", key]);
            std::thread::sleep(Duration::from_millis(150));
        }
    }

    /// Waits (20 s at most) until the screen shows `text`; the screen.
    fn wait_for(&self, text: &str) -> String {
        let started = Instant::now();
        loop {
            let screen = self.screen();
            if screen.contains(text) {
                return screen;
            }
            assert!(
                started.elapsed() < Duration::from_secs(20),
                "the screen never showed {text:?}:\n{screen}"
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        self.run(&["kill-server"]);
    }
}

#[test]
fn the_tui_shows_prices_places_fills_and_cancels_in_a_real_terminal() {
    if Command::new("tmux").arg("-V").output().is_err() {
        eprintln!("SKIPPED: tmux is not installed (.ci/run installs it)");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let cluster = Cluster::start(dir.path(), 1, &["--update-interval-ms", "200"]);
    let user = cluster.user("tina");
    user.ok(&["register", "tina", "--email", "tina@example.com"]);
    user.ok(&["login", "tina"]);

    let tmux = Tmux {
        socket: format!("pt-tui-{}", std::process::id()),
    };
    let home = format!("PAPERTRADER_HOME={}", user.home.display());
    let master = format!("PAPERTRADER_MASTER={}", user.master);
    let program = format!("{BIN} tui --symbols KO,AAPL");
    tmux.run(&[
        "new-session",
        "-d",
        "-s",
        "tui",
        "-x",
        "140",
        "-y",
        "45",
        "-e",
        &home,
        "-e",
        &master,
        &program,
    ]);
    let screen = tmux.wait_for("AAPL");
    assert!(screen.contains("KO"), "{screen}");
    tmux.wait_for("100000.00");
    // Live prices: the watchlist's KO row gets a price (cents) from the pushes.
    let started = Instant::now();
    loop {
        let screen = tmux.screen();
        let priced = screen.lines().any(|line| {
            line.contains(" KO ")
                && line.split_whitespace().any(|word| {
                    word.contains('.') && word.trim_start_matches(['+', '-']).parse::<f64>().is_ok()
                })
        });
        if priced {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "no KO price:\n{screen}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }

    // A market buy of 2 KO, through the form and its confirmation; its fill arrives live.
    tmux.keys(&["b", "2", "Enter"]);
    tmux.wait_for("confirm");
    tmux.keys(&["y"]);
    tmux.wait_for("filled buy 2/2 KO");

    // A limit buy far below the price rests; cancelled from the open-orders list.
    tmux.keys(&["b", "1", "Tab", "1.00", "Enter"]);
    tmux.wait_for("confirm");
    tmux.keys(&["y"]);
    tmux.wait_for("accepted");
    tmux.keys(&["Tab", "c"]);
    tmux.wait_for("Cancel order");
    tmux.keys(&["y"]);
    // The pushed event in the feed, not only the reply in the status line.
    tmux.wait_for("cancelled buy 0/1 KO");

    // Help, then a window too small to draw in, then back.
    tmux.keys(&["?"]);
    tmux.wait_for("Keys");
    tmux.keys(&["Escape"]);
    tmux.run(&["resize-window", "-t", "tui", "-x", "40", "-y", "10"]);
    tmux.wait_for("too small");
    tmux.run(&["resize-window", "-t", "tui", "-x", "140", "-y", "45"]);
    tmux.wait_for("AAPL");

    // q ends it and gives the terminal back.
    tmux.keys(&["q"]);
    let started = Instant::now();
    while !tmux.run(&["list-sessions"]).is_empty() {
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "tui did not quit"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    // The account agrees: 2 KO held, the limit order cancelled.
    let portfolio = user.ok(&["portfolio", "--json"]).json();
    assert_eq!(portfolio["holdings"][0]["symbol"], "KO", "{portfolio}");
    assert_eq!(portfolio["holdings"][0]["quantity"], 2, "{portfolio}");
    let orders = user.ok(&["orders", "--all", "--json"]).json();
    let statuses: Vec<&str> = orders["orders"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|o| o["status"].as_str())
        .collect();
    assert!(statuses.contains(&"cancelled"), "{orders}");
}
