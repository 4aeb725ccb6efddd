//! The catalog an admin maintains, loadable from YAML or JSON.

use super::cluster::StepSpec;
use super::dn::{dn_cn, normalize_dn};
use super::principal::Principal;
use super::readiness::{ProgressProtocol, ReadyWhen};
use crate::error::{Error, Result};
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// A user-data token and its value (MLiy's `Param`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Param {
    /// The token, as written between `{{{` and `}}}`; when it names a template parameter, the
    /// value is also passed as that parameter.
    pub token: String,
    /// Its value.
    #[serde(default)]
    pub value: String,
}

impl Param {
    /// A new token/value pair.
    pub fn new(token: impl Into<String>, value: impl Into<String>) -> Self {
        Param { token: token.into(), value: value.into() }
    }
}

/// An EC2 instance type users may pick.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InstanceType {
    /// AWS's name, e.g. `r3.2xlarge`.
    pub name: String,
    /// What users see.
    #[serde(default)]
    pub description: String,
    /// Whether launches ask for EBS optimisation.
    #[serde(default)]
    pub ebs_optimizable: bool,
}

/// A security group known to the catalog.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SecurityGroup {
    /// The AWS id, e.g. `sg-11111111`.
    pub id: String,
    /// A descriptive name.
    #[serde(default)]
    pub name: String,
}

/// A text kept in a file (relative to the catalog) or inline.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Source {
    /// A file, relative to the catalog file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<PathBuf>,
    /// The text itself.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inline: Option<String>,
    /// The text read from `path` (see `Catalog::load_sources`).
    #[serde(skip)]
    pub(crate) loaded: Option<String>,
}

impl Source {
    /// A source read from `path` when the catalog is loaded.
    pub fn path(path: impl Into<PathBuf>) -> Self {
        Source { path: Some(path.into()), ..Source::default() }
    }

    /// A source with its text inline.
    pub fn inline(text: impl Into<String>) -> Self {
        Source { inline: Some(text.into()), ..Source::default() }
    }

    /// The text: inline, or read from the file by [`Catalog::load_sources`].
    pub fn text(&self) -> Option<&str> {
        self.inline.as_deref().or(self.loaded.as_deref())
    }

    /// A short name for messages: the path, or `inline`.
    pub fn describe(&self) -> String {
        self.path.as_ref().map_or_else(|| "inline".to_string(), |p| p.display().to_string())
    }
}

/// The additional EBS volume of an instance.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VolumeSettings {
    /// KMS key for encryption; empty for the account default.
    #[serde(default)]
    pub kms_key: String,
    /// Device path, e.g. `/dev/xvdz`; empty for no volume.
    #[serde(default)]
    pub device_path: String,
    /// Default size in GiB.
    #[serde(default = "default_volume_size")]
    pub default_size: u32,
    /// What the user interface calls it, e.g. `Home Directory Size`.
    #[serde(default)]
    pub description: String,
}

fn default_volume_size() -> u32 {
    10
}

impl Default for VolumeSettings {
    fn default() -> Self {
        VolumeSettings {
            kms_key: String::new(),
            device_path: String::new(),
            default_size: default_volume_size(),
            description: String::new(),
        }
    }
}

