//! Steps, bootstrap actions and configurations.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// EMR's jar that runs a command on the master (`spark-submit …`).
pub const COMMAND_RUNNER: &str = "command-runner.jar";
/// EMR's jar that runs a script from S3 (its first argument).
pub const SCRIPT_RUNNER: &str = "s3://elasticmapreduce/libs/script-runner/script-runner.jar";

/// A step.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct Step {
    /// Its name.
    pub name: String,
    /// What the cluster does when it fails (EMR's default: `TERMINATE_CLUSTER`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub action_on_failure: Option<ActionOnFailure>,
    /// What it runs.
    pub hadoop_jar_step: HadoopJarStep,
}

/// What a step does when it fails.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ActionOnFailure {
    /// Terminate the cluster (the old name).
    TerminateJobFlow,
    /// Terminate the cluster.
    TerminateCluster,
    /// Cancel the steps after it and wait.
    CancelAndWait,
    /// Go on with the next step.
    Continue,
}

/// A jar, its main class, Java properties and arguments.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct HadoopJarStep {
    /// The jar: a path on the cluster, `s3://…`, or [`COMMAND_RUNNER`].
    pub jar: String,
    /// The main class, when the jar's manifest has none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub main_class: Option<String>,
    /// Java properties.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub properties: Vec<KeyValue>,
    /// Arguments.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub args: Vec<String>,
}

/// A Java property.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct KeyValue {
    /// The key.
    pub key: String,
    /// The value.
    #[serde(default)]
    pub value: String,
}

impl Step {
    /// A step that runs `args` through [`COMMAND_RUNNER`].
    pub fn command(name: impl Into<String>, args: Vec<String>) -> Step {
        let hadoop_jar_step = HadoopJarStep { jar: COMMAND_RUNNER.into(), args, ..HadoopJarStep::default() };
        Step { name: name.into(), action_on_failure: None, hadoop_jar_step }
    }

    /// A step that runs the script at `args[0]` through [`SCRIPT_RUNNER`].
    pub fn script(name: impl Into<String>, args: Vec<String>) -> Step {
        let hadoop_jar_step = HadoopJarStep { jar: SCRIPT_RUNNER.into(), args, ..HadoopJarStep::default() };
        Step { name: name.into(), action_on_failure: None, hadoop_jar_step }
    }
}

/// A bootstrap action.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct BootstrapAction {
    /// Its name.
    pub name: String,
    /// The script and its arguments.
    pub script_bootstrap_action: ScriptBootstrapAction,
}

/// A bootstrap script.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct ScriptBootstrapAction {
    /// Where it is: `s3://…` or `file:/…`.
    pub path: String,
    /// Its arguments.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub args: Vec<String>,
}

/// An application configuration, nested as EMR nests them.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct Configuration {
    /// The classification: `spark-defaults`, `jupyter-s3-conf`, `export`, …
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub classification: Option<String>,
    /// Its properties.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub properties: BTreeMap<String, String>,
    /// Configurations inside it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub configurations: Vec<Configuration>,
}
