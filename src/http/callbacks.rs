//! The bootstrap's callbacks, authenticated by the launch secret (as `Authorization:
//! Bearer` or `X-Mliy-Progress-Token`, what the example user data sends) and rate-limited
//! per launch and secret: a forged secret spends its own allowance, not the image's.
//! MLiy's images report to `GET /ajax/s/{secret}/ajax/progress/{instance}/{message}({n})`
//! unchanged; MLiy's bare `/ajax/progress/…`, which anyone could call, is refused.

use super::caller::bearer;
use super::input::Input;
use super::resources::launch_id;
use super::sessions::digest;
use super::views::ErrorBody;
use super::{Api, ApiError};
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, Uri};
use mliy_core::Error;
use serde::Deserialize;
use std::sync::Arc;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

type Answer<T> = Result<T, ApiError>;

/// The header the example user data sends its secret in.
pub(crate) const TOKEN_HEADER: &str = "x-mliy-progress-token";

pub(super) fn routes() -> OpenApiRouter<Arc<Api>> {
    OpenApiRouter::new()
        .routes(routes!(progress))
        .routes(routes!(activity))
        .routes(routes!(mliy_progress))
        .routes(routes!(bare_mliy_progress))
}

/// The launch secret a callback carries.
fn secret(headers: &HeaderMap) -> Answer<&str> {
    let header = headers.get(TOKEN_HEADER).and_then(|v| v.to_str().ok()).map(str::trim).filter(|t| !t.is_empty());
    bearer(headers)
        .or(header)
        .ok_or_else(|| ApiError(Error::Unauthenticated("a bootstrap's report carries its launch secret".into())))
}

/// Counts one report of `launch` with `secret`; 429 past the allowance.
fn allow(api: &Api, launch: &str, secret: &str) -> Answer<()> {
    if api.progress_limit.allow(&format!("{launch}:{}", digest(secret))) {
        return Ok(());
    }
    Err(Error::Throttled(format!("{launch}: too many reports, try again in a minute")).into())
}

/// A progress report.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct Progress {
    /// 0–100; 100 means ready.
    #[schema(minimum = 0, maximum = 100)]
    percent: u8,
    #[serde(default)]
    message: String,
}

/// A bootstrap reports its progress.
#[utoipa::path(post, path = "/api/v1/progress/{launch}", tag = "bootstrap",
    params(("launch" = String, Path, description = "The launch id", pattern = "^[a-z0-9][a-z0-9-]{0,63}$"),
        ("X-Mliy-Progress-Token" = Option<String>, Header, description = "The launch secret (or as a bearer token)")),
    request_body(content((Progress = "application/json"), (Progress = "application/x-www-form-urlencoded"))),
    security(("bearer" = [])),
    responses(
        (status = 204, description = "Recorded"),
        (status = 401, description = "No secret", body = ErrorBody),
        (status = 403, description = "A wrong secret, or the bootstrap has finished", body = ErrorBody),
        (status = 404, description = "No such launch", body = ErrorBody),
        (status = 422, description = "A bad report, or the resource is not bootstrapping", body = ErrorBody),
        (status = 429, description = "Too many reports", body = ErrorBody),
    ))]
async fn progress(
    State(api): State<Arc<Api>>,
    Path(launch): Path<String>,
    headers: HeaderMap,
    Input(body): Input<Progress>,
) -> Answer<StatusCode> {
    let secret = secret(&headers)?;
    allow(&api, &launch, secret)?;
    api.engine.report_progress(&launch_id(&launch)?, secret, body.percent, &body.message).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// An activity report.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct Activity {
    /// What is going on (`2 busy kernels, 1 sessions`).
    #[serde(default)]
    detail: String,
}

/// A running machine reports that it is in use (its idle time starts again).
#[utoipa::path(post, path = "/api/v1/activity/{launch}", tag = "bootstrap",
    params(("launch" = String, Path, description = "The launch id", pattern = "^[a-z0-9][a-z0-9-]{0,63}$"),
        ("X-Mliy-Progress-Token" = Option<String>, Header, description = "The launch secret (or as a bearer token)")),
    request_body(content((Activity = "application/json"), (Activity = "application/x-www-form-urlencoded"))),
    security(("bearer" = [])),
    responses(
        (status = 204, description = "Recorded"),
        (status = 401, description = "No secret", body = ErrorBody),
        (status = 403, description = "A wrong secret", body = ErrorBody),
        (status = 404, description = "No such launch", body = ErrorBody),
        (status = 422, description = "A bad report, or the machine is not running", body = ErrorBody),
        (status = 429, description = "Too many reports", body = ErrorBody),
    ))]
async fn activity(
    State(api): State<Arc<Api>>,
    Path(launch): Path<String>,
    headers: HeaderMap,
    Input(body): Input<Activity>,
) -> Answer<StatusCode> {
    let secret = secret(&headers)?;
    allow(&api, &launch, secret)?;
    api.engine.report_activity(&launch_id(&launch)?, secret, &body.detail).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// MLiy's images report here unchanged: the secret is in the path their user data's
/// `MANAGER_HOSTNAME` rendered, the step is `message(n)`.
#[utoipa::path(get, path = "/ajax/s/{secret}/ajax/progress/{instance}/{step}", tag = "bootstrap",
    params(("secret" = String, Path, description = "The launch secret"),
        ("instance" = String, Path, description = "The EC2 instance id", pattern = "^i-[0-9a-f]{1,17}$"),
        ("step" = String, Path, description = "`message(percent)`", pattern = "^[A-Za-z0-9_]{1,100}\\(([0-9]|[1-9][0-9]|100)\\)$")),
    responses(
        (status = 204, description = "Recorded"),
        (status = 403, description = "A wrong secret, or not that launch's instance", body = ErrorBody),
        (status = 422, description = "A malformed report", body = ErrorBody),
        (status = 429, description = "Too many reports", body = ErrorBody),
    ))]
async fn mliy_progress(
    State(api): State<Arc<Api>>,
    Path((secret, instance, _step)): Path<(String, String, String)>,
    uri: Uri,
) -> Answer<StatusCode> {
    allow(&api, &instance, &secret)?;
    api.engine.report_mliy_path(uri.path()).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// MLiy's original endpoint took progress from anyone: refused.
#[utoipa::path(get, path = "/ajax/progress/{instance}/{step}", tag = "bootstrap",
    params(("instance" = String, Path, description = "The EC2 instance id", pattern = "^i-[0-9a-f]{1,17}$"),
        ("step" = String, Path, description = "`message(percent)`", pattern = "^[A-Za-z0-9_]{1,100}\\(([0-9]|[1-9][0-9]|100)\\)$")),
    responses((status = 401, description = "Always: a report carries its launch secret", body = ErrorBody)))]
async fn bare_mliy_progress(Path((_instance, _step)): Path<(String, String)>) -> ApiError {
    ApiError(Error::Unauthenticated(
        "progress without the launch secret is refused; images report to /ajax/s/<secret>/ajax/progress/…".into(),
    ))
}