/// What can be launched: a template, a user-data script and their settings
/// (MLiy's `Software_Config`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SoftwareConfig {
    /// Unique name.
    pub name: String,
    /// Whether this launches an EMR cluster rather than an instance.
    #[serde(default)]
    pub emr: bool,
    /// The CloudFormation template.
    #[serde(default)]
    pub template: Option<Source>,
    /// Clusters only, instead of a template: launch directly with EMR's RunJobFlow.
    #[serde(default)]
    pub job_flow: Option<JobFlowSettings>,
    /// The user-data script (instances).
    #[serde(default)]
    pub user_data: Option<Source>,
    /// AMI to launch (instances).
    #[serde(default)]
    pub ami_id: String,
    /// The additional volume (instances).
    #[serde(default)]
    pub volume: VolumeSettings,
    /// The `Name` tag, unless the group config overrides it.
    #[serde(default)]
    pub instance_name: String,
    /// Description shown to users (HTML).
    #[serde(default)]
    pub html_description: String,
    /// Whether the bootstrap reports progress.
    #[serde(default)]
    pub has_progress_bar: bool,
    /// What happens when the bootstrap does not report done within the engine's bootstrap
    /// timeout (`keep` by default: the machine is left running, marked with the reason).
    #[serde(default)]
    pub on_bootstrap_timeout: OnBootstrapTimeout,
    /// What makes an instance ready; by default `first` when the template's instance waits
    /// for a resource signal, else `progress_100` (see [`ReadyWhen`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ready_when: Option<ReadyWhen>,
    /// How the bootstrap reports progress: `native` (mliy's tokens) or `mliy` (MLiy's images
    /// unchanged, through `{{{MANAGER_HOSTNAME}}}`).
    #[serde(default)]
    pub progress_protocol: ProgressProtocol,
    /// Tokens for the user data; a token that names a template parameter also sets it.
    #[serde(default)]
    pub params: Vec<Param>,
    /// Instance types this config can run on.
    #[serde(default)]
    pub compatible_instance_types: Vec<String>,
    /// Group configs (by name) that may launch it.
    #[serde(default)]
    pub permitted_group_configs: Vec<String>,
    /// EMR-managed master security group (clusters).
    #[serde(default)]
    pub master_security_group: Option<String>,
    /// EMR-managed core/task security group (clusters).
    #[serde(default)]
    pub slave_security_group: Option<String>,
    /// Additional master security groups (clusters).
    #[serde(default)]
    pub additional_master_security_groups: Vec<String>,
    /// Additional core/task security groups (clusters).
    #[serde(default)]
    pub additional_slave_security_groups: Vec<String>,
    /// How to show the address: `{{{ URL }}}` is replaced by the DNS name or IP.
    #[serde(default)]
    pub custom_url_format: String,
}

impl SoftwareConfig {
    /// A warning when the config shows a progress bar but its (read) script uses none of its
    /// progress protocol's tokens (`{{{MLIY_PROGRESS_URL}}}`/`{{{MLIY_PROGRESS_TOKEN}}}`, or
    /// `{{{MANAGER_HOSTNAME}}}` for `mliy`): nothing will report progress mliy accepts, and
    /// the bootstrap deadline decides (`on_bootstrap_timeout`).
    pub fn progress_warning(&self) -> Option<String> {
        if !self.has_progress_bar || self.emr {
            return None;
        }
        let script = self.user_data.as_ref()?.text()?;
        let tokens: Vec<String> = self.progress_protocol.tokens().iter().map(|t| format!("{{{{{{{t}}}}}}}")).collect();
        let reports = tokens.iter().any(|t| script.contains(t.as_str()));
        (!reports).then(|| {
            format!(
                "software config {}: has_progress_bar is set but its user data uses none of {} \
                 (progress_protocol: {:?}), so no progress will arrive; at the bootstrap deadline the machine is \
                 handled by on_bootstrap_timeout: {}",
                self.name,
                tokens.join(", "),
                self.progress_protocol,
                self.on_bootstrap_timeout.name()
            )
        })
    }
}

/// What a bootstrap deadline does to an instance whose bootstrap never reported done.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OnBootstrapTimeout {
    /// Leave it running, marked Ready with the reason in its history, to its owner and admins
    /// (an image that reports progress differently still works).
    #[default]
    Keep,
    /// Stop it (its volume is kept).
    Stop,
    /// Fail the launch and delete its stack (and the volume).
    Delete,
}

