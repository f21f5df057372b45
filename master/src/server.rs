//! Starting the master: database, history backfill, actors, listener.

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use actix::prelude::*;
use anyhow::Context as _;
use futures::future::LocalBoxFuture;
use papertrader_protocol::data::{InputLimits, Listing, ServerInfo};
use papertrader_protocol::{Failure, Money, ReasonCode};
use papertrader_runtime::connection::ConnectionLimits;
use papertrader_runtime::frame_budget::FrameBudget;
use papertrader_runtime::identity::SigningIdentity;
use papertrader_runtime::lifecycle::Server;
use papertrader_runtime::log::{LogActor, LogSystem};
use papertrader_runtime::metrics::ServerLabel;
use papertrader_runtime::ops::OpsEndpoint;
use papertrader_runtime::slots::{AddressLimiter, SlotPool};
use papertrader_runtime::threads::{ConnectionThreads, ThreadsOwner};
use papertrader_runtime::tls::ServerTls;
use slog::{info, o, warn, Logger};
use tokio::task::AbortHandle;

use crate::accept::AcceptPolicy;
use crate::actors::asset_fetcher::AssetFetcherActor;
use crate::actors::now_ms;
use crate::actors::session::{SessionActor, SessionSettings};
use crate::actors::trade_queue::{Drain, StoredOrders, TradeQueueActor, TradingRules};
use crate::actors::worker_link::LinkContext;
use crate::actors::worker_registry::{CloseAllLinks, WorkerAddresses, WorkerRegistryActor};
use crate::config::MasterConfig;
use crate::db::{prices, sessions, Db};
use crate::domain::bars::Ohlcv;
use crate::domain::calendar::day_start;
use crate::login_throttle::ThrottleSettings;
use crate::market::assets::{default_assets, parse_asset_list};
use crate::market::book::Snapshot;
use crate::market::provider::PriceProvider;
use crate::market::{AssetSpec, PriceBook};
use crate::oidc::IdTokenVerifier;
use crate::router::Services;

/// Bytes a `forwardReply` adds around the frame it carries (header, request id, length).
const LINK_ENVELOPE: usize = 64;

/// Spacing of backfilled intraday points.
const BACKFILL_TICK_SPACING_MS: i64 = 5 * 60 * 1000;

/// A running master.
pub struct RunningMaster {
    /// The address it listens on (the real port when configured with port 0).
    pub local_addr: SocketAddr,
    /// The ops endpoint (metrics, health), when configured.
    pub ops: Option<OpsEndpoint>,
    /// The request handlers (for in-process admin and worker links).
    pub services: Services,
    /// The log actor.
    pub log_actor: Addr<LogActor>,
    /// The trade queue.
    pub trades: Addr<TradeQueueActor>,
    /// The asset fetcher.
    pub fetcher: Addr<AssetFetcherActor>,
    /// The admin endpoint's socket.
    pub admin_socket: std::path::PathBuf,
    /// The connection threads, stopped (with their connections) when the master is dropped.
    pub threads: ThreadsOwner,
    /// The accept loop (aborted to stop accepting).
    pub accept: AbortHandle,
}

/// Loads the asset list named by the config, or the built-in one.
pub fn load_assets(config: &MasterConfig) -> anyhow::Result<Vec<AssetSpec>> {
    match &config.assets_file {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("reading asset list {}", path.display()))?;
            Ok(parse_asset_list(&text)?)
        }
        None => Ok(default_assets()),
    }
}

fn borrowed(points: &[(String, Ohlcv)]) -> Vec<(&str, Ohlcv)> {
    points.iter().map(|(s, p)| (s.as_str(), *p)).collect()
}

