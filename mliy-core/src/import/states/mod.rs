//! Amazon States Language documents whose Task states call EMR (Step Functions'
//! `arn:aws:states:::elasticmapreduce:*` integrations), read into a [`Workflow`] that mliy
//! runs itself: `createCluster(.sync)`, `addStep(.sync)`, `terminateCluster(.sync)` and
//! `setClusterTerminationProtection`, with `Parameters` in the API's field names, `.$` paths,
//! `ResultSelector`, `ResultPath`, `Next`/`End`, `Retry` and `Catch`; `Succeed` and `Fail`
//! states end a run. Anything else is refused, naming the state.

mod paths;

pub use paths::{read_path, resolve, write_path};

use crate::error::{Error, Result};
use crate::model::emr::{ClusterSpec, Step};
use serde::Deserialize;
use serde_json::Value;

/// The longest document read.
pub const MAX_WORKFLOW_BYTES: usize = 1024 * 1024;
/// The most states a workflow may have.
pub const MAX_STATES: usize = 100;
const ARN_PREFIX: &str = "arn:aws:states:::elasticmapreduce:";

/// A state machine mliy can run.
#[derive(Debug, Clone, PartialEq)]
pub struct Workflow {
    /// Its comment.
    pub comment: Option<String>,
    /// The first state's name.
    pub start_at: String,
    /// The states, in document order.
    pub states: Vec<State>,
}

/// One state.
#[derive(Debug, Clone, PartialEq)]
pub struct State {
    /// Its name.
    pub name: String,
    /// What it does.
    pub kind: StateKind,
}

/// What a state does.
#[derive(Debug, Clone, PartialEq)]
pub enum StateKind {
    /// An EMR call.
    Task(Box<Task>),
    /// Ends the run successfully.
    Succeed,
    /// Ends the run failed.
    Fail {
        /// The error name.
        error: Option<String>,
        /// Its cause.
        cause: Option<String>,
    },
}

/// The EMR calls a Task state may make.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EmrCall {
    /// RunJobFlow.
    CreateCluster,
    /// AddJobFlowSteps (one step).
    AddStep,
    /// TerminateJobFlows.
    TerminateCluster,
    /// SetTerminationProtection.
    SetClusterTerminationProtection,
}

/// A Task state.
#[derive(Debug, Clone, PartialEq)]
pub struct Task {
    /// The call.
    pub call: EmrCall,
    /// Whether the state waits for the call's work (`.sync`): the cluster up, the step done,
    /// the cluster terminated.
    pub sync: bool,
    /// Its parameters as written (`.$` fields are paths into the state's input).
    pub parameters: Value,
    /// Fields of the result kept (`.$` paths into the result).
    pub result_selector: Option<Value>,
    /// Where the result goes in the state's input: `$` (the default) replaces it, `None`
    /// (`null`) discards the result.
    pub result_path: Option<String>,
    /// The next state, or `None` for `End`.
    pub next: Option<String>,
    /// Retries, by error name.
    pub retry: Vec<Retrier>,
    /// Where errors go.
    pub catch: Vec<Catcher>,
    /// How long the state may take (`TimeoutSeconds`), waits included; the runner's own
    /// deadline when `None`.
    pub timeout_seconds: Option<u64>,
}

/// A `Retry` entry.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct Retrier {
    /// Error names it covers (`States.ALL`, `States.TaskFailed`, …).
    pub error_equals: Vec<String>,
    /// Seconds before the first retry (1 by default).
    #[serde(default = "one")]
    pub interval_seconds: u32,
    /// Retries at most (3 by default, at most 10 here).
    #[serde(default = "three")]
    pub max_attempts: u32,
    /// How the interval grows (2 by default).
    #[serde(default = "two")]
    pub backoff_rate: f64,
}

fn one() -> u32 {
    1
}
fn three() -> u32 {
    3
}
fn two() -> f64 {
    2.0
}

/// A `Catch` entry.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct Catcher {
    /// Error names it covers.
    pub error_equals: Vec<String>,
    /// The state to go to.
    pub next: String,
    /// Where the error output goes (`$` by default).
    #[serde(default)]
    pub result_path: Option<String>,
}

/// The raw shape of a state, every field known to the language.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
struct RawState {
    #[serde(rename = "Type")]
    kind: String,
    #[serde(default)]
    resource: Option<String>,
    #[serde(default)]
    parameters: Option<Value>,
    #[serde(default)]
    result_selector: Option<Value>,
    #[serde(default = "dollar")]
    result_path: Option<String>,
    #[serde(default)]
    next: Option<String>,
    #[serde(default)]
    end: Option<bool>,
    #[serde(default)]
    retry: Vec<Retrier>,
    #[serde(default)]
    catch: Vec<Catcher>,
    #[serde(default)]
    timeout_seconds: Option<u64>,
    #[serde(default, rename = "Comment")]
    _comment: Option<String>,
    #[serde(default)]
    error: Option<String>,
    #[serde(default)]
    cause: Option<String>,
}

