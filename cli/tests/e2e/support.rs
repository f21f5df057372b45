//! Spawning `papertrader` processes and running CLI commands against them.
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::Duration;

pub const BIN: &str = env!("CARGO_BIN_EXE_papertrader");

/// Free loopback ports (bound then released).
pub fn free_ports(n: usize) -> Vec<u16> {
    let listeners: Vec<_> = (0..n)
        .map(|_| std::net::TcpListener::bind("127.0.0.1:0").unwrap())
        .collect();
    listeners
        .iter()
        .map(|l| l.local_addr().unwrap().port())
        .collect()
}

/// A background `papertrader` process, killed on drop.
pub struct Server {
    pub child: Child,
    pub lines: mpsc::Receiver<String>,
}

impl Server {
    /// Starts `papertrader ARGS` in `dir` and waits until it prints a line containing `ready`.
    pub fn start(dir: &Path, args: &[&str], ready: &str) -> Server {
        let mut child = Command::new(BIN)
            .args(args)
            .current_dir(dir)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn papertrader");
        let stdout = child.stdout.take().unwrap();
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    return;
                }
            }
        });
        let server = Server { child, lines };
        let deadline = std::time::Instant::now() + Duration::from_secs(60);
        loop {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            match server.lines.recv_timeout(left) {
                Ok(line) if line.contains(ready) => return server,
                Ok(_) => {}
                Err(_) => panic!("papertrader {args:?} never printed {ready:?}"),
            }
        }
    }

    /// Sends SIGINT (Ctrl-C) and waits for a clean exit.
    pub fn interrupt(mut self) {
        let pid = self.child.id().to_string();
        Command::new("kill").args(["-INT", &pid]).status().unwrap();
        let status = self.child.wait().unwrap();
        assert!(status.success(), "clean exit after Ctrl-C, got {status}");
    }

    /// Kills the process outright (SIGKILL).
    pub fn kill(mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The environment of a CLI user: a home for the session file, the master address, a password.
pub struct User {
    pub home: PathBuf,
    pub master: String,
    pub password: String,
}

/// What a CLI command did.
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    /// Parses stdout as JSON.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}\nstderr: {}", self.stdout, self.stderr))
    }
}

impl User {
    /// Runs `papertrader ARGS` as this user.
    pub fn run(&self, args: &[&str]) -> Run {
        let Output {
            status,
            stdout,
            stderr,
        } = Command::new(BIN)
            .args(args)
            .env("PAPERTRADER_HOME", &self.home)
            .env("PAPERTRADER_MASTER", &self.master)
            .env("PAPERTRADER_PASSWORD", &self.password)
            .env_remove("PAPERTRADER_WORKER")
            .output()
            .expect("run papertrader");
        Run {
            code: status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&stdout).into_owned(),
            stderr: String::from_utf8_lossy(&stderr).into_owned(),
        }
    }

    /// Runs and requires success.
    pub fn ok(&self, args: &[&str]) -> Run {
        let run = self.run(args);
        assert_eq!(run.code, 0, "papertrader {args:?} failed: {}", run.stderr);
        run
    }
}
