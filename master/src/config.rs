//! Master configuration: built-in defaults, then a TOML file, then environment variables and
//! command-line flags (`--help` lists every key).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::Parser;
use papertrader_protocol::Money;
use serde::{Deserialize, Serialize};

use crate::domain::costs::{Commission, CostModel, SlippageMode};
use crate::oidc::keys::KeySettings;
use crate::oidc::provider::{Provider, ProviderConfig};
use crate::oidc::VerifierSettings;

/// Where prices come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum ProviderKind {
    /// The deterministic simulated market (no network, no key).
    #[default]
    Simulated,
    /// Replay of an OHLCV CSV file (`csv_file`).
    Csv,
    /// Yahoo Finance chart API, keyless.
    Yahoo,
    /// Finnhub quote API; key in `PAPERTRADER_PROVIDER_API_KEY`.
    Finnhub,
}

/// Every setting of the master. Field names are the TOML keys; serialized, it is a TOML file
/// `--config` reads back.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct MasterConfig {
    /// Address to listen on for workers and worker-list requests.
    pub listen: SocketAddr,
    /// `postgres://…` or a SQLite file path.
    pub database_url: String,
    /// Database connections in the pool.
    pub database_pool_size: u32,
    /// Asset list file (`SYMBOL,Name[,start price[,volatility %[,drift %[,daily volume]]]]` per
    /// line; see docs/OPERATIONS.md, *Simulated market model*); the built-in list if unset.
    pub assets_file: Option<PathBuf>,
    /// Stock data update interval (spec 2.3.4), milliseconds.
    pub update_interval_ms: u64,
    /// Memory size of the log system (spec 2.3.3): entries kept before a flush.
    pub log_memory_entries: usize,
    /// Log file path; `-` writes the log to standard output (containers).
    pub log_file: PathBuf,
    /// Flush the log at least this often, milliseconds.
    pub log_flush_interval_ms: u64,
    /// Number of workers expected (spec 2.3.2, at least 1); logged at start, and
    /// `papertrader admin status` shows how many are online.
    pub expected_workers: u32,
    /// Cash of a new account, decimal (`"100000.00"`).
    pub starting_cash: String,
    /// bcrypt cost factor for stored password hashes (4–31).
    pub bcrypt_cost: u32,
    /// Password-hashing threads, run at low priority (defaults to the number of cores).
    pub max_parallel_hashes: usize,
    /// Logins/registrations in progress (hashing or waiting to) at most; beyond it they are
    /// refused with RateLimited so a login flood cannot starve trading.
    pub max_waiting_hashes: usize,
    /// Failed logins allowed per account and client address before back-off (RateLimited with
    /// the wait; one attempt per back-off period, doubling from 1 s).
    pub login_failures_per_account_address: u32,
    /// Failed logins allowed per account from addresses it has never logged in from.
    pub login_failures_per_account: u32,
    /// Failed logins allowed per client address on accounts it has never logged in to.
    pub login_failures_per_address: u32,
    /// First back-off period, milliseconds; it doubles with every further failure.
    pub login_backoff_base_ms: u64,
    /// Longest back-off period, seconds.
    pub login_backoff_max_secs: u64,
    /// Failures are forgotten this long after the last one, seconds.
    pub login_failure_window_secs: u64,
    /// An address is one an account "has logged in from" when a session of it was created from
    /// there within this many days.
    pub login_known_address_days: u32,
    /// Lifetime of an expirable session, seconds (7 days by default).
    pub session_ttl_secs: u64,
    /// Lifetime cap of a connection-bound (non-expirable) session, seconds (1 day by default).
    pub connection_session_ttl_secs: u64,
    /// Concurrent client connections accepted; more are refused with RateLimited.
    pub max_connections: usize,
    /// Concurrent client connections accepted from one IP address; more are refused.
    pub max_connections_per_address: usize,
    /// Threads client and worker connections are spread over; 0 means one per core.
    pub connection_threads: usize,
    /// Connections kept for peers from registered worker addresses (their links and their
    /// handshakes), apart from `max_connections`, so a flood cannot lock a worker out.
    pub max_worker_links: usize,
    /// Close a connection whose first frame is not complete this long after it connected,
    /// seconds (at most `idle_timeout_secs` is used).
    pub first_frame_timeout_secs: u64,
    /// Close a connection that completes no frame for this long, seconds.
    pub idle_timeout_secs: u64,
    /// Close a connection that takes no bytes of a reply for this long, seconds.
    pub write_timeout_secs: u64,
    /// Reply bytes queued for one client connection at most.
    pub max_unsent_bytes: usize,
    /// Bytes of incomplete frames held across all connections at most; past it the slowest
    /// are closed.
    pub max_partial_frame_bytes: usize,
    /// Largest frame payload, bytes.
    pub max_payload: u32,
    /// Orders waiting for the next tick at most; more are refused with QueueFull.
    pub trade_queue_capacity: usize,
    /// Seed of the simulated market.
    pub market_seed: u64,
    /// Days of daily history the simulated market backfills on first start.
    pub backfill_days: u32,
    /// Days of tick-resolution history kept; older ticks are pruned (daily and monthly bars stay).
    pub tick_retention_days: u32,
    /// The master's ASCII-armored OpenPGP secret key. Generated (ed25519, mode 0600) on first
    /// start if missing; its passphrase, if any, comes from `PAPERTRADER_MASTER_KEY_PASSPHRASE`.
    pub key_file: PathBuf,
    /// Where the master's public key is written for workers (`--master-key` of a worker).
    pub public_key_file: PathBuf,
    /// Serve every client instruction directly on this port, not only `getWorkerList`.
    /// Off in deployments (clients go through workers); on for tests and single-box trials.
    pub direct_clients: bool,
    /// The admin endpoint: a Unix socket (mode 0600) for `papertrader admin`.
    pub admin_socket: PathBuf,
    /// Price source: simulated, csv, yahoo or finnhub.
    pub provider: ProviderKind,
    /// Override of the HTTP provider's base URL (for tests and proxies).
    pub provider_base_url: Option<String>,
    /// HTTP provider request timeout, milliseconds.
    pub provider_timeout_ms: u64,
    /// A provider price older than this is refused (kept stale), hours.
    pub max_price_age_hours: u64,
    /// Requests per minute the provider allows, when not its documented default (a paid plan).
    pub provider_requests_per_minute: Option<u32>,
    /// The CSV file of the csv provider.
    pub csv_file: Option<PathBuf>,
    /// Replayed dates advanced per update interval (every symbol moves to the same date).
    pub csv_speed: u32,
    /// Start the CSV replay over at its end, with its dates moved on by the period's length
    /// and a day (else stop; prices go stale).
    pub csv_loop: bool,
    /// Simulated market trades only 14:30–21:00 UTC on weekdays (a year of 252 sessions; prices
    /// hold with volume 0 outside); off, it trades around the clock on a 365.25-day year. See
    /// docs/OPERATIONS.md, *Simulated market model*.
    pub simulated_trading_hours: bool,
    /// TLS certificate chain (PEM) of the master's port: set with `tls_key_file`, the port
    /// takes TLS only, from workers and clients alike. See docs/OPERATIONS.md, *TLS*.
    pub tls_cert_file: Option<PathBuf>,
    /// The private key (PEM) of `tls_cert_file`.
    pub tls_key_file: Option<PathBuf>,
    /// Address of the operations endpoint (Prometheus `/metrics`, `/health/live`,
    /// `/health/ready`); off unless set. See docs/OPERATIONS.md.
    pub ops_listen: Option<SocketAddr>,
    /// This server's `server` label in the metrics.
    pub server_label: String,
    /// Clock skew allowed on ID tokens' `exp`, `nbf` and `iat`, seconds.
    pub oidc_clock_skew_secs: u64,
    /// Fewest seconds between two JWKS fetches caused by tokens with unknown key ids.
    pub oidc_jwks_min_refresh_secs: u64,
    /// Timeout of one discovery or JWKS request, ms.
    pub oidc_http_timeout_ms: u64,
    /// OpenID Connect providers whose ID tokens sign users in (`[[oidc_providers]]` tables;
    /// none by default). See docs/OPERATIONS.md, *Third-party login*.
    pub oidc_providers: Vec<ProviderConfig>,
    /// Commission, slippage and the participation cap (`[trading]`; all off by default).
    pub trading: TradingConfig,
    /// Every account's equity is recorded at the first tick of each step of this many ms
    /// (and at each UTC day's last tick), for `getEquityHistory`.
    pub equity_step_ms: u64,
}