impl OnBootstrapTimeout {
    /// The setting as written: `keep`, `stop` or `delete`.
    pub fn name(self) -> &'static str {
        match self {
            OnBootstrapTimeout::Keep => "keep",
            OnBootstrapTimeout::Stop => "stop",
            OnBootstrapTimeout::Delete => "delete",
        }
    }
}

/// A cluster launched with RunJobFlow rather than a CloudFormation template: the EMR release,
/// applications and steps (network, keys and roles come from the group config).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JobFlowSettings {
    /// EMR release, e.g. `emr-6.15.0`.
    pub release_label: String,
    /// Applications, e.g. `[Spark, JupyterHub]`.
    #[serde(default)]
    pub applications: Vec<String>,
    /// EMR's service role.
    pub service_role: String,
    /// Steps every cluster runs once it is up.
    #[serde(default)]
    pub steps: Vec<StepSpec>,
    /// More of the RunJobFlow request, in the API's field names: `BootstrapActions`,
    /// `Configurations` (`jupyter-s3-conf`, …), `LogUri`, `SecurityConfiguration`,
    /// `EbsRootVolumeSize`, `Tags`, … The name, release, roles, network and nodes come from
    /// the fields above, the group config and the launch request, so they are refused here.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request: Option<crate::model::ClusterSpec>,
}

impl JobFlowSettings {
    /// Refuses a `request` field that the other settings own.
    fn check_request(&self, at: &str) -> Result<()> {
        let Some(r) = &self.request else { return Ok(()) };
        let i = &r.instances;
        let owned = [
            ("Name", !r.name.is_empty()),
            ("ReleaseLabel", r.release_label.is_some()),
            ("AmiVersion", r.ami_version.is_some()),
            ("Applications", !r.applications.is_empty()),
            ("ServiceRole", r.service_role.is_some()),
            ("JobFlowRole", r.job_flow_role.is_some()),
            ("Steps", !r.steps.is_empty()),
            ("AutoTerminationPolicy", r.auto_termination_policy.is_some()),
            ("Instances.InstanceGroups", !i.instance_groups.is_empty()),
            ("Instances.InstanceFleets", !i.instance_fleets.is_empty()),
            ("Instances.Ec2KeyName", i.ec2_key_name.is_some()),
            ("Instances.Ec2SubnetId", i.ec2_subnet_id.is_some() || !i.ec2_subnet_ids.is_empty()),
        ];
        match owned.iter().find(|(_, set)| *set) {
            Some((field, _)) => Err(Error::validation(
                format!("{at}.request.{field}"),
                "set",
                "comes from job_flow's own fields, the group config or the launch request",
            )),
            None => Ok(()),
        }
    }
}

/// How a group config's `group` is compared with a principal's groups.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GroupMatch {
    /// The same name, ignoring case.
    #[default]
    Name,
    /// The same distinguished name, normalised.
    Dn,
    /// A principal group whose DN's first RDN is `CN=<group>`.
    Cn,
}

/// The network a group's launches go into.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Network {
    /// Subnet for instances and clusters.
    #[serde(default)]
    pub subnet_id: Option<String>,
    /// Availability zone of that subnet (for the EBS volume).
    #[serde(default)]
    pub availability_zone: Option<String>,
}

