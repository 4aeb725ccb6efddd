//! Errors as JSON with the HTTP status that fits their kind.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use mliy_core::Error;

/// An engine error answered over HTTP: `{"error": {...}}` (see [`Error`]'s JSON).
#[derive(Debug)]
pub struct ApiError(pub Error);

impl From<Error> for ApiError {
    fn from(e: Error) -> Self {
        ApiError(e)
    }
}

/// The status of an error's kind.
pub(crate) fn status(e: &Error) -> StatusCode {
    match e {
        Error::Validation(_) | Error::Parse { .. } | Error::InvalidTransition(_) => StatusCode::UNPROCESSABLE_ENTITY,
        Error::NotFound { .. } => StatusCode::NOT_FOUND,
        Error::Forbidden(_) => StatusCode::FORBIDDEN,
        Error::Unauthenticated(_) => StatusCode::UNAUTHORIZED,
        Error::Stale(_) | Error::AlreadyExists(_) | Error::WrongState(_) => StatusCode::CONFLICT,
        Error::Throttled(_) => StatusCode::TOO_MANY_REQUESTS,
        Error::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
        _ => StatusCode::BAD_GATEWAY,
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = serde_json::json!({ "error": self.0 });
        (status(&self.0), Json(body)).into_response()
    }
}
