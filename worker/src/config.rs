//! Worker configuration: built-in defaults, then a TOML file, then flags / environment
//! variables (`PAPERTRADER_WORKER_<KEY>`).

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;

use clap::Parser;
use serde::{Deserialize, Serialize};

/// Every setting of the worker. Field names are the TOML keys; serialized, it is a TOML file
/// `--config` reads back.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct WorkerConfig {
    /// Address clients connect to.
    pub listen: SocketAddr,
    /// The master's `host:port`.
    pub master: String,
    /// Local address the link to the master is made from (must be whitelisted on the master);
    /// any if unset.
    pub link_bind_ip: Option<IpAddr>,
    /// This worker's UUID file: read, or created with a new UUID on first start.
    pub uuid_file: PathBuf,
    /// This worker's ASCII-armored OpenPGP secret key; generated (ed25519, 0600) if missing.
    /// Passphrase from `PAPERTRADER_WORKER_KEY_PASSPHRASE`.
    pub key_file: PathBuf,
    /// Where this worker's public key is written, for registering it on the master.
    pub public_key_file: PathBuf,
    /// The master's ASCII-armored OpenPGP public key.
    pub master_key_file: PathBuf,
    /// Concurrent client connections accepted; more are refused with RateLimited.
    pub max_connections: usize,
    /// Concurrent client connections accepted from one IP address; more are refused.
    pub max_connections_per_address: usize,
    /// Threads client connections are spread over; 0 means one per core.
    pub connection_threads: usize,
    /// Close a client whose first frame is not complete this long after it connected, seconds
    /// (at most `idle_timeout_secs` is used).
    pub first_frame_timeout_secs: u64,
    /// Close a client that completes no frame for this long, seconds.
    pub idle_timeout_secs: u64,
    /// Close a client that takes no bytes of a reply for this long, seconds.
    pub write_timeout_secs: u64,
    /// Reply bytes queued for one client at most.
    pub max_unsent_bytes: usize,
    /// Bytes of incomplete frames held across all clients at most; past it the slowest are
    /// closed.
    pub max_partial_frame_bytes: usize,
    /// Largest frame payload, bytes.
    pub max_payload: u32,
    /// Cached history replies kept at most (cleared on every price tick anyway).
    pub cache_max_entries: usize,
    /// A subscriber whose pushes wait this long for it to read has its subscriptions ended
    /// (pushed `subscriptionEnded`, SlowConsumer), ms. Quotes are conflated meanwhile.
    pub push_max_lag_ms: u64,
    /// Account events waiting for one subscription at most; past it the subscription ends
    /// (SlowConsumer) and the client subscribes again from the last fill it saw.
    pub push_max_events: usize,
    /// A forwarded request not answered by the master within this long fails (Unavailable;
    /// OutcomeUnknown for an order), seconds. An order may take two of the master's update
    /// intervals longer, since it waits for the next price tick.
    pub request_timeout_secs: u64,
    /// Memory size of the log system: entries kept before a flush.
    pub log_memory_entries: usize,
    /// Log file path; `-` writes the log to standard output (containers).
    pub log_file: PathBuf,
    /// The admin endpoint: a Unix socket (mode 0600) for `papertrader admin worker …`.
    pub admin_socket: PathBuf,
    /// TLS certificate chain (PEM) of the client port: set with `tls_key_file`, clients must
    /// use TLS (register the worker's address as `tls://host:port`). See docs/OPERATIONS.md.
    pub tls_cert_file: Option<PathBuf>,
    /// The private key (PEM) of `tls_cert_file`.
    pub tls_key_file: Option<PathBuf>,
    /// CA certificate (PEM) the master's certificate must be signed by: set, the link to the
    /// master uses TLS (the master's port must take it).
    pub master_ca_file: Option<PathBuf>,
    /// Address of the operations endpoint (Prometheus `/metrics`, `/health/live`,
    /// `/health/ready`); off unless set. See docs/OPERATIONS.md.
    pub ops_listen: Option<SocketAddr>,
    /// This worker's `server` label in the metrics [default: `worker-` and the first 8
    /// characters of its UUID].
    pub server_label: Option<String>,
}

