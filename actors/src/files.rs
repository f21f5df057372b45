//! Small file helpers for key and identity files.

use std::io::Write;
use std::path::Path;

fn ensure_parent(path: &Path) -> std::io::Result<()> {
    match path.parent().filter(|d| !d.as_os_str().is_empty()) {
        Some(dir) => std::fs::create_dir_all(dir),
        None => Ok(()),
    }
}

/// Creates a new file readable and writable only by its owner (0600) holding `text`.
/// Refuses to overwrite an existing file.
pub fn write_private(path: &Path, text: &str) -> std::io::Result<()> {
    ensure_parent(path)?;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options.open(path)?.write_all(text.as_bytes())
}

/// Writes `text` to `path` unless it already holds exactly that.
pub fn write_if_changed(path: &Path, text: &str) -> std::io::Result<()> {
    if std::fs::read_to_string(path).ok().as_deref() == Some(text) {
        return Ok(());
    }
    ensure_parent(path)?;
    std::fs::write(path, text)
}
