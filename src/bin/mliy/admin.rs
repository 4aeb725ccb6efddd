//! The admin commands on the configured deployment. The operator holds the deployment's
//! credentials, so acts as an admin; events record the operator's OS user.

use crate::Output;
use clap::{Args, Subcommand, ValueEnum};
use mliy::config::DeploymentConfig;
use mliy::engine::{Action, Adoption};
use mliy::error::{Error, Result};
use mliy::import::MliyRecords;
use mliy::lifecycle::Phase;
use mliy::model::{LaunchId, Principal};
use mliy::registry::{Registry, Services};
use serde_json::{Value, json};
use std::path::PathBuf;
use std::time::Duration;

/// Which deployment, and how to print.
#[derive(Args, Debug, Clone)]
pub(crate) struct Deploy {
    /// The deployment config (else `MLIY_CONFIG`).
    #[arg(long)]
    pub(crate) config: Option<PathBuf>,
    /// Print JSON.
    #[arg(long)]
    pub(crate) json: bool,
}

#[derive(Subcommand)]
pub(crate) enum ResourcesCommand {
    /// The resources, newest first.
    List(ListArgs),
    /// One resource.
    Show(IdArgs),
    /// A resource's history.
    Events(IdArgs),
    /// How to reach a resource: its address, custom URL, JupyterHub URL and SSH tunnel.
    Connection(IdArgs),
}

impl ResourcesCommand {
    pub(crate) fn deploy(&self) -> &Deploy {
        match self {
            ResourcesCommand::List(a) => &a.deploy,
            ResourcesCommand::Show(a) | ResourcesCommand::Events(a) | ResourcesCommand::Connection(a) => &a.deploy,
        }
    }
}

#[derive(Args)]
pub(crate) struct ListArgs {
    /// Only this owner's.
    #[arg(long)]
    user: Option<String>,
    /// Only those in this phase (`ready`, `stopped`, `failed`, …).
    #[arg(long)]
    phase: Option<String>,
    /// Include archived ones.
    #[arg(long)]
    all: bool,
    #[command(flatten)]
    pub(crate) deploy: Deploy,
}

#[derive(Args)]
pub(crate) struct IdArgs {
    /// The launch id.
    id: String,
    #[command(flatten)]
    pub(crate) deploy: Deploy,
}

/// What `mliy act` does.
#[derive(Clone, Copy, ValueEnum)]
pub(crate) enum ActionArg {
    Start,
    Stop,
    Restart,
    Terminate,
    Archive,
    /// Add `--hours` to the resource's lifetime.
    Extend,
    /// Give a running cluster's `--group` (core or task) `--count` nodes.
    Resize,
}

#[derive(Clone, Copy, clap::ValueEnum)]
pub(crate) enum GroupArg {
    Core,
    Task,
}

#[derive(Args)]
pub(crate) struct ActArgs {
    /// The launch id.
    id: String,
    /// The action.
    action: ActionArg,
    /// Hours to add (`extend` only).
    #[arg(long)]
    hours: Option<u32>,
    /// The instance group (`resize` only).
    #[arg(long, value_enum)]
    group: Option<GroupArg>,
    /// Its nodes (`resize` only).
    #[arg(long)]
    count: Option<u32>,
    /// Return once the action is recorded, leaving it to `mliy run` (by default this command
    /// carries it out and waits until it is done).
    #[arg(long)]
    no_wait: bool,
    #[command(flatten)]
    pub(crate) deploy: Deploy,
}

#[derive(Args)]
pub(crate) struct RefreshArgs {
    /// Refresh again every INTERVAL (`30s`, `5m`) until interrupted.
    #[arg(long, value_parser = duration_arg)]
    watch: Option<Duration>,
    #[command(flatten)]
    pub(crate) deploy: Deploy,
}

#[derive(Args)]
pub(crate) struct AdoptArgs {
    /// Find the machines by MLiy's tags: instances with `LaunchedBy=MLIY`, clusters with
    /// `Launched By=MLiy` (owner from `userid` / `Creator`, configs from `GroupConfig`,
    /// `Software Config`, `UserGroup`). The only source today, so it must be given.
    #[arg(long, required = true)]
    from_mliy_tags: bool,
    /// MLiy's own records (`manage.py dumpdata mliyweb.instance mliyweb.cluster
    /// mliyweb.software_config`), for owners and software configs the tags lack.
    #[arg(long)]
    mliy_dump: Option<std::path::PathBuf>,
    /// Say what would be adopted, and change nothing.
    #[arg(long)]
    dry_run: bool,
    #[command(flatten)]
    pub(crate) deploy: Deploy,
}

pub(crate) fn duration_arg(text: &str) -> std::result::Result<Duration, String> {
    mliy::config::parse_duration(text)
        .filter(|d| !d.is_zero())
        .ok_or_else(|| format!("expected a duration such as 30s, 5m or 1h, got {text:?}"))
}