impl WorkerConfig {
    /// Checks values a worker cannot run with (the master refuses the same ones).
    pub fn validate(&self) -> Result<(), ConfigError> {
        let invalid = |key, reason: &str| {
            Err(ConfigError::Invalid {
                key,
                reason: reason.to_owned(),
            })
        };
        if self.max_payload < 4096 {
            return invalid("max_payload", "must be at least 4096 bytes");
        }
        if self.tls_cert_file.is_some() != self.tls_key_file.is_some() {
            return invalid(
                "tls_cert_file",
                "tls_cert_file and tls_key_file go together: set both or neither",
            );
        }
        if self.first_frame_timeout_secs == 0 {
            return invalid("first_frame_timeout_secs", "must be at least 1");
        }
        if self.idle_timeout_secs == 0 {
            return invalid("idle_timeout_secs", "must be at least 1");
        }
        if self.write_timeout_secs == 0 {
            return invalid("write_timeout_secs", "must be at least 1");
        }
        if self.request_timeout_secs == 0 {
            return invalid("request_timeout_secs", "must be at least 1");
        }
        if self.push_max_lag_ms == 0 {
            return invalid("push_max_lag_ms", "must be at least 1");
        }
        if self.push_max_events < papertrader_protocol::stream::MAX_REPLAYED_FILLS {
            return invalid(
                "push_max_events",
                "must be at least 1000: a subscription may replay that many missed fills",
            );
        }
        if self.log_memory_entries == 0 {
            return invalid("log_memory_entries", "must be at least 1");
        }
        Ok(())
    }
}

impl Default for WorkerConfig {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([0, 0, 0, 0], 2049)),
            master: "127.0.0.1:2048".to_owned(),
            link_bind_ip: None,
            uuid_file: PathBuf::from("data/worker.uuid"),
            key_file: PathBuf::from("data/worker.sec.asc"),
            public_key_file: PathBuf::from("data/worker.pub.asc"),
            master_key_file: PathBuf::from("data/master.pub.asc"),
            max_connections: 10_000,
            max_connections_per_address: 512,
            connection_threads: 0,
            first_frame_timeout_secs: 10,
            idle_timeout_secs: 300,
            write_timeout_secs: 30,
            max_unsent_bytes: 1 << 20,
            max_partial_frame_bytes: papertrader_runtime::frame_budget::DEFAULT_PARTIAL_FRAME_BYTES,
            max_payload: papertrader_protocol::DEFAULT_MAX_PAYLOAD,
            cache_max_entries: 10_000,
            push_max_lag_ms: 5_000,
            push_max_events: 1_000,
            request_timeout_secs: 10,
            log_memory_entries: 1_024,
            log_file: PathBuf::from("data/worker.log"),
            admin_socket: PathBuf::from("data/worker.admin.sock"),
            tls_cert_file: None,
            tls_key_file: None,
            master_ca_file: None,
            ops_listen: None,
            server_label: None,
        }
    }
}

