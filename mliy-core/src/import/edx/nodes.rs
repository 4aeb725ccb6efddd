//! Instance groups, instance fleets, their volumes, configurations and `ec2_attributes`.

use super::fields::{Fields, scalar};
use crate::error::{Error, Result};
use crate::model::emr::{
    Configuration, EbsConfiguration, InstanceFleet, InstanceGroup, InstanceRole, InstanceTypeConfig, Instances,
    LaunchSpecifications, MarketType, SpotSpecification, SpotTimeoutAction,
};
use crate::template::Node;

const GROUP: &[&str] = &["num_instances", "type", "market", "bidprice", "volume_size", "volume_type"];
const FLEET: &[&str] = &[
    "on_demand_capacity",
    "spot_capacity",
    "on_demand_fallback",
    "bid_timeout_after",
    "bid_price_pct",
    "use_spot",
    "instance_types",
    "volume_size",
    "volume_type",
];
/// The playbook's variables for the default groups.
pub(super) const PLAYBOOK_NODES: &[&str] = &[
    "master_instance_num",
    "master_instance_type",
    "core_instance_num",
    "core_instance_type",
    "task_instance_num",
    "task_instance_type",
    "task_instance_bid",
];

/// The nodes: `instance_fleets`, `instance_groups`, or the playbook's `*_instance_*` groups.
pub(super) fn read(f: &Fields<'_>, i: &mut Instances) -> Result<()> {
    let (groups, fleets) = (f.get("instance_groups"), f.get("instance_fleets"));
    let fleets = fleets.filter(|n| !matches!(n, Node::Map(e) if e.is_empty()));
    let groups = groups.filter(|n| !matches!(n, Node::Map(e) if e.is_empty()));
    if let Some(key) = PLAYBOOK_NODES.iter().find(|k| f.get(k).is_some())
        && (groups.is_some() || fleets.is_some())
    {
        return Err(Error::validation(*key, "set", "only used without instance_groups and instance_fleets"));
    }
    match (groups, fleets) {
        (Some(_), Some(_)) => {
            Err(Error::validation("instance_fleets", "set", "give instance_groups or instance_fleets, not both"))
        }
        (None, Some(node)) => {
            i.instance_fleets = fleets_of(node)?;
            Ok(())
        }
        (Some(node), None) => {
            i.instance_groups = groups_of(node)?;
            Ok(())
        }
        (None, None) => {
            i.instance_groups = playbook_groups(f)?;
            Ok(())
        }
    }
}

fn role_of(name: &str, at: &str) -> Result<InstanceRole> {
    match name {
        "master" => Ok(InstanceRole::Master),
        "core" => Ok(InstanceRole::Core),
        "task" => Ok(InstanceRole::Task),
        other => Err(Error::validation(at, other, "master, core or task")),
    }
}

/// `instance_groups: {master: {...}, core: {...}, task: {...}}`; groups of 0 nodes are left out.
fn groups_of(node: &Node) -> Result<Vec<InstanceGroup>> {
    let roles = Fields::of(node, "instance_groups", &["master", "core", "task"])?;
    let mut groups = Vec::new();
    for (role, args) in roles.entries() {
        let at = roles.path(role);
        let g = Fields::of(args, &at, GROUP)?;
        let count =
            g.number("num_instances")?.ok_or_else(|| Error::validation(g.path("num_instances"), "", "required"))?;
        if count == 0 {
            continue;
        }
        let market = match g.text("market")?.as_deref() {
            None => None,
            Some("ON_DEMAND") => Some(MarketType::OnDemand),
            Some("SPOT") => Some(MarketType::Spot),
            Some(other) => return Err(Error::validation(g.path("market"), other, "ON_DEMAND or SPOT")),
        };
        let bid = g.text("bidprice")?;
        if bid.is_some() && market.is_none() {
            return Err(Error::validation(g.path("bidprice"), bid.unwrap_or_default(), "a bid needs market: SPOT"));
        }
        groups.push(InstanceGroup {
            name: Some(role.clone()),
            instance_role: role_of(role, &at)?,
            market,
            bid_price: bid,
            instance_type: g.text("type")?.ok_or_else(|| Error::validation(g.path("type"), "", "required"))?,
            instance_count: count,
            ebs_configuration: ebs(&g)?,
            configurations: Vec::new(),
        });
    }
    Ok(groups)
}

