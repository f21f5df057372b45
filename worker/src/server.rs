//! Starting a worker: identity, master link, client listener.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use actix::prelude::*;
use anyhow::Context as _;
use futures::future::LocalBoxFuture;
use papertrader_client::tls::ClientTls;
use papertrader_runtime::connection::ConnectionLimits;
use papertrader_runtime::frame_budget::FrameBudget;
use papertrader_runtime::identity::{SigningIdentity, VerifyingIdentity};
use papertrader_runtime::lifecycle::Server;
use papertrader_runtime::listener::{self, Admission};
use papertrader_runtime::log::{LogActor, LogSystem};
use papertrader_runtime::metrics::ServerLabel;
use papertrader_runtime::ops::{Check, OpsEndpoint, Readiness};
use papertrader_runtime::slots::{AddressLimiter, SlotPool};
use papertrader_runtime::threads::{ConnectionThreads, ThreadsOwner};
use papertrader_runtime::tls::ServerTls;
use slog::{info, o};
use tokio::task::AbortHandle;

use crate::cache::{Framing, PriceCache};
use crate::config::WorkerConfig;
use crate::grants::DataGrants;
use crate::link::{GetLinkStatus, LinkSettings, LinkState, MasterLinkActor};
use crate::router::WorkerRouter;
use crate::streams::{PushLimits, Streams};

/// A running worker.
pub struct RunningWorker {
    /// Where clients connect (the real port when configured with port 0).
    pub local_addr: SocketAddr,
    /// The ops endpoint (metrics, health), when configured.
    pub ops: Option<OpsEndpoint>,
    /// This worker's UUID.
    pub uuid: uuid::Uuid,
    /// The master link.
    pub link: Addr<MasterLinkActor>,
    /// The price cache.
    pub cache: PriceCache,
    /// The connections holding subscriptions.
    pub streams: Streams,
    /// The log actor.
    pub log_actor: Addr<LogActor>,
    /// The admin endpoint's socket.
    pub admin_socket: std::path::PathBuf,
    /// The connection threads, stopped (with their connections) when the worker is dropped.
    pub threads: ThreadsOwner,
    /// The accept loop (aborted to stop accepting).
    pub accept: AbortHandle,
    /// How long a forwarded request may wait for the master.
    pub request_timeout: Duration,
}

/// Reads the worker's UUID file, or creates it with a new UUID.
pub fn load_or_create_uuid(path: &std::path::Path) -> anyhow::Result<uuid::Uuid> {
    match std::fs::read_to_string(path) {
        Ok(text) => text
            .trim()
            .parse()
            .with_context(|| format!("{} holds no UUID", path.display())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let uuid = uuid::Uuid::new_v4();
            if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                std::fs::create_dir_all(dir)?;
            }
            std::fs::write(path, format!("{uuid}\n"))?;
            Ok(uuid)
        }
        Err(e) => Err(e).with_context(|| format!("reading {}", path.display())),
    }
}

/// Reads the worker's secret key, or generates one (0600) and writes its public half.
pub fn load_or_create_identity(config: &WorkerConfig) -> anyhow::Result<SigningIdentity> {
    let passphrase = std::env::var("PAPERTRADER_WORKER_KEY_PASSPHRASE").unwrap_or_default();
    let identity = match std::fs::read_to_string(&config.key_file) {
        Ok(text) => SigningIdentity::from_armored(&text, &passphrase)
            .with_context(|| format!("worker key {}", config.key_file.display()))?,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let identity = SigningIdentity::generate("PaperTrader worker")?;
            papertrader_runtime::files::write_private(
                &config.key_file,
                &identity.secret_armored()?,
            )?;
            identity
        }
        Err(e) => {
            return Err(e)
                .with_context(|| format!("reading worker key {}", config.key_file.display()))
        }
    };
    papertrader_runtime::files::write_if_changed(
        &config.public_key_file,
        &identity.public().armored()?,
    )?;
    Ok(identity)
}

