//! `mliy cluster render`: the RunJobFlow request an edX cluster file or a Step Functions state
//! machine sends, checked, in the AWS API's field names, without calling AWS.

use crate::Output;
use clap::{Args, Subcommand};
use mliy::error::Error;
use mliy::import::edx::read_edx_cluster;
use mliy::import::states::{StateKind, read_workflow};
use serde_json::{Value, json};
use std::path::{Path, PathBuf};

#[derive(Subcommand)]
pub(crate) enum ClusterCommand {
    /// Print the request a cluster file sends (RunJobFlow, in the API's field names).
    Render(RenderArgs),
    /// Launch an edX cluster file's cluster on the deployment (admins), under a group config.
    Launch(LaunchArgs),
}

#[derive(Args)]
pub(crate) struct LaunchArgs {
    /// An edX analytics cluster file.
    #[arg(long)]
    edx: PathBuf,
    /// The group config whose quotas, budget and cost center the cluster counts against.
    #[arg(long)]
    group_config: String,
    /// Wait until the cluster is up (or failed).
    #[arg(long)]
    wait: bool,
    #[command(flatten)]
    pub(crate) deploy: crate::admin::Deploy,
}

#[derive(Args)]
pub(crate) struct RenderArgs {
    /// An edX analytics cluster file (the Ansible `emr` module's YAML).
    #[arg(long, conflicts_with = "step_functions")]
    edx: Option<PathBuf>,
    /// An Amazon States Language document whose Task states call EMR.
    #[arg(long = "step-functions")]
    step_functions: Option<PathBuf>,
    /// The state machine's input (JSON), for its `.$` paths.
    #[arg(long, default_value = "{}")]
    input: String,
    /// Print JSON.
    #[arg(long)]
    pub(crate) json: bool,
}

impl ClusterCommand {
    pub(crate) fn json(&self) -> bool {
        match self {
            ClusterCommand::Render(args) => args.json,
            ClusterCommand::Launch(args) => args.deploy.json,
        }
    }
}

pub(crate) fn cluster(c: &ClusterCommand) -> Result<Output, Error> {
    let args = match c {
        ClusterCommand::Render(args) => args,
        ClusterCommand::Launch(args) => return launch(args),
    };
    match (&args.edx, &args.step_functions) {
        (Some(file), _) => edx(file),
        (None, Some(file)) => step_functions(file, &args.input),
        (None, None) => Err(Error::validation("--edx", "", "give --edx FILE or --step-functions FILE")),
    }
}

fn read(path: &Path) -> Result<String, Error> {
    mliy::files::read_bounded(path, mliy::files::MAX_FILE_BYTES)
}

fn pretty(v: &Value) -> String {
    serde_json::to_string_pretty(v).unwrap_or_default()
}

fn edx(file: &Path) -> Result<Output, Error> {
    let cluster = read_edx_cluster(&read(file)?)?;
    let request = cluster.spec.to_json();
    let human = format!("RunJobFlow in {}:\n{}\n", cluster.region, pretty(&request));
    Ok(Output::new(request, human))
}

/// Every state with its request; a request whose paths need an earlier state's result shows
/// its parameters as written, with `"resolved": false`.
fn step_functions(file: &Path, input: &str) -> Result<Output, Error> {
    let input: Value = serde_json::from_str(input).map_err(|e| Error::validation("--input", input, e.to_string()))?;
    let workflow = read_workflow(&read(file)?)?;
    let mut states = Vec::new();
    let mut human = format!("start at {:?}\n", workflow.start_at);
    for s in &workflow.states {
        let row = match &s.kind {
            StateKind::Task(t) => {
                let call = format!("{:?}{}", t.call, if t.sync { ".sync" } else { "" });
                let (request, resolved) = match t.request(&s.name, &input) {
                    Ok(r) => (request_json(&r), true),
                    Err(Error::Validation(v)) if v.rule.contains("finds nothing") => (t.parameters.clone(), false),
                    Err(e) => return Err(e),
                };
                human.push_str(&format!(
                    "{:?}: {call} → {}\n{}\n",
                    s.name,
                    t.next.as_deref().unwrap_or("end"),
                    pretty(&request)
                ));
                json!({"name": s.name, "type": "Task", "call": call, "request": request, "resolved": resolved, "next": t.next})
            }
            StateKind::Succeed => json!({"name": s.name, "type": "Succeed"}),
            StateKind::Fail { error, cause } => json!({"name": s.name, "type": "Fail", "error": error, "cause": cause}),
        };
        states.push(row);
    }
    Ok(Output::new(json!({"start_at": workflow.start_at, "states": states}), human))
}

fn request_json(r: &mliy::import::states::EmrRequest) -> Value {
    use mliy::import::states::EmrRequest;
    match r {
        EmrRequest::CreateCluster(spec) => spec.to_json(),
        EmrRequest::AddStep { cluster_id, step } => json!({"JobFlowId": cluster_id, "Steps": [step]}),
        EmrRequest::TerminateCluster { cluster_id } => json!({"JobFlowIds": [cluster_id]}),
        EmrRequest::SetTerminationProtection { cluster_id, protected } => {
            json!({"JobFlowIds": [cluster_id], "TerminationProtected": protected})
        }
    }
}

fn launch(args: &LaunchArgs) -> Result<Output, Error> {
    let cluster = read_edx_cluster(&read(&args.edx)?)?;
    crate::admin::on_deployment(&args.deploy, |s| async move {
        let me = crate::admin::operator();
        let id = s.engine.launch_cluster_spec(&me, &args.group_config, cluster.spec).await?;
        let r = match args.wait {
            true => s.engine.wait_until(&me, &id, |p| p.is_usable() || p.is_terminal()).await?,
            false => s.engine.get(&me, &id).await?,
        };
        let failed = r.phase.is_terminal();
        let human =
            format!("cluster {} ({}): {}\n", r.id, r.cluster_id.as_deref().unwrap_or("not submitted yet"), r.phase);
        let json = serde_json::to_value(&r).map_err(|e| Error::parse("output", e.to_string()))?;
        Ok(Output { code: u8::from(failed), ..Output::new(json, human) })
    })
}