/// Opens the database, registers the assets and ends the previous run's connection-bound
/// sessions. Blocking.
fn open_database(config: &MasterConfig, assets: &[AssetSpec], log: &Logger) -> anyhow::Result<Db> {
    let db = Db::open(&config.database_url, config.database_pool_size)
        .context("opening the database")?;
    info!(log, "database ready"; "backend" => db.backend_name());
    let rows: Vec<prices::AssetRow> = assets
        .iter()
        .map(|a| prices::AssetRow {
            symbol: a.symbol.clone(),
            name: a.name.clone(),
            currency: "USD".into(),
        })
        .collect();
    let ended = db.run_blocking(|c| {
        prices::ensure_assets(c, &rows)?;
        sessions::end_connection_bound(c)
    })?;
    if ended > 0 {
        info!(log, "ended sessions bound to connections of the previous run"; "count" => ended);
    }
    Ok(db)
}

/// Backfills history for assets that have none, then returns the latest stored price of
/// every asset as the starting snapshot (and lets the provider continue from it).
async fn prepare_history(
    db: &Db,
    config: &MasterConfig,
    assets: &[AssetSpec],
    provider: &mut dyn PriceProvider,
    log: &Logger,
) -> anyhow::Result<Snapshot> {
    let mut latest = db.run(prices::latest_ticks).await?;
    let missing: Vec<AssetSpec> = assets
        .iter()
        .filter(|a| !latest.iter().any(|(s, _)| s == &a.symbol))
        .cloned()
        .collect();
    if !missing.is_empty() {
        let history = provider
            .backfill(
                &missing,
                now_ms(),
                config.backfill_days,
                BACKFILL_TICK_SPACING_MS,
            )
            .await;
        let counts = (history.daily.len(), history.ticks.len());
        let mut failures: BTreeMap<String, BTreeSet<&str>> = BTreeMap::new();
        for (symbol, error) in &history.failed {
            failures
                .entry(error.to_string())
                .or_default()
                .insert(symbol.as_str());
        }
        for (reason, symbols) in failures {
            let symbols: Vec<&str> = symbols.into_iter().collect();
            warn!(log, "history backfill failed; these symbols start with less history"; "provider" => provider.name(), "reason" => reason, "symbols" => symbols.join(","));
        }
        db.run(move |c| {
            use diesel::Connection;
            c.transaction(|c| {
                prices::insert_bars(c, prices::DAILY, &borrowed(&history.daily))?;
                prices::insert_bars(c, prices::MONTHLY, &borrowed(&history.monthly))?;
                prices::insert_ticks(c, &borrowed(&history.ticks))
            })
        })
        .await?;
        info!(log, "history backfilled"; "provider" => provider.name(), "assets" => missing.len(), "daily_bars" => counts.0, "intraday_points" => counts.1);
        latest = db.run(prices::latest_ticks).await?;
    }
    provider.resume_from(&latest);
    // A quote's open/high/low/volume are those of its price's UTC day: the day's stored bar.
    let days: Vec<(String, i64)> = latest
        .iter()
        .map(|(s, p)| (s.clone(), day_start(p.at)))
        .collect();
    let day_bars = db
        .run(move |c| {
            days.iter()
                .map(|(symbol, day)| {
                    let bar = prices::bars_between(c, symbol, prices::DAILY, *day, *day)?;
                    Ok((symbol.clone(), bar.into_iter().next()))
                })
                .collect::<Result<std::collections::HashMap<_, _>, crate::db::DbError>>()
        })
        .await?;
    let mut snapshot = Snapshot::default();
    for (symbol, point) in latest {
        snapshot.at_ms = snapshot.at_ms.max(point.at);
        let quote = day_quote(&symbol, &point, day_bars.get(&symbol).cloned().flatten());
        snapshot.quotes.insert(symbol, quote);
    }
    Ok(snapshot)
}

/// The quote of `symbol` whose latest stored price is `point`, with its day's figures from
/// `day_bar` (the stored daily bar of that UTC day) when there is one.
fn day_quote(
    symbol: &str,
    point: &Ohlcv,
    day_bar: Option<Ohlcv>,
) -> papertrader_protocol::data::Quote {
    let close = point.close;
    let bar = day_bar.unwrap_or(Ohlcv {
        at: day_start(point.at),
        open: close,
        high: close,
        low: close,
        close,
        volume: 0,
    });
    papertrader_protocol::data::Quote {
        symbol: symbol.to_owned(),
        open: Money(bar.open),
        high: Money(bar.high.max(close)),
        low: Money(bar.low.min(close)),
        close: Money(close),
        volume: u64::try_from(bar.volume).unwrap_or(0),
        at_ms: point.at,
        stale: false,
    }
}

