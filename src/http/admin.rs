//! Admins only: every resource, the machines MLiy launched that mliy does not manage yet,
//! adopting one, and the cost report.

use super::caller::Caller;
use super::input::Input;
use super::input::Q as Query;
use super::resources::page;
use super::views::{ErrorBody, ListQuery, ResourcePage, ResourceView};
use super::{Api, ApiError};
use axum::Json;
use axum::extract::State;
use mliy_core::Error;
use mliy_core::clock::Timestamp;
use mliy_core::engine::{Adoption, CostBy};
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

type Answer<T> = Result<T, ApiError>;

pub(super) fn routes() -> OpenApiRouter<Arc<Api>> {
    OpenApiRouter::new().routes(routes!(all)).routes(routes!(unmanaged)).routes(routes!(adopt)).routes(routes!(cost))
}

/// Every resource (archived ones with `archived=true`).
#[utoipa::path(get, path = "/api/v1/admin/resources", tag = "admin", params(ListQuery),
    security(("bearer" = []), ("cookie" = [])),
    responses(
        (status = 200, description = "A page, newest first", body = ResourcePage),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody),
    ))]
async fn all(State(api): State<Arc<Api>>, caller: Caller, Query(q): Query<ListQuery>) -> Answer<Json<ResourcePage>> {
    caller.admin("list every resource")?;
    let all = api.engine.list(&caller.principal, q.archived.unwrap_or(false)).await?;
    Ok(Json(page(all, &q)?))
}

/// A machine MLiy launched that mliy does not manage.
#[derive(Serialize, ToSchema)]
struct UnmanagedView {
    /// `instance` or `cluster`.
    kind: String,
    /// The EC2 instance id or the EMR cluster id.
    id: String,
    /// What adopting it by its tags would record, or why it cannot be.
    owner: Option<String>,
    group_config: Option<String>,
    software_config: Option<String>,
    refused: Option<String>,
}

/// The machines MLiy launched that mliy does not manage yet, and what adopting each would do.
#[utoipa::path(get, path = "/api/v1/admin/unmanaged", tag = "admin",
    security(("bearer" = []), ("cookie" = [])),
    responses(
        (status = 200, description = "The machines", body = Vec<UnmanagedView>),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 502, body = ErrorBody),
    ))]
async fn unmanaged(State(api): State<Arc<Api>>, caller: Caller) -> Answer<Json<Vec<UnmanagedView>>> {
    caller.admin("look for machines to adopt")?;
    let found = api.engine.unmanaged_mliy_machines(&caller.principal).await?;
    let view = |m: &mliy_core::engine::Unmanaged| {
        let plan = Adoption::from_tags(m, api.engine.catalog());
        let (owner, group_config, software_config, refused) = match plan {
            Ok(p) => (Some(p.owner), Some(p.group_config), Some(p.software_config), None),
            Err(e) => (None, None, None, Some(e.to_string())),
        };
        UnmanagedView { kind: m.kind.name().into(), id: m.id.clone(), owner, group_config, software_config, refused }
    };
    Ok(Json(found.iter().map(view).collect()))
}

/// The machine to adopt.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct AdoptBody {
    /// The EC2 instance id or the EMR cluster id, as `GET /api/v1/admin/unmanaged` lists it.
    id: String,
}

/// Adopts an unmanaged machine by its tags: it is recorded and managed from now on.
#[utoipa::path(post, path = "/api/v1/admin/adopt", tag = "admin",
    request_body = AdoptBody,
    security(("bearer" = []), ("cookie" = [])),
    responses(
        (status = 200, description = "The new record", body = ResourceView),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody), (status = 422, body = ErrorBody), (status = 502, body = ErrorBody),
    ))]
async fn adopt(State(api): State<Arc<Api>>, caller: Caller, Input(b): Input<AdoptBody>) -> Answer<Json<ResourceView>> {
    caller.admin("adopt machines")?;
    let found = api.engine.unmanaged_mliy_machines(&caller.principal).await?;
    let machine = found
        .iter()
        .find(|m| m.id == b.id)
        .ok_or_else(|| Error::NotFound { kind: "unmanaged machine", name: b.id.clone() })?;
    let plan = Adoption::from_tags(machine, api.engine.catalog())?;
    let r = api.engine.adopt(&caller.principal, &plan).await?;
    Ok(Json(ResourceView::from(&r)))
}

/// The cost report's range and grouping.
#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct CostQuery {
    /// Start, RFC 3339 UTC (`2026-12-01T00:00:00Z`).
    from: String,
    /// End, RFC 3339 UTC.
    to: String,
    /// `user`, `group_config`, `cost_center` or `software_config` (`user` by default).
    by: Option<String>,
}

/// What every resource cost in a range, by user, group config, cost center or software
/// config (the engine's `CostReport`, dollars as strings).
#[utoipa::path(get, path = "/api/v1/admin/cost", tag = "admin", params(CostQuery),
    security(("bearer" = []), ("cookie" = [])),
    responses(
        (status = 200, description = "The report", body = Object),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody),
    ))]
async fn cost(
    State(api): State<Arc<Api>>,
    caller: Caller,
    Query(q): Query<CostQuery>,
) -> Answer<Json<serde_json::Value>> {
    caller.admin("see every resource's cost")?;
    let at = |field: &str, v: &str| {
        Timestamp::parse_utc(v).ok_or_else(|| ApiError(Error::validation(field, v, "an RFC 3339 UTC time")))
    };
    let by: CostBy = q.by.as_deref().unwrap_or("user").parse()?;
    let report = api.engine.cost_report(&caller.principal, at("from", &q.from)?, at("to", &q.to)?, by).await?;
    Ok(Json(serde_json::to_value(report).map_err(|e| Error::parse("cost report", e.to_string()))?))
}
