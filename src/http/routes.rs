//! The `/api/v1` handlers.

use super::{Api, ApiError};
use axum::extract::{FromRequestParts, Path, State};
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::routing::{get, post};
use axum::{Json, Router};
use mliy_core::Error;
use mliy_core::auth::Credentials;
use mliy_core::engine::Action;
use mliy_core::lifecycle::Resource;
use mliy_core::model::emr::InstanceRole;
use mliy_core::model::{LaunchId, Principal};
use mliy_core::secret::Secret;
use serde::Deserialize;
use serde_json::{Value, json};
use std::sync::Arc;

type Shared = State<Arc<Api>>;
type Answer<T> = Result<T, ApiError>;

pub(super) fn routes(api: Arc<Api>) -> Router {
    Router::new()
        .route("/api/v1/login", post(login))
        .route("/api/v1/logout", post(logout))
        .route("/api/v1/whoami", get(whoami))
        .route("/api/v1/resources", get(list))
        .route("/api/v1/resources/{id}", get(one))
        .route("/api/v1/resources/{id}/actions/{action}", post(act))
        .route("/api/v1/progress/{launch}", post(progress))
        .with_state(api)
}

/// The `Authorization: Bearer …` value, if any.
fn bearer(parts: &Parts) -> Option<&str> {
    let value = parts.headers.get(axum::http::header::AUTHORIZATION)?.to_str().ok()?;
    value.strip_prefix("Bearer ").map(str::trim).filter(|t| !t.is_empty())
}

/// The signed-in caller: a live login token, else 401.
pub(super) struct Caller(Principal);

impl FromRequestParts<Arc<Api>> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, api: &Arc<Api>) -> Answer<Caller> {
        let principal = bearer(parts).and_then(|t| api.sessions.principal(t));
        principal
            .map(Caller)
            .ok_or_else(|| ApiError(Error::Unauthenticated("sign in first (POST /api/v1/login)".into())))
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Login {
    username: String,
    password: String,
}

async fn login(State(api): Shared, Json(body): Json<Login>) -> Answer<Json<Value>> {
    let credentials = Credentials::Password { username: body.username, password: Secret::new(body.password) };
    let principal = match api.auth.authenticate(&credentials).await {
        Ok(p) => p,
        Err(e) if e.is_retryable() => return Err(e.into()),
        // One answer for every refusal: which part was wrong is not said.
        Err(_) => return Err(Error::Unauthenticated("invalid username or password".into()).into()),
    };
    let user = principal.username.clone();
    let token = api.sessions.open(principal);
    Ok(Json(json!({"token": token, "username": user})))
}

async fn logout(State(api): Shared, Caller(_): Caller, parts: Parts) -> StatusCode {
    if let Some(token) = bearer(&parts) {
        api.sessions.close(token);
    }
    StatusCode::NO_CONTENT
}

async fn whoami(Caller(p): Caller) -> Json<Value> {
    Json(json!({"username": p.username, "display_name": p.display_name, "groups": p.groups, "admin": p.admin}))
}

async fn list(State(api): Shared, Caller(p): Caller) -> Answer<Json<Vec<Resource>>> {
    Ok(Json(api.engine.list(&p, false).await?))
}

fn launch_id(id: &str) -> Answer<LaunchId> {
    LaunchId::parse(id).map_err(ApiError)
}

async fn one(State(api): Shared, Caller(p): Caller, Path(id): Path<String>) -> Answer<Json<Resource>> {
    Ok(Json(api.engine.get(&p, &launch_id(&id)?).await?))
}

/// What `extend` and `resize` take.
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct ActBody {
    hours: Option<u32>,
    group: Option<String>,
    count: Option<u32>,
}

fn action(name: &str, body: ActBody) -> Answer<Action> {
    let need = |field: &str, v: Option<u32>| {
        v.ok_or_else(|| ApiError(Error::validation(field, "", format!("{name} needs {field}"))))
    };
    Ok(match name {
        "start" => Action::Start,
        "stop" => Action::Stop,
        "restart" => Action::Restart,
        "terminate" => Action::Terminate,
        "archive" => Action::Archive,
        "extend" => Action::Extend { hours: need("hours", body.hours)? },
        "resize" => {
            let role = match body.group.as_deref() {
                Some("core") => InstanceRole::Core,
                Some("task") => InstanceRole::Task,
                other => return Err(Error::validation("group", other.unwrap_or(""), "core or task").into()),
            };
            Action::Resize { role, count: need("count", body.count)? }
        }
        other => {
            let rule = "start, stop, restart, terminate, archive, extend or resize";
            return Err(Error::validation("action", other, rule).into());
        }
    })
}

async fn act(
    State(api): Shared,
    Caller(p): Caller,
    Path((id, name)): Path<(String, String)>,
    body: Option<Json<ActBody>>,
) -> Answer<Json<Resource>> {
    let action = action(&name, body.map(|Json(b)| b).unwrap_or_default())?;
    Ok(Json(api.engine.act(&p, &launch_id(&id)?, action).await?))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Progress {
    percent: u8,
    #[serde(default)]
    message: String,
}

/// A bootstrap's report, with its launch secret as the bearer token.
async fn progress(
    State(api): Shared,
    Path(launch): Path<String>,
    parts: Parts,
    Json(body): Json<Progress>,
) -> Answer<StatusCode> {
    let Some(secret) = bearer(&parts) else {
        return Err(Error::Unauthenticated("a progress report carries its launch secret".into()).into());
    };
    // Counted per launch and secret: forged secrets spend their own allowance, not the image's.
    if !api.progress_limit.allow(&format!("{launch}:{}", super::sessions::digest(secret))) {
        return Err(
            Error::Throttled(format!("launch {launch}: too many progress reports, try again in a minute")).into()
        );
    }
    api.engine.report_progress(&launch_id(&launch)?, secret, body.percent, &body.message).await?;
    Ok(StatusCode::NO_CONTENT)
}