/// Limits and automation for a group's launches.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GroupSettings {
    /// Idle clusters terminate after this many minutes: EMR's auto-termination policy, and
    /// `paramIdleSeconds` for templates that declare it (1 minute to 7 days).
    #[serde(default)]
    pub cluster_auto_termination_minutes: Option<u32>,
    /// Instances that report no activity (`report_activity`) for this many minutes are
    /// stopped, with a warning event first.
    #[serde(default)]
    pub idle_stop_minutes: Option<u32>,
    /// Most resources one user may have running or on their way (checked atomically at
    /// launch; a stopped instance does not count).
    #[serde(default)]
    pub max_running_per_user: Option<u32>,
    /// Most resources all users together may have running or on their way under this group
    /// config.
    #[serde(default)]
    pub max_running_per_group: Option<u32>,
    /// Most core plus task nodes of one cluster (20 when unset).
    #[serde(default)]
    pub max_cluster_nodes: Option<u32>,
    /// Most one user's resources under this group config may cost per hour, in dollars:
    /// the running and pending ones' prices, the stopped ones' volumes, plus the new launch's
    /// (checked atomically at launch; needs the engine's pricing).
    #[serde(default)]
    pub max_hourly_spend: Option<rust_decimal::Decimal>,
    /// The same for all users' resources under this group config together.
    #[serde(default)]
    pub max_group_hourly_spend: Option<rust_decimal::Decimal>,
    /// Dollars the group config's resources may cost per calendar month (UTC), with warning
    /// events at 50, 80 and 100% (needs the engine's pricing).
    #[serde(default)]
    pub monthly_budget: Option<rust_decimal::Decimal>,
    /// Past the budget: `hard` refuses launches and starts, `soft` only warns.
    #[serde(default)]
    pub budget_enforcement: BudgetEnforcement,
    /// Instances are stopped and clusters terminated this many hours after their launch,
    /// with warning events 24 hours and 1 hour before.
    #[serde(default)]
    pub max_lifetime_hours: Option<u32>,
    /// Most hours the `extend` action may add to one resource's lifetime in all (none when
    /// unset).
    #[serde(default)]
    pub max_lifetime_extension_hours: Option<u32>,
}

/// What a monthly budget does once it is spent.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BudgetEnforcement {
    /// Launches and starts are refused.
    #[default]
    Hard,
    /// Warning events only.
    Soft,
}

impl GroupSettings {
    /// The settings in dollars, by name: they need the engine's pricing.
    pub fn money(&self) -> [(&'static str, Option<rust_decimal::Decimal>); 3] {
        [
            ("max_hourly_spend", self.max_hourly_spend),
            ("max_group_hourly_spend", self.max_group_hourly_spend),
            ("monthly_budget", self.monthly_budget),
        ]
    }

    /// Checks the settings' ranges and the ones that only make sense together.
    fn check(&self, at: impl Fn(&str) -> String) -> Result<()> {
        if let Some(m) = self.cluster_auto_termination_minutes
            && !(1..=10_080).contains(&m)
        {
            let rule = "EMR's auto-termination idle timeout is 1 minute to 7 days (10080 minutes)";
            return Err(Error::validation(at("settings.cluster_auto_termination_minutes"), m.to_string(), rule));
        }
        let positive = [("idle_stop_minutes", self.idle_stop_minutes), ("max_lifetime_hours", self.max_lifetime_hours)];
        if let Some((name, v)) = positive.into_iter().find(|(_, v)| *v == Some(0)) {
            return Err(Error::validation(at(&format!("settings.{name}")), format!("{v:?}"), "must be at least 1"));
        }
        if self.max_lifetime_extension_hours.is_some() && self.max_lifetime_hours.is_none() {
            return Err(Error::validation(
                at("settings.max_lifetime_extension_hours"),
                "set",
                "extensions need max_lifetime_hours",
            ));
        }
        match self.money().into_iter().find(|(_, v)| v.is_some_and(|d| d <= rust_decimal::Decimal::ZERO)) {
            Some((name, v)) => Err(Error::validation(
                at(&format!("settings.{name}")),
                v.unwrap_or_default().to_string(),
                "must be more than 0",
            )),
            None => Ok(()),
        }
    }
}

/// What a group may launch and with which keys, roles, network and tags
/// (MLiy's `GroupConfig`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GroupConfig {
    /// Unique name.
    pub name: String,
    /// The directory group whose members may use it.
    pub group: String,
    /// How `group` is matched.
    #[serde(default)]
    pub group_match: GroupMatch,
    /// Whether members may launch EMR clusters.
    #[serde(default)]
    pub emr_access: bool,
    /// Replaces the software config's `Name` tag and the stack name prefix.
    #[serde(default)]
    pub override_instance_name: String,
    /// `AGS` tag (application group).
    #[serde(default)]
    pub ags: String,
    /// `Cost Center` tag.
    #[serde(default)]
    pub cost_center: String,
    /// `SDLC` tag (e.g. DEV).
    #[serde(default)]
    pub sdlc: String,
    /// SSH key pair for admin access.
    #[serde(default)]
    pub key_name: String,
    /// IAM instance profile (instances) / job flow role (clusters).
    #[serde(default)]
    pub iam_instance_profile: String,
    /// Instance types members may not launch.
    #[serde(default)]
    pub excluded_instance_types: Vec<String>,
    /// Security groups every launch gets.
    #[serde(default)]
    pub default_security_groups: Vec<String>,
    /// Security groups a user may add.
    #[serde(default)]
    pub optional_security_groups: Vec<String>,
    /// Subnet and availability zone.
    #[serde(default)]
    pub network: Network,
    /// Time zone for clusters (`paramTimeZone`); the template's default when unset.
    #[serde(default)]
    pub time_zone: Option<String>,
    /// Tokens for this group's launches; they win over the software config's.
    #[serde(default)]
    pub params: Vec<Param>,
    /// Limits and automation.
    #[serde(default)]
    pub settings: GroupSettings,
}

