//! Template inspection on MLiy's five real templates.

use super::fixtures::{self, APP, APP_IMAGE, EC2, EMR, RDS};
use mliy::template::{ParamType, Template};
use serde_json::Value;

fn parse(name: &str) -> Template {
    Template::parse(name, &fixtures::read(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
}

/// Checks every parameter against the template read independently with serde_json.
fn matches_json(name: &str) -> usize {
    let raw: Value = serde_json::from_str(&fixtures::read(name)).unwrap();
    let declared = raw["Parameters"].as_object().unwrap();
    let t = parse(name);
    let names: Vec<_> = t.parameters.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(names, declared.keys().map(String::as_str).collect::<Vec<_>>(), "{name}: names in template order");
    for p in &t.parameters {
        let d = &declared[&p.name];
        let text = |k: &str| d.get(k).and_then(Value::as_str).map(str::to_string);
        assert_eq!(p.param_type.to_string(), text("Type").unwrap(), "{}", p.name);
        assert_eq!(p.default, text("Default"), "{}", p.name);
        assert_eq!(p.description, text("Description"), "{}", p.name);
        assert_eq!(p.allowed_pattern, text("AllowedPattern"), "{}", p.name);
        assert_eq!(p.constraint_description, text("ConstraintDescription"), "{}", p.name);
        let num = |k: &str| text(k).map(|v| v.parse::<f64>().unwrap());
        assert_eq!(p.min_value, num("MinValue"), "{}", p.name);
        assert_eq!(p.max_value, num("MaxValue"), "{}", p.name);
        assert_eq!(p.min_length.map(|n| n as f64), num("MinLength"), "{}", p.name);
        assert_eq!(p.max_length.map(|n| n as f64), num("MaxLength"), "{}", p.name);
        let allowed = d
            .get("AllowedValues")
            .map(|v| v.as_array().unwrap().iter().map(|x| x.as_str().unwrap().to_string()).collect::<Vec<_>>());
        assert_eq!(p.allowed_values, allowed, "{}", p.name);
    }
    let outputs: Vec<_> = raw["Outputs"].as_object().unwrap().keys().cloned().collect();
    assert_eq!(t.outputs, outputs);
    let resources: Vec<_> = raw["Resources"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(k, v)| (k.clone(), v["Type"].as_str().unwrap().to_string()))
        .collect();
    assert_eq!(t.resources, resources);
    t.parameters.len()
}

#[test]
fn every_parameter_of_the_ec2_template() {
    assert_eq!(matches_json(EC2), 14);
    let t = parse(EC2);
    let size = t.parameter("VolumeSize").unwrap();
    assert_eq!(size.param_type, ParamType::Number);
    assert_eq!((size.min_value, size.max_value, size.default.as_deref()), (Some(1.0), Some(1024.0), Some("100")));
    assert_eq!(t.parameter("SecurityGroupIds").unwrap().param_type.to_string(), "List<AWS::EC2::SecurityGroup::Id>");
}

#[test]
fn every_parameter_of_the_emr_template() {
    assert_eq!(matches_json(EMR), 44);
    let name = parse(EMR).parameter("paramClusterName").cloned().unwrap();
    assert_eq!((name.min_length, name.max_length), (Some(20), Some(40)));
    assert_eq!(name.allowed_pattern.as_deref(), Some("[a-zA-Z0-9\\-]+"));
}

#[test]
fn yaml_templates_with_short_form_tags() {
    let image = parse(APP_IMAGE);
    assert_eq!(image.parameters.len(), 11);
    // `Default: 0` is the string "0", as CloudFormation reads it.
    assert_eq!(image.parameter("BidPrice").unwrap().default.as_deref(), Some("0"));
    assert_eq!(image.resources[1], ("AutoScalingGroup".to_string(), "AWS::AutoScaling::AutoScalingGroup".to_string()));

    let app = parse(APP);
    assert_eq!(app.parameters.len(), 56);
    assert_eq!(app.outputs, ["LaunchConfigId", "ASGroupId", "ELBId"]);
    assert_eq!(app.parameter("elbSubnets").unwrap().default.as_deref(), Some(""));
    assert_eq!(app.parameter("elbSubnets").unwrap().param_type, ParamType::CommaDelimitedList);
    assert_eq!(app.parameter("asGroupMinSize").unwrap().default.as_deref(), Some("1"));
    assert!(app.parameter("TimeZone").unwrap().description.is_some());
}

#[test]
fn yaml_template_without_short_form_tags() {
    let rds = parse(RDS);
    assert_eq!(rds.parameters.len(), 20);
    assert_eq!(rds.outputs, ["DBInstanceId", "DBAddress"]);
    assert_eq!(rds.parameter("EngineVersion").unwrap().default.as_deref(), Some("5.6.39"));
    let secret: Vec<_> = rds.parameters.iter().filter(|p| p.no_echo).map(|p| p.name.as_str()).collect();
    assert_eq!(secret.len(), 2, "{secret:?}");
    assert!(secret.contains(&"MasterUserPassword"));
}

#[test]
fn params_json_names_only_parameters_of_the_app_template() {
    let entries: Vec<Value> = serde_json::from_str(&fixtures::read("params.json")).unwrap();
    assert_eq!(entries.len(), 51);
    let app = parse(APP);
    for e in &entries {
        let key = e["ParameterKey"].as_str().unwrap();
        assert!(app.parameter(key).is_some(), "{key} is not declared by {APP}");
    }
}

#[test]
fn find_in_map_of_the_ec2_template() {
    let t = parse(EC2);
    let f = &t.find_in_maps()[0];
    assert_eq!(f.map, "InstanceConfig");
    assert!(t.mapping_has("InstanceConfig", "r3.2xlarge", Some("EBSOptimized")));
    assert!(!t.mapping_has("InstanceConfig", "m4.large", None));
}

mod mutations {
    use super::*;
    use proptest::prelude::*;

    /// Cuts, duplicates or replaces a span of a real template.
    fn mutate(text: &str, at: usize, len: usize, with: &str, op: u8) -> String {
        let b = text.as_bytes();
        let at = at % b.len();
        let end = (at + len).min(b.len());
        let mut out = b[..at].to_vec();
        match op % 3 {
            0 => {}
            1 => out.extend_from_slice(&b[at..end]),
            _ => out.extend_from_slice(with.as_bytes()),
        }
        if op % 3 == 1 {
            out.extend_from_slice(&b[at..]);
        } else {
            out.extend_from_slice(&b[end..]);
        }
        String::from_utf8_lossy(&out).into_owned()
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(300))]

        #[test]
        fn mutated_fixture_templates_never_panic(
            which in 0usize..5, at in any::<usize>(), len in 0usize..64, with in ".{0,12}", op in any::<u8>(),
        ) {
            let name = [EC2, EMR, APP, APP_IMAGE, RDS][which];
            let text = mutate(&fixtures::read(name), at, len, &with, op);
            if let Ok(t) = Template::parse(name, &text) {
                for p in &t.parameters {
                    let _ = p.check("");
                    let _ = p.check("sg-11111111,x");
                }
            }
        }
    }
}
