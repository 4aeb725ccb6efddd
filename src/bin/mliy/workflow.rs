//! `mliy workflow run|resume`: a Step Functions state machine that calls EMR, run by the
//! deployment's engine to its end.

use crate::Output;
use crate::admin::{Deploy, on_deployment, operator};
use clap::{Args, Subcommand};
use mliy::engine::{WorkflowOptions, WorkflowReport};
use mliy::error::{Error, Result};
use mliy::model::{LaunchId, WorkflowOutcome};
use serde_json::{Value, json};
use std::path::PathBuf;

#[derive(Subcommand)]
pub(crate) enum WorkflowCommand {
    /// Start a state machine and run it to its end.
    Run(RunArgs),
    /// Run a started workflow on from where it stopped (after a crash, say).
    Resume(ResumeArgs),
}

#[derive(Args)]
pub(crate) struct RunArgs {
    /// The Amazon States Language document.
    file: PathBuf,
    /// The group config whose quotas, budget and cost center the cluster counts against.
    #[arg(long)]
    group_config: String,
    /// The state machine's input (JSON).
    #[arg(long, default_value = "{}")]
    input: String,
    /// Terminate the cluster when the workflow fails.
    #[arg(long)]
    terminate_on_failure: bool,
    #[command(flatten)]
    pub(crate) deploy: Deploy,
}

#[derive(Args)]
pub(crate) struct ResumeArgs {
    /// The run's id (printed by `mliy workflow run`).
    id: String,
    #[command(flatten)]
    pub(crate) deploy: Deploy,
}

impl WorkflowCommand {
    pub(crate) fn deploy(&self) -> &Deploy {
        match self {
            WorkflowCommand::Run(a) => &a.deploy,
            WorkflowCommand::Resume(a) => &a.deploy,
        }
    }
}

pub(crate) fn workflow(c: &WorkflowCommand) -> Result<Output> {
    on_deployment(c.deploy(), |s| async move {
        let me = operator();
        let id = match c {
            WorkflowCommand::Run(args) => {
                let input: Value = serde_json::from_str(&args.input)
                    .map_err(|e| Error::validation("--input", &args.input, e.to_string()))?;
                let document = mliy::files::read_bounded(&args.file, mliy::files::MAX_FILE_BYTES)?;
                let options = WorkflowOptions { terminate_on_failure: args.terminate_on_failure };
                s.engine.start_workflow(&me, &args.group_config, &document, input, options).await?
            }
            WorkflowCommand::Resume(args) => LaunchId::parse(&args.id)?,
        };
        let report = s.engine.run_workflow(&me, &id).await?;
        Ok(output(&report))
    })
}

fn output(r: &WorkflowReport) -> Output {
    let (code, how) = match &r.outcome {
        WorkflowOutcome::Succeeded => (0, "succeeded".to_string()),
        WorkflowOutcome::Failed { state, error, cause } => (1, format!("failed in state {state:?}: {error}: {cause}")),
    };
    let json = json!({"id": r.id, "cluster_id": r.cluster_id, "outcome": r.outcome, "output": r.output});
    let human = format!("workflow {} (cluster {}) {how}\n", r.id, r.cluster_id.as_deref().unwrap_or("none"));
    Output { code, ..Output::new(json, human) }
}