fn dollar() -> Option<String> {
    Some("$".into())
}

/// Reads and checks a state machine.
///
/// # Errors
/// [`Error::Parse`] for text that is not JSON; [`Error::Validation`] naming the state (and
/// field) for a state type, resource or field mliy does not run, a `Next` that names no
/// state, or parameters that are not the call's.
pub fn read_workflow(text: &str) -> Result<Workflow> {
    if text.len() > MAX_WORKFLOW_BYTES {
        return Err(Error::validation("state machine", format!("{} bytes", text.len()), "at most 1 MiB"));
    }
    let doc: Value = serde_json::from_str(text).map_err(|e| Error::parse("state machine", e.to_string()))?;
    let known = ["Comment", "StartAt", "States", "Version", "TimeoutSeconds"];
    let Some(top) = doc.as_object() else { return Err(Error::validation("state machine", "", "a JSON object")) };
    if let Some(key) = top.keys().find(|k| !known.contains(&k.as_str())) {
        return Err(Error::validation(key.as_str(), "", "not a field of a state machine mliy runs"));
    }
    let start_at =
        top.get("StartAt").and_then(Value::as_str).ok_or_else(|| Error::validation("StartAt", "", "required"))?;
    let states =
        top.get("States").and_then(Value::as_object).ok_or_else(|| Error::validation("States", "", "required"))?;
    if states.is_empty() || states.len() > MAX_STATES {
        return Err(Error::validation("States", states.len().to_string(), "1 to 100 states"));
    }
    let states = states.iter().map(|(name, raw)| state(name, raw)).collect::<Result<Vec<_>>>()?;
    let workflow = Workflow {
        comment: top.get("Comment").and_then(Value::as_str).map(String::from),
        start_at: start_at.to_string(),
        states,
    };
    workflow.check_links()?;
    Ok(workflow)
}

fn state(name: &str, raw: &Value) -> Result<State> {
    let at = |field: &str| format!("States.{name}.{field}");
    let kind = raw.get("Type").and_then(Value::as_str).unwrap_or_default();
    if !["Task", "Succeed", "Fail"].contains(&kind) {
        return Err(Error::validation(
            at("Type"),
            kind,
            "Task (an EMR call), Succeed or Fail: mliy runs no other state",
        ));
    }
    let raw: RawState = serde_json::from_value(raw.clone())
        .map_err(|e| Error::validation(format!("States.{name}"), "", e.to_string()))?;
    let kind = match raw.kind.as_str() {
        "Succeed" => StateKind::Succeed,
        "Fail" => StateKind::Fail { error: raw.error, cause: raw.cause },
        _ => StateKind::Task(Box::new(task(name, raw)?)),
    };
    Ok(State { name: name.to_string(), kind })
}

fn task(name: &str, raw: RawState) -> Result<Task> {
    let at = |field: &str| format!("States.{name}.{field}");
    let resource = raw.resource.unwrap_or_default();
    let op = resource.strip_prefix(ARN_PREFIX).ok_or_else(|| {
        Error::validation(at("Resource"), &resource, "an EMR integration (arn:aws:states:::elasticmapreduce:…)")
    })?;
    let (op, sync) = op.strip_suffix(".sync").map_or((op, false), |o| (o, true));
    let call = match op {
        "createCluster" => EmrCall::CreateCluster,
        "addStep" => EmrCall::AddStep,
        "terminateCluster" => EmrCall::TerminateCluster,
        "setClusterTerminationProtection" if !sync => EmrCall::SetClusterTerminationProtection,
        _ => {
            return Err(Error::validation(
                at("Resource"),
                &resource,
                "createCluster(.sync), addStep(.sync), terminateCluster(.sync) or setClusterTerminationProtection",
            ));
        }
    };
    let next = match (raw.next, raw.end) {
        (Some(next), None | Some(false)) => Some(next),
        (None, Some(true)) => None,
        _ => return Err(Error::validation(at("Next"), "", "give Next or \"End\": true")),
    };
    if let Some(r) = raw.retry.iter().find(|r| r.max_attempts > 10 || !(1.0..=10.0).contains(&r.backoff_rate)) {
        return Err(Error::validation(
            at("Retry"),
            r.max_attempts.to_string(),
            "MaxAttempts at most 10, BackoffRate 1 to 10",
        ));
    }
    let parameters = raw.parameters.unwrap_or(Value::Object(Default::default()));
    if raw.timeout_seconds.is_some_and(|t| !(1..=7 * 24 * 3600).contains(&t)) {
        return Err(Error::validation(
            at("TimeoutSeconds"),
            raw.timeout_seconds.unwrap_or(0).to_string(),
            "1 second to 7 days",
        ));
    }
    let task = Task {
        call,
        sync,
        parameters,
        result_selector: raw.result_selector,
        result_path: raw.result_path,
        next,
        retry: raw.retry,
        catch: raw.catch,
        timeout_seconds: raw.timeout_seconds,
    };
    task.check_parameters(name)?;
    Ok(task)
}

