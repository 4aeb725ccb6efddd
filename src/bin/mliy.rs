//! The `mliy` admin command line: inspect templates, render user data, import MLiy's
//! catalog and plan launches. Every subcommand takes `--json`.
//!
//! Exit codes: 0 on success, 1 when `mliy sim`'s audit finds anything lost, duplicated,
//! orphaned or done twice, 2 when the input is refused (the error names the field, the value
//! and the rule; with `--json` it is printed on stdout as `{"error": {...}}`, argument errors
//! included) or a rendered script does not fit CloudFormation.

use clap::{Args, Parser, Subcommand};
use mliy::error::Error;
use mliy::import::{MliyImport, import_mliy};
use mliy::model::{Catalog, LaunchId, Market, Principal};
use mliy::plan::{ClusterOptions, LaunchRequest, Planner};
use mliy::sim::scenario::{self, ScenarioConfig};
use mliy::template::Template;
use mliy::userdata;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::path::{Component, Path, PathBuf};
use std::process::ExitCode;

#[derive(Parser)]
#[command(name = "mliy", version, about = "Self-service analytics environments on AWS: admin tools")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// CloudFormation templates.
    #[command(subcommand)]
    Template(TemplateCommand),
    /// User-data scripts.
    #[command(subcommand)]
    Userdata(UserdataCommand),
    /// The admin catalog.
    #[command(subcommand)]
    Catalog(CatalogCommand),
    /// Plan a launch: the exact CloudFormation request, checked, without calling AWS.
    Plan(PlanArgs),
    /// Simulate a fleet on the simulated cloud in virtual time, with faults and crashes.
    Sim(SimArgs),
    /// Authentication.
    #[cfg(feature = "ldap")]
    #[command(subcommand)]
    Auth(AuthCommand),
}

#[cfg(feature = "ldap")]
#[derive(Subcommand)]
enum AuthCommand {
    /// Log a user in against LDAP / Active Directory and print the principal.
    Check(AuthCheckArgs),
}

#[cfg(feature = "ldap")]
#[derive(Args)]
struct AuthCheckArgs {
    /// `ldap://host:port` or `ldaps://host:port`.
    #[arg(long)]
    ldap_url: String,
    /// `openldap` or `ad`.
    #[arg(long, value_parser = ["openldap", "ad"])]
    mode: String,
    /// Where users are searched.
    #[arg(long)]
    base_dn: String,
    /// The service account.
    #[arg(long)]
    bind_dn: String,
    /// The environment variable that holds the service account's password.
    #[arg(long)]
    bind_password_env: String,
    /// Members of this group are admins.
    #[arg(long)]
    admin_group: Option<String>,
    /// Upgrade ldap:// with StartTLS.
    #[arg(long)]
    starttls: bool,
    /// Seconds to wait for the directory.
    #[arg(long, default_value_t = 5)]
    timeout: u64,
    /// The user to log in.
    #[arg(long)]
    user: String,
    /// The environment variable that holds the user's password.
    #[arg(long)]
    password_env: String,
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

#[derive(Args)]
struct SimArgs {
    /// Instances to launch.
    #[arg(long, default_value_t = 10)]
    instances: usize,
    /// Clusters to launch.
    #[arg(long, default_value_t = 2)]
    clusters: usize,
    /// Share of API calls that fail (0 to 1); stacks fail at a tenth and instances vanish at
    /// a twentieth of it.
    #[arg(long, default_value_t = 0.0)]
    faults: f64,
    /// Restart the engine after every K transitions (K ≥ 1).
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..))]
    crash_every: Option<u64>,
    /// Seed of every simulated fault.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Users who launch (at least 1).
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..))]
    users: u64,
    /// A catalog file (the example catalog when not given).
    #[arg(long)]
    catalog: Option<PathBuf>,
    /// Where the engines keep their state: `sqlite:PATH` (by default a new file in the
    /// temporary folder, when built with SQLite), `postgres:URL`, or `memory`.
    #[arg(long)]
    store: Option<String>,
    /// The simulated cloud's journal, needed to resume (`PATH.cloud.jsonl` beside a SQLite store).
    #[arg(long)]
    journal: Option<PathBuf>,
    /// Engine replicas sharing the store, all launching and acting (at least 1).
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u64).range(1..))]
    replicas: u64,
    /// Continue a run that was killed, from its store and the cloud's journal.
    #[arg(long)]
    resume: bool,
    /// Put a standing fleet (instances ready, clusters waiting) in the simulated cloud, change
    /// 1% of it outside mliy, and report one refresh pass (in memory, without faults or
    /// crashes: `--store`, `--faults`, `--crash-every`, `--replicas` and `--resume` are refused).
    #[arg(long)]
    refresh_only: bool,
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

