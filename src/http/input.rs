//! A request body as JSON or as a form (`application/x-www-form-urlencoded`, what an HTML
//! form and `curl --data-urlencode` send), refused as a validation error naming the body.

use super::ApiError;
use axum::extract::{Form, FromRequest, FromRequestParts, Json, OptionalFromRequest, Query, Request};
use axum::http::header;
use axum::http::request::Parts;
use mliy_core::Error;
use serde::de::DeserializeOwned;

/// A body of type `T`, JSON or form.
pub(crate) struct Input<T>(pub(crate) T);

/// Whether a request's body is a form.
pub(crate) fn is_form(req: &Request) -> bool {
    req.headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"))
}

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for Input<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        let refused = |e: String| ApiError(Error::validation("body", "", e));
        if is_form(&req) {
            let Form(t) =
                <Form<T> as FromRequest<S>>::from_request(req, state).await.map_err(|e| refused(e.body_text()))?;
            return Ok(Input(t));
        }
        let Json(t) =
            <Json<T> as FromRequest<S>>::from_request(req, state).await.map_err(|e| refused(e.body_text()))?;
        Ok(Input(t))
    }
}

/// No body at all (no `Content-Type`, or empty) is `None`.
impl<S: Send + Sync, T: DeserializeOwned> OptionalFromRequest<S> for Input<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Option<Self>, ApiError> {
        let empty = req.headers().get(header::CONTENT_LENGTH).is_some_and(|v| v == "0");
        if empty || !req.headers().contains_key(header::CONTENT_TYPE) {
            return Ok(None);
        }
        <Input<T> as FromRequest<S>>::from_request(req, state).await.map(Some)
    }
}

/// A query string of type `T`, refused as a validation error naming the query.
pub(crate) struct Q<T>(pub(crate) T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequestParts<S> for Q<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let Query(t) = Query::<T>::from_request_parts(parts, state)
            .await
            .map_err(|e| ApiError(Error::validation("query", parts.uri.query().unwrap_or(""), e.body_text())))?;
        Ok(Q(t))
    }
}
