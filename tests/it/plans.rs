//! Importing MLiy's fixture and planning launches from it.

use super::fixtures::{self, APP, EC2, EMR, RDS, member, planner};
use mliy::Error;
use mliy::import::{MliyImport, import_mliy};
use mliy::model::{LaunchId, Market, Param, Principal};
use mliy::plan::{ClusterOptions, LaunchPlan, LaunchRequest, PlanKind, ValueSource};
use mliy::template::Template;
use serde_json::Value;
use std::collections::HashSet;

fn instance(ty: &str) -> LaunchRequest {
    LaunchRequest::instance("MLiySampleConfig", "MLiyDefault", ty)
        .with_launch_id(LaunchId::parse("0123456789ab").unwrap())
}

fn cluster(market: Market) -> LaunchRequest {
    let options = ClusterOptions { core_nodes: 2, task_nodes: 1, market, purpose: "churn model".into() };
    LaunchRequest::cluster("MLiySampleConfig", "MLiySpark", "r3.2xlarge", options)
        .with_launch_id(LaunchId::parse("0123456789ab").unwrap())
}

fn validation(e: Error) -> mliy::ValidationError {
    match e {
        Error::Validation(v) => v,
        other => panic!("expected a validation error, got {other}"),
    }
}

/// Every sent value passes its declaration, keys are unique and all declared, and every
/// parameter without a default has a value.
fn assert_valid(plan: &LaunchPlan, template: &str) {
    let t = Template::parse(template, &fixtures::read(template)).unwrap();
    let mut seen = HashSet::new();
    for p in &plan.parameters {
        assert!(seen.insert(p.key.as_str()), "{} sent twice", p.key);
        let decl = t.parameter(&p.key).unwrap_or_else(|| panic!("{} is not declared", p.key));
        decl.check(p.value()).unwrap();
    }
    for decl in t.parameters.iter().filter(|d| d.default.is_none()) {
        assert!(seen.contains(decl.name.as_str()), "required {} missing", decl.name);
    }
}

#[test]
fn import_of_simpledb() {
    let options = MliyImport {
        instance_types_fixture: Some(fixtures::read("instance_types_fixture.json")),
        ..MliyImport::default()
    };
    let imported = import_mliy(&fixtures::read("simpledb.json"), &options).unwrap();
    let c = &imported.catalog;
    assert_eq!((c.instance_types.len(), c.security_groups.len(), c.params.len()), (29, 4, 49));
    let sc = c.software_config("MLiyDefault").unwrap();
    assert_eq!(sc.compatible_instance_types, ["c4.xlarge"]);
    assert_eq!(sc.permitted_group_configs, ["MLiySampleConfig"]);
    assert_eq!((sc.volume.device_path.as_str(), sc.volume.default_size), ("/dev/xvdz", 1024));
    assert!(sc.has_progress_bar && sc.template.is_none());
    let gc = c.group_config("MLiySampleConfig").unwrap();
    assert_eq!(gc.group, "manager");
    assert_eq!(gc.default_security_groups, ["sg-11111111", "sg-00000000", "sg-00020002", "sg-03000300"]);
    assert_eq!((gc.ags.as_str(), gc.cost_center.as_str(), gc.sdlc.as_str()), ("MLiy", "PROJECT001", "DEV"));
    assert_eq!((gc.key_name.as_str(), gc.iam_instance_profile.as_str()), ("APP_MLiy_KEY", "APP_MLiy_CLIENT"));
    assert!(imported.notes.iter().any(|n| n.contains("ami_id \"ami-id\" is not an AMI id")), "{:?}", imported.notes);
    assert!(imported.notes.iter().any(|n| n.contains("lastrefreshed")));
    // `--ami-id NAME=ID` replaces the placeholder; a name the fixture lacks is refused.
    let ami =
        |name: &str| MliyImport { ami_ids: [(name.into(), "ami-0abcdef1234567890".into())].into(), ..options.clone() };
    let imported = import_mliy(&fixtures::read("simpledb.json"), &ami("MLiyDefault")).unwrap();
    assert_eq!(imported.catalog.software_config("MLiyDefault").unwrap().ami_id, "ami-0abcdef1234567890");
    assert!(!imported.notes.iter().any(|n| n.contains("not an AMI id")), "{:?}", imported.notes);
    let e = validation(import_mliy(&fixtures::read("simpledb.json"), &ami("Nope")).unwrap_err());
    assert_eq!((e.field.as_str(), e.value.as_str()), ("ami id", "Nope"));
}

