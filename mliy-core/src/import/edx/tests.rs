use super::*;
use serde_json::json;

/// The guide's cluster file, as it writes it (flow style, placeholders, a trailing comma).
const GUIDE: &str = r#"{
    name: <your cluster name here>,
    keypair_name: <your keypair name here>,
    vpc_subnet_id: <your VPC public subnet ID here>,
    log_uri: "s3://<your logging bucket name here>",
    instance_groups: {
        master: { num_instances: 1, type: m3.xlarge, market: ON_DEMAND, },
        core: { num_instances: 2, type: m3.xlarge, market: SPOT, bidprice: 0.8 },
        task: { num_instances: 1, type: m3.xlarge, market: SPOT, bidprice: 0.8 }
    },
    release_label: emr-4.7.2,
    applications: [ {name: Hadoop}, {name: Hive}, {name: Sqoop-Sandbox}, {name: Ganglia} ],
    steps: [
      {
        type: script,
        name: Install MySQL connector for Sqoop,
        step_args: [ "s3://<bucket>/install-sqoop", "s3://<bucket>" ],
        # You might want to set this to CANCEL_AND_WAIT while debugging step failures.
        action_on_failure: TERMINATE_JOB_FLOW
      }
    ],
    configurations: [
      { classification: mapred-site, properties: { mapreduce.framework.name: 'yarn', mapreduce.reduce.shuffle.input.buffer.percent: '0.20', } },
      { classification: yarn-site, properties: { yarn.resourcemanager.max-completed-applications: '5' } }
    ],
    user_info: []
}"#;

/// A fleet file in edX's format: spot master, weighted core types with their own bid, EBS,
/// bootstrap actions both ways, subnets as a list, a jar step with properties.
const FLEETS: &str = r#"
name: fleet-etl
keypair_name: analytics
vpc_subnet_id: [subnet-1, subnet-2]
release_label: emr-6.15.0
ebs_root_volume_size: 40
additional_master_security_groups: [sg-master]
instance_fleets:
  master: {instance_types: [{type: m5.xlarge}]}
  core:
    on_demand_capacity: 2
    spot_capacity: 6
    on_demand_fallback: true
    bid_timeout_after: 20
    bid_price_pct: 40
    volume_size: 100
    instance_types: [{type: r5.xlarge, weight: 2}, {type: r5.2xlarge, weight: 4, bid_price_pct: 60}]
  task: {spot_capacity: 0, on_demand_capacity: 0, instance_types: {type: m5.large}}