impl GroupConfig {
    /// Whether `principal` is a member of this config's group.
    pub fn admits(&self, principal: &Principal) -> bool {
        let wanted = self.group.trim();
        if wanted.is_empty() {
            return false;
        }
        principal.groups.iter().any(|g| match self.group_match {
            GroupMatch::Name => g.trim().eq_ignore_ascii_case(wanted),
            GroupMatch::Dn => normalize_dn(g) == normalize_dn(wanted),
            GroupMatch::Cn => dn_cn(g).is_some_and(|cn| cn.eq_ignore_ascii_case(wanted)),
        })
    }
}

/// The admin catalog.
///
/// ```
/// use mliy_core::model::Catalog;
///
/// let catalog = Catalog::from_yaml_str("
/// instance_types: [{name: t3.large}]
/// group_configs:
///   - {name: ds, group: data-science, key_name: ds-key}
/// ").unwrap();
/// assert_eq!(catalog.group_config("ds").unwrap().key_name, "ds-key");
/// ```
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Catalog {
    /// Instance types users may pick from.
    #[serde(default)]
    pub instance_types: Vec<InstanceType>,
    /// Known security groups.
    #[serde(default)]
    pub security_groups: Vec<SecurityGroup>,
    /// Library of tokens admins pick from (MLiy's Param table); not applied by itself.
    #[serde(default)]
    pub params: Vec<Param>,
    /// Tokens every launch gets, after group and software-config tokens (MLiy's
    /// `REPLACEMENT_TOKENS`).
    #[serde(default)]
    pub replacement_tokens: Vec<Param>,
    /// Software configs.
    #[serde(default)]
    pub software_configs: Vec<SoftwareConfig>,
    /// Group configs.
    #[serde(default)]
    pub group_configs: Vec<GroupConfig>,
}

impl Catalog {
    /// The catalog as YAML.
    ///
    /// # Errors
    /// Only if serialisation fails, which the types here do not cause.
    pub fn to_yaml(&self) -> Result<String> {
        serde_norway::to_string(self).map_err(|e| Error::parse("catalog", e.to_string()))
    }

    /// The software config named `name`.
    ///
    /// # Errors
    /// [`Error::NotFound`].
    pub fn software_config(&self, name: &str) -> Result<&SoftwareConfig> {
        self.software_configs
            .iter()
            .find(|s| s.name == name)
            .ok_or_else(|| Error::NotFound { kind: "software config", name: name.into() })
    }