/// How orders trade: the `[trading]` table. Amounts are decimal strings like `starting_cash`.
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(default, deny_unknown_fields)]
pub struct TradingConfig {
    /// Commission charged once per order.
    pub commission_per_order: Option<String>,
    /// Commission per unit filled.
    pub commission_per_unit: Option<String>,
    /// Least commission of an order (once it fills at all).
    pub commission_min: Option<String>,
    /// Most commission of an order.
    pub commission_max: Option<String>,
    /// Slippage: fills move this many basis points against the trader (0–1000).
    pub slippage_bps: u32,
    /// When set, slippage is drawn uniformly from 0..=`slippage_bps` with this seed (the same
    /// draw for the same order and tick) instead of always the full amount.
    pub slippage_seed: Option<u64>,
    /// Open orders of one symbol together fill at most this many basis points of a tick's
    /// volume (1–10000); unset: no cap. `purchaseAsset`/`sellAsset` are not capped.
    pub participation_cap_bps: Option<u32>,
}

impl TradingConfig {
    /// The cost model these settings describe.
    pub fn costs(&self) -> Result<CostModel, ConfigError> {
        let amount =
            |key: &'static str, value: &Option<String>| -> Result<Option<i64>, ConfigError> {
                let Some(text) = value else {
                    return Ok(None);
                };
                let money: Money = text.parse().map_err(|e| ConfigError::Invalid {
                    key,
                    reason: format!("{e}"),
                })?;
                if money.micros() < 0 {
                    return Err(ConfigError::Invalid {
                        key,
                        reason: "must not be negative".into(),
                    });
                }
                Ok(Some(money.micros()))
            };
        if self.slippage_bps > 1_000 {
            return Err(ConfigError::Invalid {
                key: "slippage_bps",
                reason: "must be at most 1000 (10 %)".into(),
            });
        }
        if let Some(cap) = self.participation_cap_bps {
            if !(1..=10_000).contains(&cap) {
                return Err(ConfigError::Invalid {
                    key: "participation_cap_bps",
                    reason: "must be between 1 and 10000".into(),
                });
            }
        }
        let commission = Commission {
            per_order: amount("commission_per_order", &self.commission_per_order)?.unwrap_or(0),
            per_unit: amount("commission_per_unit", &self.commission_per_unit)?.unwrap_or(0),
            min: amount("commission_min", &self.commission_min)?.unwrap_or(0),
            max: amount("commission_max", &self.commission_max)?,
        };
        if commission.max.is_some_and(|max| max < commission.min) {
            return Err(ConfigError::Invalid {
                key: "commission_max",
                reason: "must not be below commission_min".into(),
            });
        }
        Ok(CostModel {
            commission,
            slippage_bps: self.slippage_bps,
            slippage_mode: self
                .slippage_seed
                .map_or(SlippageMode::Fixed, SlippageMode::Seeded),
        })
    }
}

