//! The HTTP API (feature `http`): an axum [`Router`] a portal nests in its own app, every
//! call through the engine's authorization.
//!
//! This first part serves `/api/v1`: `POST login` (credentials through the
//! [`AuthProvider`] → a bearer token), `POST logout`, `GET whoami`, `GET resources`,
//! `GET resources/{id}`, `POST resources/{id}/actions/{action}`, and the bootstrap's
//! `POST progress/{launch}` authenticated by the launch secret and rate-limited per launch. State changes only through
//! POST. Errors are JSON, `{"error": {"kind", "message", …}}`, with the status that fits.
//!
//! ```no_run
//! # async fn demo(engine: mliy::engine::Engine, auth: std::sync::Arc<dyn mliy::auth::AuthProvider>) {
//! let api = mliy::http::router(engine, auth, mliy::http::HttpConfig::default());
//! let app: axum::Router = axum::Router::new().nest("/mliy", api);
//! # }
//! ```

mod errors;
mod limit;
mod routes;
mod sessions;

pub use errors::ApiError;

use axum::Router;
use mliy_core::auth::AuthProvider;
use mliy_core::engine::Engine;
use sessions::Sessions;
use std::sync::Arc;
use std::time::Duration;

/// How the API behaves.
#[derive(Debug, Clone)]
pub struct HttpConfig {
    /// How long a login's token stays valid.
    pub session_ttl: Duration,
    /// The most sessions kept at once (the oldest goes first).
    pub max_sessions: usize,
    /// The most progress reports one launch may send per minute; more answer 429.
    pub progress_per_minute: u32,
}

impl Default for HttpConfig {
    fn default() -> Self {
        HttpConfig { session_ttl: Duration::from_secs(8 * 3600), max_sessions: 10_000, progress_per_minute: 60 }
    }
}

/// What every handler shares.
pub(crate) struct Api {
    pub(crate) engine: Engine,
    pub(crate) auth: Arc<dyn AuthProvider>,
    pub(crate) sessions: Sessions,
    pub(crate) progress_limit: limit::PerKey,
}

/// The API's router, under `/api/v1`.
pub fn router(engine: Engine, auth: Arc<dyn AuthProvider>, config: HttpConfig) -> Router {
    let sessions = Sessions::new(config.session_ttl, config.max_sessions);
    let progress_limit = limit::PerKey::new(config.progress_per_minute, Duration::from_secs(60));
    routes::routes(Arc::new(Api { engine, auth, sessions, progress_limit }))
}
