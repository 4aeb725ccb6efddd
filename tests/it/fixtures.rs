//! MLiy's real files (`shared/fixtures/mliy/` beside the repository) and catalogs built from them.

use mliy::import::{MliyImport, import_mliy};
use mliy::model::{Catalog, Param, Principal, SoftwareConfig, Source};
use mliy::plan::Planner;
use std::path::PathBuf;

/// The fixture folder: `MLIY_FIXTURES`, or `../shared/fixtures/mliy` from the repository.
pub(crate) fn dir() -> PathBuf {
    let dir = std::env::var_os("MLIY_FIXTURES")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/fixtures/mliy"));
    assert!(dir.join("simpledb.json").is_file(), "MLiy fixtures not found at {}; set MLIY_FIXTURES", dir.display());
    dir
}

pub(crate) fn path(name: &str) -> PathBuf {
    dir().join(name)
}

pub(crate) fn read(name: &str) -> String {
    std::fs::read_to_string(path(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
}

pub(crate) const EC2: &str = "AWS_EC2_MLiy_CloudFormation.json";
pub(crate) const EMR: &str = "AWS_EMR_Spark_MLiy_CloudFormation.json";
pub(crate) const APP: &str = "AWS_APP_MLiy_CloudFormation.yaml";
pub(crate) const APP_IMAGE: &str = "AWS_APP_Image_MLiy_CloudFormation.yaml";
pub(crate) const RDS: &str = "AWS_RDS_MLiy_CloudFormation.yaml";

/// A user-data script in the style of MLiy's `userdata_MLiy.sh`, padded to about `size` bytes.
pub(crate) fn script(size: usize) -> String {
    let mut s = String::from(
        "#!/bin/bash\nset -e\nSOURCE_BUCKET='{{{SOURCE_BUCKET}}}'\nSOURCE_SCRIPT='{{{SOURCE_SCRIPT}}}'\n\
         SOURCE_PACKAGE='{{{SOURCE_PACKAGE}}}'\nEBS_DEVICE='{{{EBS_DEVICE}}}'\nTIME_ZONE='{{{TIME_ZONE}}}'\n\
         MANAGER_HOSTNAME='{{{MANAGER_HOSTNAME}}}'\nLDAP_HOST_NAME='{{{LDAP_HOST_NAME}}}'\n",
    );
    let mut i = 0;
    while s.len() < size.saturating_sub(40) {
        s.push_str(&format!("echo \"step {i}: aws s3 cp s3://$SOURCE_BUCKET/$SOURCE_PACKAGE /tmp/\"\n"));
        i += 1;
    }
    s
}

/// MLiy's fixture imported, with the EC2 template, a user-data script and a subnet; the
/// fixture's AMI placeholder (`ami-id`, which is no AMI id) replaced by a well-formed one.
pub(crate) fn catalog() -> Catalog {
    let options = MliyImport {
        instance_types_fixture: Some(read("instance_types_fixture.json")),
        templates: [("MLiyDefault".to_string(), path(EC2))].into(),
        user_data: Default::default(),
        subnet_id: Some("subnet-0a1b2c3d".into()),
        availability_zone: Some("us-east-1a".into()),
        ami_ids: Default::default(),
    };
    let mut catalog = import_mliy(&read("simpledb.json"), &options).expect("import").catalog;
    catalog.load_sources(&dir()).expect("load");
    let sc = &mut catalog.software_configs[0];
    sc.ami_id = "ami-0abcdef1234567890".into();
    sc.user_data = Some(Source::inline(script(2_500)));
    sc.compatible_instance_types.extend(["m4.large".to_string(), "r3.2xlarge".to_string()]);
    catalog
}

/// A software config on one of the fixture templates, permitted for MLiySampleConfig.
pub(crate) fn software_config(name: &str, template: &str, emr: bool, params: Vec<Param>) -> SoftwareConfig {
    let mut sc = catalog().software_configs.remove(0);
    sc.name = name.into();
    sc.emr = emr;
    sc.template = Some(Source::inline(read(template)));
    sc.params = params;
    sc.user_data = None;
    sc
}

/// The catalog plus an EMR software config on MLiy's EMR template whose params are the
/// fixture's `param*` tokens, with the two port numbers made numbers.
pub(crate) fn emr_catalog() -> Catalog {
    let mut catalog = catalog();
    let params = catalog
        .params
        .iter()
        .filter(|p| p.token.starts_with("param"))
        .map(|p| match p.token.as_str() {
            "paramAWSProxyPort" => Param::new(&p.token, "3128"),
            "paramYumServerPort" => Param::new(&p.token, "80"),
            "paramReleaseLabel" => Param::new(&p.token, "emr-5.23.0"),
            _ => p.clone(),
        })
        .collect();
    let mut sc = software_config("MLiySpark", EMR, true, params);
    sc.master_security_group = Some("sg-11111111".into());
    sc.slave_security_group = Some("sg-00000000".into());
    sc.compatible_instance_types = vec!["r3.2xlarge".into()];
    catalog.software_configs.push(sc);
    let gc = &mut catalog.group_configs[0];
    gc.emr_access = true;
    gc.settings.cluster_auto_termination_minutes = Some(30);
    catalog
}

pub(crate) fn planner(catalog: Catalog) -> Planner {
    Planner::new(catalog).expect("planner")
}

/// A member of the fixture's group `manager`.
pub(crate) fn member() -> Principal {
    let mut p = Principal::new("dana.o'neil", ["manager"]);
    p.display_name = "Dana O'Neil".into();
    p
}
