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

/// A master and registered workers as separate `papertrader` processes in `dir`.
pub struct Cluster {
    pub master: Option<Server>,
    pub master_addr: String,
    pub master_args: Vec<String>,
    pub workers: Vec<Server>,
    pub worker_addrs: Vec<String>,
    dir: PathBuf,
}

impl Cluster {
    /// Starts a master (cheap bcrypt, `extra` settings) and `workers` workers, registers them
    /// with `papertrader admin workers add`, and waits until the master lists them all.
    pub fn start(dir: &Path, workers: usize, extra: &[&str]) -> Cluster {
        Self::start_with(dir, workers, extra, &[])
    }

    /// [`Cluster::start`] with `worker_extra` settings for every worker.
    pub fn start_with(
        dir: &Path,
        workers: usize,
        extra: &[&str],
        worker_extra: &[&str],
    ) -> Cluster {
        let ports = free_ports(workers + 1);
        let master_addr = format!("127.0.0.1:{}", ports[0]);
        let mut master_args: Vec<String> =
            ["master", "--listen", &master_addr, "--bcrypt-cost", "4"]
                .iter()
                .map(|a| a.to_string())
                .collect();
        master_args.extend(extra.iter().map(|a| a.to_string()));
        let args: Vec<&str> = master_args.iter().map(String::as_str).collect();
        let master = Server::start(dir, &args, "listening");
        let mut cluster = Cluster {
            master: Some(master),
            master_addr,
            master_args,
            workers: Vec::new(),
            worker_addrs: Vec::new(),
            dir: dir.to_owned(),
        };
        for (i, port) in ports[1..].iter().enumerate() {
            cluster.add_worker(&format!("w{i}"), *port, worker_extra);
        }
        cluster.wait_listed(workers);
        cluster
    }

    fn add_worker(&mut self, name: &str, port: u16, extra: &[&str]) {
        let listen = format!("127.0.0.1:{port}");
        let files = |f: &str| format!("{name}/{f}");
        let (uuid_file, key, public, log, socket) = (
            files("uuid"),
            files("worker.sec.asc"),
            files("worker.pub.asc"),
            files("worker.log"),
            files("worker.admin.sock"),
        );
        let mut args = vec![
            "worker",
            "--listen",
            &listen,
            "--master",
            &self.master_addr,
            "--uuid-file",
            &uuid_file,
            "--key-file",
            &key,
            "--public-key-file",
            &public,
            "--master-key-file",
            "data/master.pub.asc",
            "--log-file",
            &log,
            "--admin-socket",
            &socket,
        ];
        args.extend_from_slice(extra);
        // First start creates the UUID and key files (the link is refused until registered).
        let worker = Server::start(&self.dir, &args, "listening");
        let uuid = std::fs::read_to_string(self.dir.join(files("uuid"))).unwrap();
        let add = Command::new(BIN)
            .args([
                "admin",
                "--socket",
                "data/master.admin.sock",
                "workers",
                "add",
                name,
            ])
            .args([
                "--uuid",
                uuid.trim(),
                "--address",
                &listen,
                "--allow-ip",
                "127.0.0.1",
            ])
            .args(["--key", &files("worker.pub.asc")])
            .current_dir(&self.dir)
            .output()
            .unwrap();
        assert!(
            add.status.success(),
            "{}",
            String::from_utf8_lossy(&add.stderr)
        );
        self.workers.push(worker);
        self.worker_addrs.push(listen);
    }

    /// Waits (bounded) until the master lists `n` online workers.
    pub fn wait_listed(&self, n: usize) {
        let user = self.user("nobody");
        for _ in 0..200 {
            let run = user.run(&["--json", "workers"]);
            if run.code == 0 && run.json().as_array().map(Vec::len) == Some(n) {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("the master never listed {n} workers");
    }

    /// A CLI user of this cluster with its own home directory.
    pub fn user(&self, name: &str) -> User {
        User {
            home: self.dir.join("home").join(name),
            master: self.master_addr.clone(),
            password: "pw".into(),
        }
    }

    /// Sends `signal` (`STOP`, `CONT`, …) to the master process.
    pub fn signal_master(&self, signal: &str) {
        let pid = self
            .master
            .as_ref()
            .expect("a master")
            .child
            .id()
            .to_string();
        Command::new("kill")
            .args([&format!("-{signal}"), &pid])
            .status()
            .unwrap();
    }

    /// The JSON status of worker `index` from its admin socket.
    pub fn worker_status(&self, index: usize) -> serde_json::Value {
        let socket = format!("w{index}/worker.admin.sock");
        let run = Command::new(BIN)
            .args(["--json", "admin", "--socket", &socket, "worker", "status"])
            .current_dir(&self.dir)
            .output()
            .unwrap();
        assert!(
            run.status.success(),
            "{}",
            String::from_utf8_lossy(&run.stderr)
        );
        serde_json::from_slice(&run.stdout).unwrap()
    }

    /// Kills the master with SIGKILL.
    pub fn kill_master(&mut self) {
        if let Some(master) = self.master.take() {
            master.kill();
        }
    }

    /// Starts the master again with the same settings and waits for every worker to be back.
    pub fn restart_master(&mut self) {
        let args: Vec<&str> = self.master_args.iter().map(String::as_str).collect();
        self.master = Some(Server::start(&self.dir, &args, "listening"));
        self.wait_listed(self.workers.len());
    }
}
