//! `papertrader up`: a master and N workers in one process, on SQLite (or PostgreSQL) and the
//! simulated market (or another price source), with worker keys generated and registered on
//! first run.

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use actix::Addr;
use anyhow::Context as _;
use clap::Args;
use futures::future::LocalBoxFuture;
use papertrader_master::actors::worker_registry::{AddWorker, ListWorkers, RemoveWorker};
use papertrader_master::config::MasterConfig;
use papertrader_master::market::provider::min_update_interval;
use papertrader_master::server::RunningMaster;
use papertrader_runtime::lifecycle::Server;
use papertrader_runtime::log::{LogActor, LogSystem};
use papertrader_runtime::threads::ConnectionThreads;
use papertrader_runtime::tls::certs::Authority;
use papertrader_worker::config::WorkerConfig;
use papertrader_worker::link::{GetLinkStatus, LinkState};
use papertrader_worker::server::{load_or_create_identity, load_or_create_uuid, RunningWorker};

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
    /// Address to bind (127.0.0.1 keeps it on this machine; another address of this machine
    /// is also the one the workers link to the master from, and is whitelisted for them).
    #[arg(long, default_value = "127.0.0.1")]
    bind: IpAddr,
    /// Master port.
    #[arg(long, default_value_t = 2048)]
    master_port: u16,
    /// Worker ports, comma-separated [default: master port + 1, + 2, …].
    #[arg(long, value_delimiter = ',')]
    worker_ports: Vec<u16>,
    /// Price update interval in ms [default: the --master-config file's, else 2000; raised to
    /// the smallest the provider's rate limit allows for the assets when that is longer].
    #[arg(long)]
    update_interval_ms: Option<u64>,
    /// bcrypt cost (lower is faster and weaker; 12 for real use) [default: 12].
    #[arg(long)]
    bcrypt_cost: Option<u32>,
    /// Price source (yahoo and finnhub need the network; finnhub a key in
    /// PAPERTRADER_PROVIDER_API_KEY) [default: simulated].
    #[arg(long, value_enum)]
    provider: Option<papertrader_master::config::ProviderKind>,
    /// Base URL of the yahoo or finnhub API [default: the provider's public API] (proxies,
    /// tests).
    #[arg(long)]
    provider_base_url: Option<String>,
    /// OHLCV CSV file for `--provider csv`.
    #[arg(long)]
    csv_file: Option<PathBuf>,
    /// Database instead of `DATA/papertrader.db`: a SQLite path, or `postgres://…` naming a
    /// database that exists (`createdb` it first).
    #[arg(long, env = "PAPERTRADER_MASTER_DATABASE_URL", hide_env_values = true)]
    database_url: Option<String>,
    /// Asset list file (`SYMBOL,Name[,start price[,volatility %[,drift %[,daily volume]]]]` per
    /// line) [default: built-in list].
    #[arg(long)]
    assets_file: Option<PathBuf>,
    /// Threads the master and the workers share for their connections; 0 means one per core
    /// [default: the --master-config file's `connection_threads`, else 0].
    #[arg(long)]
    connection_threads: Option<usize>,
    /// The master's TOML config file (`papertrader master --print-config` writes one): every
    /// master setting `up` has no flag for — provider timeouts and rate budget, `csv_speed`,
    /// `csv_loop`, starting cash, limits… The flags above win over the file; the listen
    /// address, the key, log and admin socket paths and the expected workers are always `up`'s.
    #[arg(long)]
    master_config: Option<PathBuf>,
    /// TLS on every link: the master's port and the workers' take TLS only, with certificates
    /// of a local CA made in DATA/tls (clients then need --ca-file DATA/tls/ca.pem and the
    /// master as tls://HOST:PORT) [default: plain, which is fine on loopback].
    #[arg(long)]
    tls: bool,
    /// Client connections each worker accepts at most (benchmarks with 10,000 subscribers need
    /// a little more than the default).
    #[arg(long, default_value_t = 10_000)]
    max_connections: usize,
}

/// The update interval when neither `--update-interval-ms` nor the provider says otherwise.
const DEFAULT_UPDATE_INTERVAL_MS: u64 = 2000;

