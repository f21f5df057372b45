//! The stored session: a small JSON file readable only by its owner (0600).

use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// What `papertrader login` remembers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredSession {
    /// The session id (a secret: the file is 0600).
    pub session_id: String,
    /// Who logged in.
    pub username: String,
}

/// The default place: `$PAPERTRADER_HOME/session.json`, else `~/.papertrader/session.json`.
pub fn default_path() -> PathBuf {
    if let Some(home) = std::env::var_os("PAPERTRADER_HOME") {
        return PathBuf::from(home).join("session.json");
    }
    let home = std::env::var_os("HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("."));
    home.join(".papertrader").join("session.json")
}

/// Writes the session (replacing any), mode 0600.
pub fn save(path: &Path, session: &StoredSession) -> std::io::Result<()> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)?;
    }
    let text = serde_json::to_string_pretty(session).map_err(std::io::Error::other)?;
    let _ = std::fs::remove_file(path);
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options.open(path)?.write_all(text.as_bytes())
}

/// Reads the session, if there is one.
pub fn load(path: &Path) -> std::io::Result<Option<StoredSession>> {
    match std::fs::read_to_string(path) {
        Ok(text) => serde_json::from_str(&text)
            .map(Some)
            .map_err(std::io::Error::other),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}

/// Forgets the session.
pub fn remove(path: &Path) -> std::io::Result<()> {
    match std::fs::remove_file(path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e),
        _ => Ok(()),
    }
}
