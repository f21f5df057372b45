//! A master and workers in this process, each on an ephemeral loopback port.
#![allow(dead_code)]

use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use actix::Addr;
use papertrader_client::Connection;
use papertrader_master::actors::worker_registry::AddWorker;
use papertrader_master::config::MasterConfig;
use papertrader_master::server::RunningMaster;
use papertrader_protocol::password::client_password_hash;
use papertrader_protocol::*;
use papertrader_runtime::log::{Flush, LogSystem};
use papertrader_worker::config::WorkerConfig;
use papertrader_worker::link::{GetLinkStatus, LinkState, MasterLinkActor};
use papertrader_worker::server::{load_or_create_identity, load_or_create_uuid, RunningWorker};

/// Master settings for tests: SQLite in `dir`, fast ticks, cheap bcrypt.
pub fn master_config(dir: &Path) -> MasterConfig {
    MasterConfig {
        listen: "127.0.0.1:0".parse().unwrap(),
        database_url: dir.join("pt.db").to_string_lossy().into_owned(),
        database_pool_size: 4,
        update_interval_ms: 150,
        log_file: dir.join("master.log"),
        bcrypt_cost: 4,
        backfill_days: 40,
        key_file: dir.join("master.sec.asc"),
        public_key_file: dir.join("master.pub.asc"),
        admin_socket: dir.join("admin.sock"),
        ..MasterConfig::default()
    }
}

/// Starts a master in this process.
pub async fn start_master(dir: &Path) -> RunningMaster {
    start_master_with(master_config(dir)).await
}

/// Starts a master with the given settings in this process.
pub async fn start_master_with(config: MasterConfig) -> RunningMaster {
    let logs = LogSystem::new(&config.log_file, 64);
    papertrader_master::server::start(config, logs)
        .await
        .expect("master starts")
}

/// Worker settings: files under `dir/name`, the master's public key from `dir`.
pub fn worker_config(dir: &Path, name: &str, master: std::net::SocketAddr) -> WorkerConfig {
    let home: PathBuf = dir.join(name);
    WorkerConfig {
        listen: "127.0.0.1:0".parse().unwrap(),
        master: master.to_string(),
        uuid_file: home.join("uuid"),
        key_file: home.join("worker.sec.asc"),
        public_key_file: home.join("worker.pub.asc"),
        master_key_file: dir.join("master.pub.asc"),
        log_file: home.join("worker.log"),
        admin_socket: home.join("worker.admin.sock"),
        request_timeout_secs: 10,
        ..WorkerConfig::default()
    }
}

/// Creates the worker's UUID and key files and registers it on the master, allowing `ips`.
pub async fn register_worker(
    master: &RunningMaster,
    name: &str,
    config: &WorkerConfig,
    ips: &[&str],
) -> uuid::Uuid {
    register_worker_at(
        master,
        name,
        config,
        ips,
        &format!("worker-{name}.test:2049"),
    )
    .await
}

/// [`register_worker`] with the client-facing `address` the master hands out.
pub async fn register_worker_at(
    master: &RunningMaster,
    name: &str,
    config: &WorkerConfig,
    ips: &[&str],
    address: &str,
) -> uuid::Uuid {
    let uuid = load_or_create_uuid(&config.uuid_file).unwrap();
    let identity = load_or_create_identity(config).unwrap();
    let add = AddWorker {
        name: name.into(),
        uuid,
        address: address.to_owned(),
        allowed_ips: ips.iter().map(|ip| ip.parse::<IpAddr>().unwrap()).collect(),
        public_key: identity.public().armored().unwrap(),
    };
    master
        .services
        .registry
        .send(add)
        .await
        .unwrap()
        .expect("registered");
    uuid
}

/// Starts a worker in this process.
pub async fn start_worker(config: WorkerConfig) -> RunningWorker {
    let logs = LogSystem::new(&config.log_file, 64);
    papertrader_worker::server::start(config, logs)
        .await
        .expect("worker starts")
}

