//! `papertrader up`: a master and N workers in one process, on SQLite and the simulated
//! market, with worker keys generated and registered on first run.

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context as _;
use clap::Args;
use papertrader_actors::log::{Flush, LogSystem};
use papertrader_master::actors::worker_registry::{AddWorker, ListWorkers, RemoveWorker};
use papertrader_master::config::MasterConfig;
use papertrader_worker::config::WorkerConfig;
use papertrader_worker::link::{GetLinkStatus, LinkState};
use papertrader_worker::server::{load_or_create_identity, load_or_create_uuid};

use crate::output::outln;

/// `papertrader up`.
#[derive(Debug, Args)]
pub struct UpArgs {
    /// Directory for the database, keys, logs and the admin socket.
    #[arg(long, default_value = "data")]
    data: PathBuf,
    /// Number of workers.
    #[arg(long, default_value_t = 2)]
    workers: u16,
    /// Address to bind (127.0.0.1 keeps it on this machine).
    #[arg(long, default_value = "127.0.0.1")]
    bind: IpAddr,
    /// Master port.
    #[arg(long, default_value_t = 2048)]
    master_port: u16,
    /// Worker ports, comma-separated [default: master port + 1, + 2, …].
    #[arg(long, value_delimiter = ',')]
    worker_ports: Vec<u16>,
    /// Price update interval in ms.
    #[arg(long, default_value_t = 2000)]
    update_interval_ms: u64,
    /// bcrypt cost (lower is faster and weaker; 12 for real use).
    #[arg(long, default_value_t = 12)]
    bcrypt_cost: u32,
    /// Price source (yahoo and finnhub need the network; finnhub a key in PAPERTRADER_PROVIDER_API_KEY).
    #[arg(long, value_enum, default_value = "simulated")]
    provider: papertrader_master::config::ProviderKind,
    /// OHLCV CSV file for `--provider csv`.
    #[arg(long)]
    csv_file: Option<PathBuf>,
    /// Database instead of `DATA/papertrader.db`: `postgres://…` or a SQLite path.
    #[arg(long, env = "PAPERTRADER_MASTER_DATABASE_URL", hide_env_values = true)]
    database_url: Option<String>,
    /// Asset list file (`SYMBOL,Name[,start price]` per line) [default: built-in list].
    #[arg(long)]
    assets_file: Option<PathBuf>,
}

/// Runs the cluster until Ctrl-C or SIGTERM.
pub fn run(args: UpArgs) -> anyhow::Result<()> {
    let data = args.data.clone();
    let master_config = MasterConfig {
        listen: SocketAddr::new(args.bind, args.master_port),
        database_url: args
            .database_url
            .clone()
            .unwrap_or_else(|| data.join("papertrader.db").to_string_lossy().into_owned()),
        log_file: data.join("master.log"),
        key_file: data.join("master.sec.asc"),
        public_key_file: data.join("master.pub.asc"),
        admin_socket: data.join("master.admin.sock"),
        update_interval_ms: args.update_interval_ms,
        bcrypt_cost: args.bcrypt_cost,
        expected_workers: u32::from(args.workers.max(1)),
        provider: args.provider,
        csv_file: args.csv_file.clone(),
        assets_file: args.assets_file.clone(),
        ..MasterConfig::default()
    };
    master_config.validate()?;
    let logs = LogSystem::new(&master_config.log_file, master_config.log_memory_entries);
    logs.install_panic_hook();
    let system = actix::System::new();
    let outcome = system.block_on(async move {
        let master = papertrader_master::server::start(master_config, logs).await?;
        let connect_ip = if args.bind.is_unspecified() {
            IpAddr::from([127, 0, 0, 1])
        } else {
            args.bind
        };
        let master_addr = SocketAddr::new(connect_ip, master.local_addr.port());
        let mut workers = Vec::new();
        for i in 1..=args.workers.max(1) {
            let name = format!("worker-{i}");
            let port = args
                .worker_ports
                .get(usize::from(i) - 1)
                .copied()
                .unwrap_or(args.master_port + i);
            let home = data.join(&name);
            let config = WorkerConfig {
                listen: SocketAddr::new(args.bind, port),
                master: master_addr.to_string(),
                uuid_file: home.join("uuid"),
                key_file: home.join("worker.sec.asc"),
                public_key_file: home.join("worker.pub.asc"),
                master_key_file: data.join("master.pub.asc"),
                log_file: home.join("worker.log"),
                admin_socket: home.join("worker.admin.sock"),
                ..WorkerConfig::default()
            };
            register(&master, &name, &config, SocketAddr::new(connect_ip, port)).await?;
            let worker_logs = LogSystem::new(&config.log_file, config.log_memory_entries);
            workers.push((
                name,
                papertrader_worker::server::start(config, worker_logs).await?,
            ));
        }
        for (name, worker) in &workers {
            wait_until_up(name, &worker.link).await?;
        }
        outln!("PaperTrader is up (data in {})", data.display());
        outln!(
            "  master      {}   (clients ask it for the worker list)",
            master_addr
        );
        for (name, worker) in &workers {
            outln!(
                "  {name:<10}  {}",
                SocketAddr::new(connect_ip, worker.local_addr.port())
            );
        }
        outln!("  admin       {}", master.admin_socket.display());
        outln!("Try: papertrader register alice --email alice@example.com");
        outln!("Press Ctrl-C to stop.");
        papertrader_actors::signals::shutdown_signal().await;
        outln!("stopping: flushing logs");
        for (_, worker) in &workers {
            let _ = worker.log_actor.send(Flush).await;
        }
        let _ = master.log_actor.send(Flush).await;
        anyhow::Ok(())
    });
    // Stop inside the runtime, also after a failed start (see `signals::run_until_signal`).
    actix::System::current().stop();
    let _ = system.run();
    outcome
}

/// Registers the worker (keys and UUID made on first run); re-registers it if its address changed.
async fn register(
    master: &papertrader_master::server::RunningMaster,
    name: &str,
    config: &WorkerConfig,
    address: SocketAddr,
) -> anyhow::Result<()> {
    let uuid = load_or_create_uuid(&config.uuid_file)?;
    let public_key = load_or_create_identity(config)?.public().armored()?;
    let registry = &master.services.registry;
    let known = registry
        .send(ListWorkers)
        .await?
        .map_err(|f| anyhow::anyhow!("{f}"))?;
    let address = address.to_string();
    if let Some(existing) = known.iter().find(|w| w.name == name) {
        if existing.uuid == uuid.hyphenated().to_string() && existing.address == address {
            return Ok(());
        }
        registry
            .send(RemoveWorker {
                name: name.to_owned(),
            })
            .await?
            .map_err(|f| anyhow::anyhow!("{f}"))?;
    }
    let allowed_ips = vec![IpAddr::from([127, 0, 0, 1]), "::1".parse()?];
    registry
        .send(AddWorker {
            name: name.to_owned(),
            uuid,
            address,
            allowed_ips,
            public_key,
        })
        .await?
        .map_err(|f| anyhow::anyhow!("registering {name}: {f}"))
}

async fn wait_until_up(
    name: &str,
    link: &actix::Addr<papertrader_worker::link::MasterLinkActor>,
) -> anyhow::Result<()> {
    for _ in 0..200 {
        if let LinkState::Up { .. } = link.send(GetLinkStatus).await?.state {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let state = link.send(GetLinkStatus).await?.state;
    Err(anyhow::anyhow!(
        "{name} was not admitted by the master: {state:?}"
    ))
    .context("starting workers")
}
