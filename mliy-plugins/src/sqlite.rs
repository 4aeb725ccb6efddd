//! `SqliteStore`: the embedded default — one file, WAL mode, migrations applied on open.

use crate::sql::{self, Dialect, SqlStore};
use mliy_core::error::Result;
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
        let url = format!("sqlite://{}?mode=rwc", path.as_ref().display());
        let store = sql::connect("sqlite", &url, 4, SETUP).await?;
        store.migrate(Dialect::Sqlite).await?;
        Ok(SqliteStore(store))
    }
}

crate::sql::delegate_store!(SqliteStore);
