//! Signing in and out: `POST /api/v1/login`, `POST /api/v1/logout`, `GET /api/v1/whoami`.

use super::caller::{Caller, set_cookie};
use super::input::{Input, is_form};
use super::views::{ErrorBody, LoginBody, SessionView, WhoAmI};
use super::{Api, ApiError};
use axum::Json;
use axum::extract::{FromRequest, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use mliy_core::Error;
use mliy_core::auth::Credentials;
use mliy_core::model::Principal;
use mliy_core::secret::Secret;
use std::sync::Arc;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub(super) fn routes() -> OpenApiRouter<Arc<Api>> {
    OpenApiRouter::new().routes(routes!(login)).routes(routes!(logout)).routes(routes!(whoami))
}

/// Checks credentials through the [`mliy_core::auth::AuthProvider`]; one answer for every
/// refusal, so which part was wrong is not said.
pub(crate) async fn authenticate(api: &Api, body: LoginBody) -> Result<Principal, ApiError> {
    let credentials = Credentials::Password { username: body.username, password: Secret::new(body.password) };
    match api.auth.authenticate(&credentials).await {
        Ok(p) => Ok(p),
        Err(e) if e.is_retryable() => Err(e.into()),
        Err(_) => Err(Error::Unauthenticated("invalid username or password".into()).into()),
    }
}

/// Signs in. A JSON body gets a bearer token; a form (a browser) gets an HttpOnly,
/// `SameSite=Strict` session cookie and the CSRF token to send with its POSTs.
#[utoipa::path(post, path = "/api/v1/login", tag = "session",
    request_body(content((LoginBody = "application/json"), (LoginBody = "application/x-www-form-urlencoded"))),
    responses(
        (status = 200, description = "Signed in", body = SessionView),
        (status = 401, description = "Wrong username or password", body = ErrorBody),
        (status = 422, description = "A malformed body", body = ErrorBody),
        (status = 503, description = "The directory is unreachable", body = ErrorBody),
    ))]
async fn login(State(api): State<Arc<Api>>, request: Request) -> Result<Response, ApiError> {
    let form = is_form(&request);
    let headers = request.headers().clone();
    let Input(body) = Input::<LoginBody>::from_request(request, &()).await?;
    let principal = authenticate(&api, body).await?;
    let username = principal.username.clone();
    let token = api.sessions.open(principal);
    let csrf_token = api.sessions.csrf(&token);
    if !form {
        return Ok(Json(SessionView { token: Some(token), csrf_token, username }).into_response());
    }
    let cookie = set_cookie(&api, &headers, &token, Some(api.config.session_ttl));
    Ok(([(header::SET_COOKIE, cookie)], Json(SessionView { token: None, csrf_token, username })).into_response())
}

/// Ends the caller's session (and clears its cookie).
#[utoipa::path(post, path = "/api/v1/logout", tag = "session",
    security(("bearer" = []), ("cookie" = [])),
    responses(
        (status = 204, description = "Signed out"),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 403, description = "A cookie session without its CSRF token", body = ErrorBody),
    ))]
async fn logout(State(api): State<Arc<Api>>, caller: Caller, headers: HeaderMap) -> Response {
    api.sessions.close(&caller.token);
    let clear = set_cookie(&api, &headers, "", None);
    (StatusCode::NO_CONTENT, [(header::SET_COOKIE, clear)]).into_response()
}

/// The caller.
#[utoipa::path(get, path = "/api/v1/whoami", tag = "session",
    security(("bearer" = []), ("cookie" = [])),
    responses(
        (status = 200, description = "The caller", body = WhoAmI),
        (status = 401, description = "Not signed in", body = ErrorBody),
    ))]
async fn whoami(caller: Caller) -> Json<WhoAmI> {
    let p = caller.principal;
    Json(WhoAmI { username: p.username, display_name: p.display_name, groups: p.groups, admin: p.admin })
}