/// Loads the master's key, or generates one (and its public half) on first start.
pub fn load_or_create_identity(
    config: &MasterConfig,
    log: &Logger,
) -> anyhow::Result<SigningIdentity> {
    let passphrase = std::env::var("PAPERTRADER_MASTER_KEY_PASSPHRASE").unwrap_or_default();
    let identity = match std::fs::read_to_string(&config.key_file) {
        Ok(text) => SigningIdentity::from_armored(&text, &passphrase)
            .with_context(|| format!("master key {}", config.key_file.display()))?,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let identity = SigningIdentity::generate("PaperTrader master")?;
            papertrader_runtime::files::write_private(
                &config.key_file,
                &identity.secret_armored()?,
            )
            .with_context(|| format!("creating {}", config.key_file.display()))?;
            info!(log, "generated the master key"; "file" => %config.key_file.display());
            identity
        }
        Err(e) => {
            return Err(e)
                .with_context(|| format!("reading master key {}", config.key_file.display()))
        }
    };
    papertrader_runtime::files::write_if_changed(
        &config.public_key_file,
        &identity.public().armored()?,
    )
    .with_context(|| format!("writing {}", config.public_key_file.display()))?;
    Ok(identity)
}

/// Starts the master inside the current actix system and returns once it listens.
pub async fn start(config: MasterConfig, logs: LogSystem) -> anyhow::Result<RunningMaster> {
    let threads = ConnectionThreads::start(config.connection_threads);
    start_on(config, logs, threads).await
}

