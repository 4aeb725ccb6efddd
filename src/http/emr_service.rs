//! The OpenAPI EMR service's three calls (`/emr/create/{n}`, `/emr/info/{id}`,
//! `/emr/terminate/{id}`), done through the engine: `POST /api/v1/emr/clusters
//! {"nodes": N}`, `GET` and `DELETE /api/v1/emr/clusters/{id}`. A cluster is launched from
//! the caller's first cluster offering unless the body names one; `nodes` counts the master.

use super::caller::Caller;
use super::input::Input;
use super::resources::launch_id;
use super::views::ErrorBody;
use super::{Api, ApiError};
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use mliy_core::Error;
use mliy_core::engine::Action;
use mliy_core::lifecycle::{Phase, Resource};
use mliy_core::model::Market;
use mliy_core::plan::{ClusterOptions, LaunchRequest};
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

type Answer<T> = Result<T, ApiError>;

pub(super) fn routes() -> OpenApiRouter<Arc<Api>> {
    OpenApiRouter::new().routes(routes!(create)).routes(routes!(info, terminate))
}

/// The cluster to create.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct CreateBody {
    /// Nodes in all, the master included (1 to 256).
    #[schema(minimum = 1, maximum = 256)]
    nodes: u32,
    /// The group config; the first offering's without it.
    group_config: Option<String>,
    /// The software config; the first offering's without it.
    software_config: Option<String>,
    /// The instance type; the offering's first without it.
    instance_type: Option<String>,
}

/// A cluster, as the EMR service answered.
#[derive(Serialize, ToSchema)]
struct ClusterStatus {
    /// The launch id.
    id: String,
    /// EMR's cluster id, once it has one.
    cluster_id: Option<String>,
    /// EMR's state: `STARTING`, `BOOTSTRAPPING`, `RUNNING`, `WAITING`, `TERMINATING`,
    /// `TERMINATED`, `TERMINATED_WITH_ERRORS`.
    status: String,
    /// Where to ask for this again.
    status_url: String,
    jupyterhub_url: Option<String>,
}

fn emr_state(p: &Phase) -> &'static str {
    match p {
        Phase::Requested | Phase::CreatingStack | Phase::Provisioning | Phase::Starting => "STARTING",
        Phase::Bootstrapping { .. } => "BOOTSTRAPPING",
        Phase::Running => "RUNNING",
        Phase::Terminating | Phase::Stopping | Phase::Rebooting => "TERMINATING",
        Phase::Terminated => "TERMINATED",
        Phase::TerminatedWithErrors { .. } | Phase::Failed { .. } => "TERMINATED_WITH_ERRORS",
        _ => "WAITING",
    }
}

async fn status(api: &Api, caller: &Caller, r: &Resource) -> Answer<ClusterStatus> {
    let connection = api.engine.connection(&caller.principal, &r.id).await?;
    Ok(ClusterStatus {
        id: r.id.to_string(),
        cluster_id: r.cluster_id.clone(),
        status: emr_state(&r.phase).into(),
        status_url: format!("/api/v1/emr/clusters/{}", r.id),
        jupyterhub_url: connection.jupyterhub_url,
    })
}

fn request(api: &Api, caller: &Caller, b: CreateBody) -> Answer<LaunchRequest> {
    if !(1..=256).contains(&b.nodes) {
        return Err(Error::validation("nodes", b.nodes.to_string(), "from 1 to 256, the master included").into());
    }
    let offerings = api.engine.offerings(&caller.principal)?;
    let offering = offerings
        .iter()
        .map(|o| &o.offering)
        .filter(|o| o.kind == "cluster")
        .find(|o| {
            b.group_config.as_ref().is_none_or(|g| *g == o.group_config)
                && b.software_config.as_ref().is_none_or(|s| *s == o.software_config)
        })
        .ok_or_else(|| Error::Forbidden(format!("{} may launch no such cluster", caller.principal.username)))?;
    let ty = b.instance_type.unwrap_or_else(|| offering.instance_types[0].clone());
    let options =
        ClusterOptions { core_nodes: b.nodes - 1, task_nodes: 0, market: Market::OnDemand, purpose: String::new() };
    Ok(LaunchRequest::cluster(&offering.group_config, &offering.software_config, ty, options))
}

/// Creates a cluster of `nodes` nodes.
#[utoipa::path(post, path = "/api/v1/emr/clusters", tag = "emr",
    request_body = CreateBody,
    security(("bearer" = []), ("cookie" = [])),
    responses(
        (status = 201, description = "Recorded; it launches in the background", body = ClusterStatus),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody), (status = 422, body = ErrorBody), (status = 503, body = ErrorBody),
    ))]
async fn create(
    State(api): State<Arc<Api>>,
    caller: Caller,
    Input(b): Input<CreateBody>,
) -> Answer<(StatusCode, Json<ClusterStatus>)> {
    let request = request(&api, &caller, b)?;
    let launched = api.engine.launch_cluster(&caller.principal, request).await?;
    Ok((StatusCode::CREATED, Json(status(&api, &caller, &launched.resource).await?)))
}

/// A cluster's status and JupyterHub address.
#[utoipa::path(get, path = "/api/v1/emr/clusters/{id}", tag = "emr",
    params(("id" = String, Path, description = "The launch id", pattern = "^[a-z0-9][a-z0-9-]{0,63}$")),
    security(("bearer" = []), ("cookie" = [])),
    responses(
        (status = 200, description = "Its status", body = ClusterStatus),
        (status = 401, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody),
    ))]
async fn info(State(api): State<Arc<Api>>, caller: Caller, Path(id): Path<String>) -> Answer<Json<ClusterStatus>> {
    let r = cluster(&api, &caller, &id).await?;
    Ok(Json(status(&api, &caller, &r).await?))
}

async fn cluster(api: &Api, caller: &Caller, id: &str) -> Answer<Resource> {
    let r = api.engine.get(&caller.principal, &launch_id(id)?).await?;
    if r.kind != mliy_core::lifecycle::ResourceKind::Cluster {
        return Err(Error::NotFound { kind: "cluster", name: id.to_string() }.into());
    }
    Ok(r)
}

/// Terminates a cluster.
#[utoipa::path(delete, path = "/api/v1/emr/clusters/{id}", tag = "emr",
    params(("id" = String, Path, description = "The launch id", pattern = "^[a-z0-9][a-z0-9-]{0,63}$")),
    security(("bearer" = []), ("cookie" = [])),
    responses(
        (status = 202, description = "Terminating", body = ClusterStatus),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody), (status = 422, body = ErrorBody), (status = 502, body = ErrorBody),
    ))]
async fn terminate(
    State(api): State<Arc<Api>>,
    caller: Caller,
    Path(id): Path<String>,
) -> Answer<(StatusCode, Json<ClusterStatus>)> {
    let r = cluster(&api, &caller, &id).await?;
    let r = api.engine.act(&caller.principal, &r.id, Action::Terminate).await?;
    Ok((StatusCode::ACCEPTED, Json(status(&api, &caller, &r).await?)))
}