    /// The group config named `name`.
    ///
    /// # Errors
    /// [`Error::NotFound`].
    pub fn group_config(&self, name: &str) -> Result<&GroupConfig> {
        self.group_configs
            .iter()
            .find(|g| g.name == name)
            .ok_or_else(|| Error::NotFound { kind: "group config", name: name.into() })
    }

    /// The instance type named `name`.
    pub fn instance_type(&self, name: &str) -> Option<&InstanceType> {
        self.instance_types.iter().find(|t| t.name == name)
    }

    /// Checks that names are unique and every reference resolves.
    ///
    /// # Errors
    /// [`Error::Validation`] naming the entry and field that is wrong.
    pub fn validate(&self) -> Result<()> {
        unique("instance_types", self.instance_types.iter().map(|t| t.name.as_str()))?;
        unique("security_groups", self.security_groups.iter().map(|g| g.id.as_str()))?;
        unique("software_configs", self.software_configs.iter().map(|s| s.name.as_str()))?;
        unique("group_configs", self.group_configs.iter().map(|g| g.name.as_str()))?;
        let types: Vec<&str> = self.instance_types.iter().map(|t| t.name.as_str()).collect();
        let sgs: Vec<&str> = self.security_groups.iter().map(|g| g.id.as_str()).collect();
        let groups: Vec<&str> = self.group_configs.iter().map(|g| g.name.as_str()).collect();
        for sc in &self.software_configs {
            let at = |field: &str| format!("software_configs[{}].{field}", sc.name);
            refs(&at("compatible_instance_types"), &sc.compatible_instance_types, &types, "instance_types")?;
            refs(&at("permitted_group_configs"), &sc.permitted_group_configs, &groups, "group_configs")?;
            let cluster_sgs = sc.master_security_group.iter().chain(&sc.slave_security_group);
            refs(&at("security groups"), cluster_sgs, &sgs, "security_groups")?;
            refs(
                &at("additional_master_security_groups"),
                &sc.additional_master_security_groups,
                &sgs,
                "security_groups",
            )?;
            refs(
                &at("additional_slave_security_groups"),
                &sc.additional_slave_security_groups,
                &sgs,
                "security_groups",
            )?;
            match (&sc.job_flow, sc.emr, &sc.template) {
                (Some(_), false, _) => {
                    return Err(Error::validation(
                        at("job_flow"),
                        "set",
                        "only EMR software configs (emr: true) launch job flows",
                    ));
                }
                (Some(_), true, Some(t)) => {
                    return Err(Error::validation(
                        at("template"),
                        t.describe(),
                        "give a template or a job_flow, not both",
                    ));
                }
                (Some(jf), true, None) if jf.release_label.trim().is_empty() || jf.service_role.trim().is_empty() => {
                    return Err(Error::validation(at("job_flow"), "release_label/service_role", "both are required"));
                }
                (Some(jf), true, None) => jf.check_request(&at("job_flow"))?,
                _ => {}
            }
            if sc.template.as_ref().is_some_and(|t| t.path.is_none() && t.inline.is_none()) {
                return Err(Error::validation(at("template"), "{}", "give a path or inline text"));
            }
        }
        for gc in &self.group_configs {
            let at = |field: &str| format!("group_configs[{}].{field}", gc.name);
            refs(&at("excluded_instance_types"), &gc.excluded_instance_types, &types, "instance_types")?;
            refs(&at("default_security_groups"), &gc.default_security_groups, &sgs, "security_groups")?;
            refs(&at("optional_security_groups"), &gc.optional_security_groups, &sgs, "security_groups")?;
            if gc.group.trim().is_empty() {
                return Err(Error::validation(
                    at("group"),
                    &gc.group,
                    "a group config needs the group whose members may use it",
                ));
            }
            gc.settings.check(at)?;
        }
        Ok(())
    }
}