impl Default for MasterConfig {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([0, 0, 0, 0], 2048)),
            database_url: "data/papertrader.db".to_owned(),
            database_pool_size: 8,
            assets_file: None,
            update_interval_ms: 5_000,
            log_memory_entries: 1_024,
            log_file: PathBuf::from("data/master.log"),
            log_flush_interval_ms: 5_000,
            expected_workers: 1,
            starting_cash: "100000.00".to_owned(),
            bcrypt_cost: 12,
            max_parallel_hashes: std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(2),
            max_waiting_hashes: 256,
            login_failures_per_account_address: 5,
            login_failures_per_account: 20,
            login_failures_per_address: 50,
            login_backoff_base_ms: 1_000,
            login_backoff_max_secs: 900,
            login_failure_window_secs: 3600,
            login_known_address_days: 90,
            session_ttl_secs: 7 * 86_400,
            connection_session_ttl_secs: 86_400,
            max_connections: 10_000,
            max_connections_per_address: 256,
            connection_threads: 0,
            max_worker_links: 64,
            first_frame_timeout_secs: 10,
            idle_timeout_secs: 300,
            write_timeout_secs: 30,
            max_unsent_bytes: 1 << 20,
            max_partial_frame_bytes: papertrader_runtime::frame_budget::DEFAULT_PARTIAL_FRAME_BYTES,
            max_payload: papertrader_protocol::DEFAULT_MAX_PAYLOAD,
            trade_queue_capacity: 100_000,
            market_seed: 42,
            backfill_days: 730,
            tick_retention_days: 7,
            key_file: PathBuf::from("data/master.sec.asc"),
            public_key_file: PathBuf::from("data/master.pub.asc"),
            direct_clients: false,
            admin_socket: PathBuf::from("data/master.admin.sock"),
            provider: ProviderKind::Simulated,
            provider_base_url: None,
            provider_timeout_ms: 5_000,
            max_price_age_hours: 96,
            provider_requests_per_minute: None,
            csv_file: None,
            csv_speed: 1,
            csv_loop: true,
            simulated_trading_hours: false,
            tls_cert_file: None,
            tls_key_file: None,
            ops_listen: None,
            server_label: "master".to_owned(),
            oidc_clock_skew_secs: 60,
            oidc_jwks_min_refresh_secs: 30,
            oidc_http_timeout_ms: 5_000,
            oidc_providers: Vec::new(),
            trading: TradingConfig::default(),
            equity_step_ms: 300_000,
        }
    }
}

