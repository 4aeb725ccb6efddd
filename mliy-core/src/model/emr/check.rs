//! What EMR would refuse, or drop in silence, refused before any call, naming the field by
//! its path in the request (`Instances.InstanceGroups[1].BidPrice`).

use super::instances::{EbsConfiguration, InstanceFleet, InstanceGroup, InstanceRole, MarketType};
use super::{ClusterSpec, Configuration};
use crate::error::{Error, Result};

/// The most nodes of one group, or units of one fleet's capacity, accepted.
pub(super) const MAX_NODES: u32 = 1_000;
/// The highest spot bid accepted, in dollars per hour.
const MAX_BID: &str = "1000";
/// EMR's limits: bootstrap actions, steps at launch, task groups, types per fleet.
const MAX_BOOTSTRAP_ACTIONS: usize = 16;
const MAX_STEPS: usize = 256;
const MAX_TASK_GROUPS: usize = 48;
const MAX_FLEET_TYPES: usize = 30;
/// How deep configurations may nest.
const MAX_CONFIGURATION_DEPTH: usize = 4;
const VOLUME_TYPES: [&str; 6] = ["gp2", "gp3", "io1", "st1", "sc1", "standard"];

fn bad(field: impl Into<String>, value: impl ToString, rule: impl Into<String>) -> Error {
    Error::validation(field, value.to_string(), rule)
}

impl ClusterSpec {
    /// Refuses what EMR would refuse or ignore: see the module's documentation.
    ///
    /// # Errors
    /// [`Error::Validation`] naming the field's path, its value and the rule.
    pub fn check(&self) -> Result<()> {
        if self.name.trim().is_empty() || self.name.len() > 256 {
            return Err(bad("Name", &self.name, "1 to 256 characters"));
        }
        match (&self.release_label, &self.ami_version) {
            (Some(_), Some(v)) => return Err(bad("AmiVersion", v, "give ReleaseLabel or AmiVersion, not both")),
            (None, None) => return Err(bad("ReleaseLabel", "", "required (or AmiVersion for clusters before EMR 4)")),
            (Some(l), None) if !l.starts_with("emr-") => return Err(bad("ReleaseLabel", l, "starts with emr-")),
            _ => {}
        }
        if let Some(p) = self.auto_termination_policy
            && !(60..=604_800).contains(&p.idle_timeout)
        {
            return Err(bad("AutoTerminationPolicy.IdleTimeout", p.idle_timeout, "60 to 604800 seconds"));
        }
        if let Some(gib) = self.ebs_root_volume_size
            && !(10..=1_000).contains(&gib)
        {
            return Err(bad("EbsRootVolumeSize", gib, "10 to 1000 GiB"));
        }
        self.check_network()?;
        self.check_nodes()?;
        self.check_actions()?;
        check_configurations("Configurations", &self.configurations, 1)
    }

    fn check_network(&self) -> Result<()> {
        let i = &self.instances;
        let zone =
            i.placement.as_ref().is_some_and(|p| p.availability_zone.is_some() || !p.availability_zones.is_empty());
        let subnet = i.ec2_subnet_id.is_some() || !i.ec2_subnet_ids.is_empty();
        if subnet && zone {
            return Err(bad("Instances.Placement", "set", "give a subnet or an availability zone, not both"));
        }
        if i.ec2_subnet_id.is_some() && !i.ec2_subnet_ids.is_empty() {
            return Err(bad("Instances.Ec2SubnetIds", i.ec2_subnet_ids.join(","), "give Ec2SubnetId or Ec2SubnetIds"));
        }
        if !i.instance_groups.is_empty() && i.ec2_subnet_ids.len() > 1 {
            return Err(bad(
                "Instances.Ec2SubnetIds",
                i.ec2_subnet_ids.join(","),
                "a list of subnets needs instance fleets (EMR picks from it only for fleets)",
            ));
        }
        Ok(())
    }

    fn check_nodes(&self) -> Result<()> {
        let i = &self.instances;
        match (i.instance_groups.is_empty(), i.instance_fleets.is_empty()) {
            (false, false) => Err(bad("Instances.InstanceFleets", "set", "give instance groups or fleets, not both")),
            (true, true) => Err(bad("Instances.InstanceGroups", "", "required: instance groups or instance fleets")),
            (false, true) => check_groups(&i.instance_groups),
            (true, false) => check_fleets(&i.instance_fleets),
        }
    }