/// Waits (bounded) until the link state satisfies `done`; returns the last state.
pub async fn wait_link(
    link: &Addr<MasterLinkActor>,
    done: impl Fn(&LinkState) -> bool,
) -> LinkState {
    let mut state = LinkState::Admitting;
    for _ in 0..400 {
        state = link.send(GetLinkStatus).await.unwrap().state;
        if done(&state) {
            return state;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("link never reached the expected state; last: {state:?}");
}

/// True when the link is up.
pub fn up(state: &LinkState) -> bool {
    matches!(state, LinkState::Up { .. })
}

/// A Down state whose error mentions `needle`.
pub fn down_with(needle: &'static str) -> impl Fn(&LinkState) -> bool {
    move |state| matches!(state, LinkState::Down { last_error: Some(e) } if e.contains(needle))
}

/// Registers and logs in through `conn`.
pub async fn new_user(conn: &mut Connection, username: &str) -> String {
    let hashed = client_password_hash(username, "pw");
    let register = Register {
        username: username.into(),
        email: format!("{username}@example.com"),
        hashed_password: hashed.clone(),
    };
    conn.call(&Message::Register(register))
        .await
        .expect("register");
    match conn
        .call(&Message::Login(Login {
            username: username.into(),
            hashed_password: hashed,
            is_expirable: true,
        }))
        .await
        .unwrap()
    {
        Message::SessionId(t) => t.session_id,
        other => panic!("{other:?}"),
    }
}

/// The master's log after a flush.
pub async fn master_log(master: &RunningMaster, dir: &Path) -> String {
    master.log_actor.send(Flush).await.unwrap().unwrap();
    std::fs::read_to_string(dir.join("master.log")).unwrap_or_default()
}

/// A TCP connection to `to` made from the local address `from` (any 127.x.y.z on loopback).
pub async fn connect_from(from: &str, to: std::net::SocketAddr) -> tokio::net::TcpStream {
    let socket = tokio::net::TcpSocket::new_v4().expect("socket");
    socket
        .bind(std::net::SocketAddr::new(from.parse().expect("ip"), 0))
        .expect("bind");
    socket.connect(to).await.expect("connect")
}

/// The `error` reply a refused connection gets within a second, if the server then closes the
/// connection (within 2 s).
pub async fn refusal(stream: tokio::net::TcpStream) -> Option<Failure> {
    let mut conn = Connection::from_stream(stream).ok()?;
    let failure = match tokio::time::timeout(Duration::from_secs(1), conn.receive()).await {
        Ok(Ok(Message::Error(failure))) => failure,
        _ => return None,
    };
    // A refused peer is also let go: the server closes the connection after saying why.
    match tokio::time::timeout(Duration::from_secs(2), conn.receive()).await {
        Ok(Err(_)) => Some(failure),
        _ => None,
    }
}

/// Opens a raw link to the master and sends `workerHello` for `uuid`; returns the link, the
/// master's challenge and the nonce the master signed.
pub async fn challenge(
    master: &RunningMaster,
    uuid: uuid::Uuid,
) -> (Connection, AdmissionChallenge, [u8; 32]) {
    let mut link = Connection::connect(master.local_addr).await.unwrap();
    let nonce = [5u8; 32];
    link.send(&Message::WorkerHello(WorkerHello {
        worker_uuid: *uuid.as_bytes(),
        worker_nonce: nonce,
    }))
    .await
    .unwrap();
    let Message::AdmissionChallenge(c) = link.receive().await.unwrap() else {
        panic!("no challenge")
    };
    (link, c, nonce)
}

/// A worker link driven by the test itself: registered as `name`, admitted, nothing else.
pub async fn raw_link(master: &RunningMaster, dir: &Path, name: &str) -> (Connection, uuid::Uuid) {
    let config = worker_config(dir, name, master.local_addr);
    let uuid = register_worker(master, name, &config, &["127.0.0.1"]).await;
    let key = load_or_create_identity(&config).unwrap();
    let (mut link, challenge, _) = challenge(master, uuid).await;
    let proof =
        papertrader_runtime::identity::worker_proof(uuid.as_bytes(), &challenge.master_nonce);
    link.send(&Message::AdmissionProof(AdmissionProof {
        signature: key.sign(&proof).unwrap(),
    }))
    .await
    .unwrap();
    assert!(matches!(
        link.receive().await.unwrap(),
        Message::Admitted(_)
    ));
    (link, uuid)
}

/// Forwards `request` on a raw link as client connection `client`, and returns its first reply
/// (skipping price ticks).
pub async fn forward(
    link: &mut Connection,
    uuid: uuid::Uuid,
    request_id: u64,
    client: u64,
    request: &Message,
) -> Message {
    link.send(&Message::Forward(Forward {
        request_id,
        worker_uuid: *uuid.as_bytes(),
        client_connection: client,
        client_ip: "127.0.0.1".parse().unwrap(),
        received_at_ms: 0,
        frame: request.to_frame_bytes(DEFAULT_MAX_PAYLOAD).unwrap(),
    }))
    .await
    .unwrap();
    loop {
        match link.receive().await.unwrap() {
            Message::ForwardReply(reply) if reply.request_id == request_id => {
                return Message::from_bytes(&reply.frame, DEFAULT_MAX_PAYLOAD).unwrap();
            }
            _ => {}
        }
    }
}

/// A server in a thread and actix system of its own, stopped like a process exits: its
/// listener, links and connections all go away.
pub struct ServerThread {
    system: actix::System,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl ServerThread {
    /// Runs `start` (which starts a server and returns its address and its handle) in a new
    /// thread; the handle lives as long as the thread's actix system.
    pub fn start<F, Fut, H>(start: F) -> (Self, std::net::SocketAddr)
    where
        F: FnOnce() -> Fut + Send + 'static,
        Fut: std::future::Future<Output = (std::net::SocketAddr, H)>,
        H: 'static,
    {
        let (tx, rx) = std::sync::mpsc::channel();
        let thread = std::thread::spawn(move || {
            let system = actix::System::new();
            let handle = system.block_on(async move {
                let (addr, handle) = start().await;
                tx.send((actix::System::current(), addr)).unwrap();
                handle
            });
            let _ = system.run();
            drop(handle);
        });
        let (system, addr) = rx
            .recv_timeout(Duration::from_secs(30))
            .expect("server thread started");
        (
            Self {
                system,
                thread: Some(thread),
            },
            addr,
        )
    }

    /// Stops the server and waits for its thread.
    pub fn stop(mut self) {
        self.system.stop();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Drop for ServerThread {
    fn drop(&mut self) {
        self.system.stop();
    }
}

/// Starts a worker per name, registered with `master` (from 127.0.0.1), each with its link up.
pub async fn start_workers(
    master: &RunningMaster,
    dir: &Path,
    names: &[&str],
) -> Vec<RunningWorker> {
    let mut workers = Vec::new();
    for name in names {
        let config = worker_config(dir, name, master.local_addr);
        register_worker(master, name, &config, &["127.0.0.1"]).await;
        let worker = start_worker(config).await;
        wait_link(&worker.link, up).await;
        workers.push(worker);
    }
    workers
}

/// Two workers on `master`, both listed by it: "a" (the one a client picks first) in a thread
/// of its own, so it can die alone (stop the returned [`ServerThread`]), and "b" in this one.
pub async fn doomed_and_spare(
    master: &RunningMaster,
    dir: &Path,
) -> (ServerThread, std::net::SocketAddr, RunningWorker) {
    let master_addr = master.local_addr;
    let config_a = worker_config(dir, "a", master_addr);
    let (doomed, addr_a) = ServerThread::start(move || async move {
        let worker = start_worker(config_a).await;
        (worker.local_addr, worker)
    });
    let config_a = worker_config(dir, "a", master_addr);
    register_worker_at(master, "a", &config_a, &["127.0.0.1"], &addr_a.to_string()).await;
    let config_b = worker_config(dir, "b", master_addr);
    let b = start_worker(config_b.clone()).await;
    register_worker_at(
        master,
        "b",
        &config_b,
        &["127.0.0.1"],
        &b.local_addr.to_string(),
    )
    .await;
    wait_link(&b.link, up).await;
    let mut listed = 0;
    for _ in 0..200 {
        listed = papertrader_client::Client::worker_list(&master_addr.to_string())
            .await
            .unwrap()
            .len();
        if listed == 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert_eq!(listed, 2, "the master lists both workers");
    (doomed, addr_a, b)
}
