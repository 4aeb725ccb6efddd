//! Workflows from Step Functions state machines, on SimCloud: what moto cannot do (its steps
//! never finish, and it drops instance fleets).

use super::*;
use crate::engine::{WorkflowOptions, WorkflowReport};
use crate::model::WorkflowOutcome;
use serde_json::json;

/// The Step Functions guide's machine, unchanged (placeholders included).
const GUIDE: &str = include_str!("../../import/states/guide.asl.json");

async fn run(engine: &Engine, id: &LaunchId) -> Result<WorkflowReport> {
    bounded(engine.run_workflow(&ops(), id)).await
}

async fn start(engine: &Engine, document: &str, options: WorkflowOptions) -> LaunchId {
    engine.start_workflow(&ops(), "ds", document, json!({}), options).await.unwrap()
}

fn step_names(steps: &[crate::cloud::StepInfo]) -> Vec<&str> {
    steps.iter().map(|s| s.name.as_str()).collect()
}

#[tokio::test(start_paused = true)]
async fn the_guides_machine_runs_unchanged() {
    let rig = Rig::new(SimConfig::default());
    let engine = rig.engine();
    let id = start(&engine, GUIDE, WorkflowOptions::default()).await;
    let report = run(&engine, &id).await.unwrap();
    assert_eq!(report.outcome, WorkflowOutcome::Succeeded, "{report:?}");
    let cluster = report.cluster_id.clone().unwrap();
    let step_id = report.output["ClusterId"]["StepId"].as_str().unwrap();
    let steps = rig.cloud.list_steps(&cluster).await.unwrap();
    assert_eq!(step_names(&steps), ["Custom JAR"]);
    assert_eq!((steps[0].id.as_str(), steps[0].state), (step_id, StepState::Completed));
    let r = engine.get(&ops(), &id).await.unwrap();
    let spec = r.job_flow.unwrap();
    assert_eq!(spec.instances.instance_fleets.len(), 2, "the fleets reach RunJobFlow");
    assert_eq!(spec.node_count(), 3);
    assert_eq!(rig.cloud.calls().get("RunJobFlow"), Some(&1));
    // Running it again changes nothing: the run has ended.
    assert_eq!(run(&engine, &id).await.unwrap().outcome, WorkflowOutcome::Succeeded);
    assert_eq!(rig.cloud.calls().get("AddJobFlowSteps"), Some(&1));
}

#[tokio::test(start_paused = true)]
async fn a_failed_step_ends_the_run_with_its_name_and_reason_and_can_terminate() {
    let rig = Rig::new(SimConfig { fail_step_rate: 1.0, ..SimConfig::default() });
    let engine = rig.engine();
    let id = start(&engine, GUIDE, WorkflowOptions { terminate_on_failure: true }).await;
    let report = run(&engine, &id).await.unwrap();
    let WorkflowOutcome::Failed { state, error, cause } = &report.outcome else { panic!("{report:?}") };
    assert_eq!((state.as_str(), error.as_str()), ("Create JupyterHub Users", "States.TaskFailed"));
    assert!(
        cause.contains("step Custom JAR") && cause.contains("Failed") && cause.contains("exited with status 1"),
        "{cause}"
    );
    let end = bounded(engine.wait_until(&ops(), &id, Phase::is_terminal)).await.unwrap();
    assert_eq!(end.phase, Phase::Terminated, "terminate on failure");
}

fn machine(step_extra: serde_json::Value) -> String {
    let mut guide: serde_json::Value = serde_json::from_str(GUIDE).unwrap();
    let users = &mut guide["States"]["Create JupyterHub Users"];
    for (k, v) in step_extra.as_object().unwrap() {
        users[k] = v.clone();
    }
    guide["States"]["Gave up"] = json!({"Type": "Fail", "Error": "Users", "Cause": "no users"});
    guide.to_string()
}

