//! The SQL [`StateStore`] behind `SqliteStore` and `PostgresStore`: one implementation over
//! sqlx's `Any` driver. Statements number their parameters in order of first use (`$1`, `$2`,
//! …), which SQLite and PostgreSQL read alike.

mod schema;

pub(crate) use schema::Dialect;

use async_trait::async_trait;
use mliy_core::clock::Timestamp;
use mliy_core::error::{Error, Result};
use mliy_core::lifecycle::{LifecycleEvent, Resource};
use mliy_core::model::{BillingSegment, Catalog, LaunchId};
use mliy_core::store::{BillingSettlement, PageQuery, ResourceChange, ResourceFilter, StateStore};
use sqlx::AnyPool;
use sqlx::any::AnyRow;
use sqlx::{Any, Row, Transaction};

/// A store in a SQL database.
#[derive(Clone)]
pub(crate) struct SqlStore {
    pub(crate) pool: AnyPool,
    pub(crate) backend: &'static str,
}

impl std::fmt::Debug for SqlStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The pool's options may hold a password: name the backend only.
        f.debug_struct("SqlStore").field("backend", &self.backend).finish_non_exhaustive()
    }
}

/// Connects a pool through the `Any` driver, running `setup` on every new connection.
pub(crate) async fn connect(
    backend: &'static str,
    url: &str,
    max_connections: u32,
    setup: &'static [&'static str],
) -> Result<SqlStore> {
    sqlx::any::install_default_drivers();
    let pool = sqlx::any::AnyPoolOptions::new()
        .max_connections(max_connections)
        .acquire_timeout(std::time::Duration::from_secs(10))
        .after_connect(move |conn, _| {
            Box::pin(async move {
                for statement in setup {
                    sqlx::query(statement).execute(&mut *conn).await?;
                }
                Ok(())
            })
        })
        .connect(url)
        .await
        .map_err(|e| db_error(backend, e))?;
    Ok(SqlStore { pool, backend })
}

/// Maps a database error: busy, locked, serialization failures and lost connections are
/// retryable; a unique violation is a conflict.
pub(crate) fn db_error(backend: &'static str, e: sqlx::Error) -> Error {
    match &e {
        sqlx::Error::Database(d) => {
            let code = d.code().map(|c| c.to_string()).unwrap_or_default();
            let text = d.message().to_string();
            match code.as_str() {
                // SQLite: SQLITE_BUSY and SQLITE_LOCKED, with their extended codes.
                "5" | "6" | "261" | "262" | "517" | "773" => {
                    Error::Unavailable(format!("{backend}: database busy: {text}"))
                }
                // PostgreSQL: serialization failure, deadlock, a transaction left aborted.
                "40001" | "40P01" | "25P02" => Error::Unavailable(format!("{backend}: {text}")),
                // Unique violation (PostgreSQL 23505, SQLite 1555/2067).
                "23505" | "1555" | "2067" => Error::AlreadyExists(format!("{backend}: {text}")),
                _ => Error::Backend { backend, source: Box::new(e) },
            }
        }
        sqlx::Error::Io(_) | sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed | sqlx::Error::WorkerCrashed => {
            Error::Unavailable(format!("{backend}: {e}"))
        }
        _ => Error::Backend { backend, source: Box::new(e) },
    }
}

/// Runs a transaction on its own task, so that a caller cancelled half-way (a timeout, a
/// dropped request, a process shutting down) never leaves its connection inside a half-done
/// transaction for the next user of the pool.
async fn detached<T: Send + 'static>(work: impl std::future::Future<Output = Result<T>> + Send + 'static) -> Result<T> {
    tokio::spawn(work).await.map_err(|e| Error::Unavailable(format!("store task: {e}")))?
}

fn to_json<T: serde::Serialize>(value: &T) -> Result<String> {
    serde_json::to_string(value).map_err(|e| Error::parse("store record", e.to_string()))
}