impl Workflow {
    /// The state called `name`.
    pub fn state(&self, name: &str) -> Option<&State> {
        self.states.iter().find(|s| s.name == name)
    }

    fn check_links(&self) -> Result<()> {
        if self.state(&self.start_at).is_none() {
            return Err(Error::validation("StartAt", &self.start_at, "names no state"));
        }
        for s in &self.states {
            let StateKind::Task(t) = &s.kind else { continue };
            let targets = t.next.iter().map(|n| ("Next", n)).chain(t.catch.iter().map(|c| ("Catch", &c.next)));
            for (field, target) in targets {
                if self.state(target).is_none() {
                    return Err(Error::validation(format!("States.{}.{field}", s.name), target, "names no state"));
                }
            }
        }
        Ok(())
    }
}

/// What a task's parameters become once its paths are resolved.
#[derive(Debug, Clone, PartialEq)]
pub enum EmrRequest {
    /// RunJobFlow.
    CreateCluster(Box<ClusterSpec>),
    /// AddJobFlowSteps with one step.
    AddStep {
        /// The cluster.
        cluster_id: String,
        /// The step.
        step: Step,
    },
    /// TerminateJobFlows.
    TerminateCluster {
        /// The cluster.
        cluster_id: String,
    },
    /// SetTerminationProtection.
    SetTerminationProtection {
        /// The cluster.
        cluster_id: String,
        /// On or off.
        protected: bool,
    },
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
struct AddStepParameters {
    cluster_id: String,
    step: Step,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
struct ClusterParameters {
    cluster_id: String,
    #[serde(default)]
    termination_protected: Option<bool>,
}

impl Task {
    /// The request this task sends for the state input `input`.
    ///
    /// # Errors
    /// [`Error::Validation`] naming the state's field: a path that finds nothing, or
    /// parameters that are not the call's.
    pub fn request(&self, state: &str, input: &Value) -> Result<EmrRequest> {
        let field = format!("States.{state}.Parameters");
        let params = resolve(&self.parameters, input, &field)?;
        let bad = |e: serde_json::Error| Error::validation(&field, "", e.to_string());
        Ok(match self.call {
            EmrCall::CreateCluster => {
                let spec = ClusterSpec::from_json(params).map_err(|e| match e {
                    Error::Validation(v) => Error::validation(&field, v.value, v.rule),
                    other => other,
                })?;
                spec.check()?;
                EmrRequest::CreateCluster(Box::new(spec))
            }
            EmrCall::AddStep => {
                let p: AddStepParameters = serde_json::from_value(params).map_err(bad)?;
                EmrRequest::AddStep { cluster_id: p.cluster_id, step: p.step }
            }
            EmrCall::TerminateCluster => {
                let p: ClusterParameters = serde_json::from_value(params).map_err(bad)?;
                EmrRequest::TerminateCluster { cluster_id: p.cluster_id }
            }
            EmrCall::SetClusterTerminationProtection => {
                let p: ClusterParameters = serde_json::from_value(params).map_err(bad)?;
                let protected = p
                    .termination_protected
                    .ok_or_else(|| Error::validation(format!("{field}.TerminationProtected"), "", "required"))?;
                EmrRequest::SetTerminationProtection { cluster_id: p.cluster_id, protected }
            }
        })
    }

    /// Checks what can be checked before the input is known: the request, with every path
    /// standing for a placeholder.
    fn check_parameters(&self, state: &str) -> Result<()> {
        if !self.parameters.is_object() {
            return Err(Error::validation(format!("States.{state}.Parameters"), "", "a JSON object"));
        }
        paths::check_paths(&self.parameters, &format!("States.{state}.Parameters"))?;
        if let Some(selector) = &self.result_selector {
            paths::check_paths(selector, &format!("States.{state}.ResultSelector"))?;
        }
        for p in self.result_path.iter().chain(self.catch.iter().filter_map(|c| c.result_path.as_ref())) {
            paths::parse(p, &format!("States.{state}.ResultPath"))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests;
