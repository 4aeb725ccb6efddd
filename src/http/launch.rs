//! What the caller may launch, and launching it: offerings with prices, budgets, an
//! instance, a cluster from the catalog, and (admins) a cluster from a RunJobFlow request,
//! an edX cluster file or a Step Functions state machine.

use super::caller::Caller;
use super::input::Input;
use super::views::{ErrorBody, OfferingView, ResourceView};
use super::{Api, ApiError};
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use mliy_core::engine::{BudgetStatus, WorkflowOptions};
use mliy_core::model::Market;
use mliy_core::plan::{ClusterOptions, LaunchRequest};
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

type Answer<T> = Result<T, ApiError>;

pub(super) fn routes() -> OpenApiRouter<Arc<Api>> {
    OpenApiRouter::new()
        .routes(routes!(offerings))
        .routes(routes!(budget))
        .routes(routes!(launch_instance))
        .routes(routes!(launch_cluster))
        .routes(routes!(launch_edx))
        .routes(routes!(start_workflow))
}

/// What the caller may launch, with each instance type's hourly price.
#[utoipa::path(get, path = "/api/v1/offerings", tag = "launch",
    security(("bearer" = []), ("cookie" = [])),
    responses(
        (status = 200, description = "Group config × software config, with instance types and prices", body = Vec<OfferingView>),
        (status = 401, description = "Not signed in", body = ErrorBody),
    ))]
async fn offerings(State(api): State<Arc<Api>>, caller: Caller) -> Answer<Json<Vec<OfferingView>>> {
    let all = api.engine.offerings(&caller.principal)?;
    Ok(Json(all.into_iter().map(OfferingView::from).collect()))
}

/// A group config's monthly budget: spent so far, and what happens once it is spent.
#[derive(Serialize, ToSchema)]
struct BudgetView {
    group_config: String,
    /// `2026-12`.
    month: String,
    budget: String,
    spent: String,
    /// `spent` in whole percent of `budget`.
    percent: u32,
    /// `hard` refuses launches and starts once spent, `soft` only warns.
    enforcement: String,
}

impl From<BudgetStatus> for BudgetView {
    fn from(b: BudgetStatus) -> Self {
        let enforcement = serde_json::to_value(b.enforcement).ok().and_then(|v| v.as_str().map(String::from));
        BudgetView {
            group_config: b.group_config,
            month: b.month,
            budget: b.budget.normalize().to_string(),
            spent: b.spent.normalize().to_string(),
            percent: b.percent,
            enforcement: enforcement.unwrap_or_default(),
        }
    }
}

/// A group config's budget this month; `null` when it has none.
#[utoipa::path(get, path = "/api/v1/budgets/{group_config}", tag = "launch",
    params(("group_config" = String, Path, description = "The group config")),
    security(("bearer" = []), ("cookie" = [])),
    responses(
        (status = 200, description = "Its budget", body = Option<BudgetView>),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 403, description = "Not a member", body = ErrorBody),
        (status = 404, description = "No such group config", body = ErrorBody),
    ))]
async fn budget(
    State(api): State<Arc<Api>>,
    caller: Caller,
    Path(name): Path<String>,
) -> Answer<Json<Option<BudgetView>>> {
    Ok(Json(api.engine.budget(&caller.principal, &name).await?.map(BudgetView::from)))
}

/// An instance to launch.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct InstanceBody {
    group_config: String,
    software_config: String,
    instance_type: String,
    /// GiB of the additional volume; the software config's default without it.
    volume_size: Option<u32>,
    /// Optional security groups the group config offers.
    #[serde(default)]
    optional_security_groups: Vec<String>,
}

/// A launch just recorded: the resource, and each JupyterHub user's password (given once).
#[derive(Serialize, ToSchema)]
struct LaunchedView {
    resource: ResourceView,
    /// `[user, password]` pairs; shown only here.
    jupyter_passwords: Vec<(String, String)>,
}

impl From<mliy_core::engine::Launched> for LaunchedView {
    fn from(l: mliy_core::engine::Launched) -> Self {
        let jupyter_passwords = l.jupyter_passwords.into_iter().map(|(u, p)| (u, p.expose().to_string())).collect();
        LaunchedView { resource: ResourceView::from(&l.resource), jupyter_passwords }
    }
}

/// Launches an instance.
#[utoipa::path(post, path = "/api/v1/instances", tag = "launch",
    request_body = InstanceBody,
    security(("bearer" = []), ("cookie" = [])),
    responses(
        (status = 201, description = "Recorded; it launches in the background", body = LaunchedView),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody), (status = 422, body = ErrorBody), (status = 503, body = ErrorBody),
    ))]
async fn launch_instance(
    State(api): State<Arc<Api>>,
    caller: Caller,
    Input(b): Input<InstanceBody>,
) -> Answer<(StatusCode, Json<LaunchedView>)> {
    let mut request = LaunchRequest::instance(b.group_config, b.software_config, b.instance_type)
        .with_optional_security_groups(b.optional_security_groups);
    request.volume_size = b.volume_size;
    let launched = api.engine.launch_instance(&caller.principal, request).await?;
    Ok((StatusCode::CREATED, Json(launched.into())))
}