/// [`start`], with the connections on `threads` (shared with other servers of the process, as
/// in `papertrader up`) instead of `connection_threads` of its own.
pub async fn start_on(
    config: MasterConfig,
    logs: LogSystem,
    (threads, threads_owner): (ConnectionThreads, ThreadsOwner),
) -> anyhow::Result<RunningMaster> {
    config.validate()?;
    let log = logs.logger().new(o!("server" => "master"));
    let log_actor = LogActor::new(
        logs.clone(),
        Duration::from_millis(config.log_flush_interval_ms),
    )
    .start();
    let assets = load_assets(&config)?;
    let starting_cash = config.starting_cash()?;

    let identity = load_or_create_identity(&config, &log)?;
    let mut provider = crate::market::build_provider(&config, &assets)?;
    let db = {
        let (config, assets, log) = (config.clone(), assets.clone(), log.clone());
        tokio::task::spawn_blocking(move || open_database(&config, &assets, &log)).await??
    };
    let snapshot = prepare_history(&db, &config, &assets, provider.as_mut(), &log).await?;
    let book = PriceBook::default();
    book.publish(snapshot);

    let settings = SessionSettings {
        bcrypt_cost: config.bcrypt_cost,
        max_parallel_hashes: config.max_parallel_hashes,
        max_waiting_hashes: config.max_waiting_hashes,
        session_ttl: Duration::from_secs(config.session_ttl_secs),
        connection_session_ttl: Duration::from_secs(config.connection_session_ttl_secs),
        starting_cash,
        throttle: ThrottleSettings {
            per_account_address: config.login_failures_per_account_address,
            per_account: config.login_failures_per_account,
            per_address: config.login_failures_per_address,
            backoff_base: Duration::from_millis(config.login_backoff_base_ms),
            backoff_max: Duration::from_secs(config.login_backoff_max_secs),
            memory: Duration::from_secs(config.login_failure_window_secs),
        },
        known_address_ttl: Duration::from_secs(u64::from(config.login_known_address_days) * 86_400),
    };
    let verifier = IdTokenVerifier::new(
        &config.oidc_providers,
        config.verifier_settings(),
        log.new(o!("part" => "oidc")),
    )
    .context("setting up the OpenID Connect providers")?;
    if !config.oidc_providers.is_empty() {
        info!(log, "third-party login"; "providers" => verifier.provider_names().join(", "));
        // In the background: a provider that is down must not delay the start.
        tokio::spawn({
            let verifier = verifier.clone();
            async move { verifier.prefetch().await }
        });
    }
    let sessions = SessionActor::new(
        db.clone(),
        settings,
        verifier,
        log.new(o!("actor" => "session")),
    )
    .context("starting the password-hashing threads")?
    .start();
    let stored_orders = db
        .run(|c| {
            Ok(StoredOrders {
                open: crate::db::orders::load_open(c)?,
                last_id: crate::db::orders::last_id(c)?,
            })
        })
        .await
        .context("loading the open orders")?;
    info!(log, "open orders loaded"; "open" => stored_orders.open.len());
    let rules = TradingRules {
        costs: config.trading.costs()?,
        participation_cap_bps: config.trading.participation_cap_bps,
        starting_cash: config.starting_cash()?.micros(),
        equity_step_ms: config.equity_step_ms as i64,
    };
    let trades = TradeQueueActor::new(
        db.clone(),
        config.trade_queue_capacity,
        rules,
        stored_orders,
        log.new(o!("actor" => "trade_queue")),
    )
    .start();
    let worker_addresses = WorkerAddresses::default();
    let registry = WorkerRegistryActor::new(
        db.clone(),
        worker_addresses.clone(),
        log.new(o!("actor" => "worker_registry")),
    )
    .start();
    let fetcher = AssetFetcherActor::new(
        provider,
        assets.clone(),
        db.clone(),
        book.clone(),
        trades.clone(),
        config.update_interval(),
        config.tick_retention_days,
        log.new(o!("actor" => "asset_fetcher")),
    )
    .start();

    let chunk_size = papertrader_protocol::transfer::DEFAULT_CHUNK_SIZE
        .min(config.max_payload as usize - LINK_ENVELOPE);
    let info = ServerInfo {
        protocol_version: papertrader_protocol::PROTOCOL_VERSION,
        max_payload: config.max_payload,
        chunk_size: chunk_size as u32,
        update_interval_ms: config.update_interval_ms,
        currency: "USD".into(),
        starting_cash,
        session_ttl_ms: config.session_ttl_secs.saturating_mul(1000),
        connection_session_ttl_ms: config.connection_session_ttl_secs.saturating_mul(1000),
        limits: InputLimits::current(),
        assets: assets
            .iter()
            .map(|a| Listing {
                symbol: a.symbol.clone(),
                name: a.name.clone(),
            })
            .collect(),
    };
    let services = Services {
        sessions,
        trades: trades.clone(),
        registry,
        book,
        db,
        assets: Arc::new(assets),
        // Leave room for the forwardReply envelope when a data packet crosses a worker link.
        chunk_size,
        info: Arc::new(info),
        log: log.clone(),
    };
    let socket = tokio::net::TcpListener::bind(config.listen)
        .await
        .with_context(|| format!("binding {}", config.listen))?;
    let local_addr = socket.local_addr()?;
    let metrics_label = config
        .ops_listen
        .map(|_| ServerLabel::new(&config.server_label));
    let link = LinkContext {
        services: services.clone(),
        registry: services.registry.clone(),
        fetcher: fetcher.clone(),
        identity: Arc::new(identity),
        update_interval_ms: config.update_interval_ms,
        max_payload: config.max_payload,
        metrics: metrics_label,
        log: log.new(o!("actor" => "worker_link")),
    };
    let tls = ServerTls::from_files(
        config.tls_cert_file.as_deref(),
        config.tls_key_file.as_deref(),
    )
    .context("the port's TLS")?;
    let policy = AcceptPolicy {
        tls,
        clients: SlotPool::new(config.max_connections),
        worker_links: SlotPool::new(config.max_worker_links),
        addresses: AddressLimiter::new(config.max_connections_per_address),
        worker_addresses,
        budget: FrameBudget::new(config.max_partial_frame_bytes),
        limits: ConnectionLimits {
            max_payload: config.max_payload,
            first_frame_timeout: Duration::from_secs(
                config
                    .first_frame_timeout_secs
                    .min(config.idle_timeout_secs),
            ),
            idle_timeout: Duration::from_secs(config.idle_timeout_secs),
            write_timeout: Duration::from_secs(config.write_timeout_secs),
            max_unsent_bytes: config.max_unsent_bytes,
            metrics: metrics_label,
            ..ConnectionLimits::default()
        },
    };
    let connection_threads = threads.len();
    let accept = actix::spawn(crate::accept::serve(
        socket,
        policy,
        link,
        config.direct_clients,
        threads,
    ))
    .abort_handle();
    info!(log, "master listening"; "addr" => %local_addr, "update_interval_ms" => config.update_interval_ms, "connection_threads" => connection_threads, "tls" => config.tls_cert_file.is_some());
    // `expected_workers` is at least 1 (validated) and none can be online before we listen.
    warn!(log, "no workers online yet"; "expected" => config.expected_workers);
    let admin = crate::admin::AdminContext {
        services: services.clone(),
        log_actor: log_actor.clone(),
        fetcher: fetcher.clone(),
    };
    let admin_socket = crate::admin::serve(
        &config.admin_socket,
        admin,
        log.new(o!("endpoint" => "admin")),
    )
    .with_context(|| format!("admin socket {}", config.admin_socket.display()))?;
    let ops = match config.ops_listen {
        Some(addr) => {
            let readiness = crate::health::readiness(
                services.db.clone(),
                services.book.clone(),
                config.update_interval_ms,
            );
            let ops = OpsEndpoint::start(addr, readiness)
                .await
                .with_context(|| format!("binding the ops endpoint {addr}"))?;
            info!(log, "ops endpoint listening"; "addr" => %ops.local_addr);
            Some(ops)
        }
        None => None,
    };
    Ok(RunningMaster {
        local_addr,
        ops,
        services,
        log_actor,
        trades,
        fetcher,
        admin_socket,
        threads: threads_owner,
        accept,
    })
}

