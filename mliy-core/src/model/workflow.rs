//! A workflow's progress, stored with the cluster its state machine launched, so that a run
//! resumes where it stopped: no second cluster, no step submitted twice.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Where a workflow run is.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WorkflowProgress {
    /// The state machine (Amazon States Language), as given.
    pub document: String,
    /// The state to run next; `None` once the run has ended.
    pub state: Option<String>,
    /// That state's input.
    pub data: Value,
    /// Retries made of that state.
    #[serde(default)]
    pub attempts: u32,
    /// A step being submitted: set before AddJobFlowSteps, so that after a crash or a lost
    /// answer the step is looked for instead of submitted again.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pending_step: Option<PendingStep>,
    /// Whether the cluster is terminated when the run fails.
    #[serde(default)]
    pub terminate_on_failure: bool,
    /// How the run ended.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outcome: Option<WorkflowOutcome>,
}

/// A step a workflow submitted, or is submitting.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PendingStep {
    /// The state that submits it.
    pub state: String,
    /// The step's name.
    pub name: String,
    /// The cluster's step ids before the submission.
    pub known: Vec<String>,
    /// Its id, once known.
    pub id: Option<String>,
}

/// How a workflow run ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "status")]
pub enum WorkflowOutcome {
    /// Every state succeeded (or a `Succeed` state was reached).
    Succeeded,
    /// A state failed and nothing caught it.
    Failed {
        /// The state.
        state: String,
        /// The error name (`States.TaskFailed`, a `Fail` state's `Error`, …).
        error: String,
        /// What happened: a failed step's name and reason, for one.
        cause: String,
    },
}