/// The master's settings: the `--master-config` file (or the defaults), then `up`'s flags,
/// then what `up` always decides (addresses, paths under `--data`, expected workers).
fn master_config(args: &UpArgs, tls: Option<&UpTls>) -> anyhow::Result<MasterConfig> {
    let data = &args.data;
    let defaults = MasterConfig::default();
    let mut config = match &args.master_config {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("reading --master-config {}", path.display()))?;
            let mut config = MasterConfig::from_toml(&text, path.clone())?;
            // `up`'s own default interval, unless the file sets one.
            let sets_interval = text
                .parse::<toml::Table>()
                .is_ok_and(|t| t.contains_key("update_interval_ms"));
            if !sets_interval {
                config.update_interval_ms = DEFAULT_UPDATE_INTERVAL_MS;
            }
            config
        }
        None => MasterConfig {
            update_interval_ms: DEFAULT_UPDATE_INTERVAL_MS,
            ..defaults.clone()
        },
    };
    if let Some(url) = &args.database_url {
        config.database_url = url.clone();
    } else if config.database_url == defaults.database_url {
        config.database_url = data.join("papertrader.db").to_string_lossy().into_owned();
    }
    if let Some(interval) = args.update_interval_ms {
        config.update_interval_ms = interval;
    }
    if let Some(cost) = args.bcrypt_cost {
        config.bcrypt_cost = cost;
    }
    if let Some(provider) = args.provider {
        config.provider = provider;
    }
    if args.csv_file.is_some() {
        config.csv_file = args.csv_file.clone();
    }
    if args.assets_file.is_some() {
        config.assets_file = args.assets_file.clone();
    }
    if args.provider_base_url.is_some() {
        config.provider_base_url = args.provider_base_url.clone();
    }
    config.listen = SocketAddr::new(args.bind, args.master_port);
    config.log_file = data.join("master.log");
    config.key_file = data.join("master.sec.asc");
    config.public_key_file = data.join("master.pub.asc");
    config.admin_socket = data.join("master.admin.sock");
    config.expected_workers = u32::from(args.workers.max(1));
    if let Some(threads) = args.connection_threads {
        config.connection_threads = threads;
    }
    if let Some(tls) = tls {
        config.tls_cert_file = Some(tls.cert.clone());
        config.tls_key_file = Some(tls.key.clone());
    }
    Ok(config)
}

/// The certificates of `up --tls`: one server certificate for the master and the workers (all
/// on this machine's addresses), signed by the local CA in `DATA/tls`.
struct UpTls {
    ca: PathBuf,
    cert: PathBuf,
    key: PathBuf,
}

impl UpTls {
    /// Makes (or reuses) the CA and issues a certificate for loopback and `bind`.
    fn make(data: &std::path::Path, bind: IpAddr) -> anyhow::Result<Self> {
        let dir = data.join("tls");
        let authority = Authority::load_or_create(&dir)?;
        let mut hosts = vec![
            "localhost".to_owned(),
            "127.0.0.1".to_owned(),
            "::1".to_owned(),
        ];
        if !bind.is_unspecified() && !bind.is_loopback() {
            hosts.push(bind.to_string());
        }
        let now = time::OffsetDateTime::now_utc() - time::Duration::hours(1);
        let (cert, key) = authority.issue(&dir, "server", &hosts, now, 365)?;
        Ok(Self {
            ca: dir.join("ca.pem"),
            cert,
            key,
        })
    }

    /// How clients reach `address` with TLS.
    fn address(address: SocketAddr) -> String {
        format!("tls://{address}")
    }
}

/// Runs the cluster until Ctrl-C or SIGTERM.
pub fn run(args: UpArgs) -> anyhow::Result<()> {
    let data = args.data.clone();
    let tls = if args.tls {
        Some(UpTls::make(&data, args.bind).context("making the TLS certificates")?)
    } else {
        None
    };
    let mut master_config = master_config(&args, tls.as_ref())?;
    if args.update_interval_ms.is_none() {
        if let Some(slower) = provider_minimum(&master_config)? {
            master_config.update_interval_ms = slower;
        }
    }
    master_config.validate()?;
    papertrader_runtime::lifecycle::run(|| async move {
        let logs = LogSystem::new(&master_config.log_file, master_config.log_memory_entries);
        logs.install_panic_hook();
        // One set of connection threads (one per core by default) for the whole process: the
        // master and every worker spread their connections over the same arbiters.
        let providers: Vec<String> = master_config
            .oidc_providers
            .iter()
            .map(|p| p.name.clone())
            .collect();
        let threads = ConnectionThreads::start(master_config.connection_threads);
        let master =
            papertrader_master::server::start_on(master_config, logs, threads.clone()).await?;
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
                connection_threads: threads.0.len(),
                max_connections: args.max_connections,
                tls_cert_file: tls.as_ref().map(|t| t.cert.clone()),
                tls_key_file: tls.as_ref().map(|t| t.key.clone()),
                master_ca_file: tls.as_ref().map(|t| t.ca.clone()),
                ..WorkerConfig::default()
            };
            let client_address = SocketAddr::new(connect_ip, port);
            let client_address = match &tls {
                Some(_) => UpTls::address(client_address),
                None => client_address.to_string(),
            };
            register(&master, &name, &config, client_address, args.bind).await?;
            let worker_logs = LogSystem::new(&config.log_file, config.log_memory_entries);
            workers.push((
                name,
                papertrader_worker::server::start_on(config, worker_logs, threads.clone()).await?,
            ));
        }
        for (name, worker) in &workers {
            wait_until_up(name, &worker.link).await?;
        }
        let shown = |address: SocketAddr| match &tls {
            Some(_) => UpTls::address(address),
            None => address.to_string(),
        };
        let mut banner = vec![
            format!("PaperTrader is up (data in {})", data.display()),
            format!(
                "  master      {}   (clients ask it for the worker list)",
                shown(master_addr)
            ),
        ];
        for (name, worker) in &workers {
            banner.push(format!(
                "  {name:<10}  {}",
                shown(SocketAddr::new(connect_ip, worker.local_addr.port()))
            ));
        }
        if let Some(tls) = &tls {
            banner.push(format!(
                "  TLS         every link; clients: export PAPERTRADER_MASTER={} PAPERTRADER_CA_FILE={}",
                shown(master_addr),
                tls.ca.display()
            ));
        }
        banner.push(format!("  admin       {}", master.admin_socket.display()));
        if !providers.is_empty() {
            banner.push(format!(
                "  sign-in     password, or an ID token from: {} (master.log says whether their keys load)",
                providers.join(", ")
            ));
        }
        banner.push("Try: papertrader register alice --email alice@example.com".to_owned());
        banner.push("Press Ctrl-C to stop.".to_owned());
        Ok(Cluster {
            master,
            workers: workers.into_iter().map(|(_, worker)| worker).collect(),
            banner: banner.join("\n"),
        })
    })
}