/// The operator: the OS user, as an admin.
pub(crate) fn operator() -> Principal {
    let user = ["USER", "LOGNAME"]
        .iter()
        .find_map(|v| std::env::var(v).ok().filter(|u| !u.trim().is_empty()))
        .unwrap_or_else(|| "operator".into());
    Principal { admin: true, display_name: format!("{user} (operator)"), ..Principal::new(user, Vec::<String>::new()) }
}

/// Reads the config and builds its services. `engine.replica_id` names the `mliy run`
/// process; a one-shot command (`long_running: false`) gets a name of its own beside it, so
/// that it and `mliy run` never both believe they hold a resource's lease.
pub(crate) async fn services(deploy: &Deploy, long_running: bool) -> Result<Services> {
    let mut config = DeploymentConfig::locate(deploy.config.as_deref())?;
    if !long_running {
        let base = config.engine.replica_id.clone().unwrap_or_else(|| "mliy".into());
        config.engine.replica_id = Some(format!("{base}-cli-{}", LaunchId::new_random()));
    }
    Registry::new(&config).build().await
}

/// Runs a one-shot command on the deployment's services, then stops its engine, handing
/// the leases it took over to `mliy run` at once.
pub(crate) fn on_deployment<T, Fut>(deploy: &Deploy, f: impl FnOnce(Services) -> Fut) -> Result<T>
where
    Fut: std::future::Future<Output = Result<T>>,
{
    block_on(async {
        let s = services(deploy, false).await?;
        let engine = s.engine.clone();
        let out = f(s).await;
        engine.stop().await;
        out
    })
}

/// Runs `f` on a runtime of its own.
pub(crate) fn block_on<T>(f: impl std::future::Future<Output = Result<T>>) -> Result<T> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Error::Unavailable(format!("cannot start the runtime: {e}")))?
        .block_on(f)
}

fn to_json(value: &impl serde::Serialize) -> Result<Value> {
    serde_json::to_value(value).map_err(|e| Error::parse("output", e.to_string()))
}

pub(crate) fn resources(command: &ResourcesCommand) -> Result<Output> {
    on_deployment(command.deploy(), |s| async move {
        match command {
            ResourcesCommand::List(args) => list(&s, args).await,
            ResourcesCommand::Show(args) => {
                let r = s.engine.get(&operator(), &LaunchId::parse(&args.id)?).await?;
                Ok(Output::new(to_json(&r)?, crate::table::resource(&r)))
            }
            ResourcesCommand::Connection(args) => {
                let c = s.engine.connection(&operator(), &LaunchId::parse(&args.id)?).await?;
                let lines = [
                    ("address", &c.address),
                    ("url", &c.custom_url),
                    ("jupyterhub", &c.jupyterhub_url),
                    ("tunnel", &c.ssh_tunnel),
                ];
                let human: String =
                    lines.iter().filter_map(|(k, v)| v.as_ref().map(|v| format!("{k}: {v}\n"))).collect();
                let human = if human.is_empty() { "not reachable yet\n".to_string() } else { human };
                Ok(Output::new(to_json(&c)?, human))
            }
            ResourcesCommand::Events(args) => {
                let events = s.engine.events(&operator(), &LaunchId::parse(&args.id)?).await?;
                Ok(Output::new(to_json(&events)?, crate::table::events(&events)))
            }
        }
    })
}

async fn list(s: &Services, args: &ListArgs) -> Result<Output> {
    if let Some(phase) = &args.phase
        && !Phase::NAMES.contains(&phase.as_str())
    {
        return Err(Error::validation("--phase", phase, format!("one of {}", Phase::NAMES.join(", "))));
    }
    let mut list = s.engine.list(&operator(), args.all).await?;
    list.retain(|r| {
        args.user.as_ref().is_none_or(|u| *u == r.owner) && args.phase.as_ref().is_none_or(|p| p == r.phase.name())
    });
    list.sort_by(|a, b| b.created_at.cmp(&a.created_at).then_with(|| a.id.as_str().cmp(b.id.as_str())));
    Ok(Output::new(to_json(&list)?, crate::table::resources(&list)))
}

/// Whether `action` is carried out, as far as `phase` shows.
fn settled(action: Action, phase: &Phase) -> bool {
    phase.is_terminal()
        || match action {
            Action::Stop => *phase == Phase::Stopped,
            Action::Start | Action::Restart => phase.is_usable(),
            Action::Terminate => false,
            Action::Archive | Action::Extend { .. } | Action::Resize { .. } => true,
        }
}