fn from_json<T: serde::de::DeserializeOwned>(text: &str) -> Result<T> {
    serde_json::from_str(text).map_err(|e| Error::parse("store record", e.to_string()))
}

impl SqlStore {
    /// Applies the migrations the database has not seen yet.
    pub(crate) async fn migrate(&self, dialect: Dialect) -> Result<()> {
        let e = |err| db_error(self.backend, err);
        let mut conn = self.pool.acquire().await.map_err(e)?;
        // One migrator at a time across processes: PostgreSQL's advisory lock (released at
        // commit), SQLite's write lock (BEGIN IMMEDIATE waits for it). Replicas starting
        // together otherwise race on CREATE TABLE and fail.
        let begin: &[&str] = match dialect {
            Dialect::Postgres => &["BEGIN", "SELECT 1 FROM pg_advisory_xact_lock(7309582001)"],
            Dialect::Sqlite => &["BEGIN IMMEDIATE"],
        };
        for statement in begin {
            sqlx::query(statement).execute(&mut *conn).await.map_err(e)?;
        }
        let applied = Self::apply_migrations(&mut conn, dialect).await;
        let end = if applied.is_ok() { "COMMIT" } else { "ROLLBACK" };
        let ended = sqlx::query(end).execute(&mut *conn).await;
        applied.map_err(e)?;
        ended.map_err(e)?;
        Ok(())
    }

    /// The migrations not applied yet, inside the caller's transaction.
    async fn apply_migrations(conn: &mut sqlx::AnyConnection, dialect: Dialect) -> Result<(), sqlx::Error> {
        sqlx::query("CREATE TABLE IF NOT EXISTS mliy_schema (version BIGINT NOT NULL)").execute(&mut *conn).await?;
        let current: Option<i64> =
            sqlx::query("SELECT MAX(version) FROM mliy_schema").fetch_one(&mut *conn).await?.try_get(0).ok().flatten();
        for (version, statements) in schema::migrations(dialect) {
            if current.is_some_and(|c| c >= version) {
                continue;
            }
            for statement in statements {
                if let Some((table, column)) = schema::added_column(&statement)
                    && dialect == Dialect::Sqlite
                {
                    let there = sqlx::query("SELECT 1 FROM pragma_table_info($1) WHERE name = $2")
                        .bind(table)
                        .bind(column)
                        .fetch_optional(&mut *conn)
                        .await?;
                    if there.is_some() {
                        continue;
                    }
                }
                sqlx::query(&statement).execute(&mut *conn).await?;
            }
            sqlx::query("INSERT INTO mliy_schema (version) VALUES ($1)").bind(version).execute(&mut *conn).await?;
        }
        Ok(())
    }