#[test]
fn import_without_instance_types_names_the_missing_reference() {
    let e = validation(import_mliy(&fixtures::read("simpledb.json"), &MliyImport::default()).unwrap_err());
    assert_eq!(e.field, "mliyweb.software_config pk 1.compatible_instancetypes");
    assert_eq!(e.value, "1");
    assert!(e.rule.contains("give the instance types fixture"), "{e}");
    let e = import_mliy("{\"not\": \"a fixture\"}", &MliyImport::default()).unwrap_err();
    assert!(matches!(e, Error::Parse { .. }), "{e}");
    let e = import_mliy("[{\"model\": ", &MliyImport::default()).unwrap_err();
    assert!(matches!(e, Error::Parse { .. }), "{e}");
}

#[test]
fn plan_for_mliy_sample_config_passes_the_template() {
    let plan = planner(fixtures::catalog()).plan(&member(), &instance("r3.2xlarge")).unwrap();
    assert_valid(&plan, EC2);
    assert_eq!(plan.kind, PlanKind::Instance);
    assert_eq!(plan.stack_name, "AWSLXMLiyTSTMLiy-0123456789ab");
    assert_eq!(plan.client_request_token, "0123456789ab");
    for (key, value) in [
        ("KeyName", "APP_MLiy_KEY"),
        ("ImageId", "ami-0abcdef1234567890"),
        ("InstanceType", "r3.2xlarge"),
        ("IamInstanceProfile", "APP_MLiy_CLIENT"),
        ("SecurityGroupIds", "sg-11111111,sg-00000000,sg-00020002,sg-03000300"),
        ("SubnetId", "subnet-0a1b2c3d"),
        ("AvailabilityZone", "us-east-1a"),
        ("EBSVolumeDeviceName", "/dev/xvdz"),
        ("VolumeSize", "1024"),
    ] {
        assert_eq!(plan.parameter(key), Some(value), "{key}");
    }
    // MLiy sent an empty KmsKeyId, which turned on the template's setKmsKeyId condition.
    assert_eq!(plan.parameter("KmsKeyId"), None);
    let user_data = plan.parameter("UserData").unwrap();
    assert!(user_data.len() <= 4096);
    assert!(plan.user_data.as_deref().unwrap().starts_with("#!/bin/bash"));
    for (key, value) in [
        ("LaunchedBy", "MLIY"),
        ("userid", "dana.o'neil"),
        ("User", "Dana O'Neil"),
        ("Cost Center", "PROJECT001"),
        ("AGS", "MLiy"),
        ("SDLC", "DEV"),
        ("Name", "AWSLXMLiyTST"),
        ("Software Config", "MLiyDefault"),
        ("mliy:launch-id", "0123456789ab"),
    ] {
        assert_eq!(plan.tag(key), Some(value), "tag {key}");
    }
    assert!(plan.warnings.iter().all(|w| !w.contains("FindInMap")), "{:?}", plan.warnings);
    // The instance waits for its signal: the template's PT180M, ready at the first of 100% and
    // the stack's completion.
    assert_eq!((plan.signal_timeout_secs, plan.ready_when), (Some(180 * 60), mliy::model::ReadyWhen::First));
    let mut catalog = fixtures::catalog();
    catalog.software_configs[0].params.push(mliy::model::Param::new("ResourceSignalTimeout", "PT45M"));
    let plan = planner(catalog).plan(&member(), &instance("r3.2xlarge")).unwrap();
    assert_eq!(plan.signal_timeout_secs, Some(45 * 60));
}

#[test]
fn the_fixtures_placeholder_ami_is_refused() {
    let mut catalog = fixtures::catalog();
    catalog.software_configs[0].ami_id = "ami-id".into();
    let e = validation(planner(catalog).plan(&member(), &instance("r3.2xlarge")).unwrap_err());
    assert_eq!((e.field.as_str(), e.value.as_str()), ("ImageId", "ami-id"));
    assert!(e.rule.contains("AWS::EC2::Image::Id"), "{e}");
}