/// Starts a worker inside the current actix system; returns once it listens (the link to
/// the master comes up in the background and is retried until it does).
pub async fn start(config: WorkerConfig, logs: LogSystem) -> anyhow::Result<RunningWorker> {
    let threads = ConnectionThreads::start(config.connection_threads);
    start_on(config, logs, threads).await
}

/// [`start`], with the connections on `threads` (shared with other servers of the process, as
/// in `papertrader up`) instead of `connection_threads` of its own.
pub async fn start_on(
    config: WorkerConfig,
    logs: LogSystem,
    (threads, threads_owner): (ConnectionThreads, ThreadsOwner),
) -> anyhow::Result<RunningWorker> {
    let log = logs.logger().new(o!("server" => "worker"));
    let log_actor = LogActor::new(logs.clone(), Duration::from_secs(5)).start();
    let uuid = load_or_create_uuid(&config.uuid_file)?;
    let identity = load_or_create_identity(&config)?;
    let master_key_text = std::fs::read_to_string(&config.master_key_file).with_context(|| {
        format!(
            "reading the master's public key {}",
            config.master_key_file.display()
        )
    })?;
    let master_key = VerifyingIdentity::from_armored(&master_key_text)?;
    let chunk_size =
        papertrader_protocol::transfer::DEFAULT_CHUNK_SIZE.min(config.max_payload as usize);
    let framing = Framing {
        chunk_size,
        max_payload: config.max_payload,
    };
    let cache = PriceCache::new(config.cache_max_entries, framing);
    let server_label = config
        .server_label
        .clone()
        .unwrap_or_else(|| format!("worker-{}", &uuid.simple().to_string()[..8]));
    let metrics = config.ops_listen.map(|_| ServerLabel::new(&server_label));
    let master_tls = match &config.master_ca_file {
        Some(ca) => Some(ClientTls::load(ca).context("the master link's TLS")?),
        None => None,
    };
    let settings = LinkSettings {
        master_tls,
        master: config.master.clone(),
        bind_ip: config.link_bind_ip,
        uuid,
        identity: Arc::new(identity),
        master_key,
        max_payload: config.max_payload,
        request_timeout: Duration::from_secs(config.request_timeout_secs),
        metrics,
    };
    let grants = DataGrants::default();
    let streams = Streams::new(PushLimits {
        max_lag: Duration::from_millis(config.push_max_lag_ms),
        max_events: config.push_max_events,
        max_payload: config.max_payload,
    });
    let link = MasterLinkActor::new(
        settings,
        cache.clone(),
        grants.clone(),
        streams.clone(),
        log.new(o!("actor" => "master_link")),
    )
    .start();

    let socket = tokio::net::TcpListener::bind(config.listen)
        .await
        .with_context(|| format!("binding {}", config.listen))?;
    let local_addr = socket.local_addr()?;
    let limits = ConnectionLimits {
        max_payload: config.max_payload,
        first_frame_timeout: Duration::from_secs(
            config
                .first_frame_timeout_secs
                .min(config.idle_timeout_secs),
        ),
        idle_timeout: Duration::from_secs(config.idle_timeout_secs),
        write_timeout: Duration::from_secs(config.write_timeout_secs),
        max_unsent_bytes: config.max_unsent_bytes,
        metrics,
        ..ConnectionLimits::default()
    };
    let tls = ServerTls::from_files(
        config.tls_cert_file.as_deref(),
        config.tls_key_file.as_deref(),
    )
    .context("the port's TLS")?;
    let admission = Admission {
        tls,
        connections: SlotPool::new(config.max_connections),
        addresses: AddressLimiter::new(config.max_connections_per_address),
        budget: FrameBudget::new(config.max_partial_frame_bytes),
    };
    let (router_link, router_cache) = (link.clone(), cache.clone());
    let router_streams = streams.clone();
    let connection_threads = threads.len();
    let accept = actix::spawn(listener::serve(
        socket,
        admission,
        limits,
        threads,
        move || {
            WorkerRouter::new(
                router_link.clone(),
                router_cache.clone(),
                grants.clone(),
                router_streams.clone(),
                metrics,
            )
        },
    ))
    .abort_handle();
    info!(log, "worker listening"; "addr" => %local_addr, "uuid" => %uuid, "master" => &config.master, "connection_threads" => connection_threads, "tls" => config.tls_cert_file.is_some(), "master_tls" => config.master_ca_file.is_some());
    let admin = crate::admin::WorkerAdmin {
        uuid,
        link: link.clone(),
        cache: cache.clone(),
        log_actor: log_actor.clone(),
    };
    let admin_socket = crate::admin::serve(
        &config.admin_socket,
        admin,
        log.new(o!("endpoint" => "admin")),
    )
    .with_context(|| format!("admin socket {}", config.admin_socket.display()))?;
    let ops = match config.ops_listen {
        Some(addr) => {
            let ops = OpsEndpoint::start(addr, readiness(link.clone()))
                .await
                .with_context(|| format!("binding the ops endpoint {addr}"))?;
            info!(log, "ops endpoint listening"; "addr" => %ops.local_addr, "server_label" => &server_label);
            Some(ops)
        }
        None => None,
    };
    Ok(RunningWorker {
        local_addr,
        ops,
        uuid,
        link,
        cache,
        streams,
        log_actor,
        admin_socket,
        threads: threads_owner,
        accept,
        request_timeout: Duration::from_secs(config.request_timeout_secs),
    })
}