    fn err(&self) -> impl Fn(sqlx::Error) -> Error + '_ {
        move |e| db_error(self.backend, e)
    }

    /// Transactions run detached (see [`detached`]).
    async fn insert_tx(&self, r: &Resource, event: Option<&LifecycleEvent>) -> Result<()> {
        let mut tx = self.pool.begin().await.map_err(self.err())?;
        self.insert_in(&mut tx, r).await?;
        if let Some(e) = event {
            self.append_event(&mut tx, e).await?;
        }
        tx.commit().await.map_err(self.err())
    }

    async fn insert_many_tx(&self, batch: &[Resource]) -> Result<()> {
        let mut tx = self.pool.begin().await.map_err(self.err())?;
        for r in batch {
            self.insert_in(&mut tx, r).await?;
        }
        tx.commit().await.map_err(self.err())
    }

    async fn insert_in(&self, tx: &mut Transaction<'_, Any>, r: &Resource) -> Result<()> {
        let inserted = sqlx::query(
            "INSERT INTO mliy_resources
                (id, owner, version, needs_driving, archived, created_ms, body, kind, phase, dns_named, pos)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10,
                (SELECT COALESCE(MAX(pos), 0) + 1 FROM mliy_resources))
             ON CONFLICT (id) DO NOTHING",
        )
        .bind(r.id.as_str())
        .bind(&r.owner)
        .bind(version(r.version))
        .bind(r.needs_driving())
        .bind(r.archived)
        .bind(r.created_at.0)
        .bind(to_json(r)?)
        .bind(r.kind.name())
        .bind(r.phase.name())
        .bind(r.dns_name.is_some())
        .execute(&mut **tx)
        .await
        .map_err(self.err())?;
        if inserted.rows_affected() != 1 {
            return Err(Error::AlreadyExists(format!("resource {}", r.id)));
        }
        Ok(())
    }

    async fn update_tx(&self, r: &Resource, expected: u64, event: Option<&LifecycleEvent>) -> Result<()> {
        let mut tx = self.pool.begin().await.map_err(self.err())?;
        self.update_in(&mut tx, r, expected, event).await?;
        tx.commit().await.map_err(self.err())
    }

    async fn update_many_tx(&self, changes: &[ResourceChange]) -> Result<()> {
        let mut tx = self.pool.begin().await.map_err(self.err())?;
        for c in changes {
            // An error drops the transaction: nothing of the batch is stored.
            self.update_in(&mut tx, &c.resource, c.expected_version, c.event.as_ref()).await?;
        }
        tx.commit().await.map_err(self.err())
    }

    /// One compare-and-set update (and its event) inside `tx`.
    async fn update_in(
        &self,
        tx: &mut Transaction<'_, Any>,
        r: &Resource,
        expected: u64,
        event: Option<&LifecycleEvent>,
    ) -> Result<()> {
        let updated = sqlx::query(
            "UPDATE mliy_resources SET version = $1, needs_driving = $2, archived = $3, body = $4,
                kind = $5, phase = $6, dns_named = $7
             WHERE id = $8 AND version = $9",
        )
        .bind(version(r.version))
        .bind(r.needs_driving())
        .bind(r.archived)
        .bind(to_json(r)?)
        .bind(r.kind.name())
        .bind(r.phase.name())
        .bind(r.dns_name.is_some())
        .bind(r.id.as_str())
        .bind(version(expected))
        .execute(&mut **tx)
        .await
        .map_err(self.err())?;
        if updated.rows_affected() != 1 {
            let exists = sqlx::query("SELECT version FROM mliy_resources WHERE id = $1")
                .bind(r.id.as_str())
                .fetch_optional(&mut **tx)
                .await
                .map_err(self.err())?;
            return Err(match exists {
                None => Error::NotFound { kind: "resource", name: r.id.to_string() },
                Some(_) => Error::Stale(format!("resource {} is not at version {expected}", r.id)),
            });
        }
        if let Some(e) = event {
            self.append_event(tx, e).await?;
        }
        Ok(())
    }

    async fn close_billing_tx(&self, id: &LaunchId, end: Timestamp) -> Result<u64> {
        let mut tx = self.pool.begin().await.map_err(self.err())?;
        let open = sqlx::query("SELECT pos, body FROM mliy_billing WHERE resource = $1 AND end_ms IS NULL")
            .bind(id.as_str())
            .fetch_all(&mut *tx)
            .await
            .map_err(self.err())?;
        for row in &open {
            let pos: i64 = row.try_get("pos").map_err(self.err())?;
            let segment: BillingSegment = from_json(&row.try_get::<String, _>("body").map_err(self.err())?)?;
            self.close_segment(&mut tx, pos, segment, end).await?;
        }
        tx.commit().await.map_err(self.err())?;
        Ok(open.len() as u64)
    }

    /// Closes the open segment at `pos` at `end` (not before it started).
    async fn close_segment(
        &self,
        tx: &mut Transaction<'_, Any>,
        pos: i64,
        mut segment: BillingSegment,
        end: Timestamp,
    ) -> Result<()> {
        let end = end.max(segment.start);
        segment.end = Some(end);
        sqlx::query("UPDATE mliy_billing SET end_ms = $1, body = $2 WHERE pos = $3 AND end_ms IS NULL")
            .bind(end.0)
            .bind(to_json(&segment)?)
            .bind(pos)
            .execute(&mut **tx)
            .await
            .map_err(self.err())?;
        Ok(())
    }

    async fn settle_billing_tx(&self, s: &BillingSettlement) -> Result<()> {
        let mut tx = self.pool.begin().await.map_err(self.err())?;
        // Touching the row locks it (PostgreSQL) or the database (SQLite) for the transaction.
        let held = sqlx::query("UPDATE mliy_resources SET version = version WHERE id = $1 AND version = $2")
            .bind(s.resource.as_str())
            .bind(version(s.version))
            .execute(&mut *tx)
            .await
            .map_err(self.err())?;
        let open = sqlx::query("SELECT pos, body FROM mliy_billing WHERE resource = $1 AND end_ms IS NULL")
            .bind(s.resource.as_str())
            .fetch_optional(&mut *tx)
            .await
            .map_err(self.err())?;
        let open = match open {
            Some(row) => {
                let pos: i64 = row.try_get("pos").map_err(self.err())?;
                let body: String = row.try_get("body").map_err(self.err())?;
                Some((pos, from_json::<BillingSegment>(&body)?))
            }
            None => None,
        };
        if held.rows_affected() != 1 || open.as_ref().map(|(_, b)| b.state) != s.expect_open {
            drop(tx);
            return Err(match self.get_resource(&s.resource).await? {
                None => Error::NotFound { kind: "resource", name: s.resource.to_string() },
                Some(_) => Error::Stale(format!("the bill of {} moved on", s.resource)),
            });
        }
        if let Some((pos, segment)) = open {
            self.close_segment(&mut tx, pos, segment, s.close_at).await?;
        }
        if let Some(segment) = &s.open {
            sqlx::query("INSERT INTO mliy_billing (resource, start_ms, end_ms, body) VALUES ($1, $2, $3, $4)")
                .bind(segment.resource.as_str())
                .bind(segment.start.0)
                .bind(segment.end.map(|t| t.0))
                .bind(to_json(segment)?)
                .execute(&mut *tx)
                .await
                .map_err(self.err())?;
        }
        tx.commit().await.map_err(self.err())
    }

    async fn append_event(&self, tx: &mut Transaction<'_, Any>, event: &LifecycleEvent) -> Result<()> {
        sqlx::query("INSERT INTO mliy_events (resource, seq, body) VALUES ($1, $2, $3)")
            .bind(event.resource.as_str())
            .bind(i64::try_from(event.seq).unwrap_or(i64::MAX))
            .bind(to_json(event)?)
            .execute(&mut **tx)
            .await
            .map_err(self.err())?;
        Ok(())
    }
}

