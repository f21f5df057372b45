//! What the client commands share: `--json`, where the servers are, the stored session, and
//! turning what the user typed (addresses, symbols) into what the protocol wants.

use std::path::PathBuf;

use clap::Args;
use papertrader_client::session_file::{self, LoadError, StoredSession};
use papertrader_client::tls::ClientTls;
use papertrader_client::{Client, ClientError, Peer};
use papertrader_protocol::ReasonCode;

use crate::failed::Failed;

/// The master's port when `--master` names only a host.
pub const MASTER_PORT: u16 = 2048;
/// A worker's port when `--worker` names only a host.
pub const WORKER_PORT: u16 = 2049;

/// `--json`, on every client command.
#[derive(Debug, Clone, Args)]
pub struct JsonArg {
    /// Print JSON instead of text: money as decimal strings, times in RFC 3339; an error is
    /// one JSON object on standard error.
    #[arg(long)]
    pub json: bool,
}

/// Where the master is, and the CA of servers that take TLS.
#[derive(Debug, Clone, Args)]
pub struct MasterArg {
    /// The master to ask for the worker list: HOST[:PORT], port 2048 if left out;
    /// tls://HOST[:PORT] when its port takes TLS.
    #[arg(long, env = "PAPERTRADER_MASTER", default_value = "127.0.0.1:2048")]
    pub master: String,
    /// The CA certificate (PEM) servers with tls:// addresses must present a certificate of
    /// (`papertrader up --tls` prints it; the data directory's tls/ca.pem).
    #[arg(long, env = "PAPERTRADER_CA_FILE")]
    pub ca_file: Option<PathBuf>,
}

impl MasterArg {
    /// The master's `host:port` (or `tls://host:port`).
    pub fn address(&self) -> String {
        with_default_port(&self.master, MASTER_PORT)
    }

    /// The TLS client settings, when a CA file was given.
    pub fn tls(&self) -> Result<Option<ClientTls>, Failed> {
        self.ca_file
            .as_deref()
            .map(|ca| ClientTls::load(ca).map_err(|e| Failed::usage(format!("--ca-file: {e}"))))
            .transpose()
    }
}

/// Where the servers are.
#[derive(Debug, Clone, Args)]
pub struct ServerArgs {
    #[command(flatten)]
    pub master: MasterArg,
    /// Use this worker directly instead of asking the master: HOST[:PORT], port 2049 if left
    /// out.
    #[arg(long, env = "PAPERTRADER_WORKER")]
    pub worker: Option<String>,
}

/// Where the servers are and where the session is kept.
#[derive(Debug, Clone, Args)]
pub struct SessionArgs {
    #[command(flatten)]
    pub server: ServerArgs,
    /// Session file [default: ~/.papertrader/session.json, or $PAPERTRADER_HOME/session.json].
    #[arg(long, env = "PAPERTRADER_SESSION_FILE")]
    pub session_file: Option<PathBuf>,
}

impl SessionArgs {
    /// The session file in use.
    pub fn path(&self) -> PathBuf {
        self.session_file
            .clone()
            .unwrap_or_else(session_file::default_path)
    }
}

/// `address` with `port` added when it names only a host: `host`, `1.2.3.4`, `::1` and
/// `[::1]` get the port; `host:1`, `1.2.3.4:1` and `[::1]:1` are kept.
pub fn with_default_port(address: &str, port: u16) -> String {
    let address = address.trim();
    if let Some(rest) = address.strip_prefix("tls://") {
        return format!("tls://{}", with_default_port(rest, port));
    }
    if let Some(rest) = address.strip_prefix('[') {
        return match rest.split_once(']') {
            Some((host, "")) => format!("[{host}]:{port}"),
            _ => address.to_owned(),
        };
    }
    match address.matches(':').count() {
        0 => format!("{address}:{port}"),
        1 => address.to_owned(),
        // More than one colon and no brackets: a bare IPv6 address.
        _ => format!("[{address}]:{port}"),
    }
}

/// A symbol as the servers list it: symbols are upper case, so `aapl` is `AAPL`.
pub fn symbol(text: &str) -> String {
    text.trim().to_ascii_uppercase()
}