#[tokio::test(start_paused = true)]
async fn retry_then_catch_take_a_failed_step() {
    let rig = Rig::new(SimConfig { fail_step_rate: 1.0, ..SimConfig::default() });
    let engine = rig.engine();
    let doc = machine(json!({
        "Retry": [{"ErrorEquals": ["States.TaskFailed"], "MaxAttempts": 2, "IntervalSeconds": 5}],
        "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "Gave up", "ResultPath": "$.error"}]
    }));
    let id = start(&engine, &doc, WorkflowOptions::default()).await;
    let report = run(&engine, &id).await.unwrap();
    let expected = WorkflowOutcome::Failed { state: "Gave up".into(), error: "Users".into(), cause: "no users".into() };
    assert_eq!(report.outcome, expected);
    assert!(report.output["error"]["Cause"].as_str().unwrap().contains("Custom JAR"), "{}", report.output);
    let steps = rig.cloud.list_steps(report.cluster_id.as_deref().unwrap()).await.unwrap();
    assert_eq!(steps.len(), 3, "the first try and two retries: {steps:?}");
}

#[tokio::test(start_paused = true)]
async fn a_step_that_never_ends_times_out() {
    let rig = Rig::new(SimConfig::default());
    let engine = rig.engine();
    let id = start(&engine, &machine(json!({"TimeoutSeconds": 1})), WorkflowOptions::default()).await;
    let report = run(&engine, &id).await.unwrap();
    let WorkflowOutcome::Failed { error, .. } = &report.outcome else { panic!("{report:?}") };
    assert_eq!(error, "States.Timeout");
}

/// Faults on every call and a crash (a new engine) after each error, lost answers included:
/// the run ends once, with one cluster and one step.
#[tokio::test(start_paused = true)]
async fn crashes_mid_workflow_resume_without_a_second_cluster_or_step() {
    let mut total = 0;
    for seed in 1..=10 {
        let rig = Rig::new(SimConfig { fault_rate: 0.4, seed, ..SimConfig::default() });
        let mut engine = rig.engine();
        let id = loop {
            match engine.start_workflow(&ops(), "ds", GUIDE, json!({}), WorkflowOptions::default()).await {
                Ok(id) => break id,
                Err(e) => assert!(e.is_retryable(), "seed {seed}: {e}"),
            }
        };
        let mut crashes = 0;
        let report = loop {
            match run(&engine, &id).await {
                Ok(report) => break report,
                Err(e) => {
                    assert!(e.is_retryable(), "seed {seed}: {e}");
                    crashes += 1;
                    assert!(
                        crashes < 60,
                        "seed {seed}: no end after {crashes} crashes (a step submitted again each time?)"
                    );
                    engine.shutdown();
                    engine = rig.engine();
                    let _ = engine.resume().await;
                }
            }
        };
        assert_eq!(report.outcome, WorkflowOutcome::Succeeded, "seed {seed} after {crashes} crashes: {report:?}");
        total += crashes;
        rig.cloud.set_fault_rate(0.0);
        let steps = rig.cloud.list_steps(report.cluster_id.as_deref().unwrap()).await.unwrap();
        assert_eq!(step_names(&steps), ["Custom JAR"], "seed {seed}: one step");
        assert_eq!(rig.cloud.duplicate_stacks(), 0, "seed {seed}: one cluster");
    }
    assert!(total >= 10, "the faults crashed the runs only {total} times");
}

#[tokio::test(start_paused = true)]
async fn only_admins_start_workflows_and_a_run_touches_only_its_cluster() {
    let rig = Rig::new(SimConfig::default());
    let engine = rig.engine();
    let e = engine.start_workflow(&alice(), "ds", GUIDE, json!({}), WorkflowOptions::default()).await.unwrap_err();
    assert!(matches!(e, Error::Forbidden(_)), "{e}");
    let mut other: serde_json::Value = serde_json::from_str(GUIDE).unwrap();
    other["States"]["Create JupyterHub Users"]["Parameters"]["ClusterId"] = json!("j-SOMEONEELSE");
    other["States"]["Create JupyterHub Users"]["Parameters"].as_object_mut().unwrap().remove("ClusterId.$");
    let id = start(&engine, &other.to_string(), WorkflowOptions::default()).await;
    let report = run(&engine, &id).await.unwrap();
    let WorkflowOutcome::Failed { cause, .. } = &report.outcome else { panic!("{report:?}") };
    assert!(cause.contains("only on the cluster it launched"), "{cause}");
    assert_eq!(rig.cloud.calls().get("AddJobFlowSteps"), None);
    let two = json!({"StartAt": "A", "States": {"A": {"Type": "Succeed"}}}).to_string();
    let e = engine.start_workflow(&ops(), "ds", &two, json!({}), WorkflowOptions::default()).await.unwrap_err();
    assert!(e.to_string().contains("createCluster"), "{e}");
}