#[test]
fn m4_large_is_warned_about_the_instance_config_mapping() {
    let plan = planner(fixtures::catalog()).plan(&member(), &instance("m4.large")).unwrap();
    assert_valid(&plan, EC2);
    let warning: Vec<_> = plan.warnings.iter().filter(|w| w.contains("FindInMap")).collect();
    assert_eq!(warning.len(), 1, "{:?}", plan.warnings);
    assert!(
        warning[0].starts_with("InstanceType m4.large: the template's mapping InstanceConfig has no entry"),
        "{}",
        warning[0]
    );
}

#[test]
fn a_volume_beyond_max_value_is_rejected() {
    let e = validation(
        planner(fixtures::catalog()).plan(&member(), &instance("r3.2xlarge").with_volume_size(2000)).unwrap_err(),
    );
    assert_eq!((e.field.as_str(), e.value.as_str(), e.rule.as_str()), ("VolumeSize", "2000", "MaxValue 1024"));
}

#[test]
fn policy_is_enforced() {
    let planner = planner(fixtures::catalog());
    let stranger = Principal::new("eve", ["sales"]);
    assert!(
        matches!(planner.plan(&stranger, &instance("r3.2xlarge")), Err(Error::Forbidden(m)) if m.contains("not a member of group \"manager\""))
    );
    let mut admin = Principal::new("root", ["admins"]);
    admin.admin = true;
    assert!(
        matches!(planner.plan(&admin, &instance("r3.2xlarge")), Err(Error::Forbidden(_))),
        "admins launch with their own groups"
    );
    let e = validation(planner.plan(&member(), &instance("c4.large")).unwrap_err());
    assert_eq!(e.field, "instance_type");
    assert!(e.rule.contains("compatible instance types"), "{e}");
    let e = validation(planner.plan(&member(), &instance("x9.huge")).unwrap_err());
    assert_eq!(e.value, "x9.huge");
    let e = validation(
        planner.plan(&member(), &instance("r3.2xlarge").with_optional_security_groups(["sg-03000300"])).unwrap_err(),
    );
    assert_eq!(e.field, "optional_security_groups");
    let unknown = LaunchRequest::instance("MLiySampleConfig", "NoSuchConfig", "r3.2xlarge");
    assert!(matches!(planner.plan(&member(), &unknown), Err(Error::NotFound { kind: "software config", .. })));
    let unknown = LaunchRequest::instance("NoSuchGroup", "MLiyDefault", "r3.2xlarge");
    assert!(matches!(planner.plan(&member(), &unknown), Err(Error::NotFound { kind: "group config", .. })));

    let mut catalog = fixtures::catalog();
    catalog.group_configs[0].excluded_instance_types.push("m4.large".into());
    let e = validation(fixtures::planner(catalog).plan(&member(), &instance("m4.large")).unwrap_err());
    assert!(e.rule.contains("excluded for group config MLiySampleConfig"), "{e}");
}

#[test]
fn a_script_over_the_cloudformation_limit_is_rejected() {
    let mut catalog = fixtures::catalog();
    catalog.software_configs[0].user_data = Some(mliy::model::Source::inline(fixtures::script(5 * 1024)));
    let e = validation(planner(catalog).plan(&member(), &instance("r3.2xlarge")).unwrap_err());
    assert_eq!(e.field, "UserData");
    assert!(e.value.contains("bytes in base64"), "{e}");
    assert!(e.rule.contains("4096") && e.rule.contains("3072"), "{e}");
}