/// How long a stopping server lets its connections write their last replies.
pub const LAST_WORDS: Duration = Duration::from_millis(300);

impl Server for RunningMaster {
    fn banner(&self) -> String {
        format!("papertrader master listening on {}", self.local_addr)
    }

    /// Stops accepting; settles the queued orders at the latest prices and refuses new ones
    /// (Unavailable); closes every worker link with `linkClosed` (Unavailable, "shutting
    /// down"); lets the connections write their last replies.
    fn shut_down(&self) -> LocalBoxFuture<'static, ()> {
        let accept = self.accept.clone();
        let (trades, registry) = (self.trades.clone(), self.services.registry.clone());
        let (book, log) = (self.services.book.clone(), self.services.log.clone());
        Box::pin(async move {
            accept.abort();
            info!(log, "shutting down: no new connections");
            let _ = trades.send(Drain(book.snapshot())).await;
            let why = Failure::new(ReasonCode::Unavailable, "the master is shutting down");
            let links = registry.send(CloseAllLinks(why)).await.unwrap_or(0);
            info!(log, "queue settled, worker links closed"; "links" => links);
            tokio::time::sleep(LAST_WORDS).await;
        })
    }

    fn log_actors(&self) -> Vec<Addr<LogActor>> {
        vec![self.log_actor.clone()]
    }
}

/// Runs a master with its own actix system until SIGINT or SIGTERM, then shuts it down in
/// order (see [`RunningMaster::shut_down`]) and flushes the log.
pub fn run(config: MasterConfig) -> anyhow::Result<()> {
    papertrader_runtime::lifecycle::run(|| async move {
        let logs = LogSystem::new(&config.log_file, config.log_memory_entries);
        logs.install_panic_hook();
        start(config, logs).await
    })
}
