//! The dashboard (placeholder, filled in below).

use super::Api;
use axum::Router;
use std::sync::Arc;

pub(super) fn routes() -> Router<Arc<Api>> {
    Router::new()
}