/// Why a configuration was refused.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    // The causes are fields of the message, not `source`s: a chain printed in full would say
    // them twice.
    #[error("cannot read {path}: {error}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        error: std::io::Error,
    },
    /// The file is not valid TOML for this config.
    #[error("{path}: {error}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// The TOML error.
        error: toml::de::Error,
    },
    /// A value is out of range.
    #[error("{key}: {reason}")]
    Invalid {
        /// The key.
        key: &'static str,
        /// Why.
        reason: String,
    },
}

impl MasterConfig {
    /// Parses a TOML document over the defaults.
    pub fn from_toml(text: &str, path: PathBuf) -> Result<Self, ConfigError> {
        toml::from_str(text).map_err(|error| ConfigError::Parse { path, error })
    }

    /// Starting cash as money.
    pub fn starting_cash(&self) -> Result<Money, ConfigError> {
        let cash: Money = self
            .starting_cash
            .parse()
            .map_err(|e| ConfigError::Invalid {
                key: "starting_cash",
                reason: format!("{e}"),
            })?;
        if cash.micros() < 0 {
            return Err(ConfigError::Invalid {
                key: "starting_cash",
                reason: "must not be negative".into(),
            });
        }
        Ok(cash)
    }

    /// The update interval.
    pub fn update_interval(&self) -> Duration {
        Duration::from_millis(self.update_interval_ms)
    }

    /// Checks ranges; call after all overrides.
    pub fn validate(&self) -> Result<(), ConfigError> {
        self.starting_cash()?;
        self.trading.costs()?;
        if self.equity_step_ms < 10 || self.equity_step_ms > 86_400_000 {
            return Err(ConfigError::Invalid {
                key: "equity_step_ms",
                reason: "must be between 10 and 86400000 (a day)".into(),
            });
        }
        let invalid = |key, reason: &str| {
            Err(ConfigError::Invalid {
                key,
                reason: reason.to_owned(),
            })
        };
        if !(4..=31).contains(&self.bcrypt_cost) {
            return invalid("bcrypt_cost", "must be between 4 and 31");
        }
        if self.update_interval_ms < 10 {
            return invalid("update_interval_ms", "must be at least 10");
        }
        if self.log_memory_entries == 0 {
            return invalid("log_memory_entries", "must be at least 1");
        }
        if self.expected_workers == 0 {
            return invalid("expected_workers", "the spec requires at least one worker");
        }
        if self.max_payload < 4096 {
            return invalid("max_payload", "must be at least 4096 bytes");
        }
        if self.first_frame_timeout_secs == 0 {
            return invalid("first_frame_timeout_secs", "must be at least 1");
        }
        if self.write_timeout_secs == 0 {
            return invalid("write_timeout_secs", "must be at least 1");
        }
        if self.tls_cert_file.is_some() != self.tls_key_file.is_some() {
            return invalid(
                "tls_cert_file",
                "tls_cert_file and tls_key_file go together: set both or neither",
            );
        }
        for provider in &self.oidc_providers {
            Provider::from_config(provider).map_err(|e| ConfigError::Invalid {
                key: "oidc_providers",
                reason: e.to_string(),
            })?;
        }
        Ok(())
    }