/// Connects to the worker of `--worker`, or to one the master lists. The error says which
/// server could not be reached and what to do about it.
pub async fn connect(server: &ServerArgs) -> Result<Client, Failed> {
    if let Some(worker) = &server.worker {
        let worker = with_default_port(worker, WORKER_PORT);
        return Client::to_worker_with(&worker, server.master.tls()?)
            .await
            .map_err(|e| match e {
                ClientError::Unreachable { source, .. } => Failed::unreachable(format!(
                    "cannot reach the worker at {worker} ({source}): check --worker (or \
                 PAPERTRADER_WORKER), or leave it out to use a worker the master lists"
                )),
                e => Failed::from(e),
            });
    }
    let master = server.master.address();
    Client::via_master_with(&master, server.master.tls()?)
        .await
        .map_err(|e| explain(e, &master))
}

/// The master's worker list.
pub async fn worker_list(
    master: &MasterArg,
) -> Result<Vec<papertrader_protocol::WorkerEndpoint>, Failed> {
    let master_address = master.address();
    Client::worker_list_with(&master_address, master.tls()?.as_ref())
        .await
        .map_err(|e| explain(e, &master_address))
}

/// Explains an error met while going through the master at `master`.
fn explain(e: ClientError, master: &str) -> Failed {
    match e {
        ClientError::Unreachable {
            peer: Peer::Master,
            source,
            ..
        } => Failed::unreachable(format!(
            "cannot reach the PaperTrader master at {master} ({source}). Is it running? Start \
             one with `papertrader up`, or name yours with --master HOST[:PORT] (or \
             PAPERTRADER_MASTER)"
        )),
        ClientError::Unreachable {
            peer: Peer::Worker,
            address,
            source,
        } => Failed::unreachable(format!(
            "the master at {master} lists workers, but none answered (the last, {address}: \
             {source}); try again, or name one with --worker HOST[:PORT]"
        )),
        e => Failed::from(e),
    }
}

/// The stored session, or why there is none to use: not logged in (exit 1, with the command
/// to run), or a file that is not a session file (exit 2, naming it and how to repair it).
pub fn stored_session(args: &SessionArgs) -> Result<StoredSession, Failed> {
    let path = args.path();
    match session_file::load(&path) {
        Ok(Some(stored)) => Ok(stored),
        Ok(None) => Err(Failed::refused(
            "not logged in: run `papertrader login USERNAME` first (or `papertrader register \
             USERNAME --email ADDRESS` to create an account)",
        )),
        Err(e @ LoadError::Corrupt(_)) => Err(Failed::usage(format!(
            "the session file {} is damaged: {e}. Run `papertrader logout` to remove it (or \
             delete the file), then log in again",
            path.display()
        ))),
        Err(e) => Err(Failed::usage(format!(
            "the session file {}: {e}. Fix its permissions or point --session-file (or \
             PAPERTRADER_SESSION_FILE) elsewhere",
            path.display()
        ))),
    }
}

/// True for the refusals that mean the stored session can no longer be used.
pub fn session_ended(failed: &Failed) -> bool {
    matches!(
        failed.reason(),
        Some(ReasonCode::SessionInvalid | ReasonCode::SessionExpired)
    )
}

/// Connects and resumes the stored session. A session that has ended (revoked by an admin,
/// expired, logged out elsewhere) is one message saying so and what to run.
pub async fn logged_in(args: &SessionArgs) -> Result<(Client, StoredSession), Failed> {
    let stored = stored_session(args)?;
    let mut client = connect(&args.server).await?;
    if let Err(e) = client.resume(&stored.session_id).await {
        let failed = Failed::from(e);
        return Err(if session_ended(&failed) {
            let message = format!(
                "the session of {} has ended (an admin revoked it, it expired, or it was logged \
                 out): log in again with `papertrader login {}`",
                stored.username, stored.username
            );
            failed.with_message(message)
        } else {
            failed
        });
    }
    Ok((client, stored))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_host_alone_gets_the_default_port() {
        for (given, expected) in [
            ("example.com", "example.com:2048"),
            ("10.0.0.1", "10.0.0.1:2048"),
            ("10.0.0.1:7", "10.0.0.1:7"),
            ("example.com:7", "example.com:7"),
            ("::1", "[::1]:2048"),
            ("[::1]", "[::1]:2048"),
            ("[::1]:7", "[::1]:7"),
            (" localhost ", "localhost:2048"),
        ] {
            assert_eq!(with_default_port(given, MASTER_PORT), expected, "{given}");
        }
    }

    #[test]
    fn symbols_are_upper_case() {
        assert_eq!(symbol("aapl"), "AAPL");
        assert_eq!(symbol("Brk.b"), "BRK.B");
    }
}
