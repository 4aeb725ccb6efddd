//! S3's commands: `catalog sync` (templates and scripts into the catalog's library),
//! `datasets list` and `datasets used-by`. S3 is reached with the deployment's `cloud.aws`
//! settings when `--config` names one, else with the usual AWS environment
//! (`AWS_ENDPOINT_URL`, `AWS_REGION`, profiles, roles).

use crate::Output;
use crate::admin::block_on;
use clap::{Args, Subcommand};
use mliy::config::DeploymentConfig;
use mliy::error::{Error, Result};
use mliy::library::{Library, SyncOptions, SyncReport, in_use, sync};
use mliy::objects::{FolderObjects, ObjectStore, S3Location};
use mliy::store::ResourceFilter;
use serde_json::json;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// The library's folder beside the catalog file, as software configs name its documents.
const LIBRARY_DIR: &str = "library";

#[derive(Args)]
pub(crate) struct SyncArgs {
    /// Where the templates and scripts are: a folder or `s3://bucket/prefix`.
    #[arg(long)]
    from: String,
    /// The library folder to sync into (by default `library/` beside the deployment's catalog).
    #[arg(long)]
    into: Option<PathBuf>,
    /// Say what would change, and change nothing.
    #[arg(long)]
    dry_run: bool,
    /// Remove what the source no longer holds (never what a live resource uses); needs the
    /// deployment (`--config` or `MLIY_CONFIG`) to know what is in use.
    #[arg(long)]
    prune: bool,
    /// The deployment config (else `MLIY_CONFIG`).
    #[arg(long)]
    config: Option<PathBuf>,
    /// Print JSON.
    #[arg(long)]
    pub(crate) json: bool,
}

#[derive(Subcommand)]
pub(crate) enum DatasetsCommand {
    /// The datasets under a prefix (or the deployment's `s3.datasets`): size, objects,
    /// last write and formats.
    List(ListArgs),
    /// The notebooks whose code cells name a dataset.
    UsedBy(UsedByArgs),
}

impl DatasetsCommand {
    pub(crate) fn json(&self) -> bool {
        match self {
            DatasetsCommand::List(a) => a.json,
            DatasetsCommand::UsedBy(a) => a.json,
        }
    }
}