    /// How ID tokens are verified.
    pub fn verifier_settings(&self) -> VerifierSettings {
        VerifierSettings {
            clock_skew: Duration::from_secs(self.oidc_clock_skew_secs),
            http_timeout: Duration::from_millis(self.oidc_http_timeout_ms.max(1)),
            keys: KeySettings {
                min_refresh: Duration::from_secs(self.oidc_jwks_min_refresh_secs),
                ..KeySettings::default()
            },
        }
    }
}

/// Command line of the master. Every flag also reads an environment variable
/// (`PAPERTRADER_MASTER_<KEY>`), and overrides the same key of the config file.
#[derive(Debug, Clone, Default, Parser)]
#[command(
    name = "papertrader-master",
    version,
    about = "PaperTrader master server"
)]
pub struct MasterArgs {
    /// TOML config file; keys as the flags below with `_` for `-`.
    #[arg(long, env = "PAPERTRADER_MASTER_CONFIG")]
    pub config: Option<PathBuf>,
    /// Listen address [default: 0.0.0.0:2048].
    #[arg(long, env = "PAPERTRADER_MASTER_LISTEN")]
    pub listen: Option<SocketAddr>,
    /// Database: `postgres://…` or a SQLite path [default: data/papertrader.db].
    #[arg(long, env = "PAPERTRADER_MASTER_DATABASE_URL", hide_env_values = true)]
    pub database_url: Option<String>,
    /// Asset list file, `SYMBOL,Name[,start price[,volatility %[,drift %[,daily volume]]]]`
    /// per line [default: built-in list].
    #[arg(long, env = "PAPERTRADER_MASTER_ASSETS_FILE")]
    pub assets_file: Option<PathBuf>,
    /// Price update interval in ms (spec 2.3.4) [default: 5000].
    #[arg(long, env = "PAPERTRADER_MASTER_UPDATE_INTERVAL_MS")]
    pub update_interval_ms: Option<u64>,
    /// Log entries kept in memory before a flush (spec 2.3.3) [default: 1024].
    #[arg(long, env = "PAPERTRADER_MASTER_LOG_MEMORY_ENTRIES")]
    pub log_memory_entries: Option<usize>,
    /// Log file, `-` for standard output [default: data/master.log].
    #[arg(long, env = "PAPERTRADER_MASTER_LOG_FILE")]
    pub log_file: Option<PathBuf>,
    /// Number of workers expected (spec 2.3.2) [default: 1].
    #[arg(long, env = "PAPERTRADER_MASTER_EXPECTED_WORKERS")]
    pub expected_workers: Option<u32>,
    /// Cash of a new account, decimal [default: 100000.00].
    #[arg(long, env = "PAPERTRADER_MASTER_STARTING_CASH")]
    pub starting_cash: Option<String>,
    /// bcrypt cost of stored password hashes [default: 12].
    #[arg(long, env = "PAPERTRADER_MASTER_BCRYPT_COST")]
    pub bcrypt_cost: Option<u32>,
    /// Seed of the simulated market [default: 42].
    #[arg(long, env = "PAPERTRADER_MASTER_MARKET_SEED")]
    pub market_seed: Option<u64>,
    /// Maximum concurrent client connections [default: 10000].
    #[arg(long, env = "PAPERTRADER_MASTER_MAX_CONNECTIONS")]
    pub max_connections: Option<usize>,
    /// Maximum concurrent client connections from one IP address [default: 256].
    #[arg(long, env = "PAPERTRADER_MASTER_MAX_CONNECTIONS_PER_ADDRESS")]
    pub max_connections_per_address: Option<usize>,
    /// Threads connections are spread over; 0 means one per core [default: 0].
    #[arg(long, env = "PAPERTRADER_MASTER_CONNECTION_THREADS")]
    pub connection_threads: Option<usize>,
    /// The master's armored OpenPGP secret key, generated if missing [default: data/master.sec.asc].
    #[arg(long, env = "PAPERTRADER_MASTER_KEY_FILE")]
    pub key_file: Option<PathBuf>,
    /// Where to write the master's public key for workers [default: data/master.pub.asc].
    #[arg(long, env = "PAPERTRADER_MASTER_PUBLIC_KEY_FILE")]
    pub public_key_file: Option<PathBuf>,
    /// Price source [default: simulated].
    #[arg(long, env = "PAPERTRADER_MASTER_PROVIDER", value_enum)]
    pub provider: Option<ProviderKind>,
    /// Base URL of the HTTP provider [default: the provider's public API].
    #[arg(long, env = "PAPERTRADER_MASTER_PROVIDER_BASE_URL")]
    pub provider_base_url: Option<String>,
    /// OHLCV CSV file for the csv provider.
    #[arg(long, env = "PAPERTRADER_MASTER_CSV_FILE")]
    pub csv_file: Option<PathBuf>,
    /// Admin endpoint Unix socket [default: data/master.admin.sock].
    #[arg(long, env = "PAPERTRADER_MASTER_ADMIN_SOCKET")]
    pub admin_socket: Option<PathBuf>,
    /// Serve all client instructions directly, not only getWorkerList [default: false].
    #[arg(long, env = "PAPERTRADER_MASTER_DIRECT_CLIENTS")]
    pub direct_clients: Option<bool>,
    /// Operations endpoint address (metrics, health) [default: off].
    #[arg(long, env = "PAPERTRADER_MASTER_OPS_LISTEN")]
    pub ops_listen: Option<SocketAddr>,
    /// TLS certificate chain (PEM) of the port [default: no TLS].
    #[arg(long, env = "PAPERTRADER_MASTER_TLS_CERT_FILE")]
    pub tls_cert_file: Option<PathBuf>,
    /// TLS private key (PEM) of the port.
    #[arg(long, env = "PAPERTRADER_MASTER_TLS_KEY_FILE")]
    pub tls_key_file: Option<PathBuf>,
}