#[derive(Subcommand)]
enum TemplateCommand {
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
enum UserdataCommand {
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
enum CatalogCommand {
    /// Import MLiy's Django fixture into a catalog file.
    ImportMliy(ImportArgs),
}

#[derive(Args)]
struct ImportArgs {
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
    json: bool,
}

#[derive(Args)]
struct PlanArgs {
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
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

fn name_path(arg: &str) -> Result<(String, PathBuf), String> {
    match arg.split_once('=') {
        Some((name, path)) if !name.is_empty() && !path.is_empty() => Ok((name.to_string(), PathBuf::from(path))),
        _ => Err(format!("expected NAME=PATH, got {arg:?}")),
    }
}

/// What a subcommand prints: JSON, and the same for people; and how it exits.
struct Output {
    json: Value,
    human: String,
    code: u8,
}

impl Output {
    fn new(json: Value, human: String) -> Output {
        Output { json, human, code: 0 }
    }
}

/// Parses the arguments; an argument error is printed as JSON when `--json` was given.
fn parse() -> Result<Cli, ExitCode> {
    Cli::try_parse().map_err(|e| {
        use clap::error::ErrorKind;
        let wants_json = std::env::args().any(|a| a == "--json");
        if matches!(e.kind(), ErrorKind::DisplayHelp | ErrorKind::DisplayVersion) || !wants_json {
            e.exit();
        }
        let message = e.render().to_string();
        let body = json!({"error": {"kind": "usage", "message": message.trim()}});
        println!("{}", serde_json::to_string_pretty(&body).unwrap_or_default());
        ExitCode::from(2)
    })
}

fn main() -> ExitCode {
    let cli = match parse() {
        Ok(cli) => cli,
        Err(code) => return code,
    };
    let (json, result) = match cli.command {
        Command::Template(TemplateCommand::Inspect { file, json }) => (json, inspect(&file)),
        Command::Userdata(UserdataCommand::Render { script, params, json }) => (json, render(&script, &params)),
        Command::Catalog(CatalogCommand::ImportMliy(args)) => (args.json, import(&args)),
        Command::Plan(args) => (args.json, plan(&args)),
        Command::Sim(args) => (args.json, sim(&args)),
        #[cfg(feature = "ldap")]
        Command::Auth(AuthCommand::Check(args)) => return auth_check(&args),
    };
    match result {
        Ok(out) => {
            if json {
                println!("{}", serde_json::to_string_pretty(&out.json).unwrap_or_default());
            } else {
                print!("{}", out.human);
            }
            ExitCode::from(out.code)
        }
        Err(e) => {
            if json {
                println!("{}", serde_json::to_string_pretty(&error_json(&e)).unwrap_or_default());
            } else {
                eprintln!("error: {e}");
            }
            ExitCode::from(2)
        }
    }
}

fn error_json(e: &Error) -> Value {
    json!({ "error": e })
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
    Ok(Output { json, human: out.text, code })
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

fn plan(args: &PlanArgs) -> Result<Output, Error> {
    let planner = Planner::new(Catalog::from_path(&args.catalog)?)?;
    let mut principal = Principal::new(&args.user, &args.groups);
    principal.display_name = args.display_name.clone().unwrap_or_default();
    let mut request = LaunchRequest::instance(&args.group_config, &args.software_config, &args.instance_type)
        .with_optional_security_groups(&args.security_groups);
    if let Some(id) = &args.launch_id {
        request = request.with_launch_id(LaunchId::parse(id)?);
    }
    request.volume_size = args.volume_size;
    // The engine gives each launch its progress secret and URL; a preview shows placeholders.
    request = request
        .with_token("MLIY_PROGRESS_TOKEN", "<progress secret, set at launch>")
        .with_token("MLIY_PROGRESS_URL", "<progress URL, set at launch>");
    if args.cluster {
        request.cluster = Some(ClusterOptions {
            core_nodes: args.core_nodes,
            task_nodes: args.task_nodes,
            market: if args.spot { Market::Spot { bid: args.bid } } else { Market::OnDemand },
            purpose: args.purpose.clone(),
        });
    }
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

/// `mliy sim --refresh-only`.
fn refresh_only(catalog: Catalog, args: &SimArgs) -> Result<Output, Error> {
    use mliy::sim::fleet::{FleetConfig, refresh_only};
    let config = FleetConfig { instances: args.instances, clusters: args.clusters, changed: 0.01, seed: args.seed };
    let report = refresh_only(catalog, &config)?;
    let json = serde_json::to_value(&report).map_err(|e| Error::parse("output", e.to_string()))?;
    let human = format!(
        "refresh of {} instances and {} clusters, {} changed outside mliy: {} cloud calls (bound {}), \
         {} changes, {} store writes, {} ms\n",
        report.instances,
        report.clusters,
        report.changed_outside,
        report.refresh.cloud_calls,
        report.call_bound,
        report.refresh.changes,
        report.store_writes,
        report.refresh.wall_ms
    );
    Ok(Output::new(json, human))
}

/// `--refresh-only` runs in memory without faults or crashes: the flags it would ignore are
/// refused.
fn refresh_only_alone(args: &SimArgs) -> Result<(), Error> {
    let given = [
        ("--store", args.store.is_some()),
        ("--faults", args.faults != 0.0),
        ("--crash-every", args.crash_every.is_some()),
        ("--replicas", args.replicas != 1),
        ("--resume", args.resume),
        ("--journal", args.journal.is_some()),
    ];
    match given.iter().find(|(_, set)| *set) {
        Some((flag, _)) => Err(Error::validation(
            *flag,
            "given",
            "--refresh-only measures one pass over a standing fleet in memory, without faults or crashes",
        )),
        None => Ok(()),
    }
}

/// `--store`, or the default: a new SQLite file in the temporary folder.
fn store_spec(args: &SimArgs) -> Result<String, Error> {
    match (&args.store, args.resume) {
        (Some(spec), _) => Ok(spec.clone()),
        (None, true) => Err(Error::validation("--store", "", "name the store to resume")),
        (None, false) if cfg!(feature = "sqlite") => {
            let file = std::env::temp_dir().join(format!("mliy-sim-{}-{}.sqlite", args.seed, std::process::id()));
            Ok(format!("sqlite:{}", file.display()))
        }
        (None, false) => Ok("memory".into()),
    }
}

/// The store named by `--store` (and the cloud's journal beside it).
fn backing(args: &SimArgs) -> Result<scenario::Backing, Error> {
    let spec = store_spec(args)?;
    let refused = |rule: &str| Error::validation("--store", mliy::secret::redact_url(&spec), rule);
    match spec.split_once(':') {
        None if spec == "memory" => match args.resume {
            true => Err(refused("a memory store cannot be resumed: use sqlite:PATH")),
            false => Ok(scenario::Backing::Memory),
        },
        #[cfg(feature = "sqlite")]
        Some(("sqlite", path)) if !path.is_empty() => {
            let path = PathBuf::from(path);
            let journal =
                args.journal.clone().unwrap_or_else(|| PathBuf::from(format!("{}.cloud.jsonl", path.display())));
            let open: scenario::OpenStore = Box::new(move || {
                Box::pin(async move {
                    let store = mliy::plugins::sqlite::SqliteStore::open(&path).await?;
                    Ok(std::sync::Arc::new(store) as std::sync::Arc<dyn mliy::store::StateStore>)
                })
            });
            Ok(scenario::Backing::External { open, journal: Some(journal) })
        }
        #[cfg(feature = "postgres")]
        Some(("postgres" | "postgresql", rest)) if !rest.is_empty() => {
            // `postgres:URL`, or the URL itself.
            let url = if rest.starts_with("//") { spec.clone() } else { rest.to_string() };
            let open: scenario::OpenStore = Box::new(move || {
                Box::pin(async move {
                    let store = mliy::plugins::postgres::PostgresStore::connect(&url).await?;
                    Ok(std::sync::Arc::new(store) as std::sync::Arc<dyn mliy::store::StateStore>)
                })
            });
            Ok(scenario::Backing::External { open, journal: args.journal.clone() })
        }
        _ => Err(refused(&format!(
            "must be memory{}{}",
            if cfg!(feature = "sqlite") { ", sqlite:PATH" } else { "" },
            if cfg!(feature = "postgres") { ", postgres://USER@HOST:PORT/DB" } else { "" }
        ))),
    }
}

fn sim(args: &SimArgs) -> Result<Output, Error> {
    if !(0.0..=1.0).contains(&args.faults) {
        return Err(Error::validation("--faults", args.faults.to_string(), "a share from 0 to 1"));
    }
    let catalog = match &args.catalog {
        Some(path) => Catalog::from_path(path)?,
        None => mliy::demo::catalog()?,
    };
    if args.refresh_only {
        refresh_only_alone(args)?;
        return refresh_only(catalog, args);
    }
    let config = ScenarioConfig {
        instances: args.instances,
        clusters: args.clusters,
        fault_rate: args.faults,
        crash_every: args.crash_every,
        seed: args.seed,
        users: usize::try_from(args.users).unwrap_or(usize::MAX),
        replicas: usize::try_from(args.replicas).unwrap_or(usize::MAX),
        resume: args.resume,
        ..ScenarioConfig::default()
    };
    let report = scenario::run_on(catalog, &config, backing(args)?)?;
    let mut json = serde_json::to_value(&report).map_err(|e| Error::parse("output", e.to_string()))?;
    let store = store_spec(args)?;
    // Name the store, never a connection string's password.
    let shown = mliy::secret::redact_url(&store);
    json["store"] = Value::String(shown.clone());
    let human = format!(
        "launched {} · ready {} · failed {} (doomed by the simulator: {}) · terminated {}\n\
         duplicate stacks {} · orphaned stacks {} · lost {} · double actions {} · replicas {} · engine restarts {}\n\
         {} cloud calls · {} virtual seconds · {} ms · store {shown}\n",
        report.launched,
        report.ready,
        report.failed,
        report.told_to_fail,
        report.terminated,
        report.duplicate_stacks,
        report.orphaned_stacks,
        report.lost,
        report.double_actions,
        report.replicas,
        report.restarts,
        report.cloud_calls.values().sum::<u64>(),
        report.virtual_seconds,
        report.wall_ms
    );
    // The audit's findings fail the run (exit 1), with the report still printed.
    let clean = report.duplicate_stacks == 0
        && report.orphaned_stacks == 0
        && report.running_machines == 0
        && report.lost == 0
        && report.double_actions == 0
        && report.unexpected_failures == 0;
    Ok(Output { json, human, code: if clean { 0 } else { 1 } })
}

/// `mliy auth check`: its errors have their own kinds (`invalid_credentials`, …).
#[cfg(feature = "ldap")]
fn auth_check(args: &AuthCheckArgs) -> ExitCode {
    use mliy::plugins::ldap::{DirectoryKind, LdapAuth, LdapError};
    use mliy::secret::Secret;
    let env = |name: &str| std::env::var(name).map(Secret::new).unwrap_or_else(|_| Secret::new(""));
    let kind = if args.mode == "ad" { DirectoryKind::ActiveDirectory } else { DirectoryKind::OpenLdap };
    let timeout = std::time::Duration::from_secs(args.timeout.max(1));
    let mut builder = LdapAuth::builder(&args.ldap_url, kind)
        .base_dn(&args.base_dn)
        .bind(&args.bind_dn, env(&args.bind_password_env))
        .starttls(args.starttls)
        .timeouts(timeout, timeout);
    if let Some(group) = &args.admin_group {
        builder = builder.admin_group(group);
    }
    let result = match builder.build() {
        Ok(auth) => match tokio::runtime::Builder::new_current_thread().enable_all().build() {
            Ok(rt) => rt.block_on(auth.check(&args.user, &env(&args.password_env))),
            Err(e) => Err(LdapError::Misconfigured(e.to_string())),
        },
        Err(e) => Err(LdapError::Misconfigured(e.to_string())),
    };
    let (code, json, human) = match result {
        Ok(p) => {
            let json = json!({"username": p.username, "display_name": p.display_name, "email": p.email, "groups": p.groups, "admin": p.admin});
            let human = format!(
                "{} ({}), admin: {}\ngroups:\n{}",
                p.username,
                p.display_name,
                p.admin,
                p.groups.iter().map(|g| format!("  {g}\n")).collect::<String>()
            );
            (ExitCode::SUCCESS, json, human)
        }
        Err(e) => {
            (ExitCode::from(2), json!({"error": {"kind": e.kind(), "message": e.to_string()}}), format!("error: {e}\n"))
        }
    };
    if args.json {
        println!("{}", serde_json::to_string_pretty(&json).unwrap_or_default());
    } else if code == ExitCode::SUCCESS {
        print!("{human}");
    } else {
        eprint!("{human}");
    }
    code
}