#[derive(Args)]
pub(crate) struct ListArgs {
    /// `s3://bucket/prefix`; repeat for several (by default the deployment's `s3.datasets`).
    #[arg(long)]
    prefix: Vec<String>,
    /// How many folders below the prefix a dataset is (1: its children).
    #[arg(long, default_value_t = 1)]
    depth: usize,
    /// The deployment config (else `MLIY_CONFIG`), for `s3.datasets` and `cloud.aws`.
    #[arg(long)]
    config: Option<PathBuf>,
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

#[derive(Args)]
pub(crate) struct UsedByArgs {
    /// The dataset, `s3://bucket/prefix`.
    dataset: String,
    /// JupyterHub's notebooks, `s3://bucket/jupyter/` (by default the deployment's `s3.notebooks`).
    #[arg(long)]
    notebooks: Option<String>,
    /// Only this user's notebooks.
    #[arg(long)]
    owner: Option<String>,
    /// The deployment config (else `MLIY_CONFIG`).
    #[arg(long)]
    config: Option<PathBuf>,
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

/// The deployment config when one is named (`--config` or `MLIY_CONFIG`).
fn deployment(path: Option<&Path>) -> Result<Option<DeploymentConfig>> {
    if path.is_none() && std::env::var_os(mliy::config::CONFIG_ENV).is_none() {
        return Ok(None);
    }
    DeploymentConfig::locate(path).map(Some)
}

fn to_json(value: &impl serde::Serialize) -> Result<serde_json::Value> {
    serde_json::to_value(value).map_err(|e| Error::parse("output", e.to_string()))
}

pub(crate) fn catalog_sync(args: &SyncArgs) -> Result<Output> {
    block_on(async {
        let config = deployment(args.config.as_deref())?;
        if args.prune && config.is_none() {
            return Err(Error::validation(
                "--prune",
                "given",
                "needs the deployment (--config or MLIY_CONFIG) to know what live resources use",
            ));
        }
        let (source, from): (Arc<dyn ObjectStore>, S3Location) = if args.from.starts_with("s3://") {
            (mliy::registry::objects(config.as_ref()).await?, S3Location::parse("--from", &args.from)?)
        } else {
            let folder = FolderObjects::new(&args.from);
            if !Path::new(&args.from).is_dir() {
                return Err(Error::validation("--from", &args.from, "a folder or s3://bucket/prefix"));
            }
            let at = folder.location();
            (Arc::new(folder), at)
        };
        let mut library = Library::open(library_dir(args, config.as_ref())?)?;
        let used = match &config {
            Some(c) => live_documents(c).await?,
            None => Default::default(),
        };
        let options = SyncOptions { dry_run: args.dry_run, prune: args.prune };
        let report = sync(source.as_ref(), &from, &mut library, &used, options).await?;
        let human = sync_text(&report);
        let code = if report.rejected.is_empty() { 0 } else { 2 };
        Ok(Output { code, ..Output::new(to_json(&report)?, human) })
    })
}

fn library_dir(args: &SyncArgs, config: Option<&DeploymentConfig>) -> Result<PathBuf> {
    if let Some(into) = &args.into {
        return Ok(into.clone());
    }
    let no_library = || Error::validation("--into", "", "name the library folder, or a deployment with a catalog");
    let catalog = config.and_then(|c| mliy::registry::catalog_file(c).ok()).ok_or_else(no_library)?;
    Ok(catalog.parent().unwrap_or(Path::new(".")).join(LIBRARY_DIR))
}

/// The library documents that the software configs of the deployment's live resources use.
async fn live_documents(config: &DeploymentConfig) -> Result<std::collections::BTreeSet<String>> {
    // The catalog's paths only: its documents may be the very ones being synced.
    let path = mliy::registry::catalog_file(config)?;
    let catalog = mliy::model::Catalog::from_yaml_str(&mliy::files::read_bounded(&path, mliy::files::MAX_FILE_BYTES)?)?;
    let store = mliy::registry::store(&config.store, &config.base).await?;
    let all = ResourceFilter { include_archived: true, ..ResourceFilter::default() };
    let resources = store.list_resources(&all).await?;
    let live = resources.iter().filter(|r| !r.phase.is_terminal()).map(|r| r.software_config.as_str());
    Ok(in_use(&catalog, live, Path::new(LIBRARY_DIR)))
}

fn sync_text(r: &SyncReport) -> String {
    let verb = if r.dry_run { "would be " } else { "" };
    let mut out = format!(
        "{}: {} added, {} changed, {} unchanged, {} missing ({} {verb}removed, {} kept in use), {} downloaded\n",
        r.source,
        r.added.len(),
        r.changed.len(),
        r.unchanged.len(),
        r.missing.len(),
        r.removed.len(),
        r.kept_in_use.len(),
        r.downloads
    );
    for e in r.added.iter().chain(&r.changed) {
        out.push_str(&format!("  {} ({:?})\n", e.key, e.kind));
    }
    for x in &r.rejected {
        out.push_str(&format!("  rejected {}: {}\n", x.key, x.message));
    }
    out
}

pub(crate) fn datasets(c: &DatasetsCommand) -> Result<Output> {
    match c {
        DatasetsCommand::List(args) => block_on(list(args)),
        DatasetsCommand::UsedBy(args) => block_on(used_by(args)),
    }
}

async fn list(args: &ListArgs) -> Result<Output> {
    let config = deployment(args.config.as_deref())?;
    let mut prefixes = args.prefix.iter().map(|p| S3Location::parse("--prefix", p)).collect::<Result<Vec<_>>>()?;
    if prefixes.is_empty() {
        prefixes = match &config {
            Some(c) => mliy::registry::s3_locations(c)?.0,
            None => Vec::new(),
        };
    }
    if prefixes.is_empty() {
        return Err(Error::validation("--prefix", "", "give s3://bucket/prefix, or a deployment with s3.datasets"));
    }
    let s3 = mliy::registry::objects(config.as_ref()).await?;
    let mut all = Vec::new();
    for p in &prefixes {
        all.extend(mliy::datasets::list(s3.as_ref(), p, args.depth).await?);
    }
    let mut human = String::new();
    for d in &all {
        let formats: Vec<String> = d.formats.iter().map(|(f, n)| format!("{f} {n}")).collect();
        human.push_str(&format!("{}  {} objects, {} bytes, {}\n", d.uri, d.objects, d.bytes, formats.join(", ")));
    }
    Ok(Output::new(json!({ "datasets": all }), human))
}

async fn used_by(args: &UsedByArgs) -> Result<Output> {
    let config = deployment(args.config.as_deref())?;
    let dataset = S3Location::parse("dataset", &args.dataset)?;
    let notebooks = match (&args.notebooks, &config) {
        (Some(n), _) => S3Location::parse("--notebooks", n)?,
        (None, Some(c)) => mliy::registry::s3_locations(c)?.1.ok_or_else(|| {
            Error::validation("--notebooks", "", "give s3://bucket/jupyter/, or a deployment with s3.notebooks")
        })?,
        (None, None) => return Err(Error::validation("--notebooks", "", "give s3://bucket/jupyter/")),
    };
    let s3 = mliy::registry::objects(config.as_ref()).await?;
    let found = mliy::datasets::used_by(s3.as_ref(), &notebooks, &dataset, args.owner.as_deref()).await?;
    let mut human = String::new();
    for u in &found.notebooks {
        human.push_str(&format!("{} ({}) cell {}: {}\n", u.notebook, u.owner, u.cell, u.matched));
    }
    for e in &found.errors {
        human.push_str(&format!("unreadable {}: {}\n", e.notebook, e.message));
    }
    Ok(Output::new(to_json(&found)?, human))
}
