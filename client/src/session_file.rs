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

/// Why a session file could not be used.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// The file exists but could not be read.
    #[error("cannot read it: {0}")]
    Read(#[from] std::io::Error),
    /// The file was read but is not a stored session (truncated, edited, another format).
    #[error("it is not a session file ({0})")]
    Corrupt(#[from] serde_json::Error),
}

/// Reads the session, if there is one (`Ok(None)` when the file does not exist).
pub fn load(path: &Path) -> Result<Option<StoredSession>, LoadError> {
    match std::fs::read_to_string(path) {
        Ok(text) => Ok(Some(serde_json::from_str(&text)?)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e.into()),
    }
}

/// Forgets the session.
pub fn remove(path: &Path) -> std::io::Result<()> {
    match std::fs::remove_file(path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn saves_loads_and_tells_a_corrupt_file_from_a_missing_one() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("home").join("session.json");
        assert!(matches!(load(&path), Ok(None)));
        let session = StoredSession {
            session_id: "abc".into(),
            username: "al".into(),
        };
        save(&path, &session).expect("save");
        assert_eq!(load(&path).expect("load"), Some(session));
        std::fs::write(&path, "{\"session_id\": ").expect("write");
        assert!(matches!(load(&path), Err(LoadError::Corrupt(_))));
        remove(&path).expect("remove");
        remove(&path).expect("removing a missing file is no error");
        assert!(matches!(load(&path), Ok(None)));
    }
}