    fn check_actions(&self) -> Result<()> {
        if self.bootstrap_actions.len() > MAX_BOOTSTRAP_ACTIONS {
            return Err(bad("BootstrapActions", self.bootstrap_actions.len(), "at most 16"));
        }
        for (n, b) in self.bootstrap_actions.iter().enumerate() {
            let path = &b.script_bootstrap_action.path;
            if b.name.trim().is_empty() {
                return Err(bad(format!("BootstrapActions[{n}].Name"), "", "required"));
            }
            if !(path.starts_with("s3://") || path.starts_with("file:/")) {
                return Err(bad(
                    format!("BootstrapActions[{n}].ScriptBootstrapAction.Path"),
                    path,
                    "an s3:// or file:/ path",
                ));
            }
        }
        if self.steps.len() > MAX_STEPS {
            return Err(bad("Steps", self.steps.len(), "at most 256 at launch"));
        }
        for (n, s) in self.steps.iter().enumerate() {
            if s.name.trim().is_empty() || s.name.len() > 256 {
                return Err(bad(format!("Steps[{n}].Name"), &s.name, "1 to 256 characters"));
            }
            if s.hadoop_jar_step.jar.trim().is_empty() {
                return Err(bad(format!("Steps[{n}].HadoopJarStep.Jar"), "", "required"));
            }
        }
        Ok(())
    }
}

fn check_groups(groups: &[InstanceGroup]) -> Result<()> {
    let count = |role| groups.iter().filter(|g| g.instance_role == role).count();
    if count(InstanceRole::Master) != 1 {
        return Err(bad("Instances.InstanceGroups", count(InstanceRole::Master), "exactly one MASTER group"));
    }
    if count(InstanceRole::Core) > 1 {
        return Err(bad("Instances.InstanceGroups", count(InstanceRole::Core), "at most one CORE group"));
    }
    if count(InstanceRole::Task) > MAX_TASK_GROUPS {
        return Err(bad("Instances.InstanceGroups", count(InstanceRole::Task), "at most 48 TASK groups"));
    }
    for (n, g) in groups.iter().enumerate() {
        let at = format!("Instances.InstanceGroups[{n}]");
        check_type(&format!("{at}.InstanceType"), &g.instance_type)?;
        let (ok, rule) = match g.instance_role {
            InstanceRole::Master => (matches!(g.instance_count, 1 | 3), "1 or 3 (a MASTER group)".to_string()),
            _ => (g.instance_count <= MAX_NODES, format!("0 to {MAX_NODES}")),
        };
        if !ok {
            return Err(bad(format!("{at}.InstanceCount"), g.instance_count, rule));
        }
        match (&g.bid_price, g.market) {
            (Some(bid), Some(MarketType::Spot)) => check_bid(&format!("{at}.BidPrice"), bid)?,
            (Some(bid), _) => return Err(bad(format!("{at}.BidPrice"), bid, "a bid needs Market SPOT")),
            _ => {}
        }
        check_ebs(&format!("{at}.EbsConfiguration"), g.ebs_configuration.as_ref())?;
        check_configurations(&format!("{at}.Configurations"), &g.configurations, 1)?;
    }
    Ok(())
}

