//! What a principal may launch: each group config that admits them × each software config it
//! permits × each instance type both allow. The same rules as the launch's policy check, so
//! an offering never ends in a refusal for its group, software or type.

use crate::model::{Catalog, Principal};
use serde::Serialize;

/// One software config a principal may launch under one group config.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Offering {
    /// The group config.
    pub group_config: String,
    /// The software config.
    pub software_config: String,
    /// `instance` or `cluster`.
    pub kind: &'static str,
    /// The software config's description, as the catalog has it (HTML, escape it to show).
    pub description: String,
    /// The instance types it may run on, in the software config's order.
    pub instance_types: Vec<String>,
}

/// The offerings of `catalog` for `principal`, in catalog order.
pub fn offerings(catalog: &Catalog, principal: &Principal) -> Vec<Offering> {
    let mut out = Vec::new();
    for group in catalog.group_configs.iter().filter(|g| g.admits(principal)) {
        for software in catalog.software_configs.iter().filter(|s| s.permitted_group_configs.contains(&group.name)) {
            if software.emr && !group.emr_access {
                continue;
            }
            let instance_types: Vec<String> = software
                .compatible_instance_types
                .iter()
                .filter(|t| !group.excluded_instance_types.contains(t))
                .cloned()
                .collect();
            if instance_types.is_empty() {
                continue;
            }
            out.push(Offering {
                group_config: group.name.clone(),
                software_config: software.name.clone(),
                kind: if software.emr { "cluster" } else { "instance" },
                description: software.html_description.clone(),
                instance_types,
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::{ClusterOptions, LaunchRequest};

    const CATALOG: &str = r#"
instance_types: [{name: t3.large}, {name: m5.xlarge}, {name: p3.2xlarge}]
group_configs:
  - {name: ds, group: data-science, key_name: k, iam_instance_profile: p, emr_access: true,
     excluded_instance_types: [p3.2xlarge], network: {subnet_id: subnet-1}}
  - {name: ops, group: ops, key_name: k, iam_instance_profile: p, network: {subnet_id: subnet-1}}
software_configs:
  - {name: nb, ami_id: ami-1, compatible_instance_types: [t3.large, p3.2xlarge], permitted_group_configs: [ds, ops],
     template: {inline: "Parameters: {}\nResources: {}\n"}}
  - {name: spark, emr: true, compatible_instance_types: [m5.xlarge], permitted_group_configs: [ds, ops],
     template: {inline: "Parameters: {}\nResources: {}\n"}}
"#;

    #[test]
    fn offerings_follow_membership_exclusions_and_emr_access() {
        let catalog = Catalog::from_yaml_str(CATALOG).unwrap();
        let alice = Principal::new("alice", ["data-science"]);
        let got: Vec<(String, String, Vec<String>)> = offerings(&catalog, &alice)
            .into_iter()
            .map(|o| (o.group_config, o.software_config, o.instance_types))
            .collect();
        let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        assert_eq!(
            got,
            vec![("ds".into(), "nb".into(), s(&["t3.large"])), ("ds".into(), "spark".into(), s(&["m5.xlarge"]))]
        );
        let ops = offerings(&catalog, &Principal::new("olga", ["ops"]));
        assert_eq!(ops.len(), 1, "ops has no EMR access: {ops:?}");
        assert!(offerings(&catalog, &Principal::new("eve", ["other"])).is_empty());
    }

    #[test]
    fn every_offering_passes_the_launch_policy() {
        let catalog = Catalog::from_yaml_str(CATALOG).unwrap();
        let alice = Principal::new("alice", ["data-science"]);
        for o in offerings(&catalog, &alice) {
            for ty in &o.instance_types {
                let request = match o.kind {
                    "cluster" => {
                        let options = ClusterOptions {
                            core_nodes: 1,
                            task_nodes: 0,
                            market: crate::model::Market::OnDemand,
                            purpose: String::new(),
                        };
                        LaunchRequest::cluster(&o.group_config, &o.software_config, ty, options)
                    }
                    _ => LaunchRequest::instance(&o.group_config, &o.software_config, ty),
                };
                let checked = super::super::policy::check(&catalog, &alice, &request);
                assert!(checked.is_ok(), "{o:?} {ty}: {:?}", checked.err());
            }
        }
    }
}
