//! The library on disk: each document at its path under the library's folder, and an index
//! (`.mliy-library.json`) of what each is and the ETag it was read at. Files and the index
//! are written to a temporary name and renamed, so a crash leaves the old or the new one.

use super::check::{DocumentKind, safe_path};
use crate::error::{Error, Result};
use crate::files::{MAX_FILE_BYTES, read_bounded};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The index's file name in the library's folder.
const INDEX: &str = ".mliy-library.json";

/// One document of the library.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LibraryEntry {
    /// Its path relative to the source's root, and in the library.
    pub key: String,
    /// Template or script.
    pub kind: DocumentKind,
    /// The ETag it was read at.
    pub etag: String,
    /// Where it came from (`s3://…` or the folder's location).
    pub source: String,
    /// Its size in bytes.
    pub size: u64,
    /// A template's parameter names.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub parameters: Vec<String>,
    /// A template's resource count.
    #[serde(default)]
    pub resources: usize,
    /// A script's `{{{TOKENS}}}`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tokens: Vec<String>,
}

/// The library's folder and its index.
#[derive(Debug)]
pub struct Library {
    dir: PathBuf,
    entries: BTreeMap<String, LibraryEntry>,
}

impl Library {
    /// The library in `dir` (empty when the folder or its index does not exist yet).
    ///
    /// # Errors
    /// [`Error::Io`] or [`Error::Parse`] for an index that cannot be read.
    pub fn open(dir: impl Into<PathBuf>) -> Result<Self> {
        let dir = dir.into();
        let index = dir.join(INDEX);
        let entries = if index.exists() {
            let list: Vec<LibraryEntry> = serde_json::from_str(&read_bounded(&index, MAX_FILE_BYTES)?)
                .map_err(|e| Error::parse(format!("library index {}", index.display()), e.to_string()))?;
            list.into_iter().map(|e| (e.key.clone(), e)).collect()
        } else {
            BTreeMap::new()
        };
        Ok(Library { dir, entries })
    }

    /// The entry at `key`.
    pub fn entry(&self, key: &str) -> Option<&LibraryEntry> {
        self.entries.get(key)
    }

    /// Every entry, by key.
    pub fn entries(&self) -> impl Iterator<Item = &LibraryEntry> {
        self.entries.values()
    }

    /// Where the document at `key` is kept.
    pub fn path_of(&self, key: &str) -> PathBuf {
        key.split('/').fold(self.dir.clone(), |p, s| p.join(s))
    }

    pub(crate) fn keys_from(&self, source: &str) -> Vec<String> {
        self.entries.values().filter(|e| e.source == source).map(|e| e.key.clone()).collect()
    }

    pub(crate) fn put(&mut self, entry: &LibraryEntry, bytes: &[u8]) -> Result<()> {
        if !safe_path(&entry.key) {
            return Err(Error::validation("document", &entry.key, "a relative path inside the library"));
        }
        write_atomically(&self.path_of(&entry.key), bytes)?;
        self.entries.insert(entry.key.clone(), entry.clone());
        Ok(())
    }

    pub(crate) fn remove(&mut self, key: &str) -> Result<()> {
        let path = self.path_of(key);
        match std::fs::remove_file(&path) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(source) => return Err(Error::Io { path, source }),
        }
        self.entries.remove(key);
        Ok(())
    }

    /// Writes the index.
    ///
    /// # Errors
    /// [`Error::Io`] when it cannot be written.
    pub fn save(&self) -> Result<()> {
        let list: Vec<&LibraryEntry> = self.entries.values().collect();
        let text = serde_json::to_string_pretty(&list).map_err(|e| Error::parse("library index", e.to_string()))?;
        write_atomically(&self.dir.join(INDEX), text.as_bytes())
    }
}

fn write_atomically(path: &Path, bytes: &[u8]) -> Result<()> {
    let io = |source| Error::Io { path: path.to_path_buf(), source };
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(io)?;
    }
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let temp = path.with_file_name(format!(".{name}.partial"));
    std::fs::write(&temp, bytes).map_err(io)?;
    std::fs::rename(&temp, path).map_err(io)
}