impl MasterArgs {
    /// Defaults, then the config file, then these flags/variables; validated.
    pub fn load(&self) -> Result<MasterConfig, ConfigError> {
        let mut config = match &self.config {
            Some(path) => {
                let text = std::fs::read_to_string(path).map_err(|error| ConfigError::Read {
                    path: path.clone(),
                    error,
                })?;
                MasterConfig::from_toml(&text, path.clone())?
            }
            None => MasterConfig::default(),
        };
        macro_rules! override_keys {
            ($($key:ident),*) => {$(
                if let Some(value) = &self.$key {
                    config.$key = value.clone().into();
                }
            )*};
        }
        override_keys!(
            listen,
            database_url,
            update_interval_ms,
            log_memory_entries,
            log_file,
            expected_workers,
            starting_cash,
            bcrypt_cost,
            market_seed,
            max_connections,
            max_connections_per_address,
            connection_threads,
            key_file,
            public_key_file,
            direct_clients,
            admin_socket,
            provider
        );
        if self.provider_base_url.is_some() {
            config.provider_base_url = self.provider_base_url.clone();
        }
        if self.csv_file.is_some() {
            config.csv_file = self.csv_file.clone();
        }
        if let Some(path) = &self.assets_file {
            config.assets_file = Some(path.clone());
        }
        if self.ops_listen.is_some() {
            config.ops_listen = self.ops_listen;
        }
        if self.tls_cert_file.is_some() {
            config.tls_cert_file = self.tls_cert_file.clone();
        }
        if self.tls_key_file.is_some() {
            config.tls_key_file = self.tls_key_file.clone();
        }
        config.validate()?;
        Ok(config)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid_and_files_and_flags_override_in_order() {
        MasterConfig::default().validate().expect("defaults valid");
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("master.toml");
        std::fs::write(
            &path,
            "update_interval_ms = 250\nstarting_cash = \"500.5\"\nbcrypt_cost = 5\n",
        )
        .unwrap();
        let args = MasterArgs {
            config: Some(path.clone()),
            bcrypt_cost: Some(6),
            ..Default::default()
        };
        let config = args.load().expect("loads");
        assert_eq!(config.update_interval_ms, 250);
        assert_eq!(config.starting_cash().unwrap(), Money(500_500_000));
        assert_eq!(config.bcrypt_cost, 6, "flag beats file");
        assert_eq!(config.listen.port(), 2048, "default kept");

        std::fs::write(&path, "no_such_key = 1\n").unwrap();
        assert!(matches!(args.load(), Err(ConfigError::Parse { .. })));
        std::fs::write(&path, "bcrypt_cost = 2\n").unwrap();
        let args = MasterArgs {
            config: Some(path),
            ..Default::default()
        };
        assert!(matches!(
            args.load(),
            Err(ConfigError::Invalid {
                key: "bcrypt_cost",
                ..
            })
        ));
    }
}