fn check_fleets(fleets: &[InstanceFleet]) -> Result<()> {
    for role in [InstanceRole::Master, InstanceRole::Core, InstanceRole::Task] {
        let n = fleets.iter().filter(|f| f.instance_fleet_type == role).count();
        if n > 1 || (role == InstanceRole::Master && n == 0) {
            return Err(bad("Instances.InstanceFleets", n, format!("one {role:?} fleet").to_uppercase()));
        }
    }
    for (n, f) in fleets.iter().enumerate() {
        let at = format!("Instances.InstanceFleets[{n}]");
        let (on_demand, spot) = (f.target_on_demand_capacity.unwrap_or(0), f.target_spot_capacity.unwrap_or(0));
        for (name, units) in [("TargetOnDemandCapacity", on_demand), ("TargetSpotCapacity", spot)] {
            if units > MAX_NODES {
                return Err(bad(format!("{at}.{name}"), units, format!("0 to {MAX_NODES}")));
            }
        }
        if f.instance_fleet_type == InstanceRole::Master && on_demand + spot != 1 {
            return Err(bad(
                format!("{at}.TargetOnDemandCapacity"),
                on_demand,
                "a master fleet has a capacity of 1, on demand or spot",
            ));
        }
        if f.instance_type_configs.is_empty() || f.instance_type_configs.len() > MAX_FLEET_TYPES {
            return Err(bad(
                format!("{at}.InstanceTypeConfigs"),
                f.instance_type_configs.len(),
                "1 to 30 instance types",
            ));
        }
        for (k, t) in f.instance_type_configs.iter().enumerate() {
            let at = format!("{at}.InstanceTypeConfigs[{k}]");
            check_type(&format!("{at}.InstanceType"), &t.instance_type)?;
            if t.weighted_capacity.is_some_and(|w| !(1..=MAX_NODES).contains(&w)) {
                return Err(bad(
                    format!("{at}.WeightedCapacity"),
                    t.weighted_capacity.unwrap_or(0),
                    format!("1 to {MAX_NODES}"),
                ));
            }
            // A percentage only applies to spot units (edX sets one on every type); a price is explicit.
            if t.bid_price.is_some() && spot == 0 {
                return Err(bad(format!("{at}.BidPrice"), "set", "a bid needs spot capacity (TargetSpotCapacity)"));
            }
            if let Some(bid) = &t.bid_price {
                check_bid(&format!("{at}.BidPrice"), bid)?;
            }
            if let Some(pct) = t.bid_price_as_percentage_of_on_demand_price
                && !(pct.is_finite() && pct > 0.0 && pct <= 100.0)
            {
                return Err(bad(format!("{at}.BidPriceAsPercentageOfOnDemandPrice"), pct, "above 0 and at most 100"));
            }
            check_ebs(&format!("{at}.EbsConfiguration"), t.ebs_configuration.as_ref())?;
        }
        if let Some(s) = f.launch_specifications.as_ref().and_then(|l| l.spot_specification.as_ref())
            && !(5..=1_440).contains(&s.timeout_duration_minutes)
        {
            let field = format!("{at}.LaunchSpecifications.SpotSpecification.TimeoutDurationMinutes");
            return Err(bad(field, s.timeout_duration_minutes, "5 to 1440 minutes"));
        }
    }
    Ok(())
}

fn check_type(field: &str, name: &str) -> Result<()> {
    let ok = name.split_once('.').is_some_and(|(family, size)| {
        !family.is_empty()
            && !size.is_empty()
            && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-')
    });
    if ok { Ok(()) } else { Err(bad(field, name, "an instance type such as m5.xlarge")) }
}

fn check_bid(field: &str, bid: &str) -> Result<()> {
    let max: rust_decimal::Decimal = MAX_BID.parse().unwrap_or_default();
    match bid.trim().parse::<rust_decimal::Decimal>() {
        Ok(d) if d > rust_decimal::Decimal::ZERO && d <= max => Ok(()),
        _ => Err(bad(field, bid, format!("a price in dollars per hour, above 0 and at most {MAX_BID}"))),
    }
}

fn check_ebs(at: &str, ebs: Option<&EbsConfiguration>) -> Result<()> {
    for (n, d) in ebs.map(|e| e.ebs_block_device_configs.as_slice()).unwrap_or_default().iter().enumerate() {
        let v = &d.volume_specification;
        let field = format!("{at}.EbsBlockDeviceConfigs[{n}].VolumeSpecification");
        if !VOLUME_TYPES.contains(&v.volume_type.as_str()) {
            return Err(bad(
                format!("{field}.VolumeType"),
                &v.volume_type,
                format!("one of {}", VOLUME_TYPES.join(", ")),
            ));
        }
        if !(1..=16_384).contains(&v.size_in_gb) {
            return Err(bad(format!("{field}.SizeInGB"), v.size_in_gb, "1 to 16384 GiB"));
        }
        if d.volumes_per_instance.is_some_and(|k| !(1..=25).contains(&k)) {
            let k = d.volumes_per_instance.unwrap_or(0);
            return Err(bad(format!("{at}.EbsBlockDeviceConfigs[{n}].VolumesPerInstance"), k, "1 to 25"));
        }
    }
    Ok(())
}

fn check_configurations(at: &str, configurations: &[Configuration], depth: usize) -> Result<()> {
    for (n, c) in configurations.iter().enumerate() {
        let field = format!("{at}[{n}]");
        if depth > MAX_CONFIGURATION_DEPTH {
            return Err(bad(field, "nested", "configurations nest at most 4 deep"));
        }
        if c.classification.as_deref().is_none_or(|s| s.trim().is_empty()) {
            return Err(bad(format!("{field}.Classification"), "", "required"));
        }
        check_configurations(&format!("{field}.Configurations"), &c.configurations, depth + 1)?;
    }
    Ok(())
}
