//! The HTTP API (feature `http`): an axum [`Router`] a portal nests in its own app, every
//! call through the engine's authorization, described by an OpenAPI 3.1 document generated
//! from the code (`GET /api/v1/openapi.json`, or [`openapi`]).
//!
//! Under `/api/v1`: sign-in (a bearer token for scripts, an HttpOnly `SameSite=Strict`
//! cookie with a CSRF token for browsers), what the caller may launch and its prices,
//! launches, resources (paged, filtered), their events (also as server-sent events,
//! resumable with `Last-Event-ID`), actions, cost, budgets; admin listings; the bootstrap's
//! callbacks authenticated by the launch secret and rate-limited per launch; and the OpenAPI
//! EMR service's `/api/v1/emr/clusters`; datasets in S3 and the notebooks that use them. MLiy's images report to
//! `/ajax/s/{secret}/ajax/progress/…`; MLiy's bare `/ajax/progress/…` is refused. State
//! changes only through POST and DELETE. Errors are JSON, `{"error": {"kind", "message",
//! …}}`, with the status that fits. The dashboard ([`dashboard`]) is served at `/`.
//!
//! ```no_run
//! # async fn demo(engine: mliy::engine::Engine, auth: std::sync::Arc<dyn mliy::auth::AuthProvider>) {
//! let api = mliy::http::router(engine, auth, mliy::http::HttpConfig::default());
//! let app: axum::Router = axum::Router::new().nest("/mliy", api);
//! # }
//! ```

mod account;
mod admin;
mod callbacks;
mod caller;
pub mod dashboard;
mod datasets;
mod emr_service;
mod errors;
mod input;
mod launch;
mod limit;
mod resources;
mod sessions;
mod stream;
pub mod tls;
mod views;

pub use datasets::DatasetsSource;
pub use errors::ApiError;

use axum::Router;
use mliy_core::auth::AuthProvider;
use mliy_core::engine::Engine;
use sessions::Sessions;
use std::sync::Arc;
use std::time::Duration;
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;

/// How the API behaves.
#[derive(Debug, Clone)]
pub struct HttpConfig {
    /// How long a login's session stays valid.
    pub session_ttl: Duration,
    /// The most sessions kept at once (the oldest goes first).
    pub max_sessions: usize,
    /// The most progress reports one launch may send per minute; more answer 429.
    pub progress_per_minute: u32,
    /// Whether session cookies are `Secure`: by default, unless the request's host is a
    /// loopback address.
    pub secure_cookies: Option<bool>,
    /// How often an event stream looks for events stored by another replica.
    pub stream_poll: Duration,
    /// Serve the dashboard at `/`.
    pub dashboard: bool,
    /// Where `/api/v1/datasets` reads; without it those calls answer 404.
    pub datasets: Option<DatasetsSource>,
}

impl Default for HttpConfig {
    fn default() -> Self {
        HttpConfig {
            session_ttl: Duration::from_secs(8 * 3600),
            max_sessions: 10_000,
            progress_per_minute: 60,
            secure_cookies: None,
            stream_poll: Duration::from_secs(1),
            dashboard: true,
            datasets: None,
        }
    }
}

/// What every handler shares.
pub(crate) struct Api {
    pub(crate) engine: Engine,
    pub(crate) auth: Arc<dyn AuthProvider>,
    pub(crate) sessions: Sessions,
    pub(crate) progress_limit: limit::PerKey,
    pub(crate) config: HttpConfig,
}

#[derive(OpenApi)]
#[openapi(
    info(title = "mliy", description = "Self-service analytics environments on AWS."),
    modifiers(&Security),
    tags(
        (name = "session", description = "Signing in and out"),
        (name = "launch", description = "What may be launched, and launching it"),
        (name = "resources", description = "The caller's instances and clusters"),
        (name = "admin", description = "Admins only"),
        (name = "bootstrap", description = "Callbacks of the machines' bootstrap scripts"),
        (name = "emr", description = "The OpenAPI EMR service's shape"),
        (name = "datasets", description = "Datasets in S3 and the notebooks that use them"),
    )
)]
struct Doc;

/// Declares the two ways to sign in.
struct Security;

impl utoipa::Modify for Security {
    fn modify(&self, doc: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
        let components = doc.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
        components
            .add_security_scheme("cookie", SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::new(caller::COOKIE))));
    }
}

fn api_routes() -> OpenApiRouter<Arc<Api>> {
    OpenApiRouter::with_openapi(Doc::openapi())
        .merge(account::routes())
        .merge(launch::routes())
        .merge(resources::routes())
        .merge(stream::routes())
        .merge(admin::routes())
        .merge(callbacks::routes())
        .merge(emr_service::routes())
        .merge(datasets::routes())
}

/// The API's OpenAPI 3.1 document.
pub fn openapi() -> utoipa::openapi::OpenApi {
    let mut doc = api_routes().split_for_parts().1;
    doc.info.version = env!("CARGO_PKG_VERSION").into();
    doc
}

/// The API's router: `/api/v1`, MLiy's `/ajax/…`, and the dashboard at `/` when configured.
pub fn router(engine: Engine, auth: Arc<dyn AuthProvider>, config: HttpConfig) -> Router {
    let sessions = Sessions::new(config.session_ttl, config.max_sessions);
    let progress_limit = limit::PerKey::new(config.progress_per_minute, Duration::from_secs(60));
    let dashboard = config.dashboard;
    let api = Arc::new(Api { engine, auth, sessions, progress_limit, config });
    let (routes, _) = api_routes().split_for_parts();
    let doc = Arc::new(openapi());
    let mut routes = routes
        .route("/api/v1/openapi.json", axum::routing::get(move || async move { axum::Json(doc.as_ref().clone()) }));
    if dashboard {
        routes = routes.merge(dashboard::routes());
    }
    routes.with_state(api)
}
