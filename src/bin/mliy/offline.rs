//! The offline tools: templates, user data, MLiy's catalog import and launch plans. They
//! read files and call nothing.

use crate::Output;
use clap::{Args, Subcommand};
use mliy::error::Error;
use mliy::import::{MliyImport, import_mliy};
use mliy::model::{Catalog, LaunchId, Market, Principal};
use mliy::plan::{ClusterOptions, LaunchRequest, Planner};
use mliy::template::Template;
use mliy::userdata;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::path::{Component, Path, PathBuf};

#[derive(Subcommand)]
pub(crate) enum TemplateCommand {
    /// List a template's parameters (with constraints), outputs and resources.
    Inspect {
        /// The template (JSON or YAML).
        file: PathBuf,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Subcommand)]
pub(crate) enum UserdataCommand {
    /// Replace `{{{TOKEN}}}`s and check the result against CloudFormation's size limit.
    Render {
        /// The script.
        script: PathBuf,
        /// A JSON object of token → value.
        #[arg(long)]
        params: PathBuf,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Subcommand)]
pub(crate) enum CatalogCommand {
    /// Import MLiy's Django fixture into a catalog file.
    ImportMliy(ImportArgs),
    /// Sync templates and user-data scripts from a folder or S3 into the catalog's library
    /// (MLiy's `manage.py sync_cf`).
    Sync(crate::datasets::SyncArgs),
}

#[derive(Args)]
pub(crate) struct ImportArgs {
    /// MLiy's fixture (simpledb.json).
    fixture: PathBuf,
    /// MLiy's instance-type fixture.
    #[arg(long)]
    instance_types: Option<PathBuf>,
    /// A software config's template: NAME=PATH.
    #[arg(long = "template", value_parser = name_path)]
    templates: Vec<(String, PathBuf)>,
    /// A software config's user-data script: NAME=PATH.
    #[arg(long = "user-data", value_parser = name_path)]
    user_data: Vec<(String, PathBuf)>,
    /// A software config's AMI, replacing the fixture's: NAME=ID.
    #[arg(long = "ami-id", value_parser = name_value)]
    ami_ids: Vec<(String, String)>,
    /// Subnet for every group config (MLiy used the portal host's own).
    #[arg(long)]
    subnet_id: Option<String>,
    /// That subnet's availability zone.
    #[arg(long)]
    availability_zone: Option<String>,
    /// The catalog file to write (YAML).
    #[arg(long)]
    out: PathBuf,
    /// Print JSON.
    #[arg(long)]
    pub(crate) json: bool,
}

#[derive(Args)]
pub(crate) struct PlanArgs {
    /// The catalog file.
    #[arg(long)]
    catalog: PathBuf,
    /// The launching user's name.
    #[arg(long)]
    user: String,
    /// The user's display name (the `User` tag).
    #[arg(long)]
    display_name: Option<String>,
    /// A group the user belongs to (repeatable).
    #[arg(long = "group", required = true)]
    groups: Vec<String>,
    #[command(flatten)]
    request: RequestArgs,
    /// Print JSON.
    #[arg(long)]
    pub(crate) json: bool,
}

/// What to launch: the flags `mliy plan` and `mliy launch` share.
#[derive(Args)]
pub(crate) struct RequestArgs {
    /// The group config to launch under.
    #[arg(long)]
    group_config: String,
    /// The software config to launch.
    #[arg(long)]
    software_config: String,
    /// The instance type.
    #[arg(long)]
    instance_type: String,
    /// Optional security group to add (repeatable).
    #[arg(long = "security-group")]
    security_groups: Vec<String>,
    /// Size of the additional volume in GiB.
    #[arg(long)]
    volume_size: Option<u32>,
    /// The launch id (random when not given).
    #[arg(long)]
    launch_id: Option<String>,
    /// Launch an EMR cluster.
    #[arg(long)]
    cluster: bool,
    /// Core nodes (clusters).
    #[arg(long, default_value_t = 2, requires = "cluster")]
    core_nodes: u32,
    /// Task nodes (clusters).
    #[arg(long, default_value_t = 0, requires = "cluster")]
    task_nodes: u32,
    /// Use spot instances (clusters).
    #[arg(long, requires = "cluster")]
    spot: bool,
    /// Spot bid in dollars per hour.
    #[arg(long, requires = "spot")]
    bid: Option<f64>,
    /// What the cluster is for.
    #[arg(long, default_value = "", requires = "cluster")]
    purpose: String,
    /// A JupyterHub user to create (repeatable; a cluster that runs JupyterHub). Its
    /// password is printed once by `mliy launch`.
    #[arg(long = "jupyter-user", requires = "cluster")]
    jupyter_users: Vec<String>,
}