bootstrap_actions:
  pip: s3://bucket/pip.sh
  tune: {path: s3://bucket/tune.sh, args: [--fast]}
steps:
  - {type: jar, name: count, jar: s3://bucket/count.jar, main_class: org.Count, properties: {mapred.reduce.tasks: '4'}, step_args: [a, b]}
  - {type: hive_install, hive_version: 2.3.9}
tags: [{Key: team, Value: analytics}]
user_info:
  - {name: sally, type: admin, authorized_keys: ["ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIE sally@laptop"]}
"#;

fn render(text: &str) -> serde_json::Value {
    read_edx_cluster(text).unwrap().spec.to_json()
}

fn refused(text: &str) -> crate::ValidationError {
    match read_edx_cluster(text) {
        Err(Error::Validation(v)) => v,
        other => panic!("expected a refusal, got {other:?}"),
    }
}

#[test]
fn the_guides_file_renders_every_field_with_the_playbooks_defaults() {
    let r = render(GUIDE);
    assert_eq!(r["Name"], "<your cluster name here>");
    assert_eq!((r["ReleaseLabel"].as_str(), r.get("AmiVersion")), (Some("emr-4.7.2"), None));
    assert_eq!((r["JobFlowRole"].as_str(), r["ServiceRole"].as_str()), (Some("emr"), Some("EMR_DefaultRole")));
    assert_eq!(
        (r["VisibleToAllUsers"].as_bool(), r["LogUri"].as_str()),
        (Some(true), Some("s3://<your logging bucket name here>"))
    );
    let i = &r["Instances"];
    assert_eq!(i["Ec2KeyName"], "<your keypair name here>");
    assert_eq!(i["Ec2SubnetId"], "<your VPC public subnet ID here>");
    assert_eq!(
        (i["KeepJobFlowAliveWhenNoSteps"].as_bool(), i["TerminationProtected"].as_bool()),
        (Some(true), Some(false))
    );
    assert_eq!(
        i["InstanceGroups"],
        json!([
            {"Name": "master", "InstanceRole": "MASTER", "Market": "ON_DEMAND", "InstanceType": "m3.xlarge", "InstanceCount": 1},
            {"Name": "core", "InstanceRole": "CORE", "Market": "SPOT", "BidPrice": "0.8", "InstanceType": "m3.xlarge", "InstanceCount": 2},
            {"Name": "task", "InstanceRole": "TASK", "Market": "SPOT", "BidPrice": "0.8", "InstanceType": "m3.xlarge", "InstanceCount": 1}
        ])
    );
    let apps: Vec<&str> = r["Applications"].as_array().unwrap().iter().map(|a| a["Name"].as_str().unwrap()).collect();
    assert_eq!(apps, ["Hadoop", "Hive", "Sqoop-Sandbox", "Ganglia"]);
    assert_eq!(
        r["Steps"],
        json!([{"Name": "Install MySQL connector for Sqoop", "ActionOnFailure": "TERMINATE_JOB_FLOW",
                "HadoopJarStep": {"Jar": SCRIPT_RUNNER_JAR, "Args": ["s3://<bucket>/install-sqoop", "s3://<bucket>"]}}])
    );
    assert_eq!(r["Configurations"][0]["Properties"]["mapreduce.reduce.shuffle.input.buffer.percent"], "0.20");
    assert_eq!(r["Configurations"][1]["Classification"], "yarn-site");
    assert_eq!(r["Tags"], json!([{"Key": "ansible:emr:name", "Value": "<your cluster name here>"}]));
}

const SCRIPT_RUNNER_JAR: &str = crate::model::emr::SCRIPT_RUNNER;

#[test]
fn fleets_bootstrap_actions_steps_and_users_render_as_the_module_builds_them() {
    let r = render(FLEETS);
    let i = &r["Instances"];
    assert_eq!(i["Ec2SubnetIds"], json!(["subnet-1", "subnet-2"]));
    assert_eq!(i["AdditionalMasterSecurityGroups"], json!(["sg-master"]));
    assert_eq!(r["EbsRootVolumeSize"], 40);
    let fleets = i["InstanceFleets"].as_array().unwrap();
    assert_eq!(fleets.len(), 3, "{fleets:?}");
    assert_eq!(fleets[2]["TargetSpotCapacity"], 0, "only an empty core fleet is left out (edX's rule)");
    assert_eq!(fleets[0]["TargetSpotCapacity"], 1, "the master is spot unless use_spot is false");
    assert_eq!(fleets[0]["InstanceTypeConfigs"][0]["BidPriceAsPercentageOfOnDemandPrice"], 25.0);
    let core = &fleets[1];
    assert_eq!((core["TargetOnDemandCapacity"].as_u64(), core["TargetSpotCapacity"].as_u64()), (Some(2), Some(6)));
    assert_eq!(
        core["LaunchSpecifications"],
        json!({"SpotSpecification": {"TimeoutDurationMinutes": 20, "TimeoutAction": "SWITCH_TO_ON_DEMAND"}})
    );
    let types = core["InstanceTypeConfigs"].as_array().unwrap();
    assert_eq!(
        (types[0]["WeightedCapacity"].as_u64(), types[0]["BidPriceAsPercentageOfOnDemandPrice"].as_f64()),
        (Some(2), Some(40.0))
    );
    assert_eq!(types[1]["BidPriceAsPercentageOfOnDemandPrice"], 60.0);
    assert_eq!(
        types[1]["EbsConfiguration"],
        json!({"EbsBlockDeviceConfigs": [{"VolumeSpecification": {"VolumeType": "gp2", "SizeInGB": 100}}], "EbsOptimized": true})
    );
    assert_eq!(
        r["BootstrapActions"][0],
        json!({"Name": "pip", "ScriptBootstrapAction": {"Path": "s3://bucket/pip.sh"}})
    );
    assert_eq!(r["BootstrapActions"][1]["ScriptBootstrapAction"]["Args"], json!(["--fast"]));
    let jar = &r["Steps"][0]["HadoopJarStep"];
    assert_eq!(jar["MainClass"], "org.Count");
    assert_eq!(jar["Properties"], json!([{"Key": "mapred.reduce.tasks", "Value": "4"}]));
    assert_eq!(r["Steps"][1]["HadoopJarStep"]["Args"][5], "2.3.9");
    assert_eq!(r["Steps"][1]["Name"], "hive_install");
    let user = &r["Steps"][2];
    assert_eq!(user["Name"], "Add SSH user sally");
    let args: Vec<&str> =
        user["HadoopJarStep"]["Args"].as_array().unwrap().iter().map(|a| a.as_str().unwrap()).collect();
    assert_eq!(args[..3], ["bash", "-c", ADD_USER_SCRIPT], "the script is fixed text");
    assert_eq!(args[4..], ["sally", "admin", "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIE sally@laptop"]);
    assert_eq!(r["Tags"][0], json!({"Key": "team", "Value": "analytics"}));
}

#[test]
fn without_instance_groups_the_playbooks_groups_apply() {
    let r = render("name: ETL\nrelease_label: emr-5.30.0\ntask_instance_bid: 0.05\ncore_instance_num: 3\n");
    let groups = r["Instances"]["InstanceGroups"].as_array().unwrap();
    let shape: Vec<_> = groups
        .iter()
        .map(|g| {
            (
                g["InstanceRole"].as_str().unwrap(),
                g["InstanceCount"].as_u64().unwrap(),
                g["InstanceType"].as_str().unwrap(),
                g.get("BidPrice").cloned(),
            )
        })
        .collect();
    assert_eq!(
        shape,
        [
            ("MASTER", 1, "m1.medium", None),
            ("CORE", 3, "m1.medium", None),
            ("TASK", 1, "m1.medium", Some(json!("0.05")))
        ]
    );
    let old = render("name: old\n");
    assert_eq!(
        (old["AmiVersion"].as_str(), old.get("ReleaseLabel")),
        (Some("2.4.11"), None),
        "the playbook's AMI version"
    );
}

#[test]
fn ec2_attributes_go_under_instances() {
    let r = render(
        "name: a\nrelease_label: emr-6.15.0\nec2_attributes: {Ec2KeyName: k, ServiceAccessSecurityGroup: sg-1}\n",
    );
    assert_eq!(
        (r["Instances"]["Ec2KeyName"].as_str(), r["Instances"]["ServiceAccessSecurityGroup"].as_str()),
        (Some("k"), Some("sg-1"))
    );
    assert!(r.get("Ec2Attributes").is_none());
    let e = refused("name: a\nkeypair_name: k\nrelease_label: emr-6.15.0\nec2_attributes: {Ec2KeyName: other}\n");
    assert_eq!(e.field, "ec2_attributes.Ec2KeyName");
}

#[test]
fn what_edx_or_emr_would_get_wrong_is_refused_naming_the_field() {
    let base = "name: a\nrelease_label: emr-6.15.0\n";
    let cases = [
        (
            "instance_groups: {master: {num_instances: 1, type: m5.xlarge, market: ON_DEMAND, bidprice: 0.5}}",
            "Instances.InstanceGroups[0].BidPrice",
        ),
        (
            "instance_groups: {master: {num_instances: 1, type: m5.xlarge, bidprice: 0.5}}",
            "instance_groups.master.bidprice",
        ),
        ("instance_groups: {master: {num_instances: 2, type: m5.xlarge}}", "Instances.InstanceGroups[0].InstanceCount"),
        (
            "instance_groups: {master: {num_instances: 1, type: m5.xlarge}}\ninstance_fleets: {master: {instance_types: [{type: m5.xlarge}]}}",
            "instance_fleets",
        ),
        ("instance_groups: {master: {num_instances: 1, type: m5.xlarge, size: 3}}", "instance_groups.master.size"),
        ("instance_groups: {master: {num_instances: many, type: m5.xlarge}}", "instance_groups.master.num_instances"),
        ("vpc_subnet_id: subnet-1\navailability_zone: us-east-1a", "availability_zone"),
        ("vpc_subnet_id: [subnet-1, subnet-2]", "Instances.Ec2SubnetIds"),
        (
            "master_instance_num: 1\ninstance_groups: {master: {num_instances: 1, type: m5.xlarge}}",
            "master_instance_num",
        ),
        ("steps: [{type: jar, name: x}]", "steps[0].jar"),
        ("steps: [{type: spark}]", "steps[0].type"),
        ("steps: [{type: script, action_on_failure: EXPLODE}]", "steps[0].action_on_failure"),
        ("user_info: [{name: frank, github: true}]", "user_info[0].github"),
        ("user_info: [{name: 'x; rm -rf /', authorized_keys: [ssh-rsa AAAA]}]", "user_info[0].name"),
        ("user_info: [{name: eve, authorized_keys: [\"ssh-rsa AAAA\\nrm -rf /\"]}]", "user_info[0].authorized_keys[0]"),
        ("user_info: [{name: bob, type: restricted, authorized_keys: [ssh-rsa AAAA]}]", "user_info[0].type"),
        ("configurations: [{properties: {a: b}}]", "Configurations[0].Classification"),
        ("regoin: us-east-1", "regoin"),
        ("bootstrap_actions: {x: /tmp/x.sh}", "BootstrapActions[0].ScriptBootstrapAction.Path"),
    ];
    for (extra, field) in cases {
        let e = refused(&format!("{base}{extra}\n"));
        assert_eq!(e.field, field, "{extra}: {e}");
    }
    let e = refused("name: a\nconfigurations: [{classification: x}]\n");
    assert_eq!((e.field.as_str(), e.rule.as_str()), ("configurations", "configurations need a release_label"));
}

#[test]
fn documents_that_are_not_cluster_files_are_errors() {
    assert!(matches!(read_edx_cluster("{name: [unclosed"), Err(Error::Parse { .. })));
    assert_eq!(refused("- a\n- b\n").field, "");
    assert_eq!(refused("release_label: emr-6.15.0\n").field, "name");
}

/// The fields the guide's file leaves out, each where RunJobFlow takes it.
#[test]
fn the_other_fields_reach_the_request() {
    let r = render(
        "name: etl\nregion: us-west-2\nrelease_label: emr-5.36.0\navailability_zone: us-west-2b\nhadoop_version: '2.10'\n\
         emr_managed_master_security_group: sg-m\nemr_managed_slave_security_group: sg-s\n\
         additional_slave_security_groups: [sg-x, sg-y]\nservice_role: svc\njob_flow_role: nodes\n\
         visible_to_all_users: no\nlog_uri: s3://logs\n\
         instance_groups: {master: {num_instances: 1, type: m5.xlarge, volume_type: gp3}, core: {num_instances: 0, type: m5.xlarge}}\n\
         steps: [{type: streaming, name: wc, step_args: [-input, in]}, {type: pig_install}, \
         {type: jar, jar: s3://b/j.jar, properties: [{key: k, value: v}]}]\n",
    );
    let i = &r["Instances"];
    assert_eq!(i["Placement"], json!({"AvailabilityZone": "us-west-2b"}));
    assert_eq!(
        (i["HadoopVersion"].as_str(), i["EmrManagedMasterSecurityGroup"].as_str()),
        (Some("2.10"), Some("sg-m"))
    );
    assert_eq!(
        (i["EmrManagedSlaveSecurityGroup"].as_str(), &i["AdditionalSlaveSecurityGroups"]),
        (Some("sg-s"), &json!(["sg-x", "sg-y"]))
    );
    assert_eq!((r["ServiceRole"].as_str(), r["JobFlowRole"].as_str()), (Some("svc"), Some("nodes")));
    assert_eq!(r["VisibleToAllUsers"], false);
    let groups = i["InstanceGroups"].as_array().unwrap();
    assert_eq!(groups.len(), 1, "a group of 0 nodes is left out");
    assert_eq!(
        groups[0]["EbsConfiguration"]["EbsBlockDeviceConfigs"][0]["VolumeSpecification"],
        json!({"VolumeType": "gp3", "SizeInGB": 32})
    );
    assert_eq!(r["Steps"][0]["HadoopJarStep"]["Jar"], STREAMING_JAR);
    assert_eq!(r["Steps"][1]["HadoopJarStep"]["Args"][0], "s3://elasticmapreduce/libs/pig/pig-script");
    assert_eq!(r["Steps"][2]["HadoopJarStep"]["Properties"], json!([{"Key": "k", "Value": "v"}]));
    assert_eq!(
        read_edx_cluster("name: a\nregion: eu-west-1\nrelease_label: emr-6.15.0\n").unwrap().region,
        "eu-west-1"
    );
}