#[test]
fn user_data_tokens_take_the_first_source() {
    let mut catalog = fixtures::catalog();
    catalog.replacement_tokens = vec![Param::new("TIME_ZONE", "UTC"), Param::new("SOURCE_BUCKET", "global-bucket")];
    catalog.software_configs[0].params =
        vec![Param::new("SOURCE_BUCKET", "sc-bucket"), Param::new("MLIY_USER", "ignored")];
    let script = format!("{}\nOWNER={{{{{{MLIY_USER}}}}}} ID={{{{{{MLIY_LAUNCH_ID}}}}}}\n", fixtures::script(1000));
    catalog.software_configs[0].user_data = Some(mliy::model::Source::inline(script));
    catalog.group_configs[0].params = vec![Param::new("SOURCE_BUCKET", "group-bucket")];
    let request = instance("r3.2xlarge").with_token("LDAP_HOST_NAME", "ldap.example.com");
    let plan = planner(catalog).plan(&member(), &request).unwrap();
    let text = plan.user_data.as_deref().unwrap();
    assert!(text.contains("SOURCE_BUCKET='group-bucket'"));
    assert!(text.contains("TIME_ZONE='UTC'"));
    assert!(text.contains("EBS_DEVICE='/dev/xvdz'"), "the built-in token from the volume settings: {text}");
    // Built-in tokens win over the software config's; the user's name is quoted for the shell.
    assert!(text.contains(r"OWNER='dana.o'\''neil' ID=0123456789ab"), "{text}");
    assert!(text.contains("LDAP_HOST_NAME='ldap.example.com'"));
    assert_eq!(plan.unknown_tokens, ["MANAGER_HOSTNAME", "SOURCE_PACKAGE", "SOURCE_SCRIPT"]);
    use base64::Engine as _;
    let decoded = base64::engine::general_purpose::STANDARD.decode(plan.parameter("UserData").unwrap()).unwrap();
    assert_eq!(String::from_utf8(decoded).unwrap(), text);
}

#[test]
fn cluster_plan_from_the_emr_template() {
    let plan = planner(fixtures::emr_catalog()).plan(&member(), &cluster(Market::Spot { bid: Some(0.5) })).unwrap();
    assert_valid(&plan, EMR);
    assert_eq!(plan.kind, PlanKind::Cluster);
    // dana.o'neil's name is fitted to the template's 20–40 characters of [a-zA-Z0-9-].
    let name = plan.parameter("paramClusterName").unwrap();
    assert_eq!(name, "AWSLXMLiyTST-SPOT-0123456789ab-dana-o-ne");
    assert_eq!(plan.stack_name, name);
    for (key, value) in [
        ("paramEnvironment", "DEV"),
        ("paramAGS", "MLiy"),
        ("paramInstanceType", "r3.2xlarge"),
        ("paramCoreInstanceCount", "2"),
        ("paramTaskInstanceCount", "1"),
        ("paramBidPrice", "0.5"),
        ("paramMarketType", "SPOT"),
        ("paramSubnetID", "subnet-0a1b2c3d"),
        ("paramEc2KeyName", "APP_MLiy_KEY"),
        ("paramEMRManagedMasterSecurityGroup", "sg-11111111"),
        ("paramEMRManagedSlaveSecurityGroup", "sg-00000000"),
        ("paramAdditionalMasterSecurityGroups", ""),
        ("paramIdleSeconds", "1800"),
        ("paramAWSProxyPort", "3128"),
    ] {
        assert_eq!(plan.parameter(key), Some(value), "{key}");
    }
    // The software config's param named paramJobFlowRole wins over the group's profile.
    let role = plan.parameters.iter().find(|p| p.key == "paramJobFlowRole").unwrap();
    assert_eq!((role.value(), role.source), ("EC2 Instance Role", ValueSource::SoftwareConfig));
    assert!(plan.warnings.iter().any(|w| w.contains("paramJobFlowRole")), "{:?}", plan.warnings);
    assert_eq!(plan.tag("Purpose"), Some("churn model"));
}

#[test]
fn on_demand_clusters_send_the_market_once_and_no_bid() {
    let plan = planner(fixtures::emr_catalog()).plan(&member(), &cluster(Market::OnDemand)).unwrap();
    assert_valid(&plan, EMR);
    assert_eq!(plan.parameter("paramMarketType"), Some("ON_DEMAND"));
    assert_eq!(plan.parameter("paramBidPrice"), None, "the template's default applies");
    assert_eq!(plan.parameter("paramClusterName"), Some("AWSLXMLiyTST-ON-DEMAND-0123456789ab-dana"));
}

#[test]
fn custom_cluster_names_that_break_the_template_are_rejected() {
    for (value, rule) in
        [("a".repeat(41), "MaxLength 40"), ("cluster_with_underscores_x".to_string(), "AllowedPattern")]
    {
        let mut catalog = fixtures::emr_catalog();
        catalog.software_configs[1].params.push(Param::new("paramClusterName", &value));
        let e = validation(planner(catalog).plan(&member(), &cluster(Market::OnDemand)).unwrap_err());
        assert_eq!((e.field.as_str(), e.value.as_str()), ("paramClusterName", value.as_str()));
        assert!(e.rule.starts_with(rule), "{e}");
    }
}