/// The playbook's groups: `master/core/task_instance_num|type` (1 × m1.medium each by default),
/// the task group on spot at `task_instance_bid` (0.03).
fn playbook_groups(f: &Fields<'_>) -> Result<Vec<InstanceGroup>> {
    let mut groups = Vec::new();
    for (role, name) in [(InstanceRole::Master, "master"), (InstanceRole::Core, "core"), (InstanceRole::Task, "task")] {
        let count = f.number(&format!("{name}_instance_num"))?.unwrap_or(1);
        if count == 0 {
            continue;
        }
        let spot = role == InstanceRole::Task;
        groups.push(InstanceGroup {
            name: Some(name.into()),
            instance_role: role,
            market: Some(if spot { MarketType::Spot } else { MarketType::OnDemand }),
            bid_price: if spot { Some(f.text("task_instance_bid")?.unwrap_or_else(|| "0.03".into())) } else { None },
            instance_type: f.text(&format!("{name}_instance_type"))?.unwrap_or_else(|| "m1.medium".into()),
            instance_count: count,
            ..InstanceGroup::default()
        });
    }
    Ok(groups)
}

/// `instance_fleets: {master: {...}, core: {...}, task: {...}}`, as the module builds them.
fn fleets_of(node: &Node) -> Result<Vec<InstanceFleet>> {
    let roles = Fields::of(node, "instance_fleets", &["master", "core", "task"])?;
    let mut fleets = Vec::new();
    for (role, args) in roles.entries() {
        let at = roles.path(role);
        let g = Fields::of(args, &at, FLEET)?;
        let instance_role = role_of(role, &at)?;
        let (spot, on_demand) = (g.number("spot_capacity")?.unwrap_or(0), g.number("on_demand_capacity")?.unwrap_or(0));
        if instance_role == InstanceRole::Core && spot == 0 && on_demand == 0 {
            continue;
        }
        let fallback = g.boolean("on_demand_fallback")?.unwrap_or(false);
        let spot_specification = SpotSpecification {
            timeout_duration_minutes: g.number("bid_timeout_after")?.unwrap_or(15),
            timeout_action: if fallback {
                SpotTimeoutAction::SwitchToOnDemand
            } else {
                SpotTimeoutAction::TerminateCluster
            },
            allocation_strategy: None,
        };
        let launch = Some(LaunchSpecifications { spot_specification: Some(spot_specification) });
        let mut fleet = InstanceFleet {
            name: Some(role.clone()),
            instance_fleet_type: instance_role,
            instance_type_configs: fleet_types(&g)?,
            ..InstanceFleet::default()
        };
        match (instance_role, g.boolean("use_spot")?.unwrap_or(true)) {
            (InstanceRole::Master, true) => {
                (fleet.target_spot_capacity, fleet.launch_specifications) = (Some(1), launch)
            }
            (InstanceRole::Master, false) => fleet.target_on_demand_capacity = Some(1),
            _ => {
                fleet.target_on_demand_capacity = Some(on_demand);
                fleet.target_spot_capacity = Some(spot);
                fleet.launch_specifications = launch;
            }
        }
        fleets.push(fleet);
    }
    Ok(fleets)
}