fn unique<'a>(list: &str, names: impl Iterator<Item = &'a str>) -> Result<()> {
    let mut seen = std::collections::HashSet::new();
    for name in names {
        if name.trim().is_empty() {
            return Err(Error::validation(list, name, "every entry needs a non-empty name"));
        }
        if !seen.insert(name) {
            return Err(Error::validation(list, name, "names must be unique"));
        }
    }
    Ok(())
}

fn refs<'a>(field: &str, used: impl IntoIterator<Item = &'a String>, known: &[&str], list: &str) -> Result<()> {
    match used.into_iter().find(|u| !known.contains(&u.as_str())) {
        Some(missing) => Err(Error::validation(field, missing.as_str(), format!("must name an entry of {list}"))),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn malformed_catalogs_name_the_problem() {
        let e = Catalog::from_yaml_str("group_configs: [{name: a}]").unwrap_err();
        assert!(e.to_string().contains("missing field `group`"), "{e}");
        let e = Catalog::from_yaml_str("instance_typos: []").unwrap_err();
        assert!(e.to_string().contains("unknown field `instance_typos`"), "{e}");
        let e =
            Catalog::from_yaml_str("software_configs: [{name: s, compatible_instance_types: [m9.huge]}]").unwrap_err();
        assert_eq!(
            e.to_string(),
            "software_configs[s].compatible_instance_types: value \"m9.huge\" breaks the rule: must name an entry of instance_types"
        );
        let e = Catalog::from_yaml_str("instance_types: [{name: a}, {name: a}]").unwrap_err();
        assert!(e.to_string().contains("names must be unique"), "{e}");
        assert!(Catalog::from_yaml_str("group_configs: [{name: : :").is_err());
    }

    #[test]
    fn job_flows_are_for_emr_configs_without_templates() {
        let jf = "job_flow: {release_label: emr-6.15.0, service_role: EMR_DefaultRole}";
        let e = Catalog::from_yaml_str(&format!("software_configs: [{{name: s, {jf}}}]")).unwrap_err();
        assert!(e.to_string().contains("software_configs[s].job_flow") && e.to_string().contains("emr: true"), "{e}");
        let both = format!("software_configs: [{{name: s, emr: true, template: {{inline: x}}, {jf}}}]");
        let e = Catalog::from_yaml_str(&both).unwrap_err();
        assert!(e.to_string().contains("not both"), "{e}");
        let empty = "software_configs: [{name: s, emr: true, job_flow: {release_label: '', service_role: r}}]";
        assert!(Catalog::from_yaml_str(empty).unwrap_err().to_string().contains("required"));
        let ok = Catalog::from_yaml_str(&format!("software_configs: [{{name: s, emr: true, {jf}}}]")).unwrap();
        assert_eq!(ok.software_configs[0].job_flow.as_ref().unwrap().release_label, "emr-6.15.0");
    }

    #[test]
    fn group_matching_rules() {
        let mut gc: GroupConfig = serde_norway::from_str("{name: g, group: 'cn=DS,ou=groups,dc=x'}").unwrap();
        let p = Principal::new("u", ["CN=ds, OU=Groups, DC=X"]);
        assert!(!gc.admits(&p), "name match is exact");
        gc.group_match = GroupMatch::Dn;
        assert!(gc.admits(&p));
        gc.group_match = GroupMatch::Cn;
        gc.group = "ds".into();
        assert!(gc.admits(&p));
        assert!(!gc.admits(&Principal::new("u", ["cn=ds-archive,dc=x"])));
        gc.group_match = GroupMatch::Name;
        assert!(gc.admits(&Principal::new("u", ["DS"])));
        assert!(!gc.admits(&Principal::new("u", ["ds2"])));
    }

    #[test]
    fn settings_are_checked_by_name() {
        let refused = [
            ("cluster_auto_termination_minutes: 0", "cluster_auto_termination_minutes", "7 days"),
            ("cluster_auto_termination_minutes: 10081", "cluster_auto_termination_minutes", "10080"),
            ("idle_stop_minutes: 0", "idle_stop_minutes", "at least 1"),
            ("max_lifetime_extension_hours: 4", "max_lifetime_extension_hours", "need max_lifetime_hours"),
            ("monthly_budget: 0", "monthly_budget", "more than 0"),
            ("max_hourly_spend: -1", "max_hourly_spend", "more than 0"),
            ("budget_enforcement: loose", "budget_enforcement", "unknown variant"),
        ];
        for (setting, name, rule) in refused {
            let yaml = format!("group_configs: [{{name: g, group: x, settings: {{{setting}}}}}]\n");
            let e = Catalog::from_yaml_str(&yaml).unwrap_err().to_string();
            assert!(e.contains(name) && e.contains(rule), "{setting}: {e}");
        }
        let all = "group_configs: [{name: g, group: x, settings: {idle_stop_minutes: 30, max_lifetime_hours: 24, \
                   max_lifetime_extension_hours: 48, monthly_budget: 800, budget_enforcement: soft, \
                   max_running_per_group: 10, max_group_hourly_spend: 20, cluster_auto_termination_minutes: 10080}}]";
        let c = Catalog::from_yaml_str(all).unwrap();
        let s = &c.group_configs[0].settings;
        assert_eq!(
            (s.budget_enforcement, s.monthly_budget.map(|d| d.to_string())),
            (BudgetEnforcement::Soft, Some("800".into()))
        );
        let ok = "group_configs: [{name: g, group: x, settings: {max_running_per_user: 2, max_cluster_nodes: 40}}]";
        assert!(Catalog::from_yaml_str(ok).is_ok());
        let spend = "group_configs: [{name: g, group: x, settings: {max_hourly_spend: 12.5}}]";
        let c = Catalog::from_yaml_str(spend).unwrap();
        assert_eq!(c.group_configs[0].settings.max_hourly_spend.map(|d| d.to_string()).as_deref(), Some("12.5"));
        assert_eq!(Catalog::from_yaml_str(&c.to_yaml().unwrap()).unwrap(), c, "written and read back");
    }

    #[test]
    fn hostile_catalogs_are_refused_in_bounded_work() {
        let bomb = format!(
            "instance_types: [{{name: &big {}}}, {}]\n",
            "x".repeat(1 << 20),
            vec!["{name: *big}"; 5000].join(", ")
        );
        let e = Catalog::from_yaml_str(&bomb).unwrap_err().to_string();
        assert!(e.contains("bytes of text"), "{e}");
        let twice = "instance_types: []\ninstance_types: [{name: t3.large}]\n";
        assert!(Catalog::from_yaml_str(twice).unwrap_err().to_string().contains("duplicate key"));
    }

    #[test]
    fn round_trips_through_yaml() {
        let mut c = Catalog::default();
        c.instance_types.push(InstanceType {
            name: "m4.large".into(),
            description: "d".into(),
            ebs_optimizable: false,
        });
        c.software_configs.push(SoftwareConfig {
            name: "s".into(),
            emr: false,
            template: Some(Source::path("t.json")),
            job_flow: None,
            user_data: Some(Source::inline("#!/bin/sh\n")),
            ami_id: "ami-12345678".into(),
            volume: VolumeSettings::default(),
            instance_name: "n".into(),
            html_description: String::new(),
            has_progress_bar: true,
            on_bootstrap_timeout: OnBootstrapTimeout::Stop,
            ready_when: Some(ReadyWhen::StackComplete),
            progress_protocol: ProgressProtocol::Mliy,
            params: vec![Param::new("A", "1")],
            compatible_instance_types: vec!["m4.large".into()],
            permitted_group_configs: vec![],
            master_security_group: None,
            slave_security_group: None,
            additional_master_security_groups: vec![],
            additional_slave_security_groups: vec![],
            custom_url_format: String::new(),
        });
        let back = Catalog::from_yaml_str(&c.to_yaml().unwrap()).unwrap();
        assert_eq!(back, c);
    }
}
