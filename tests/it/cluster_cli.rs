//! `mliy cluster render` on the files the other systems' guides wrote.

use super::cli::mliy;
use super::fixtures;
use serde_json::Value;

fn emr_fixture(name: &str) -> String {
    fixtures::dir().join("../emr").join(name).to_str().unwrap().to_string()
}

#[test]
fn the_edx_guides_file_renders_in_the_apis_field_names() {
    let (code, r, stderr) = mliy(&["cluster", "render", "--edx", &emr_fixture("edx-cluster.yml"), "--json"]);
    assert_eq!(code, 0, "{stderr} {r}");
    assert_eq!(r["ReleaseLabel"], "emr-4.7.2");
    assert_eq!(r["Instances"]["InstanceGroups"][1]["BidPrice"], "0.8", "bidprice as a string");
    assert_eq!(r["Instances"]["Ec2KeyName"], "<your keypair name here>");
    assert_eq!(r["Steps"][0]["HadoopJarStep"]["Jar"], "s3://elasticmapreduce/libs/script-runner/script-runner.jar");
    assert_eq!(r["Configurations"][0]["Properties"]["mapreduce.jobtracker.retiredjobs.cache.size"], "50");
    assert!(r.get("Ec2Attributes").is_none());
}

#[test]
fn the_step_functions_guides_machine_renders_each_state() {
    let file = emr_fixture("stepfunctions-emr-jupyterhub.asl.json");
    let (code, r, stderr) = mliy(&["cluster", "render", "--step-functions", &file, "--json"]);
    assert_eq!(code, 0, "{stderr} {r}");
    let guide: Value = serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
    let states = r["states"].as_array().unwrap();
    assert_eq!(states[0]["request"], guide["States"]["Create EMR cluster"]["Parameters"]);
    assert_eq!((states[1]["call"].as_str(), states[1]["resolved"].as_bool()), (Some("AddStep.sync"), Some(false)));
    let (code, r, _) =
        mliy(&["cluster", "render", "--step-functions", &file, "--input", r#"{"ClusterId": "j-9"}"#, "--json"]);
    assert_eq!(code, 0);
    assert_eq!(r["states"][1]["request"]["JobFlowId"], "j-9");
}

#[test]
fn bad_cluster_files_exit_2_with_the_field() {
    let dir = std::env::temp_dir().join(format!("mliy-cluster-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("bad.yml");
    let text = "name: a\nrelease_label: emr-6.15.0\ninstance_groups: {master: {num_instances: 1, type: m5.xlarge, market: ON_DEMAND, bidprice: 1}}\n";
    std::fs::write(&file, text).unwrap();
    let (code, r, _) = mliy(&["cluster", "render", "--edx", file.to_str().unwrap(), "--json"]);
    assert_eq!((code, r["error"]["field"].as_str()), (2, Some("Instances.InstanceGroups[0].BidPrice")), "{r}");
    let (code, r, _) = mliy(&["cluster", "render", "--json"]);
    assert_eq!((code, r["error"]["kind"].as_str()), (2, Some("validation")), "{r}");
    std::fs::remove_dir_all(&dir).unwrap();
}

/// `mliy workflow run` on a simulated deployment: the guide's machine, unchanged, to its end;
/// a failing step exits 1 with the step's name.
#[test]
fn mliy_workflow_runs_the_guides_machine_on_a_simulated_deployment() {
    let dir = tempfile::tempdir().unwrap();
    let examples = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/catalog");
    for file in ["catalog.yaml", "instance.yaml", "cluster.yaml", "userdata.sh"] {
        std::fs::copy(examples.join(file), dir.path().join(file)).unwrap();
    }
    let machine = emr_fixture("stepfunctions-emr-jupyterhub.asl.json");
    let run = |sim: &str| {
        let config = dir.path().join("mliy.yaml");
        std::fs::write(&config, format!("catalog: catalog.yaml\ncloud: sim\nsim: {sim}\nstore: memory\n")).unwrap();
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_mliy"))
            .args(["workflow", "run", &machine, "--group-config", "data-science", "--json"])
            .env("MLIY_CONFIG", &config)
            .output()
            .unwrap();
        let json: Value = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
        (out.status.code(), json, String::from_utf8_lossy(&out.stderr).to_string())
    };
    let (code, r, stderr) = run("{speed: 1000}");
    assert_eq!(code, Some(0), "{stderr} {r}");
    assert_eq!(r["outcome"]["status"], "succeeded");
    assert_eq!(r["output"]["ClusterId"]["Step"]["Status"]["State"], "COMPLETED");
    let (code, r, _) = run("{speed: 1000, failing_steps: 1.0}");
    assert_eq!(code, Some(1), "{r}");
    assert!(r["outcome"]["cause"].as_str().unwrap().contains("Custom JAR"), "{r}");
}
