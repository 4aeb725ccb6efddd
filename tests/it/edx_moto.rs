//! The edX guide's cluster file, placeholders filled in, launched through the engine against
//! moto, and read back with boto3: groups, bootstrap actions and configurations as sent.

use super::fixtures;
use super::moto::Moto;
use mliy::engine::{Engine, EngineConfig};
use mliy::import::edx::read_edx_cluster;
use mliy::plugins::aws::{AwsCloud, AwsOptions};
use mliy::secret::Secret;
use mliy::store::MemoryStore;
use serde_json::Value;
use std::sync::Arc;
use std::time::Duration;

fn guide_file(subnet: &str, key: &str) -> String {
    let text = std::fs::read_to_string(fixtures::dir().join("../emr/edx-cluster.yml")).unwrap();
    let text = text
        .replace("<your cluster name here>", "edx-analytics")
        .replace("<your keypair name here>", key)
        .replace("<your VPC public subnet ID here>", subnet)
        .replace("<your logging bucket name here>", "edx-logs")
        .replace("<your-analytics-packages-bucket>", "edx-packages");
    // The guide's file has no bootstrap actions: add one, in edX's format.
    text.replacen(
        "release_label:",
        "bootstrap_actions: {tune: {path: 's3://edx-packages/tune.sh', args: [--fast]}},\n    release_label:",
        1,
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_edx_guides_cluster_reaches_emr_as_written() {
    let Some(moto) = Moto::start() else { return };
    let account = moto.account();
    let options =
        AwsOptions::new().region("us-east-1").endpoint_url(&moto.url).credentials("testing", Secret::new("testing"));
    let aws = Arc::new(AwsCloud::connect(options).await.unwrap());
    let mut catalog = fixtures::catalog();
    catalog.group_configs[0].emr_access = true;
    let group = catalog.group_configs[0].name.clone();
    let config = EngineConfig { cluster_poll: Duration::from_millis(100), ..EngineConfig::default() };
    let engine = Engine::builder()
        .catalog(catalog)
        .cloud(aws)
        .store(Arc::new(MemoryStore::new()))
        .config(config)
        .build()
        .unwrap();
    let admin = mliy::model::Principal { admin: true, ..mliy::model::Principal::new("ops", ["admins"]) };
    let cluster = read_edx_cluster(&guide_file(&account.subnet_id, &account.key_name)).unwrap();
    let id = engine.launch_cluster_spec(&admin, &group, cluster.spec).await.unwrap();
    let up = tokio::time::timeout(
        Duration::from_secs(60),
        engine.wait_until(&admin, &id, |p| p.is_usable() || p.is_terminal()),
    )
    .await
    .unwrap()
    .unwrap();
    assert!(up.phase.is_usable(), "{up:?}");
    let cluster_id = up.cluster_id.unwrap();
    let echoed = moto.boto3(&format!(
        "emr = boto3.client('emr', **kw)\n\
         c = emr.describe_cluster(ClusterId='{cluster_id}')['Cluster']\n\
         g = emr.list_instance_groups(ClusterId='{cluster_id}')['InstanceGroups']\n\
         b = emr.list_bootstrap_actions(ClusterId='{cluster_id}')['BootstrapActions']\n\
         print(json.dumps(dict(configurations=c.get('Configurations'), tags=c.get('Tags'), release=c.get('ReleaseLabel'), \
         groups=[(x['InstanceGroupType'], x['Market'], x.get('BidPrice'), x['RequestedInstanceCount']) for x in g], \
         bootstrap=[(x['Name'], x['ScriptPath'], x['Args']) for x in b])))\n"
    ));
    let r: Value = serde_json::from_str(echoed.trim()).unwrap();
    assert_eq!(r["release"], "emr-4.7.2");
    let mut groups: Vec<Value> = r["groups"].as_array().unwrap().clone();
    groups.sort_by_key(|g| g[0].as_str().unwrap().to_string());
    assert_eq!(
        groups,
        [
            serde_json::json!(["CORE", "SPOT", "0.8", 2]),
            serde_json::json!(["MASTER", "ON_DEMAND", null, 1]),
            serde_json::json!(["TASK", "SPOT", "0.8", 1])
        ]
    );
    assert_eq!(r["bootstrap"], serde_json::json!([["tune", "s3://edx-packages/tune.sh", ["--fast"]]]));
    let configurations = r["configurations"].as_array().unwrap();
    let mapred = configurations.iter().find(|c| c["Classification"] == "mapred-site").unwrap();
    assert_eq!(mapred["Properties"]["mapreduce.reduce.shuffle.input.buffer.percent"], "0.20");
    let tags = r["tags"].as_array().unwrap();
    assert!(tags.iter().any(|t| t["Key"] == "ansible:emr:name" && t["Value"] == "edx-analytics"), "{tags:?}");
    assert!(tags.iter().any(|t| t["Key"] == "mliy:launch-id" && t["Value"] == id.as_str()), "{tags:?}");

    // Resize: ModifyInstanceGroups reaches moto, and the record follows.
    let role = mliy::model::emr::InstanceRole::Core;
    let resized = engine.act(&admin, &id, mliy::engine::Action::Resize { role, count: 3 }).await.unwrap();
    let core =
        resized.job_flow.unwrap().instances.instance_groups.into_iter().find(|g| g.instance_role == role).unwrap();
    assert_eq!(core.instance_count, 3);
    let counts = moto.boto3(&format!(
        "emr = boto3.client('emr', **kw)\n\
         g = emr.list_instance_groups(ClusterId='{cluster_id}')['InstanceGroups']\n\
         print(json.dumps({{x['InstanceGroupType']: x['RequestedInstanceCount'] for x in g}}))\n"
    ));
    let counts: Value = serde_json::from_str(counts.trim()).unwrap();
    assert_eq!(counts["CORE"], 3, "{counts}");
}
