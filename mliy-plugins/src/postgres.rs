//! `PostgresStore`: one database shared by several portal replicas.

use crate::sql::{self, Dialect, SqlStore};
use mliy_core::error::Result;

/// A [`StateStore`](mliy_core::store::StateStore) in PostgreSQL.
///
/// ```no_run
/// # async fn demo() -> mliy_core::Result<()> {
/// let store = mliy_plugins::postgres::PostgresStore::connect("postgres://mliy@127.0.0.1/mliy").await?;
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct PostgresStore(SqlStore);

impl PostgresStore {
    /// Connects and applies the migrations.
    ///
    /// # Errors
    /// When the database cannot be reached or migrated.
    pub async fn connect(url: &str) -> Result<PostgresStore> {
        let store = sql::connect("postgres", url, 16, &[]).await?;
        store.migrate(Dialect::Postgres).await?;
        Ok(PostgresStore(store))
    }
}

crate::sql::delegate_store!(PostgresStore);
