//! Spawning `papertrader` processes and running CLI commands against them.
//!
//! Every process starts from a clean environment: no `PAPERTRADER_*` variable of the developer's
//! shell reaches it, only what a test sets on purpose ([`clean`]). Every wait is bounded: a
//! command that does not finish within [`COMMAND_TIMEOUT`] is killed and fails its test.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use wait_timeout::ChildExt;

pub const BIN: &str = env!("CARGO_BIN_EXE_papertrader");

/// The longest a CLI command may take.
pub const COMMAND_TIMEOUT: Duration = Duration::from_secs(60);

/// `command` without any `PAPERTRADER_*` variable of this process's environment.
pub fn clean(mut command: Command) -> Command {
    for (key, _) in std::env::vars_os() {
        if key.to_string_lossy().starts_with("PAPERTRADER_") {
            command.env_remove(key);
        }
    }
    command
}

/// `papertrader` with a clean environment (see [`clean`]) and standard input closed.
pub fn papertrader() -> Command {
    let mut command = clean(Command::new(BIN));
    command.stdin(Stdio::null());
    command
}

/// Runs `command` to its end with its output captured; kills it and panics when it takes
/// longer than [`COMMAND_TIMEOUT`].
pub fn run_bounded(mut command: Command) -> Run {
    let mut child = command
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    finish(&mut child, &format!("{command:?}"))
}

/// Waits (bounded) for `child`, whose standard output and error are pipes, and collects them.
pub fn finish(child: &mut Child, what: &str) -> Run {
    let drain = |pipe: Option<Box<dyn Read + Send>>| {
        std::thread::spawn(move || {
            let mut text = Vec::new();
            if let Some(mut pipe) = pipe {
                let _ = pipe.read_to_end(&mut text);
            }
            String::from_utf8_lossy(&text).into_owned()
        })
    };
    let stdout = drain(child.stdout.take().map(|p| Box::new(p) as _));
    let stderr = drain(child.stderr.take().map(|p| Box::new(p) as _));
    let status = wait_bounded(child, COMMAND_TIMEOUT, what);
    Run {
        code: status.code().unwrap_or(-1),
        stdout: stdout.join().expect("stdout reader"),
        stderr: stderr.join().expect("stderr reader"),
    }
}

/// Waits for `child` to exit; kills it and panics after `limit`.
pub fn wait_bounded(child: &mut Child, limit: Duration, what: &str) -> ExitStatus {
    match child.wait_timeout(limit).expect("wait") {
        Some(status) => status,
        None => {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{what} did not finish within {limit:?}");
        }
    }
}