/// The master and its workers in this process.
struct Cluster {
    master: RunningMaster,
    workers: Vec<RunningWorker>,
    banner: String,
}

impl Server for Cluster {
    fn banner(&self) -> String {
        self.banner.clone()
    }

    /// Every server at once: all stop accepting; the master settles its queue and closes
    /// the links while the workers wait for the replies they are owed.
    fn shut_down(&self) -> LocalBoxFuture<'static, ()> {
        let mut steps: Vec<_> = self.workers.iter().map(Server::shut_down).collect();
        steps.push(self.master.shut_down());
        Box::pin(async move {
            futures::future::join_all(steps).await;
        })
    }

    fn log_actors(&self) -> Vec<Addr<LogActor>> {
        let workers = self.workers.iter().flat_map(Server::log_actors);
        workers.chain(self.master.log_actors()).collect()
    }
}

/// Registers the worker (keys and UUID made on first run); registers it again if its address
/// or the addresses it may link from changed. It links from loopback, or from `bind` when that
/// is another address of this machine.
async fn register(
    master: &papertrader_master::server::RunningMaster,
    name: &str,
    config: &WorkerConfig,
    address: String,
    bind: IpAddr,
) -> anyhow::Result<()> {
    let uuid = load_or_create_uuid(&config.uuid_file)?;
    let public_key = load_or_create_identity(config)?.public().armored()?;
    let mut allowed_ips = vec![
        IpAddr::from([127, 0, 0, 1]),
        IpAddr::from([0u16, 0, 0, 0, 0, 0, 0, 1]),
    ];
    if !bind.is_unspecified() && !allowed_ips.contains(&bind) {
        allowed_ips.push(bind);
    }
    let registry = &master.services.registry;
    let known = registry
        .send(ListWorkers)
        .await?
        .map_err(|f| anyhow::anyhow!("{f}"))?;
    if let Some(existing) = known.iter().find(|w| w.name == name) {
        let mut wanted: Vec<String> = allowed_ips.iter().map(IpAddr::to_string).collect();
        let mut registered = existing.allowed_ips.clone();
        wanted.sort();
        registered.sort();
        if existing.uuid == uuid.hyphenated().to_string()
            && existing.address == address
            && registered == wanted
        {
            return Ok(());
        }
        registry
            .send(RemoveWorker {
                name: name.to_owned(),
            })
            .await?
            .map_err(|f| anyhow::anyhow!("{f}"))?;
    }
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

/// The update interval the provider's rate limit needs for the assets, when it is longer than
/// the default (said on standard output); `None` when the default fits.
fn provider_minimum(config: &MasterConfig) -> anyhow::Result<Option<u64>> {
    let assets = papertrader_master::server::load_assets(config)?;
    // Built only to ask for its limit: with an interval no limit refuses.
    let probe = MasterConfig {
        update_interval_ms: u64::from(u32::MAX),
        ..config.clone()
    };
    let provider = papertrader_master::market::build_provider(&probe, &assets)?;
    let minimum = min_update_interval(
        provider.as_ref(),
        assets.len(),
        config.provider_requests_per_minute,
    );
    let Some(minimum) = minimum.map(|m| u64::try_from(m.as_millis()).unwrap_or(u64::MAX)) else {
        return Ok(None);
    };
    if minimum <= config.update_interval_ms {
        return Ok(None);
    }
    outln!(
        "update interval {minimum} ms: the shortest at which {}'s rate limit allows fetching {} \
         assets (--update-interval-ms sets a longer one)",
        provider.name(),
        assets.len()
    );
    Ok(Some(minimum))
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
