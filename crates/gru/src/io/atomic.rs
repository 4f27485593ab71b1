//! Atomic file writes: a reader sees either the old file or the new one, never a partial one.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use crate::error::{Error, Result};

/// Distinguishes temporary files of concurrent saves within one process.
static TEMP_COUNTER: AtomicU64 = AtomicU64::new(0);

/// Writes `bytes` to `path` atomically: to the sibling temporary file
/// `.{name}.tmp-{pid}-{counter}`, fsync, then a rename over `path`. On any error the
/// temporary file is removed and `path` is untouched (an [`Error::File`] naming `path`; a
/// directory that does not exist is named as such).
pub fn write_atomically(path: &Path, bytes: &[u8]) -> Result<()> {
    let file_name =
        path.file_name().ok_or_else(|| Error::file(path, "the path names no file"))?.to_string_lossy().into_owned();
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    if !dir.is_dir() {
        let reason = format!("cannot write: the directory {} does not exist", dir.display());
        return Err(Error::file(path, reason));
    }
    let counter = TEMP_COUNTER.fetch_add(1, Ordering::Relaxed);
    let temp = dir.join(format!(".{file_name}.tmp-{}-{counter}", std::process::id()));
    let written = (|| -> std::io::Result<()> {
        let mut file = fs::OpenOptions::new().write(true).create_new(true).open(&temp)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        drop(file);
        fs::rename(&temp, path)
    })();
    if let Err(e) = written {
        // The temporary file may not exist (e.g. the folder is missing): nothing to report.
        let _ = fs::remove_file(&temp);
        return Err(Error::file(path, format!("cannot write: {e}")));
    }
    // Make the rename durable where the platform allows syncing a folder (best effort).
    if let Ok(d) = fs::File::open(&dir) {
        let _ = d.sync_all();
    }
    Ok(())
}