/// `instance_types: [{type, weight, bid_price_pct}]` (or one), each bidding the fleet's
/// `bid_price_pct` (25 by default) unless it gives its own.
fn fleet_types(g: &Fields<'_>) -> Result<Vec<InstanceTypeConfig>> {
    let pct = g.decimal("bid_price_pct")?.unwrap_or(25.0);
    let ebs = ebs(g)?;
    let listed = match g.get("instance_types") {
        Some(Node::Seq(items)) => {
            items.iter().enumerate().map(|(n, item)| (format!("{}[{n}]", g.path("instance_types")), item)).collect()
        }
        Some(one) => vec![(g.path("instance_types"), one)],
        None => Vec::new(),
    };
    listed
        .into_iter()
        .map(|(at, node)| {
            let t = Fields::of(node, &at, &["type", "weight", "bid_price_pct"])?;
            Ok(InstanceTypeConfig {
                instance_type: t.text("type")?.ok_or_else(|| Error::validation(t.path("type"), "", "required"))?,
                weighted_capacity: Some(t.number("weight")?.unwrap_or(1)),
                bid_price: None,
                bid_price_as_percentage_of_on_demand_price: Some(t.decimal("bid_price_pct")?.unwrap_or(pct)),
                ebs_configuration: ebs.clone(),
            })
        })
        .collect()
}

/// `volume_size` / `volume_type`: one EBS-optimised volume per node, gp2 and 32 GB by default.
fn ebs(g: &Fields<'_>) -> Result<Option<EbsConfiguration>> {
    if g.get("volume_size").is_none() && g.get("volume_type").is_none() {
        return Ok(None);
    }
    let size = g.number("volume_size")?.unwrap_or(32);
    Ok(Some(EbsConfiguration::one_volume(g.text("volume_type")?.unwrap_or_else(|| "gp2".into()), size)))
}

/// `configurations: [{classification, properties, configurations}]`, nested.
pub(super) fn configurations(f: &Fields<'_>, key: &str) -> Result<Vec<Configuration>> {
    f.items(key)?
        .into_iter()
        .map(|(at, node)| {
            let c = Fields::of(node, &at, &["classification", "properties", "configurations"])?;
            let mut properties = std::collections::BTreeMap::new();
            match c.get("properties") {
                None => {}
                Some(Node::Map(entries)) => {
                    for (k, v) in entries {
                        properties.insert(k.clone(), scalar(v, &format!("{}.{k}", c.path("properties")))?);
                    }
                }
                Some(other) => return Err(Error::validation(c.path("properties"), other.kind(), "a mapping")),
            }
            Ok(Configuration {
                classification: c.text("classification")?,
                properties,
                configurations: configurations(&c, "configurations")?,
            })
        })
        .collect()
}

/// `ec2_attributes`: RunJobFlow `Instances` fields (`Ec2KeyName`, `Ec2SubnetId`, …) merged
/// under `Instances`; one the file also sets another way is refused.
pub(super) fn ec2_attributes(f: &Fields<'_>, i: &mut Instances) -> Result<()> {
    let Some(node) = f.get("ec2_attributes") else { return Ok(()) };
    let entries = match node {
        Node::Map(entries) => entries,
        other => return Err(Error::validation("ec2_attributes", other.kind(), "a mapping of Instances fields")),
    };
    let mut merged = serde_json::to_value(&*i).unwrap_or_default();
    for (key, value) in entries {
        let at = format!("ec2_attributes.{key}");
        let json = match value {
            Node::Scalar(s) => serde_json::Value::String(s.clone()),
            Node::Seq(items) => serde_json::Value::Array(
                items.iter().map(|v| scalar(v, &at).map(serde_json::Value::String)).collect::<Result<_>>()?,
            ),
            other => return Err(Error::validation(&at, other.kind(), "a value or a list of values")),
        };
        if merged.get(key).is_some() {
            return Err(Error::validation(&at, key, "set twice (also set by its own field)"));
        }
        merged[key] = json;
    }
    *i = serde_json::from_value(merged).map_err(|e| Error::validation("ec2_attributes", "", e.to_string()))?;
    Ok(())
}