pub(crate) fn act(args: &ActArgs) -> Result<Output> {
    let action = match args.action {
        ActionArg::Start => Action::Start,
        ActionArg::Stop => Action::Stop,
        ActionArg::Restart => Action::Restart,
        ActionArg::Terminate => Action::Terminate,
        ActionArg::Archive => Action::Archive,
        ActionArg::Extend => Action::Extend {
            hours: args.hours.ok_or_else(|| Error::validation("--hours", "", "extend needs --hours N"))?,
        },
        ActionArg::Resize => Action::Resize {
            role: match args.group.ok_or_else(|| Error::validation("--group", "", "resize needs --group core|task"))? {
                GroupArg::Core => mliy::model::emr::InstanceRole::Core,
                GroupArg::Task => mliy::model::emr::InstanceRole::Task,
            },
            count: args.count.ok_or_else(|| Error::validation("--count", "", "resize needs --count N"))?,
        },
    };
    if args.hours.is_some() && !matches!(action, Action::Extend { .. }) {
        return Err(Error::validation("--hours", action.name(), "only extend takes --hours"));
    }
    if (args.group.is_some() || args.count.is_some()) && !matches!(action, Action::Resize { .. }) {
        return Err(Error::validation("--group/--count", action.name(), "only resize takes --group and --count"));
    }
    on_deployment(&args.deploy, |s| async move {
        let id = LaunchId::parse(&args.id)?;
        let me = operator();
        let mut r = s.engine.act(&me, &id, action).await?;
        if !args.no_wait {
            r = s.engine.wait_until(&me, &id, |p| settled(action, p)).await?;
        }
        let human = format!("{} {}: {}\n", action.name(), r.id, r.phase);
        let failed = matches!(r.phase, Phase::Failed { .. } | Phase::TerminatedWithErrors { .. });
        Ok(Output { code: u8::from(failed), ..Output::new(to_json(&r)?, human) })
    })
}

pub(crate) fn refresh(args: &RefreshArgs) -> Result<Output> {
    on_deployment(&args.deploy, |s| async move {
        let config = mliy::engine::RefreshConfig { min_interval: Duration::ZERO, ..s.refresh.clone() };
        loop {
            let report = s.engine.refresh(&config).await?;
            let human = format!(
                "refresh: {} checked, {} changed, {} absent, {} unknown, {} unmanaged, {} cloud calls{}\n",
                report.checked,
                report.changes,
                report.absent,
                report.unknown,
                report.unmanaged.len(),
                report.cloud_calls,
                report.skipped.map(|why| format!(" (skipped: {why})")).unwrap_or_default()
            );
            let Some(every) = args.watch else { return Ok(Output::new(to_json(&report)?, human)) };
            crate::print(&Output::new(to_json(&report)?, human), args.deploy.json);
            tokio::select! {
                () = tokio::time::sleep(every) => {}
                _ = tokio::signal::ctrl_c() => return Ok(Output::new(json!({"stopped": true}), String::new())),
            }
        }
    })
}

pub(crate) fn adopt(args: &AdoptArgs) -> Result<Output> {
    let records = match &args.mliy_dump {
        Some(path) => {
            let text = mliy::files::read_bounded(path, MliyRecords::MAX_BYTES)?;
            MliyRecords::parse(&text)?
        }
        None => MliyRecords::default(),
    };
    on_deployment(&args.deploy, |s| async move {
        let found = s.engine.unmanaged_mliy_machines(&operator()).await?;
        let (mut rows, mut machines) = (Vec::new(), Vec::new());
        for machine in &found {
            let (row, json) = adopt_one(&s, machine, &records, args.dry_run).await;
            rows.push(row);
            machines.push(json);
        }
        let human = crate::table::table(&["KIND", "MACHINE", "STATUS", "OWNER", "SOFTWARE", "LAUNCH ID"], &rows);
        Ok(Output::new(json!({"dry_run": args.dry_run, "machines": machines}), human))
    })
}

/// Adopts one unmanaged machine by its tags (or says it would): its table row and JSON.
async fn adopt_one(
    s: &Services,
    machine: &mliy::engine::Unmanaged,
    records: &MliyRecords,
    dry_run: bool,
) -> (Vec<String>, Value) {
    let outcome = match Adoption::from_mliy(machine, s.engine.catalog(), records) {
        Ok(plan) if dry_run => Ok((plan, None)),
        Ok(plan) => s.engine.adopt(&operator(), &plan).await.map(|r| (plan, Some(r))),
        Err(e) => Err(e),
    };
    let (kind, id) = (machine.kind.name(), machine.id.clone());
    match outcome {
        Ok((plan, r)) => {
            let status = if dry_run { "would adopt" } else { "adopted" };
            let launch_id = r.map(|r| r.id.to_string());
            let row = vec![
                kind.into(),
                id.clone(),
                status.into(),
                plan.owner.clone(),
                plan.software_config.clone(),
                launch_id.clone().unwrap_or_else(|| "-".into()),
            ];
            let json = json!({"kind": kind, "id": id, "status": status, "owner": plan.owner, "group_config": plan.group_config, "software_config": plan.software_config, "launch_id": launch_id});
            (row, json)
        }
        Err(e) => {
            let row = vec![kind.into(), id.clone(), format!("skipped: {e}"), "-".into(), "-".into(), "-".into()];
            (row, json!({"kind": kind, "id": id, "status": "skipped", "error": e}))
        }
    }
}