#[test]
fn placeholder_text_for_a_number_parameter_is_rejected() {
    let mut catalog = fixtures::emr_catalog();
    let port = catalog.software_configs[1].params.iter_mut().find(|p| p.token == "paramAWSProxyPort").unwrap();
    port.value = "Port Number to use for AWS Proxy".into();
    let e = validation(planner(catalog).plan(&member(), &cluster(Market::OnDemand)).unwrap_err());
    assert_eq!((e.field.as_str(), e.rule.as_str()), ("paramAWSProxyPort", "Type Number (not a number)"));
}

#[test]
fn emr_needs_access_and_the_right_kind() {
    let mut catalog = fixtures::emr_catalog();
    catalog.group_configs[0].emr_access = false;
    assert!(matches!(planner(catalog).plan(&member(), &cluster(Market::OnDemand)), Err(Error::Forbidden(_))));
    let planner = planner(fixtures::emr_catalog());
    let as_instance = LaunchRequest::instance("MLiySampleConfig", "MLiySpark", "r3.2xlarge");
    assert!(validation(planner.plan(&member(), &as_instance).unwrap_err()).rule.contains("EMR clusters"));
}

#[test]
fn params_json_values_are_matched_by_name_and_checked() {
    let entries: Vec<Value> = serde_json::from_str(&fixtures::read("params.json")).unwrap();
    let params: Vec<Param> = entries
        .iter()
        .map(|e| Param::new(e["ParameterKey"].as_str().unwrap(), e["ParameterValue"].as_str().unwrap()))
        .collect();
    let mut catalog = fixtures::catalog();
    catalog.software_configs.push(fixtures::software_config("MLiyApp", APP, false, params.clone()));
    // params.json holds descriptions, not values: the first typed parameter refuses its text.
    let e = validation(
        planner(catalog.clone())
            .plan(&member(), &LaunchRequest::instance("MLiySampleConfig", "MLiyApp", "r3.2xlarge"))
            .unwrap_err(),
    );
    assert_eq!(e.field, "SecurityGroups");
    assert_eq!(e.value, "Security Groups to associate with Launch Configuration");
    assert!(e.rule.starts_with("AWS::EC2::SecurityGroup::Id must be sg-"), "{e}");

    let t = Template::parse(APP, &fixtures::read(APP)).unwrap();
    let sc = catalog.software_configs.last_mut().unwrap();
    for p in &mut sc.params {
        let decl = t.parameter(&p.token).unwrap();
        if decl.check(&p.value).is_err() {
            let typed = match decl.param_type.to_string().as_str() {
                "List<AWS::EC2::SecurityGroup::Id>" => "sg-11111111",
                "List<AWS::EC2::Subnet::Id>" => "subnet-0a1b2c3d",
                _ => "1",
            };
            p.value = decl.default.clone().unwrap_or_else(|| typed.into());
        }
    }
    let plan = planner(catalog)
        .plan(&member(), &LaunchRequest::instance("MLiySampleConfig", "MLiyApp", "r3.2xlarge"))
        .unwrap();
    assert_valid(&plan, APP);
    let custom = plan.parameters.iter().filter(|p| p.source == ValueSource::SoftwareConfig).count();
    assert_eq!(custom, 51, "every params.json key is declared and sent once");
    assert_eq!(plan.parameter("SecurityGroupIds"), None, "the APP template does not declare it");
}

#[test]
fn no_echo_values_never_show() {
    let mut catalog = fixtures::catalog();
    let params = vec![
        Param::new("MasterUserPassword", "s3cr3tPassw0rd"),
        Param::new("MasterUsername", "admin"),
        Param::new("DBName", "mliy"),
        Param::new("DBInstanceId", "mliy-db"),
        Param::new("DBSecurityGroups", "sg-11111111"),
    ];
    catalog.software_configs.push(fixtures::software_config("MLiyDb", RDS, false, params));
    let planner = planner(catalog);
    let plan = match planner.plan(&member(), &LaunchRequest::instance("MLiySampleConfig", "MLiyDb", "r3.2xlarge")) {
        Ok(plan) => plan,
        Err(Error::Validation(v)) => panic!("{v}"),
        Err(e) => panic!("{e}"),
    };
    assert_eq!(plan.parameter("MasterUserPassword"), Some("s3cr3tPassw0rd"));
    let shown = format!("{plan:?} {}", serde_json::to_string(&plan).unwrap());
    assert!(!shown.contains("s3cr3tPassw0rd"), "{shown}");
    assert!(shown.contains("****"));
}