fn check_event(resource: &Resource, event: Option<&LifecycleEvent>) -> Result<()> {
    match event {
        Some(e) if e.resource != resource.id => {
            Err(Error::validation("event.resource", e.resource.as_str(), "must be the resource being written"))
        }
        _ => Ok(()),
    }
}

fn version(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

fn resource(row: &AnyRow) -> Result<Resource> {
    let body: String = row.try_get("body").map_err(|e| Error::parse("store record", e.to_string()))?;
    from_json(&body)
}

#[async_trait]
impl StateStore for SqlStore {
    async fn insert_resource(&self, r: &Resource, event: Option<&LifecycleEvent>) -> Result<()> {
        check_event(r, event)?;
        let (this, r, event) = (self.clone(), r.clone(), event.cloned());
        detached(async move { this.insert_tx(&r, event.as_ref()).await }).await
    }

    async fn insert_resources(&self, resources: &[Resource]) -> Result<()> {
        for batch in resources.chunks(1_000) {
            let (this, batch) = (self.clone(), batch.to_vec());
            detached(async move { this.insert_many_tx(&batch).await }).await?;
        }
        Ok(())
    }

    async fn update_resource(&self, r: &Resource, expected: u64, event: Option<&LifecycleEvent>) -> Result<()> {
        check_event(r, event)?;
        if r.version != expected + 1 {
            return Err(Error::validation("version", r.version.to_string(), "must be the expected version + 1"));
        }
        let (this, r, event) = (self.clone(), r.clone(), event.cloned());
        detached(async move { this.update_tx(&r, expected, event.as_ref()).await }).await
    }
    async fn update_resources(&self, changes: &[ResourceChange]) -> Result<()> {
        for c in changes {
            check_event(&c.resource, c.event.as_ref())?;
            if c.resource.version != c.expected_version + 1 {
                let v = c.resource.version.to_string();
                return Err(Error::validation("version", v, "must be the expected version + 1"));
            }
        }
        let (this, changes) = (self.clone(), changes.to_vec());
        detached(async move { this.update_many_tx(&changes).await }).await
    }

    async fn get_resource(&self, id: &LaunchId) -> Result<Option<Resource>> {
        let row = sqlx::query("SELECT body FROM mliy_resources WHERE id = $1")
            .bind(id.as_str())
            .fetch_optional(&self.pool)
            .await
            .map_err(self.err())?;
        row.as_ref().map(resource).transpose()
    }

    async fn list_resources(&self, filter: &ResourceFilter) -> Result<Vec<Resource>> {
        // With an owner, a query of its own: `owner = $1` alone lets the planner take the
        // (owner, created_ms, pos) index; `$1 = '' OR owner = $1` would read the whole table.
        let rows = match &filter.owner {
            Some(owner) => sqlx::query(
                "SELECT body FROM mliy_resources
                 WHERE owner = $1 AND ($2 = FALSE OR needs_driving = TRUE) AND ($3 = TRUE OR archived = FALSE)
                 ORDER BY created_ms, pos",
            )
            .bind(owner),
            None => sqlx::query(
                "SELECT body FROM mliy_resources
                 WHERE ($1 = FALSE OR needs_driving = TRUE) AND ($2 = TRUE OR archived = FALSE)
                 ORDER BY created_ms, pos",
            ),
        };
        let rows = rows
            .bind(filter.needs_driving)
            .bind(filter.include_archived)
            .fetch_all(&self.pool)
            .await
            .map_err(self.err())?;
        rows.iter().map(resource).collect()
    }

    async fn list_page(&self, q: &PageQuery) -> Result<Vec<Resource>> {
        mliy_core::store::check_page(q)?;
        // Equalities on (phase, kind[, owner]) then the id range: read in index order.
        let mut sql = String::from("SELECT body FROM mliy_resources WHERE phase = $1 AND kind = $2 AND id > $3");
        if q.owner.is_some() {
            sql.push_str(" AND owner = $5");
        }
        if q.dns_named {
            sql.push_str(" AND dns_named = TRUE");
        }
        sql.push_str(" ORDER BY id LIMIT $4");
        let mut query = sqlx::query(&sql)
            .bind(q.phase)
            .bind(q.kind.name())
            .bind(q.after.as_ref().map_or("", |a| a.as_str()))
            .bind(i64::try_from(q.limit).unwrap_or(i64::MAX));
        if let Some(owner) = &q.owner {
            query = query.bind(owner);
        }
        let rows = query.fetch_all(&self.pool).await.map_err(self.err())?;
        rows.iter().map(resource).collect()
    }

    async fn events(&self, id: &LaunchId) -> Result<Vec<LifecycleEvent>> {
        let rows = sqlx::query("SELECT body FROM mliy_events WHERE resource = $1 ORDER BY pos")
            .bind(id.as_str())
            .fetch_all(&self.pool)
            .await
            .map_err(self.err())?;
        rows.iter()
            .map(|row| {
                from_json(&row.try_get::<String, _>("body").map_err(|e| Error::parse("store record", e.to_string()))?)
            })
            .collect()
    }

    async fn open_billing(&self, s: &BillingSegment) -> Result<()> {
        // The partial unique index `mliy_billing_one_open` keeps one open segment per resource.
        sqlx::query("INSERT INTO mliy_billing (resource, start_ms, end_ms, body) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING")
            .bind(s.resource.as_str())
            .bind(s.start.0)
            .bind(s.end.map(|t| t.0))
            .bind(to_json(s)?)
            .execute(&self.pool)
            .await
            .map_err(self.err())?;
        Ok(())
    }

    async fn close_billing(&self, id: &LaunchId, end: Timestamp) -> Result<u64> {
        let (this, id) = (self.clone(), id.clone());
        detached(async move { this.close_billing_tx(&id, end).await }).await
    }
    async fn settle_billing(&self, s: &BillingSettlement) -> Result<()> {
        let (this, s) = (self.clone(), s.clone());
        detached(async move { this.settle_billing_tx(&s).await }).await
    }
    async fn billing(&self, id: Option<&LaunchId>) -> Result<Vec<BillingSegment>> {
        let rows = sqlx::query("SELECT body, end_ms FROM mliy_billing WHERE ($1 = '' OR resource = $1) ORDER BY pos")
            .bind(id.map(LaunchId::as_str).unwrap_or(""))
            .fetch_all(&self.pool)
            .await
            .map_err(self.err())?;
        rows.iter()
            .map(|row| {
                let mut segment: BillingSegment = from_json(&row.try_get::<String, _>("body").map_err(self.err())?)?;
                // The column is the truth for the end (migration 2 closed duplicates there).
                segment.end = row.try_get::<Option<i64>, _>("end_ms").map_err(self.err())?.map(Timestamp);
                Ok(segment)
            })
            .collect()
    }

    async fn put_idempotency_key(&self, key: &str, value: &str) -> Result<Option<String>> {
        let inserted = sqlx::query("INSERT INTO mliy_keys (key, value) VALUES ($1, $2) ON CONFLICT (key) DO NOTHING")
            .bind(key)
            .bind(value)
            .execute(&self.pool)
            .await
            .map_err(self.err())?;
        if inserted.rows_affected() == 1 {
            return Ok(None);
        }
        let row = sqlx::query("SELECT value FROM mliy_keys WHERE key = $1")
            .bind(key)
            .fetch_one(&self.pool)
            .await
            .map_err(self.err())?;
        Ok(Some(row.try_get("value").map_err(self.err())?))
    }

    async fn try_lease(&self, name: &str, holder: &str, until: Timestamp, now: Timestamp) -> Result<bool> {
        let taken = sqlx::query(
            "INSERT INTO mliy_leases (name, holder, until_ms) VALUES ($1, $2, $3)
             ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, until_ms = excluded.until_ms
             WHERE mliy_leases.holder = excluded.holder OR mliy_leases.until_ms <= $4",
        )
        .bind(name)
        .bind(holder)
        .bind(until.0)
        .bind(now.0)
        .execute(&self.pool)
        .await
        .map_err(self.err())?;
        Ok(taken.rows_affected() == 1)
    }

    async fn release_lease(&self, name: &str, holder: &str) -> Result<()> {
        sqlx::query("DELETE FROM mliy_leases WHERE name = $1 AND holder = $2")
            .bind(name)
            .bind(holder)
            .execute(&self.pool)
            .await
            .map_err(self.err())?;
        Ok(())
    }

    async fn save_catalog(&self, catalog: &Catalog) -> Result<()> {
        sqlx::query(
            "INSERT INTO mliy_catalog (id, body) VALUES (1, $1) ON CONFLICT (id) DO UPDATE SET body = excluded.body",
        )
        .bind(to_json(catalog)?)
        .execute(&self.pool)
        .await
        .map_err(self.err())?;
        Ok(())
    }

    async fn load_catalog(&self) -> Result<Option<Catalog>> {
        let row = sqlx::query("SELECT body FROM mliy_catalog WHERE id = 1")
            .fetch_optional(&self.pool)
            .await
            .map_err(self.err())?;
        row.map(|r| from_json(&r.try_get::<String, _>("body").map_err(self.err())?)).transpose()
    }
}

/// Implements `StateStore` for a newtype around [`SqlStore`] by delegation.
macro_rules! delegate_store {
    ($store:ty) => {
        #[async_trait::async_trait]
        impl mliy_core::store::StateStore for $store {
            async fn insert_resource(
                &self,
                r: &mliy_core::lifecycle::Resource,
                e: Option<&mliy_core::lifecycle::LifecycleEvent>,
            ) -> mliy_core::Result<()> {
                self.0.insert_resource(r, e).await
            }
            async fn insert_resources(&self, rs: &[mliy_core::lifecycle::Resource]) -> mliy_core::Result<()> {
                self.0.insert_resources(rs).await
            }
            async fn update_resource(
                &self,
                r: &mliy_core::lifecycle::Resource,
                expected: u64,
                e: Option<&mliy_core::lifecycle::LifecycleEvent>,
            ) -> mliy_core::Result<()> {
                self.0.update_resource(r, expected, e).await
            }
            async fn update_resources(&self, changes: &[mliy_core::store::ResourceChange]) -> mliy_core::Result<()> {
                self.0.update_resources(changes).await
            }
            async fn get_resource(
                &self,
                id: &mliy_core::model::LaunchId,
            ) -> mliy_core::Result<Option<mliy_core::lifecycle::Resource>> {
                self.0.get_resource(id).await
            }
            async fn list_resources(
                &self,
                f: &mliy_core::store::ResourceFilter,
            ) -> mliy_core::Result<Vec<mliy_core::lifecycle::Resource>> {
                self.0.list_resources(f).await
            }
            async fn list_page(
                &self,
                q: &mliy_core::store::PageQuery,
            ) -> mliy_core::Result<Vec<mliy_core::lifecycle::Resource>> {
                self.0.list_page(q).await
            }
            async fn events(
                &self,
                id: &mliy_core::model::LaunchId,
            ) -> mliy_core::Result<Vec<mliy_core::lifecycle::LifecycleEvent>> {
                self.0.events(id).await
            }
            async fn open_billing(&self, s: &mliy_core::model::BillingSegment) -> mliy_core::Result<()> {
                self.0.open_billing(s).await
            }
            async fn close_billing(
                &self,
                id: &mliy_core::model::LaunchId,
                end: mliy_core::clock::Timestamp,
            ) -> mliy_core::Result<u64> {
                self.0.close_billing(id, end).await
            }
            async fn settle_billing(&self, s: &mliy_core::store::BillingSettlement) -> mliy_core::Result<()> {
                self.0.settle_billing(s).await
            }
            async fn billing(
                &self,
                id: Option<&mliy_core::model::LaunchId>,
            ) -> mliy_core::Result<Vec<mliy_core::model::BillingSegment>> {
                self.0.billing(id).await
            }
            async fn put_idempotency_key(&self, k: &str, v: &str) -> mliy_core::Result<Option<String>> {
                self.0.put_idempotency_key(k, v).await
            }
            async fn try_lease(
                &self,
                name: &str,
                holder: &str,
                until: mliy_core::clock::Timestamp,
                now: mliy_core::clock::Timestamp,
            ) -> mliy_core::Result<bool> {
                self.0.try_lease(name, holder, until, now).await
            }
            async fn release_lease(&self, name: &str, holder: &str) -> mliy_core::Result<()> {
                self.0.release_lease(name, holder).await
            }
            async fn save_catalog(&self, c: &mliy_core::model::Catalog) -> mliy_core::Result<()> {
                self.0.save_catalog(c).await
            }
            async fn load_catalog(&self) -> mliy_core::Result<Option<mliy_core::model::Catalog>> {
                self.0.load_catalog().await
            }
        }
    };
}
pub(crate) use delegate_store;