impl RequestArgs {
    /// The launch request these flags describe.
    pub(crate) fn request(&self) -> Result<LaunchRequest, Error> {
        let mut request = LaunchRequest::instance(&self.group_config, &self.software_config, &self.instance_type)
            .with_optional_security_groups(&self.security_groups);
        if let Some(id) = &self.launch_id {
            request = request.with_launch_id(LaunchId::parse(id)?);
        }
        request.volume_size = self.volume_size;
        request.jupyter_users = self.jupyter_users.clone();
        if self.cluster {
            request.cluster = Some(ClusterOptions {
                core_nodes: self.core_nodes,
                task_nodes: self.task_nodes,
                market: if self.spot { Market::Spot { bid: self.bid } } else { Market::OnDemand },
                purpose: self.purpose.clone(),
            });
        }
        Ok(request)
    }
}

fn name_path(arg: &str) -> Result<(String, PathBuf), String> {
    name_value(arg)
        .map(|(name, path)| (name, PathBuf::from(path)))
        .map_err(|_| format!("expected NAME=PATH, got {arg:?}"))
}

fn name_value(arg: &str) -> Result<(String, String), String> {
    match arg.split_once('=') {
        Some((name, value)) if !name.is_empty() && !value.is_empty() => Ok((name.to_string(), value.to_string())),
        _ => Err(format!("expected NAME=VALUE, got {arg:?}")),
    }
}

impl TemplateCommand {
    pub(crate) fn json(&self) -> bool {
        match self {
            TemplateCommand::Inspect { json, .. } => *json,
        }
    }
}

impl UserdataCommand {
    pub(crate) fn json(&self) -> bool {
        match self {
            UserdataCommand::Render { json, .. } => *json,
        }
    }
}

impl CatalogCommand {
    pub(crate) fn json(&self) -> bool {
        match self {
            CatalogCommand::ImportMliy(args) => args.json,
            CatalogCommand::Sync(args) => args.json,
        }
    }
}

pub(crate) fn template(c: &TemplateCommand) -> Result<Output, Error> {
    match c {
        TemplateCommand::Inspect { file, .. } => inspect(file),
    }
}

pub(crate) fn userdata(c: &UserdataCommand) -> Result<Output, Error> {
    match c {
        UserdataCommand::Render { script, params, .. } => render(script, params),
    }
}

pub(crate) fn catalog(c: &CatalogCommand) -> Result<Output, Error> {
    match c {
        CatalogCommand::ImportMliy(args) => import(args),
        CatalogCommand::Sync(args) => crate::datasets::catalog_sync(args),
    }
}

fn read(path: &Path) -> Result<String, Error> {
    mliy::files::read_bounded(path, mliy::files::MAX_FILE_BYTES)
}

fn inspect(file: &Path) -> Result<Output, Error> {
    let template = Template::parse(&file.display().to_string(), &read(file)?)?;
    let json = serde_json::to_value(&template).map_err(|e| Error::parse("output", e.to_string()))?;
    let mut human = String::from("Parameters:\n");
    for p in &template.parameters {
        let default = p.default.as_deref().map(|d| format!(" = {d:?}")).unwrap_or_default();
        human.push_str(&format!(
            "  {} ({}){default}{}\n",
            p.name,
            p.param_type,
            if p.no_echo { " [NoEcho]" } else { "" }
        ));
    }
    human.push_str(&format!("Outputs: {}\nResources:\n", template.outputs.join(", ")));
    for (id, ty) in &template.resources {
        human.push_str(&format!("  {id}: {ty}\n"));
    }
    Ok(Output::new(json, human))
}

fn render(script: &Path, params: &Path) -> Result<Output, Error> {
    let text = read(script)?;
    let what = format!("params {}", params.display());
    let values: serde_json::Map<String, Value> = serde_json::from_str(&read(params)?)
        .map_err(|e| Error::parse(&what, format!("expected a JSON object of token → string: {e}")))?;
    let pairs = values
        .into_iter()
        .map(|(k, v)| match v {
            Value::String(s) => Ok((k, s)),
            other => {
                Err(Error::validation(format!("params.{k}"), other.to_string(), "a token's value must be a string"))
            }
        })
        .collect::<Result<Vec<_>, _>>()?;
    let out = userdata::render(&text, &[&pairs])?;
    let json = json!({
        "rendered": out.text,
        "base64_len": out.base64_len(),
        "fits_cloudformation": out.fits_cloudformation(),
        "unknown_tokens": out.unknown_tokens,
    });
    if !out.unknown_tokens.is_empty() {
        eprintln!("unknown tokens: {}", out.unknown_tokens.join(", "));
    }
    // A script that does not fit is printed, and the exit code says it cannot be used.
    let code = match out.to_base64("script") {
        Ok(_) => 0,
        Err(too_big) => {
            eprintln!("{too_big}");
            2
        }
    };
    Ok(Output { code, ..Output::new(json, out.text) })
}