#[test]
fn a_template_without_parameters_cannot_be_planned() {
    let mut catalog = fixtures::catalog();
    let mut sc = fixtures::software_config("Bare", EC2, false, vec![]);
    sc.template = Some(mliy::model::Source::inline("Resources:\n  B: {Type: AWS::S3::Bucket}\n"));
    catalog.software_configs.push(sc);
    let e = validation(
        planner(catalog)
            .plan(&member(), &LaunchRequest::instance("MLiySampleConfig", "Bare", "r3.2xlarge"))
            .unwrap_err(),
    );
    assert_eq!(e.field, "template");
    assert!(e.rule.contains("declares no Parameters"), "{e}");
}

#[test]
fn a_malformed_template_names_its_software_config() {
    let mut catalog = fixtures::catalog();
    catalog.software_configs[0].template = Some(mliy::model::Source::inline("{\"Resources\": {"));
    let e = mliy::plan::Planner::new(catalog).unwrap_err();
    assert!(matches!(&e, Error::Parse { what, .. } if what.contains("software config MLiyDefault")), "{e}");
}

#[test]
fn cluster_node_counts_and_bids_are_checked() {
    let planner = planner(fixtures::emr_catalog());
    let with = |core: u32, task: u32, market: Market| {
        let options = ClusterOptions { core_nodes: core, task_nodes: task, market, purpose: String::new() };
        LaunchRequest::cluster("MLiySampleConfig", "MLiySpark", "r3.2xlarge", options)
            .with_launch_id(LaunchId::parse("0123456789ab").unwrap())
    };
    assert!(planner.plan(&member(), &with(2, 1, Market::Spot { bid: Some(0.35) })).is_ok());
    let refused = |request: LaunchRequest| validation(planner.plan(&member(), &request).unwrap_err());
    let e = refused(with(0, 0, Market::OnDemand));
    assert_eq!((e.field.as_str(), e.value.as_str()), ("cluster.core_nodes", "0"));
    let e = refused(with(u32::MAX, u32::MAX, Market::OnDemand));
    assert!(e.field.contains("core_nodes") && e.rule.contains("at most 20"), "{e}");
    for bid in [f64::NAN, f64::INFINITY, 0.0, -1.0, 1e308] {
        let e = refused(with(2, 0, Market::Spot { bid: Some(bid) }));
        assert_eq!(e.field, "cluster.bid", "{bid}: {e}");
    }
}

/// A cluster choice the template has no parameter for is refused, never dropped in silence
/// (a spot request would run on demand).
#[test]
fn cluster_choices_the_template_cannot_carry_are_refused() {
    let mut catalog = fixtures::emr_catalog();
    let bare = "Parameters: {paramClusterName: {Type: String}, paramInstanceType: {Type: String}, \
                paramCoreInstanceCount: {Type: Number}, paramMarketType: {Type: String}}\n\
                Resources: {C: {Type: 'AWS::EMR::Cluster'}}\n";
    catalog.software_configs[1].template = Some(mliy::model::Source::inline(bare));
    let planner = planner(catalog);
    let mut spot = cluster(Market::Spot { bid: Some(0.5) });
    let e = validation(planner.plan(&member(), &spot).unwrap_err());
    assert_eq!(
        (e.field.as_str(), e.rule.as_str()),
        ("bid", "the template declares no paramBidPrice, so the cluster would not get it")
    );
    spot.cluster.as_mut().unwrap().market = Market::Spot { bid: None };
    let e = validation(planner.plan(&member(), &spot).unwrap_err());
    assert_eq!((e.field.as_str(), e.value.as_str()), ("task_nodes", "1"), "{e}");
    spot.cluster.as_mut().unwrap().task_nodes = 0;
    let plan = planner.plan(&member(), &spot).unwrap();
    assert_eq!(plan.parameter("paramMarketType"), Some("SPOT"));
}
