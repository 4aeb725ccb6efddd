//! The dashboard, served by the router: server-rendered pages with one small script and one
//! stylesheet, no build step and nothing from a CDN. Sign-in is a plain form (it works
//! without the script); the page lists the caller's resources with live progress bars (from
//! each resource's event stream), cost so far, how to connect, and action buttons that ask
//! for confirmation; a launch form built from the offerings shows each type's price; an
//! admin page lists every resource. Every call the script makes goes through `/api/v1` with
//! the session cookie and its CSRF token.

mod page;

use super::account::authenticate;
use super::caller::{COOKIE, Caller, cookie, set_cookie};
use super::views::LoginBody;
use super::{Api, ApiError};
use axum::Router;
use axum::extract::{Form, OriginalUri, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::get;
use std::sync::Arc;

pub(super) fn routes() -> Router<Arc<Api>> {
    Router::new()
        .route("/", get(home))
        .route("/admin", get(admin))
        .route("/login", get(login_page).post(login))
        .route("/logout", axum::routing::post(logout))
        .route("/assets/app.js", get(|| asset("text/javascript; charset=utf-8", page::SCRIPT)))
        .route("/assets/app.css", get(|| asset("text/css; charset=utf-8", page::STYLE)))
}

async fn asset(kind: &'static str, body: &'static str) -> Response {
    ([(header::CONTENT_TYPE, kind), (header::CACHE_CONTROL, "no-cache")], body).into_response()
}

/// Where the router is mounted (`/mliy` in a portal that nests it there, `` at the root).
fn base(original: &Uri, inner: &Uri) -> String {
    let (o, i) = (original.path(), inner.path());
    let outer = if i == "/" { Some(o) } else { o.strip_suffix(i) };
    outer.unwrap_or("").trim_end_matches('/').to_string()
}

/// The dashboard's own address under `base`.
fn home_of(base: &str) -> HeaderValue {
    let to = if base.is_empty() { "/" } else { base };
    HeaderValue::from_str(to).unwrap_or(HeaderValue::from_static("/"))
}

/// Who is signed in with the cookie, if anyone.
fn signed_in(api: &Api, headers: &HeaderMap) -> Option<Caller> {
    cookie(headers, COOKIE)?;
    Caller::from_headers(api, &Method::GET, headers).ok()
}

async fn home(State(api): State<Arc<Api>>, OriginalUri(o): OriginalUri, uri: Uri, headers: HeaderMap) -> Response {
    let base = base(&o, &uri);
    let Some(caller) = signed_in(&api, &headers) else { return Redirect::to(&format!("{base}/login")).into_response() };
    let offerings = api.engine.offerings(&caller.principal).unwrap_or_default();
    let csrf = api.sessions.csrf(&caller.token);
    Html(page::home(&base, &caller.principal, &csrf, &offerings)).into_response()
}

async fn admin(State(api): State<Arc<Api>>, OriginalUri(o): OriginalUri, uri: Uri, headers: HeaderMap) -> Response {
    let base = base(&o, &uri);
    let Some(caller) = signed_in(&api, &headers) else { return Redirect::to(&format!("{base}/login")).into_response() };
    if !caller.principal.admin {
        return (StatusCode::FORBIDDEN, Html(page::message(&base, "Admins only", "This page is for admins.")))
            .into_response();
    }
    let csrf = api.sessions.csrf(&caller.token);
    Html(page::admin(&base, &caller.principal, &csrf)).into_response()
}

async fn login_page(OriginalUri(o): OriginalUri, uri: Uri) -> Html<String> {
    Html(page::login(&base(&o, &uri), None))
}

async fn login(
    State(api): State<Arc<Api>>,
    OriginalUri(o): OriginalUri,
    uri: Uri,
    headers: HeaderMap,
    Form(body): Form<LoginBody>,
) -> Response {
    let base = base(&o, &uri);
    match authenticate(&api, body).await {
        Ok(principal) => {
            let token = api.sessions.open(principal);
            let cookie = set_cookie(&api, &headers, &token, Some(api.config.session_ttl));
            (StatusCode::SEE_OTHER, [(header::SET_COOKIE, cookie), (header::LOCATION, home_of(&base))]).into_response()
        }
        Err(ApiError(e)) => {
            let status = super::errors::status(&e);
            (status, Html(page::login(&base, Some(&e.to_string())))).into_response()
        }
    }
}

/// The sign-out form posts its CSRF token as a field.
#[derive(serde::Deserialize)]
struct Logout {
    csrf: String,
}

async fn logout(
    State(api): State<Arc<Api>>,
    OriginalUri(o): OriginalUri,
    uri: Uri,
    headers: HeaderMap,
    Form(form): Form<Logout>,
) -> Response {
    let base = base(&o, &uri);
    if let Some(caller) = signed_in(&api, &headers)
        && api.sessions.csrf(&caller.token) == form.csrf
    {
        api.sessions.close(&caller.token);
    }
    let clear = set_cookie(&api, &headers, "", None);
    let to = HeaderValue::from_str(&format!("{base}/login")).unwrap_or(HeaderValue::from_static("/login"));
    (StatusCode::SEE_OTHER, [(header::SET_COOKIE, clear), (header::LOCATION, to)]).into_response()
}
