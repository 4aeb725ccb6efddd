use super::*;
use serde_json::json;

/// The Step Functions guide's state machine, as it writes it.
pub(crate) const GUIDE: &str = include_str!("guide.asl.json");

#[test]
fn the_guides_machine_reads_and_its_requests_carry_every_field() {
    let w = read_workflow(GUIDE).unwrap();
    assert_eq!(w.start_at, "Create EMR cluster");
    assert_eq!(w.states.len(), 2);
    let StateKind::Task(create) = &w.states[0].kind else { panic!("{:?}", w.states[0]) };
    assert_eq!(
        (create.call, create.sync, create.next.as_deref()),
        (EmrCall::CreateCluster, true, Some("Create JupyterHub Users"))
    );
    let EmrRequest::CreateCluster(spec) = create.request(&w.states[0].name, &json!({})).unwrap() else { panic!() };
    let r = spec.to_json();
    assert_eq!(r["Instances"]["InstanceFleets"][1]["TargetOnDemandCapacity"], 2);
    assert_eq!(r["Configurations"][0]["Properties"]["s3.persistence.enabled"], "true");
    assert_eq!(
        r["BootstrapActions"][0]["ScriptBootstrapAction"]["Path"],
        "s3://<REPLACE WITH YOUR S3 BUCKET>/bootstrap-modules.sh"
    );
    let guide: Value = serde_json::from_str(GUIDE).unwrap();
    assert_eq!(r, guide["States"]["Create EMR cluster"]["Parameters"], "every field reaches the request, unchanged");
    let StateKind::Task(add) = &w.states[1].kind else { panic!() };
    assert_eq!(
        (add.call, add.sync, add.result_path.as_deref(), add.next.as_deref()),
        (EmrCall::AddStep, true, Some("$.ClusterId"), None)
    );
    let input = json!({"ClusterId": "j-1"});
    let EmrRequest::AddStep { cluster_id, step } = add.request(&w.states[1].name, &input).unwrap() else { panic!() };
    assert_eq!((cluster_id.as_str(), step.name.as_str()), ("j-1", "Custom JAR"));
    assert_eq!(step.hadoop_jar_step.args, ["s3://<REPLACE WITH YOUR S3 BUCKET>/createjupyterusers.sh"]);
    let e = add.request(&w.states[1].name, &json!({})).unwrap_err();
    assert!(e.to_string().contains("States.Create JupyterHub Users.Parameters.ClusterId.$"), "{e}");
}

#[test]
fn paths_read_write_and_resolve() {
    let v = json!({"a": {"b": [10, {"c": "x"}]}});
    assert_eq!(read_path(&v, "$.a.b[1].c").unwrap(), Some(&json!("x")));
    assert_eq!(read_path(&v, "$.a.z").unwrap(), None);
    assert_eq!(read_path(&v, "$").unwrap(), Some(&v));
    for bad in ["a.b", "$$.Execution", "$.", "$.a[x]", "$.a[1"] {
        assert!(read_path(&v, bad).is_err(), "{bad}");
    }
    let mut out = json!({"keep": 1});
    write_path(&mut out, "$.r.s", json!(2)).unwrap();
    assert_eq!(out, json!({"keep": 1, "r": {"s": 2}}));
    write_path(&mut out, "$", json!("all")).unwrap();
    assert_eq!(out, json!("all"));
    let t = json!({"Id.$": "$.a.b[0]", "Nested": [{"X.$": "$.a.b[1].c"}], "Plain": "p"});
    assert_eq!(resolve(&t, &v, "P").unwrap(), json!({"Id": 10, "Nested": [{"X": "x"}], "Plain": "p"}));
}

fn machine(states: Value) -> String {
    json!({"StartAt": "A", "States": states}).to_string()
}