/// A cluster to launch from the catalog.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct ClusterBody {
    group_config: String,
    software_config: String,
    /// Every node's instance type.
    instance_type: String,
    core_nodes: u32,
    #[serde(default)]
    task_nodes: u32,
    /// Spot nodes, with this bid in dollars an hour (the template's default when 0).
    spot_bid: Option<f64>,
    /// What it is for (the `Purpose` tag).
    #[serde(default)]
    purpose: String,
    /// JupyterHub users to create; each gets a password, returned once.
    #[serde(default)]
    jupyter_users: Vec<String>,
}

/// Launches a cluster from the catalog.
#[utoipa::path(post, path = "/api/v1/clusters", tag = "launch",
    request_body = ClusterBody,
    security(("bearer" = []), ("cookie" = [])),
    responses(
        (status = 201, description = "Recorded; it launches in the background", body = LaunchedView),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody), (status = 422, body = ErrorBody), (status = 503, body = ErrorBody),
    ))]
async fn launch_cluster(
    State(api): State<Arc<Api>>,
    caller: Caller,
    Input(b): Input<ClusterBody>,
) -> Answer<(StatusCode, Json<LaunchedView>)> {
    let market = match b.spot_bid {
        None => Market::OnDemand,
        Some(bid) => Market::Spot { bid: (bid > 0.0).then_some(bid) },
    };
    let options = ClusterOptions { core_nodes: b.core_nodes, task_nodes: b.task_nodes, market, purpose: b.purpose };
    let request = LaunchRequest::cluster(b.group_config, b.software_config, b.instance_type, options)
        .with_jupyter_users(b.jupyter_users);
    let launched = api.engine.launch_cluster(&caller.principal, request).await?;
    Ok((StatusCode::CREATED, Json(launched.into())))
}

/// A cluster from an edX cluster file (admins).
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct EdxBody {
    /// Whose quotas, budget and cost center it counts against.
    group_config: String,
    /// The edX cluster file (YAML).
    cluster: String,
}

/// Launches a cluster from an edX cluster file (admins only: it picks its own network,
/// roles and nodes).
#[utoipa::path(post, path = "/api/v1/clusters/edx", tag = "admin",
    request_body = EdxBody,
    security(("bearer" = []), ("cookie" = [])),
    responses(
        (status = 201, description = "Recorded; it launches in the background", body = ResourceView),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 422, body = ErrorBody), (status = 503, body = ErrorBody),
    ))]
async fn launch_edx(
    State(api): State<Arc<Api>>,
    caller: Caller,
    Input(b): Input<EdxBody>,
) -> Answer<(StatusCode, Json<ResourceView>)> {
    caller.admin("launch clusters from edX files")?;
    let cluster = mliy_core::import::edx::read_edx_cluster(&b.cluster)?;
    let id = api.engine.launch_cluster_spec(&caller.principal, &b.group_config, cluster.spec).await?;
    let r = api.engine.get(&caller.principal, &id).await?;
    Ok((StatusCode::CREATED, Json(ResourceView::from(&r))))
}

/// A Step Functions state machine to run (admins).
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct WorkflowBody {
    group_config: String,
    /// The state machine (Amazon States Language, JSON).
    definition: String,
    /// The execution's input.
    #[serde(default)]
    #[schema(value_type = Object)]
    input: serde_json::Value,
    #[serde(default)]
    terminate_on_failure: bool,
}

/// Starts a workflow: its cluster is recorded now and its states run in the background
/// (follow them on the cluster's events). Admins only.
#[utoipa::path(post, path = "/api/v1/workflows", tag = "admin",
    request_body = WorkflowBody,
    security(("bearer" = []), ("cookie" = [])),
    responses(
        (status = 202, description = "Started: the cluster it launches", body = ResourceView),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 422, body = ErrorBody), (status = 503, body = ErrorBody),
    ))]
async fn start_workflow(
    State(api): State<Arc<Api>>,
    caller: Caller,
    Input(b): Input<WorkflowBody>,
) -> Answer<(StatusCode, Json<ResourceView>)> {
    caller.admin("run workflows")?;
    let input = if b.input.is_null() { serde_json::json!({}) } else { b.input };
    let options = WorkflowOptions { terminate_on_failure: b.terminate_on_failure };
    let p = caller.principal;
    let id = api.engine.start_workflow(&p, &b.group_config, &b.definition, input, options).await?;
    let r = api.engine.get(&p, &id).await?;
    let (engine, run) = (api.engine.clone(), id.clone());
    tokio::spawn(async move {
        if let Err(e) = engine.run_workflow(&p, &run).await {
            tracing::warn!(target: "mliy::http", id = %run, error = %e, "workflow stopped");
        }
    });
    Ok((StatusCode::ACCEPTED, Json(ResourceView::from(&r))))
}
