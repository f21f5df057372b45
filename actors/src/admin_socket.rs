//! The local admin endpoint both servers expose: a Unix socket with mode 0600 (so only the
//! machine account running the server can use it), one JSON request per line, one JSON reply
//! per line. What the requests mean is up to each server.

use std::future::Future;
use std::path::{Path, PathBuf};

use serde::de::DeserializeOwned;
use serde::Serialize;
use slog::{info, warn, Logger};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::{UnixListener, UnixStream};

/// Implemented by a server's admin request type.
pub trait AdminCommand: DeserializeOwned + std::fmt::Debug + 'static {
    /// The reply type.
    type Reply: Serialize + 'static;

    /// The reply to a line that is not a request.
    fn malformed(reason: String) -> Self::Reply;
}

/// The command's name for the log: its variant only, never its arguments (a key, a session id).
fn command_name(request: &impl std::fmt::Debug) -> String {
    let text = format!("{request:?}");
    text.split(|c: char| !c.is_alphanumeric())
        .next()
        .unwrap_or_default()
        .to_owned()
}

/// Binds `path` (replacing a stale socket, refusing one a running server answers on),
/// restricts it to the owner, and answers each request
/// with `handle` on the current arbiter. Returns the path.
pub fn serve<C, H, F>(path: &Path, log: Logger, handle: H) -> std::io::Result<PathBuf>
where
    C: AdminCommand,
    H: Fn(C) -> F + Clone + 'static,
    F: Future<Output = C::Reply> + 'static,
{
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)?;
    }
    if path.exists() {
        // A socket a running server still answers on is not ours to take over.
        if std::os::unix::net::UnixStream::connect(path).is_ok() {
            return Err(std::io::Error::new(
                std::io::ErrorKind::AddrInUse,
                format!("{} is in use by a running server", path.display()),
            ));
        }
        std::fs::remove_file(path)?; // stale, from a server that stopped
    }
    let listener = UnixListener::bind(path)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))?;
    }
    info!(log, "admin endpoint ready"; "socket" => %path.display());
    actix::spawn(async move {
        loop {
            match listener.accept().await {
                Ok((stream, _)) => {
                    actix::spawn(serve_one::<C, H, F>(stream, handle.clone(), log.clone()));
                }
                Err(e) => {
                    warn!(log, "admin accept failed"; "error" => %e);
                    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                }
            }
        }
    });
    Ok(path.to_path_buf())
}

async fn serve_one<C, H, F>(stream: UnixStream, handle: H, log: Logger)
where
    C: AdminCommand,
    H: Fn(C) -> F,
    F: Future<Output = C::Reply>,
{
    let (read, mut write) = stream.into_split();
    let mut lines = BufReader::new(read).lines();
    while let Ok(Some(line)) = lines.next_line().await {
        let reply = match serde_json::from_str::<C>(&line) {
            Ok(request) => {
                info!(log, "admin command"; "command" => command_name(&request));
                handle(request).await
            }
            Err(e) => C::malformed(e.to_string()),
        };
        let Ok(mut text) = serde_json::to_string(&reply) else {
            return;
        };
        text.push('\n');
        if write.write_all(text.as_bytes()).await.is_err() {
            return;
        }
    }
}

/// Sends one request to an admin socket and reads its reply (for the CLI and tests).
pub async fn request<C: AdminCommand + Serialize>(
    path: &Path,
    request: &C,
) -> std::io::Result<C::Reply>
where
    C::Reply: DeserializeOwned,
{
    let mut stream = UnixStream::connect(path).await?;
    let mut line = serde_json::to_string(request).map_err(std::io::Error::other)?;
    line.push('\n');
    stream.write_all(line.as_bytes()).await?;
    let mut reply = String::new();
    BufReader::new(stream).read_line(&mut reply).await?;
    serde_json::from_str(&reply).map_err(std::io::Error::other)
}
