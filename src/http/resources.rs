//! The caller's resources: `GET /api/v1/resources` (paged, filtered), one with how to reach
//! it, its cost so far and its events, and its actions (POST only).

use super::caller::Caller;
use super::input::Input;
use super::input::Q as Query;
use super::views::{
    ActBody, ConnectionView, ErrorBody, EventView, ListQuery, ResourceDetail, ResourcePage, ResourceView, cost_so_far,
};
use super::{Api, ApiError};
use axum::Json;
use axum::extract::{Path, State};
use mliy_core::Error;
use mliy_core::engine::Action;
use mliy_core::lifecycle::Resource;
use mliy_core::model::LaunchId;
use mliy_core::model::emr::InstanceRole;
use std::sync::Arc;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

type Answer<T> = Result<T, ApiError>;

/// The most resources on one page.
pub(crate) const MAX_PAGE: usize = 500;

pub(super) fn routes() -> OpenApiRouter<Arc<Api>> {
    OpenApiRouter::new().routes(routes!(list)).routes(routes!(one)).routes(routes!(events)).routes(routes!(act))
}

pub(crate) fn launch_id(id: &str) -> Answer<LaunchId> {
    LaunchId::parse(id).map_err(ApiError)
}

/// One page of `all`, filtered by `q`, newest first.
pub(crate) fn page(mut all: Vec<Resource>, q: &ListQuery) -> Answer<ResourcePage> {
    let limit = q.limit.unwrap_or(100);
    if !(1..=MAX_PAGE).contains(&limit) {
        return Err(Error::validation("limit", limit.to_string(), format!("from 1 to {MAX_PAGE}")).into());
    }
    if let Some(kind) = q.kind.as_deref().filter(|k| !["instance", "cluster"].contains(k)) {
        return Err(Error::validation("kind", kind, "instance or cluster").into());
    }
    if let Some(phase) = q.phase.as_deref().filter(|p| !mliy_core::lifecycle::Phase::NAMES.contains(p)) {
        return Err(Error::validation("phase", phase, "the name of a phase").into());
    }
    all.retain(|r| {
        q.kind.as_deref().is_none_or(|k| r.kind.name() == k)
            && q.phase.as_deref().is_none_or(|p| r.phase.name() == p)
            && q.group_config.as_deref().is_none_or(|g| r.group_config == g)
    });
    all.sort_by(|a, b| b.created_at.cmp(&a.created_at).then_with(|| a.id.to_string().cmp(&b.id.to_string())));
    let (total, offset) = (all.len(), q.offset.unwrap_or(0));
    let items: Vec<ResourceView> = all.iter().skip(offset).take(limit).map(ResourceView::from).collect();
    let next_offset = (offset.saturating_add(limit) < total).then(|| offset + limit);
    Ok(ResourcePage { items, total, next_offset })
}

/// The caller's resources (a manager's include their groups'; an admin's, everyone's).
#[utoipa::path(get, path = "/api/v1/resources", tag = "resources", params(ListQuery),
    security(("bearer" = []), ("cookie" = [])),
    responses(
        (status = 200, description = "A page, newest first", body = ResourcePage),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 422, description = "A bad filter", body = ErrorBody),
    ))]
async fn list(State(api): State<Arc<Api>>, caller: Caller, Query(q): Query<ListQuery>) -> Answer<Json<ResourcePage>> {
    let all = api.engine.list(&caller.principal, q.archived.unwrap_or(false)).await?;
    Ok(Json(page(all, &q)?))
}

/// One resource: phase, progress, addresses, how to connect, cost so far, events.
#[utoipa::path(get, path = "/api/v1/resources/{id}", tag = "resources",
    params(("id" = String, Path, description = "The launch id", pattern = "^[a-z0-9][a-z0-9-]{0,63}$")),
    security(("bearer" = []), ("cookie" = [])),
    responses(
        (status = 200, description = "The resource", body = ResourceDetail),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 404, description = "No such resource the caller may see", body = ErrorBody),
        (status = 422, description = "Not a launch id", body = ErrorBody),
    ))]
async fn one(State(api): State<Arc<Api>>, caller: Caller, Path(id): Path<String>) -> Answer<Json<ResourceDetail>> {
    let (p, id) = (&caller.principal, launch_id(&id)?);
    let r = api.engine.get(p, &id).await?;
    let connection = api.engine.connection(p, &id).await?;
    let cost = api.engine.resource_cost(p, &id).await?;
    let events = api.engine.events(p, &id).await?;
    Ok(Json(ResourceDetail {
        resource: ResourceView::from(&r),
        connection: ConnectionView::from(connection),
        cost_so_far: cost_so_far(cost),
        events: events.iter().map(EventView::from).collect(),
    }))
}

/// A resource's event history, oldest first.
#[utoipa::path(get, path = "/api/v1/resources/{id}/events", tag = "resources",
    params(("id" = String, Path, description = "The launch id", pattern = "^[a-z0-9][a-z0-9-]{0,63}$")),
    security(("bearer" = []), ("cookie" = [])),
    responses(
        (status = 200, description = "Its events", body = Vec<EventView>),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 404, description = "No such resource the caller may see", body = ErrorBody),
        (status = 422, description = "Not a launch id", body = ErrorBody),
    ))]
async fn events(State(api): State<Arc<Api>>, caller: Caller, Path(id): Path<String>) -> Answer<Json<Vec<EventView>>> {
    let events = api.engine.events(&caller.principal, &launch_id(&id)?).await?;
    Ok(Json(events.iter().map(EventView::from).collect()))
}

pub(crate) fn action(name: &str, body: ActBody) -> Answer<Action> {
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

/// Acts on a resource: start, stop, restart, terminate, archive, extend (`hours`) or resize
/// (`group`, `count`).
#[utoipa::path(post, path = "/api/v1/resources/{id}/actions/{action}", tag = "resources",
    params(("id" = String, Path, description = "The launch id", pattern = "^[a-z0-9][a-z0-9-]{0,63}$"), ("action" = String, Path, description = "The action", pattern = "^(start|stop|restart|terminate|archive|extend|resize)$")),
    request_body = ActBody,
    security(("bearer" = []), ("cookie" = [])),
    responses(
        (status = 200, description = "The resource after the action was recorded", body = ResourceView),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 403, description = "Not allowed", body = ErrorBody),
        (status = 404, description = "No such resource the caller may see", body = ErrorBody),
        (status = 409, description = "Not in a phase that allows it", body = ErrorBody),
        (status = 422, description = "An unknown action or a bad argument", body = ErrorBody),
        (status = 429, description = "Throttled by the cloud", body = ErrorBody),
        (status = 502, description = "The cloud failed", body = ErrorBody),
        (status = 503, description = "Shutting down", body = ErrorBody),
    ))]
async fn act(
    State(api): State<Arc<Api>>,
    caller: Caller,
    Path((id, name)): Path<(String, String)>,
    body: Option<Input<ActBody>>,
) -> Answer<Json<ResourceView>> {
    let action = action(&name, body.map(|Input(b)| b).unwrap_or_default())?;
    let r = api.engine.act(&caller.principal, &launch_id(&id)?, action).await?;
    Ok(Json(ResourceView::from(&r)))
}