/// Command line of the worker; each flag overrides the config file's key of the same name.
#[derive(Debug, Clone, Default, Parser)]
#[command(
    name = "papertrader-worker",
    version,
    about = "PaperTrader worker server"
)]
pub struct WorkerArgs {
    /// TOML config file.
    #[arg(long, env = "PAPERTRADER_WORKER_CONFIG")]
    pub config: Option<PathBuf>,
    /// Client listen address [default: 0.0.0.0:2049].
    #[arg(long, env = "PAPERTRADER_WORKER_LISTEN")]
    pub listen: Option<SocketAddr>,
    /// Master `host:port` [default: 127.0.0.1:2048].
    #[arg(long, env = "PAPERTRADER_WORKER_MASTER")]
    pub master: Option<String>,
    /// Local IP for the link to the master [default: any].
    #[arg(long, env = "PAPERTRADER_WORKER_LINK_BIND_IP")]
    pub link_bind_ip: Option<IpAddr>,
    /// UUID file, created if missing [default: data/worker.uuid].
    #[arg(long, env = "PAPERTRADER_WORKER_UUID_FILE")]
    pub uuid_file: Option<PathBuf>,
    /// Worker secret key, generated if missing [default: data/worker.sec.asc].
    #[arg(long, env = "PAPERTRADER_WORKER_KEY_FILE")]
    pub key_file: Option<PathBuf>,
    /// Where to write the worker public key [default: data/worker.pub.asc].
    #[arg(long, env = "PAPERTRADER_WORKER_PUBLIC_KEY_FILE")]
    pub public_key_file: Option<PathBuf>,
    /// The master's public key [default: data/master.pub.asc].
    #[arg(long, env = "PAPERTRADER_WORKER_MASTER_KEY_FILE")]
    pub master_key_file: Option<PathBuf>,
    /// Log file, `-` for standard output [default: data/worker.log].
    #[arg(long, env = "PAPERTRADER_WORKER_LOG_FILE")]
    pub log_file: Option<PathBuf>,
    /// Admin endpoint Unix socket [default: data/worker.admin.sock].
    #[arg(long, env = "PAPERTRADER_WORKER_ADMIN_SOCKET")]
    pub admin_socket: Option<PathBuf>,
    /// Seconds a forwarded request may wait for the master (orders: plus two update
    /// intervals) [default: 10].
    #[arg(long, env = "PAPERTRADER_WORKER_REQUEST_TIMEOUT_SECS")]
    pub request_timeout_secs: Option<u64>,
    /// Threads client connections are spread over; 0 means one per core [default: 0].
    #[arg(long, env = "PAPERTRADER_WORKER_CONNECTION_THREADS")]
    pub connection_threads: Option<usize>,
    /// Operations endpoint address (metrics, health) [default: off].
    #[arg(long, env = "PAPERTRADER_WORKER_OPS_LISTEN")]
    pub ops_listen: Option<SocketAddr>,
    /// The worker's `server` label in metrics [default: worker-<uuid prefix>].
    #[arg(long, env = "PAPERTRADER_WORKER_SERVER_LABEL")]
    pub server_label: Option<String>,
    /// TLS certificate chain (PEM) of the client port [default: no TLS].
    #[arg(long, env = "PAPERTRADER_WORKER_TLS_CERT_FILE")]
    pub tls_cert_file: Option<PathBuf>,
    /// TLS private key (PEM) of the client port.
    #[arg(long, env = "PAPERTRADER_WORKER_TLS_KEY_FILE")]
    pub tls_key_file: Option<PathBuf>,
    /// CA (PEM) of the master's certificate: the link to the master uses TLS [default: plain].
    #[arg(long, env = "PAPERTRADER_WORKER_MASTER_CA_FILE")]
    pub master_ca_file: Option<PathBuf>,
}

/// Why a configuration was refused.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read {0}: {1}")]
    Read(PathBuf, std::io::Error),
    /// The file is not valid TOML for this config.
    #[error("{0}: {1}")]
    Parse(PathBuf, toml::de::Error),
    /// A value is out of range.
    #[error("{key}: {reason}")]
    Invalid {
        /// The config key.
        key: &'static str,
        /// What is wrong with its value.
        reason: String,
    },
}

impl WorkerArgs {
    /// Defaults, then the config file, then these flags/variables.
    pub fn load(&self) -> Result<WorkerConfig, ConfigError> {
        let mut config = match &self.config {
            Some(path) => {
                let text = std::fs::read_to_string(path)
                    .map_err(|e| ConfigError::Read(path.clone(), e))?;
                toml::from_str(&text).map_err(|e| ConfigError::Parse(path.clone(), e))?
            }
            None => WorkerConfig::default(),
        };
        macro_rules! override_keys {
            ($($key:ident),*) => {$(
                if let Some(value) = &self.$key {
                    config.$key = value.clone();
                }
            )*};
        }
        override_keys!(
            listen,
            master,
            uuid_file,
            key_file,
            public_key_file,
            master_key_file,
            log_file,
            admin_socket
        );
        if self.link_bind_ip.is_some() {
            config.link_bind_ip = self.link_bind_ip;
        }
        if let Some(secs) = self.request_timeout_secs {
            config.request_timeout_secs = secs;
        }
        if let Some(threads) = self.connection_threads {
            config.connection_threads = threads;
        }
        if self.ops_listen.is_some() {
            config.ops_listen = self.ops_listen;
        }
        if self.server_label.is_some() {
            config.server_label = self.server_label.clone();
        }
        for (set, key) in [
            (&self.tls_cert_file, &mut config.tls_cert_file),
            (&self.tls_key_file, &mut config.tls_key_file),
            (&self.master_ca_file, &mut config.master_ca_file),
        ] {
            if set.is_some() {
                *key = set.clone();
            }
        }
        config.validate()?;
        Ok(config)
    }
}