fn create(extra: Value) -> Value {
    let mut s = json!({
        "Type": "Task", "Resource": "arn:aws:states:::elasticmapreduce:createCluster.sync", "End": true,
        "Parameters": {"Name": "c", "ReleaseLabel": "emr-6.15.0", "Instances": {"InstanceGroups": [
            {"InstanceRole": "MASTER", "InstanceType": "m5.xlarge", "InstanceCount": 1}]}}
    });
    for (k, v) in extra.as_object().unwrap() {
        s[k] = v.clone();
    }
    s
}

#[test]
fn what_mliy_does_not_run_is_refused_naming_the_state() {
    let on_demand_bid = json!({"Parameters": {"Name": "c", "ReleaseLabel": "emr-6.15.0", "Instances": {"InstanceGroups": [
        {"InstanceRole": "MASTER", "InstanceType": "m5.xlarge", "InstanceCount": 1, "Market": "ON_DEMAND", "BidPrice": "0.3"}]}}});
    let mixed = json!({"Parameters": {"Name": "c", "ReleaseLabel": "emr-6.15.0", "Instances": {
        "InstanceGroups": [{"InstanceRole": "MASTER", "InstanceType": "m5.xlarge", "InstanceCount": 1}],
        "InstanceFleets": [{"InstanceFleetType": "MASTER", "TargetOnDemandCapacity": 1, "InstanceTypeConfigs": [{"InstanceType": "m5.xlarge"}]}]}}});
    let cases = [
        (json!({"A": {"Type": "Wait", "Seconds": 5, "End": true}}), "States.A.Type"),
        (json!({"A": {"Type": "Choice", "Choices": []}}), "States.A.Type"),
        (json!({"A": create(json!({"HeartbeatSeconds": 60}))}), "States.A"),
        (json!({"A": create(json!({"TimeoutSeconds": 0}))}), "States.A.TimeoutSeconds"),
        (json!({"A": create(json!({"Resource": "arn:aws:states:::lambda:invoke"}))}), "States.A.Resource"),
        (
            json!({"A": create(json!({"Resource": "arn:aws:states:::elasticmapreduce:modifyInstanceFleetByName"}))}),
            "States.A.Resource",
        ),
        (json!({"A": create(json!({"End": null, "Next": "B"}))}), "States.A.Next"),
        (json!({"A": create(json!({"Parameters": {"Name.$": "$$.Execution.Name"}}))}), "States.A.Parameters.Name.$"),
        (
            json!({"A": create(json!({"Retry": [{"ErrorEquals": ["States.ALL"], "MaxAttempts": 99}]}))}),
            "States.A.Retry",
        ),
        (
            json!({"A": create(json!({"Catch": [{"ErrorEquals": ["States.ALL"], "Next": "Nowhere"}]}))}),
            "States.A.Catch",
        ),
    ];
    for (states, field) in cases {
        let e = match read_workflow(&machine(states.clone())) {
            Err(Error::Validation(v)) => v,
            other => panic!("{states}: {other:?}"),
        };
        assert_eq!(e.field, field, "{states}: {e}");
    }
    for (extra, field) in [(on_demand_bid, "Instances.InstanceGroups[0].BidPrice"), (mixed, "Instances.InstanceFleets")]
    {
        let w = read_workflow(&machine(json!({"A": create(extra)}))).unwrap();
        let StateKind::Task(t) = &w.states[0].kind else { panic!() };
        match t.request("A", &json!({})) {
            Err(Error::Validation(v)) => assert_eq!(v.field, field),
            other => panic!("{other:?}"),
        }
    }
    let typo = machine(json!({"A": create(json!({"Parameters": {"Name": "c", "ReleaseLable": "emr-6.15.0"}}))}));
    let w = read_workflow(&typo).unwrap();
    let StateKind::Task(t) = &w.states[0].kind else { panic!() };
    let e = t.request("A", &json!({})).unwrap_err().to_string();
    assert!(e.contains("States.A.Parameters") && e.contains("ReleaseLable"), "{e}");
    assert!(matches!(read_workflow("{"), Err(Error::Parse { .. })));
    assert!(read_workflow(&json!({"StartAt": "Z", "States": {"A": create(json!({}))}}).to_string()).is_err());
}