/// The worker's readiness: its link to the master is up (it was admitted).
fn readiness(link: Addr<MasterLinkActor>) -> Readiness {
    Arc::new(move || {
        let link = link.clone();
        Box::pin(async move {
            let state = match link.send(GetLinkStatus).await {
                Ok(status) => match status.state {
                    LinkState::Up { .. } => Ok(()),
                    LinkState::Admitting => {
                        Err("the link to the master is connecting or being admitted".to_owned())
                    }
                    LinkState::Down { last_error } => Err(format!(
                        "the link to the master is down: {}",
                        last_error.as_deref().unwrap_or("not connected yet")
                    )),
                },
                Err(_) => Err("the link actor has stopped".to_owned()),
            };
            vec![("master_link", state)] as Vec<Check>
        })
    })
}

/// How long a stopping worker lets its connections write their last replies.
pub const LAST_WORDS: Duration = Duration::from_millis(300);

impl Server for RunningWorker {
    fn banner(&self) -> String {
        format!(
            "papertrader worker {} listening on {}",
            self.uuid, self.local_addr
        )
    }

    /// Stops accepting; waits (at most the request timeout plus a second) until every request
    /// forwarded to the master has its reply; lets the connections write their last replies.
    fn shut_down(&self) -> LocalBoxFuture<'static, ()> {
        let (accept, link) = (self.accept.clone(), self.link.clone());
        let patience = self.request_timeout + Duration::from_secs(1);
        Box::pin(async move {
            accept.abort();
            let deadline = tokio::time::Instant::now() + patience;
            while tokio::time::Instant::now() < deadline {
                match link.send(GetLinkStatus).await {
                    Ok(status) if status.pending > 0 => {
                        tokio::time::sleep(Duration::from_millis(20)).await
                    }
                    _ => break,
                }
            }
            tokio::time::sleep(LAST_WORDS).await;
        })
    }

    fn log_actors(&self) -> Vec<Addr<LogActor>> {
        vec![self.log_actor.clone()]
    }
}

/// Runs a worker with its own actix system until SIGINT or SIGTERM, then shuts it down in
/// order (see [`RunningWorker::shut_down`]) and flushes the log.
pub fn run(config: WorkerConfig) -> anyhow::Result<()> {
    papertrader_runtime::lifecycle::run(|| async move {
        let logs = LogSystem::new(&config.log_file, config.log_memory_entries);
        logs.install_panic_hook();
        start(config, logs).await
    })
}