/// setClusterTerminationProtection reaches the cluster: a protected cluster's terminate
/// state fails (EMR refuses), and lifting the protection lets it end.
#[tokio::test(start_paused = true)]
async fn termination_protection_guards_the_cluster() {
    let rig = Rig::new(SimConfig::default());
    let engine = rig.engine();
    let mut m: serde_json::Value = serde_json::from_str(GUIDE).unwrap();
    let arn = |op: &str| format!("arn:aws:states:::elasticmapreduce:{op}");
    m["States"]["Create EMR cluster"]["Next"] = json!("Protect");
    m["States"]["Protect"] = json!({"Type": "Task", "Resource": arn("setClusterTerminationProtection"),
        "Parameters": {"ClusterId.$": "$.ClusterId", "TerminationProtected": true}, "ResultPath": null, "Next": "End it"});
    m["States"]["End it"] = json!({"Type": "Task", "Resource": arn("terminateCluster.sync"),
        "Parameters": {"ClusterId.$": "$.ClusterId"}, "End": true});
    let id = start(&engine, &m.to_string(), WorkflowOptions::default()).await;
    let report = run(&engine, &id).await.unwrap();
    let WorkflowOutcome::Failed { state, cause, .. } = &report.outcome else { panic!("{report:?}") };
    assert_eq!(state, "End it");
    assert!(cause.contains("termination protected"), "{cause}");
    let cluster = report.cluster_id.clone().unwrap();
    assert!(!rig.cloud.describe_cluster(&cluster).await.unwrap().unwrap().state.is_terminated());
    // The refused cleanup is tried again later (not in a hot loop): once protection is
    // lifted, the cluster ends.
    rig.cloud.set_termination_protection(&cluster, false).await.unwrap();
    bounded(async {
        while !rig.cloud.describe_cluster(&cluster).await.unwrap().unwrap().state.is_terminated() {
            rig.clock.sleep(Duration::from_secs(30)).await;
        }
    })
    .await;
}

/// A step CANCELLED because the step before it failed with CANCEL_AND_WAIT ends the run with
/// its name: only COMPLETED is success.
#[tokio::test(start_paused = true)]
async fn a_cancelled_step_ends_the_run() {
    let rig = Rig::new(SimConfig { fail_step_rate: 1.0, ..SimConfig::default() });
    let engine = rig.engine();
    let mut m: serde_json::Value = serde_json::from_str(GUIDE).unwrap();
    let step = |name: &str, action: &str| {
        json!({"Name": name, "ActionOnFailure": action,
        "HadoopJarStep": {"Jar": "command-runner.jar", "Args": ["true"]}})
    };
    m["States"]["Create JupyterHub Users"]["Resource"] = json!("arn:aws:states:::elasticmapreduce:addStep");
    m["States"]["Create JupyterHub Users"]["Parameters"]["Step"] = step("breaks", "CANCEL_AND_WAIT");
    m["States"]["Create JupyterHub Users"]["ResultPath"] = json!(null);
    m["States"]["Create JupyterHub Users"].as_object_mut().unwrap().remove("End");
    m["States"]["Create JupyterHub Users"]["Next"] = json!("After");
    m["States"]["After"] = json!({"Type": "Task", "Resource": "arn:aws:states:::elasticmapreduce:addStep.sync",
        "Parameters": {"ClusterId.$": "$.ClusterId", "Step": step("after", "CONTINUE")}, "End": true});
    let id = start(&engine, &m.to_string(), WorkflowOptions::default()).await;
    let report = run(&engine, &id).await.unwrap();
    let WorkflowOutcome::Failed { state, cause, .. } = &report.outcome else { panic!("{report:?}") };
    assert_eq!(state, "After");
    assert!(cause.contains("step after") && cause.contains("Cancelled"), "{cause}");
}
