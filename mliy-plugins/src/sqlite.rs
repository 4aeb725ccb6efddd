//! `SqliteStore`: the embedded default — one file, WAL mode, migrations applied on open.

use crate::sql::{self, Dialect, SqlStore};
use mliy_core::error::{Error, Result};
use std::path::Path;

/// A [`StateStore`](mliy_core::store::StateStore) in a SQLite file.
///
/// ```no_run
/// # async fn demo() -> mliy_core::Result<()> {
/// let store = mliy_plugins::sqlite::SqliteStore::open("mliy.db").await?;
/// mliy_core::testkit::store::run_all(&store).await;
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct SqliteStore(SqlStore);

/// Every connection: write-ahead log, wait for locks instead of failing at once.
const SETUP: &[&str] = &["PRAGMA journal_mode = WAL", "PRAGMA busy_timeout = 5000", "PRAGMA synchronous = NORMAL"];

impl SqliteStore {
    /// Opens (or creates) the database file and applies the migrations.
    ///
    /// # Errors
    /// When the file cannot be opened or migrated.
    pub async fn open(path: impl AsRef<Path>) -> Result<SqliteStore> {
        let path = path.as_ref();
        create_private(path)?;
        let url = format!("sqlite://{}?mode=rwc", encode_path(path)?);
        let store = sql::connect("sqlite", &url, 4, SETUP).await?;
        store.migrate(Dialect::Sqlite).await?;
        Ok(SqliteStore(store))
    }
}

/// Creates the file readable by its owner only (the WAL and shared-memory files SQLite makes
/// beside it take the same mode); an existing file is left as it is.
fn create_private(path: &Path) -> Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    match options.open(path) {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(source) => Err(Error::Io { path: path.to_path_buf(), source }),
    }
}

/// The path as the database part of a `sqlite://` URL: every byte but letters, digits and
/// `/ . _ ~ -` percent-encoded, so spaces, `%`, `?` and `#` name the file they say.
fn encode_path(path: &Path) -> Result<String> {
    let text = path
        .to_str()
        .ok_or_else(|| Error::validation("store path", path.display().to_string(), "must be valid UTF-8"))?;
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'/' | b'.' | b'_' | b'~' | b'-') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    Ok(out)
}

crate::sql::delegate_store!(SqliteStore);