/// Runs `future` on `rt`; panics if it takes longer than `limit`.
pub fn block_on_bounded<T>(
    rt: &tokio::runtime::Runtime,
    limit: Duration,
    what: &str,
    future: impl std::future::Future<Output = T>,
) -> T {
    rt.block_on(async { tokio::time::timeout(limit, future).await })
        .unwrap_or_else(|_| panic!("{what} did not finish within {limit:?}"))
}

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
        Self::start_with_env(dir, args, &[], ready)
    }

    /// [`Server::start`] with `env` set on purpose.
    pub fn start_with_env(dir: &Path, args: &[&str], env: &[(&str, &str)], ready: &str) -> Server {
        let mut child = papertrader()
            .args(args)
            .envs(env.iter().copied())
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
        server.wait_for_line(ready, &format!("papertrader {args:?}"));
        server
    }

    /// Waits (bounded) for a line containing `text` and returns it; the lines before it are
    /// consumed.
    pub fn wait_for_line(&self, text: &str, what: &str) -> String {
        let deadline = Instant::now() + COMMAND_TIMEOUT;
        let mut seen = Vec::new();
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) if line.contains(text) => return line,
                Ok(line) => seen.push(line),
                Err(_) => panic!("{what} never printed {text:?}; it printed {seen:#?}"),
            }
        }
    }

    /// Sends SIGINT (Ctrl-C) and waits for a clean exit.
    pub fn interrupt(mut self) {
        let pid = self.child.id().to_string();
        Command::new("kill").args(["-INT", &pid]).status().unwrap();
        let status = wait_bounded(&mut self.child, COMMAND_TIMEOUT, "Ctrl-C");
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
    /// `papertrader ARGS` as this user, to run or adjust: its home, master and password set.
    pub fn command(&self, args: &[&str]) -> Command {
        let mut command = papertrader();
        command
            .args(args)
            .env("PAPERTRADER_HOME", &self.home)
            .env("PAPERTRADER_MASTER", &self.master)
            .env("PAPERTRADER_PASSWORD", &self.password);
        command
    }

    /// Runs `papertrader ARGS` as this user.
    pub fn run(&self, args: &[&str]) -> Run {
        run_bounded(self.command(args))
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
        let mut add = papertrader();
        add.args([
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
        .current_dir(&self.dir);
        let add = run_bounded(add);
        assert_eq!(add.code, 0, "{}", add.stderr);
        self.workers.push(worker);
        self.worker_addrs.push(listen);
    }

    /// Waits (bounded) until the master lists `n` online workers. There is no event to wait
    /// for from outside the master: it asks every 50 ms, for up to 10 s.
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
        self.admin_json(&["admin", "--socket", &socket, "worker", "status"])
    }

    /// `papertrader --json ARGS` run in the cluster's directory (an admin command), required
    /// to succeed; its JSON.
    pub fn admin_json(&self, args: &[&str]) -> serde_json::Value {
        admin_json(&self.dir, args)
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

/// `papertrader --json ARGS` run in `dir` (an admin command), required to succeed; its JSON.
pub fn admin_json(dir: &Path, args: &[&str]) -> serde_json::Value {
    let mut command = papertrader();
    command.arg("--json").args(args).current_dir(dir);
    let run = run_bounded(command);
    assert_eq!(run.code, 0, "{args:?}: {}", run.stderr);
    run.json()
}

/// The PostgreSQL server of the PostgreSQL variants (`PAPERTRADER_TEST_POSTGRES_URL`), or
/// `None` after saying the variant `test` was skipped.
pub fn postgres_url(test: &str) -> Option<String> {
    match std::env::var("PAPERTRADER_TEST_POSTGRES_URL") {
        Ok(url) if !url.is_empty() => Some(url),
        _ => {
            eprintln!(
                "{test}: PAPERTRADER_TEST_POSTGRES_URL is not set; PostgreSQL variant skipped"
            );
            None
        }
    }
}

/// Runs `command` in a new session without a controlling terminal, as from cron or a pipeline
/// started by a service: nothing can be asked on a terminal.
pub fn run_without_terminal(mut command: Command) -> Run {
    use std::os::unix::process::CommandExt;
    // SAFETY: setsid is async-signal-safe; nothing else runs between fork and exec.
    unsafe {
        command.pre_exec(|| {
            if libc::setsid() < 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    run_bounded(command)
}

/// Runs `command` with a new pseudo-terminal as its controlling terminal (standard input,
/// output and error stay as they are: the terminal is only reachable as `/dev/tty`, where
/// password prompts go). For each of `answers`, waits for the next `prompt` on the terminal and
/// types the answer and Enter. Returns the run and everything the terminal showed.
pub fn run_on_terminal(mut command: Command, prompt: &str, answers: &[&str]) -> (Run, String) {
    use std::fs::File;
    use std::io::Write;
    use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
    use std::os::unix::process::CommandExt;

    let (mut controller, mut terminal) = (-1, -1);
    // SAFETY: openpty writes two new descriptors into the two ints; the other arguments may be
    // null.
    let opened = unsafe {
        libc::openpty(
            &mut controller,
            &mut terminal,
            std::ptr::null_mut(),
            std::ptr::null(),
            std::ptr::null(),
        )
    };
    assert_eq!(opened, 0, "openpty: {}", std::io::Error::last_os_error());
    // SAFETY: both descriptors were just opened and are owned by nobody else.
    let (controller, terminal) = unsafe {
        (
            OwnedFd::from_raw_fd(controller),
            OwnedFd::from_raw_fd(terminal),
        )
    };
    let (controller_fd, terminal_fd) = (controller.as_raw_fd(), terminal.as_raw_fd());
    // SAFETY: only async-signal-safe calls between fork and exec.
    unsafe {
        command.pre_exec(move || {
            if libc::setsid() < 0 || libc::ioctl(terminal_fd, libc::TIOCSCTTY, 0) < 0 {
                return Err(std::io::Error::last_os_error());
            }
            // The terminal's descriptor stays open until exec and after it: were it closed before
            // the prompt opens /dev/tty, the terminal would hang up.
            libc::close(controller_fd);
            Ok(())
        });
    }
    let mut child = command
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn on a terminal");
    drop(terminal);
    let mut keyboard = File::from(controller.try_clone().expect("dup the terminal"));
    let (tx, screen) = mpsc::channel::<String>();
    std::thread::spawn(move || {
        let mut reader = File::from(controller);
        let mut buffer = [0u8; 1024];
        // Ends with EIO once the process and its terminal are gone.
        while let Ok(n @ 1..) = reader.read(&mut buffer) {
            if tx
                .send(String::from_utf8_lossy(&buffer[..n]).into_owned())
                .is_err()
            {
                return;
            }
        }
    });
    let mut shown = String::new();
    let deadline = Instant::now() + COMMAND_TIMEOUT;
    for (index, answer) in answers.iter().enumerate() {
        while shown.matches(prompt).count() <= index {
            let left = deadline.saturating_duration_since(Instant::now());
            match screen.recv_timeout(left) {
                Ok(text) => shown.push_str(&text),
                Err(_) => {
                    let _ = child.kill();
                    panic!(
                        "prompt {} never shown; the terminal showed {shown:?}",
                        index + 1
                    );
                }
            }
        }
        keyboard
            .write_all(format!("{answer}\r").as_bytes())
            .expect("type on the terminal");
    }
    let run = finish(&mut child, "a command on a terminal");
    // What the terminal showed after the last answer.
    while let Ok(text) = screen.recv_timeout(Duration::from_secs(1)) {
        shown.push_str(&text);
    }
    (run, shown)
}

/// Registers `username` (password `pw`) through `conn` and logs in (expirable); returns the
/// session id.
pub async fn new_user(conn: &mut papertrader_client::Connection, username: &str) -> String {
    use papertrader_protocol::{password::client_password_hash, Login, Message, Register};
    let password = client_password_hash(username, "pw");
    conn.call(&Message::Register(Register {
        username: username.into(),
        email: format!("{username}@example.com"),
        hashed_password: password.clone(),
    }))
    .await
    .expect("register");
    match conn
        .call(&Message::Login(Login {
            username: username.into(),
            hashed_password: password,
            is_expirable: true,
        }))
        .await
        .expect("login")
    {
        Message::SessionId(t) => t.session_id,
        other => panic!("{other:?}"),
    }
}
