//! The state store a config names.

use crate::config::StoreConfig;
#[cfg(feature = "postgres")]
use mliy_core::error::Error;
use mliy_core::error::Result;
use mliy_core::store::{MemoryStore, StateStore};
use std::path::Path;
use std::sync::Arc;

/// The store (SQLite paths relative to `base`).
///
/// # Errors
/// [`missing_feature`]; a database that cannot be opened or migrated.
pub async fn store(config: &StoreConfig, base: &Path) -> Result<Arc<dyn StateStore>> {
    let _ = base; // used by the SQL stores' features
    match config {
        StoreConfig::Memory => Ok(Arc::new(MemoryStore::new())),
        #[cfg(feature = "sqlite")]
        StoreConfig::Sqlite(path) => {
            let path = if path.is_absolute() { path.clone() } else { base.join(path) };
            Ok(Arc::new(crate::plugins::sqlite::SqliteStore::open(&path).await?))
        }
        #[cfg(not(feature = "sqlite"))]
        StoreConfig::Sqlite(_) => Err(super::missing_feature("store.sqlite", "sqlite")),
        #[cfg(feature = "postgres")]
        StoreConfig::Postgres(pg) => {
            let url = postgres_url(pg, base)?;
            Ok(Arc::new(crate::plugins::postgres::PostgresStore::connect(url.expose()).await?))
        }
        #[cfg(not(feature = "postgres"))]
        StoreConfig::Postgres(_) => Err(super::missing_feature("store.postgres", "postgres")),
    }
}

/// The connection URL with the password and TLS settings in it (a secret as a whole).
#[cfg(feature = "postgres")]
pub(super) fn postgres_url(pg: &crate::config::PostgresSection, base: &Path) -> Result<mliy_core::secret::Secret> {
    let mut url = pg.url.clone();
    if let Some(source) = &pg.password {
        let password = source.resolve("store.postgres.password", base)?;
        let start = url.find("://").map_or(0, |i| i + 3);
        let at = url[start..].find('@').map(|i| start + i).filter(|at| url[start..*at].find('/').is_none());
        let Some(at) = at else {
            return Err(Error::validation(
                "store.postgres.url",
                &pg.url,
                "a password needs a user: postgres://USER@HOST/DB",
            ));
        };
        url.insert_str(at, &format!(":{}", percent_encode(password.expose(), false)));
    }
    if let Some(tls) = &pg.tls {
        let sep = if url.contains('?') { '&' } else { '?' };
        url.push_str(&format!("{sep}sslmode={}", tls.mode));
        if let Some(ca) = &tls.ca_file {
            let ca = if ca.is_absolute() { ca.clone() } else { base.join(ca) };
            url.push_str(&format!("&sslrootcert={}", percent_encode(&ca.display().to_string(), true)));
        }
    }
    Ok(mliy_core::secret::Secret::new(url))
}

/// Percent-encodes everything but RFC 3986's unreserved characters (and `/` when `path`).
#[cfg(feature = "postgres")]
fn percent_encode(text: &str, path: bool) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => (b as char).to_string(),
            b'/' if path => "/".to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}
