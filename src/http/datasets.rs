//! Datasets in S3 and the notebooks that use them, within the deployment's configured
//! prefixes only: nothing outside [`DatasetsSource::prefixes`] is listed or scanned, and a
//! user who is not an admin sees only their own notebooks.

use super::caller::Caller;
use super::input::Q as Query;
use super::views::ErrorBody;
use super::{Api, ApiError};
use axum::Json;
use axum::extract::State;
use mliy_core::Error;
use mliy_core::objects::{ObjectStore, S3Location};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::sync::Arc;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

type Answer<T> = Result<T, ApiError>;

/// Where `/api/v1/datasets` reads: the store and the locations it may read.
#[derive(Debug, Clone)]
pub struct DatasetsSource {
    /// S3 (or any [`ObjectStore`]).
    pub objects: Arc<dyn ObjectStore>,
    /// The prefixes datasets are listed under.
    pub prefixes: Vec<S3Location>,
    /// JupyterHub's notebooks (`s3://bucket/jupyter/`).
    pub notebooks: Option<S3Location>,
}

pub(super) fn routes() -> OpenApiRouter<Arc<Api>> {
    OpenApiRouter::new().routes(routes!(list)).routes(routes!(used_by))
}

/// Which datasets to list.
#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct ListQuery {
    /// Only under this `s3://bucket/prefix`, itself under a configured prefix.
    #[param(pattern = "^s3://[a-z0-9][a-z0-9.-]{1,61}[a-z0-9](/.*)?$")]
    prefix: Option<String>,
    /// How many folders below the prefix a dataset is (1–10, 1 by default).
    #[param(minimum = 1, maximum = 10)]
    depth: Option<usize>,
}

/// A prefix holding data files.
#[derive(Serialize, ToSchema)]
struct DatasetView {
    uri: String,
    objects: u64,
    bytes: u64,
    last_modified: String,
    /// Data files by format (`parquet`, `csv.gz`, …).
    formats: BTreeMap<String, u64>,
}

/// The datasets found.
#[derive(Serialize, ToSchema)]
struct DatasetList {
    datasets: Vec<DatasetView>,
}

fn source(api: &Api) -> Answer<&DatasetsSource> {
    let none = || Error::NotFound { kind: "datasets", name: "this deployment's s3.datasets".into() };
    api.config.datasets.as_ref().ok_or_else(|| ApiError(none()))
}

/// `uri` parsed, and checked to lie under a configured prefix.
fn allowed(source: &DatasetsSource, field: &str, uri: &str) -> Answer<S3Location> {
    let at = S3Location::parse(field, uri)?;
    if !source.prefixes.iter().any(|p| p.covers(&at)) {
        return Err(ApiError(Error::Forbidden(format!("{uri} is outside the deployment's dataset prefixes"))));
    }
    Ok(at)
}

/// The datasets under the configured prefixes (or one of them, or a prefix below one).
#[utoipa::path(get, path = "/api/v1/datasets", tag = "datasets", params(ListQuery),
    security(("bearer" = []), ("cookie" = [])),
    responses(
        (status = 200, description = "The datasets", body = DatasetList),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 422, body = ErrorBody), (status = 502, body = ErrorBody), (status = 503, body = ErrorBody),
    ))]
async fn list(State(api): State<Arc<Api>>, _caller: Caller, Query(q): Query<ListQuery>) -> Answer<Json<DatasetList>> {
    let source = source(&api)?;
    let depth = q.depth.unwrap_or(1);
    if !(1..=10).contains(&depth) {
        return Err(ApiError(Error::validation("depth", depth.to_string(), "from 1 to 10")));
    }
    let prefixes = match &q.prefix {
        Some(p) => vec![allowed(source, "prefix", p)?],
        None => source.prefixes.clone(),
    };
    let mut datasets = Vec::new();
    for p in &prefixes {
        for d in mliy_core::datasets::list(source.objects.as_ref(), p, depth).await? {
            let last_modified = d.last_modified.utc();
            datasets.push(DatasetView {
                uri: d.uri,
                objects: d.objects,
                bytes: d.bytes,
                last_modified,
                formats: d.formats,
            });
        }
    }
    Ok(Json(DatasetList { datasets }))
}

/// Which dataset's notebooks to find.
#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct UsedByQuery {
    /// The dataset, `s3://bucket/prefix`, under a configured prefix.
    #[param(pattern = "^s3://[a-z0-9][a-z0-9.-]{1,61}[a-z0-9](/.*)?$")]
    dataset: String,
}

/// A code cell that names the dataset.
#[derive(Serialize, ToSchema)]
struct UseView {
    notebook: String,
    owner: String,
    cell: usize,
    /// The path the cell names.
    #[serde(rename = "match")]
    matched: String,
}

/// A notebook that could not be read.
#[derive(Serialize, ToSchema)]
struct NotebookErrorView {
    notebook: String,
    message: String,
}

/// The notebooks that use a dataset, and those that could not be read.
#[derive(Serialize, ToSchema)]
struct UsedByView {
    notebooks: Vec<UseView>,
    errors: Vec<NotebookErrorView>,
}

/// The notebooks whose code names a dataset (admins: everyone's; others: their own).
#[utoipa::path(get, path = "/api/v1/datasets/used-by", tag = "datasets", params(UsedByQuery),
    security(("bearer" = []), ("cookie" = [])),
    responses(
        (status = 200, description = "The notebooks", body = UsedByView),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 422, body = ErrorBody), (status = 502, body = ErrorBody), (status = 503, body = ErrorBody),
    ))]
async fn used_by(
    State(api): State<Arc<Api>>,
    caller: Caller,
    Query(q): Query<UsedByQuery>,
) -> Answer<Json<UsedByView>> {
    let source = source(&api)?;
    let dataset = allowed(source, "dataset", &q.dataset)?;
    let none = || Error::NotFound { kind: "notebooks", name: "this deployment's s3.notebooks".into() };
    let notebooks = source.notebooks.as_ref().ok_or_else(none)?;
    let owner = (!caller.principal.admin).then_some(caller.principal.username.as_str());
    let found = mliy_core::datasets::used_by(source.objects.as_ref(), notebooks, &dataset, owner).await?;
    Ok(Json(UsedByView {
        notebooks: found
            .notebooks
            .into_iter()
            .map(|u| UseView { notebook: u.notebook, owner: u.owner, cell: u.cell, matched: u.matched })
            .collect(),
        errors: found
            .errors
            .into_iter()
            .map(|e| NotebookErrorView { notebook: e.notebook, message: e.message })
            .collect(),
    }))
}