fn import(args: &ImportArgs) -> Result<Output, Error> {
    let fixture = read(&args.fixture)?;
    let out_dir = absolute(args.out.parent().unwrap_or(Path::new(".")));
    let relative = |list: &[(String, PathBuf)]| -> BTreeMap<String, PathBuf> {
        list.iter().map(|(n, p)| (n.clone(), relative_to(&absolute(p), &out_dir))).collect()
    };
    let options = MliyImport {
        instance_types_fixture: args.instance_types.as_deref().map(read).transpose()?,
        templates: relative(&args.templates),
        user_data: relative(&args.user_data),
        subnet_id: args.subnet_id.clone(),
        availability_zone: args.availability_zone.clone(),
        ami_ids: args.ami_ids.iter().cloned().collect(),
    };
    let mut imported = import_mliy(&fixture, &options)?;
    // Check that every template and script can be read and parsed before writing anything.
    let mut loaded = imported.catalog.clone();
    loaded.load_sources(&out_dir)?;
    imported.notes.extend(loaded.software_configs.iter().filter_map(|sc| sc.progress_warning()));
    Planner::new(loaded)?;
    let yaml = imported.catalog.to_yaml()?;
    std::fs::write(&args.out, yaml).map_err(|source| Error::Io { path: args.out.clone(), source })?;
    let c = &imported.catalog;
    let json = json!({
        "out": args.out.display().to_string(),
        "instance_types": c.instance_types.len(),
        "security_groups": c.security_groups.len(),
        "params": c.params.len(),
        "software_configs": c.software_configs.iter().map(|s| &s.name).collect::<Vec<_>>(),
        "group_configs": c.group_configs.iter().map(|g| &g.name).collect::<Vec<_>>(),
        "notes": imported.notes,
    });
    let human = format!(
        "wrote {}: {} instance types, {} security groups, {} params, {} software configs, {} group configs\n{}",
        args.out.display(),
        c.instance_types.len(),
        c.security_groups.len(),
        c.params.len(),
        c.software_configs.len(),
        c.group_configs.len(),
        imported.notes.iter().map(|n| format!("note: {n}\n")).collect::<String>()
    );
    Ok(Output::new(json, human))
}

pub(crate) fn plan(args: &PlanArgs) -> Result<Output, Error> {
    let planner = Planner::new(Catalog::from_path(&args.catalog)?)?;
    let mut principal = Principal::new(&args.user, &args.groups);
    principal.display_name = args.display_name.clone().unwrap_or_default();
    // The engine gives each launch its progress secret and URL; a preview shows placeholders.
    let request = args
        .request
        .request()?
        .with_token("MLIY_PROGRESS_TOKEN", "<progress secret, set at launch>")
        .with_token("MLIY_PROGRESS_URL", "<progress URL, set at launch>")
        .with_token("MLIY_ACTIVITY_URL", "<activity URL, set at launch>");
    let plan = planner.plan(&principal, &request)?;
    let json = serde_json::to_value(&plan).map_err(|e| Error::parse("output", e.to_string()))?;
    let mut human = format!("stack {} ({:?}, launch id {})\nparameters:\n", plan.stack_name, plan.kind, plan.launch_id);
    for p in &plan.parameters {
        let shown = if p.key == "UserData" {
            format!("<{} bytes of base64>", p.value().len())
        } else {
            p.shown_value().to_string()
        };
        human.push_str(&format!("  {} = {shown}\n", p.key));
    }
    human.push_str("tags:\n");
    for t in &plan.tags {
        human.push_str(&format!("  {} = {}\n", t.key, t.value));
    }
    for w in &plan.warnings {
        human.push_str(&format!("warning: {w}\n"));
    }
    Ok(Output::new(json, human))
}

fn absolute(path: &Path) -> PathBuf {
    let joined =
        if path.is_absolute() { path.to_path_buf() } else { std::env::current_dir().unwrap_or_default().join(path) };
    let mut out = PathBuf::new();
    for c in joined.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir => {
                out.pop();
            }
            other => out.push(other),
        }
    }
    out
}

/// `path` relative to the folder `base` (both absolute), so the catalog can move with its files.
fn relative_to(path: &Path, base: &Path) -> PathBuf {
    let (p, b): (Vec<_>, Vec<_>) = (path.components().collect(), base.components().collect());
    let common = p.iter().zip(&b).take_while(|(x, y)| x == y).count();
    let mut out = PathBuf::new();
    for _ in common..b.len() {
        out.push("..");
    }
    for c in &p[common..] {
        out.push(c);
    }
    out
}
