//! Assembling the CloudFormation parameters, names and tags of a checked request.

use super::naming;
use super::policy::Checked;
use super::request::{ClusterOptions, LaunchRequest};
use super::{LaunchPlan, PlanKind, PlanParameter, ValueSource};
use crate::error::{Error, Result};
use crate::model::emr::{ApiTag, Application, AutoTerminationPolicy};
use crate::model::{
    Catalog, ClusterSpec, JobFlowSettings, LAUNCH_ID_TAG, MANAGED_TAG, Market, Principal, ReadyWhen, StepSpec, Tag,
    node_groups,
};
use crate::template::{MapKey, Template};
use crate::userdata::{self, TokenSource, UserTokens};
use std::sync::Arc;

/// The user-data token MLiy read the EBS snapshot id from.
const SNAPSHOT_TOKEN: &str = "SNAPSHOT_ID";
/// `paramClusterName`'s length rule when the template states none (MLiy's template's).
const CLUSTER_NAME_LENGTH: (usize, usize) = (20, 40);

/// Values keyed by parameter; a later `set` of the same key replaces the earlier one.
#[derive(Default)]
struct Values(Vec<(&'static str, String)>);

impl Values {
    /// Sets `key` unless the value is empty (an empty value means "use the template's default").
    fn set(&mut self, key: &'static str, value: impl Into<String>) {
        let value = value.into();
        if !value.is_empty() {
            self.0.push((key, value));
        }
    }

    /// Sets `key` even to an empty value: for list parameters "" means an empty list.
    fn set_list(&mut self, key: &'static str, items: &[String]) {
        self.0.push((key, items.join(",")));
    }

    fn get(&self, key: &str) -> Option<&str> {
        self.0.iter().rev().find(|(k, _)| *k == key).map(|(_, v)| v.as_str())
    }
}

/// What the planner knows of a launch once its request passed the policy checks.
pub(crate) struct Launch<'a> {
    pub(crate) catalog: &'a Catalog,
    pub(crate) principal: &'a Principal,
    pub(crate) request: &'a LaunchRequest,
    pub(crate) checked: &'a Checked<'a>,
    pub(crate) template: &'a Template,
}

/// The plan of a checked launch: its user data rendered, the template's parameters
/// assembled and checked, its stack name and tags.
pub(crate) fn assemble(launch: &Launch<'_>, body: &Arc<str>) -> Result<LaunchPlan> {
    let Launch { principal, request, checked, template, .. } = *launch;
    let (group, software) = (checked.group, checked.software);
    if template.parameters.is_empty() {
        return Err(Error::validation(
            "template",
            software.template.as_ref().map(|s| s.describe()).unwrap_or_default(),
            "declares no Parameters, so mliy cannot pass the instance type, network or user data",
        ));
    }
    let rendered = render_user_data(launch)?;
    let (kind, values, cluster_name) = match &request.cluster {
        None => (PlanKind::Instance, instance_values(request, checked, rendered.as_ref())?, None),
        Some(options) => {
            template_takes(template, options)?;
            let (values, name) = cluster_values(launch, options);
            (PlanKind::Cluster, values, Some(name))
        }
    };
    let mut warnings = Vec::new();
    let parameters = template_parameters(template, checked, &values, &mut warnings)?;
    find_in_map_warnings(template, &parameters, &mut warnings);
    warnings.extend(software.progress_warning());
    warnings.extend(idle_warning(checked, kind));
    if let Some(r) = &rendered {
        warnings.extend(
            r.unknown_tokens
                .iter()
                .map(|t| format!("user data token {{{{{{{t}}}}}}} has no value and stays in the script")),
        );
    }
    let name_tag =
        if group.override_instance_name.is_empty() { &software.instance_name } else { &group.override_instance_name };
    let stack_name = match &cluster_name {
        Some(name) => name.clone(),
        None => naming::instance_stack_name(&group.override_instance_name, &group.ags, &request.launch_id),
    };
    let tags = launch_tags(principal, request, checked, cluster_name.as_deref().unwrap_or(name_tag))?;
    let sent: Vec<(String, String)> = parameters.iter().map(|p| (p.key.clone(), p.value().to_string())).collect();
    let signal_timeout_secs = template.instance_signal_timeout(&sent).map(|d| d.as_secs());
    Ok(LaunchPlan {
        launch_id: request.launch_id.clone(),
        kind,
        client_request_token: request.launch_id.to_string(),
        stack_name,
        owner: principal.username.clone(),
        group_config: group.name.clone(),
        software_config: software.name.clone(),
        instance_type: request.instance_type.clone(),
        cluster_name,
        parameters,
        tags,
        user_data: rendered.as_ref().map(|r| r.text.clone()),
        unknown_tokens: rendered.map(|r| r.unknown_tokens).unwrap_or_default(),
        warnings,
        template_body: Arc::clone(body),
        job_flow: None,
        ready_when: software.ready_when.unwrap_or(ReadyWhen::default_for(template.instance_signalled())),
        signal_timeout_secs,
    })
}

/// A warning when idle instances are stopped but the user data never reports activity.
fn idle_warning(checked: &Checked<'_>, kind: PlanKind) -> Option<String> {
    let minutes = checked.group.settings.idle_stop_minutes?;
    let script = checked.software.user_data.as_ref().and_then(|s| s.text());
    if kind != PlanKind::Instance || script.is_some_and(|t| t.contains("{{{MLIY_ACTIVITY_URL}}}")) {
        return None;
    }
    Some(format!(
        "group config {} stops instances idle for {minutes} minutes, and software config {}'s user data never \
         reports activity ({{{{{{MLIY_ACTIVITY_URL}}}}}}): it counts as idle from when it is ready",
        checked.group.name, checked.software.name
    ))
}

/// The software config's user-data script with its tokens filled in, if it has one.
///
/// Built-in tokens: who launches (after the request's own tokens) and the volume's device
/// (after the catalog's, so an admin can override it). What the user or the directory gave is
/// escaped for where it lands in the script; the catalog's values are literal.
fn render_user_data(launch: &Launch<'_>) -> Result<Option<userdata::Rendered>> {
    let Launch { catalog, principal, request, checked, .. } = *launch;
    let (group, software) = (checked.group, checked.software);
    let Some(source) = &software.user_data else { return Ok(None) };
    let email = principal.email.as_deref().unwrap_or_default();
    let launch_tokens = [
        ("MLIY_USER", principal.username.as_str()),
        ("MLIY_DISPLAY_NAME", principal.shown_name()),
        ("MLIY_EMAIL", email),
        ("MLIY_LAUNCH_ID", request.launch_id.as_str()),
    ];
    let volume_tokens = [("EBS_DEVICE", software.volume.device_path.as_str())];
    let sources: [&dyn TokenSource; 6] = [
        &UserTokens(&request.tokens),
        &UserTokens(&launch_tokens),
        &group.params,
        &software.params,
        &catalog.replacement_tokens,
        &volume_tokens,
    ];
    let script = source.text().ok_or_else(|| {
        Error::validation(
            format!("software_configs[{}].user_data", software.name),
            source.describe(),
            "the file was not read: load the catalog with Catalog::from_path or call load_sources",
        )
    })?;
    Ok(Some(userdata::render(script, &sources)?))
}

/// MLiy's generated values for an instance template.
fn instance_values(
    request: &LaunchRequest,
    checked: &Checked<'_>,
    rendered: Option<&userdata::Rendered>,
) -> Result<Values> {
    let (group, software) = (checked.group, checked.software);
    let mut values = Values::default();
    values.set("KeyName", &group.key_name);
    values.set("ImageId", &software.ami_id);
    values.set("InstanceType", &request.instance_type);
    values.set("IamInstanceProfile", &group.iam_instance_profile);
    values.set("SecurityGroupIds", checked.security_groups.join(","));
    values.set("SubnetId", group.network.subnet_id.clone().unwrap_or_default());
    values.set("AvailabilityZone", group.network.availability_zone.clone().unwrap_or_default());
    values.set("EBSVolumeDeviceName", &software.volume.device_path);
    values.set("VolumeSize", request.volume_size.unwrap_or(software.volume.default_size).to_string());
    values.set("KmsKeyId", &software.volume.kms_key);
    if let Some(snapshot) = software.params.iter().find(|p| p.token == SNAPSHOT_TOKEN) {
        values.set("SnapshotId", &snapshot.value);
    }
    if let Some(r) = rendered {
        values.set("UserData", r.to_base64("UserData")?);
    }
    Ok(values)
}

/// MLiy's generated values for a cluster template, and the cluster's name.
fn cluster_values(launch: &Launch<'_>, options: &ClusterOptions) -> (Values, String) {
    let Launch { principal, request, checked, template, .. } = *launch;
    let (group, software) = (checked.group, checked.software);
    let mut values = Values::default();
    let rule = template.parameter("paramClusterName");
    let min = rule.and_then(|p| p.min_length).map_or(CLUSTER_NAME_LENGTH.0, |n| n as usize);
    let max = rule.and_then(|p| p.max_length).map_or(CLUSTER_NAME_LENGTH.1, |n| n as usize);
    let name = fitted_cluster_name(principal, request, checked, options, (min, max));
    values.set("paramClusterName", &name);
    values.set("paramEnvironment", &group.sdlc);
    values.set("paramTimeZone", group.time_zone.clone().unwrap_or_default());
    values.set("paramAGS", &group.ags);
    values.set("paramInstanceType", &request.instance_type);
    values.set("paramCoreInstanceCount", options.core_nodes.to_string());
    values.set("paramTaskInstanceCount", options.task_nodes.to_string());
    if let Market::Spot { bid: Some(bid) } = options.market {
        values.set("paramBidPrice", bid.to_string());
    }
    values.set("paramMarketType", options.market.emr_name());
    values.set("paramSubnetID", group.network.subnet_id.clone().unwrap_or_default());
    values.set("paramEc2KeyName", &group.key_name);
    values.set("paramEMRManagedMasterSecurityGroup", software.master_security_group.clone().unwrap_or_default());
    values.set("paramEMRManagedSlaveSecurityGroup", software.slave_security_group.clone().unwrap_or_default());
    values.set_list("paramAdditionalMasterSecurityGroups", &software.additional_master_security_groups);
    values.set_list("paramAdditionalSlaveSecurityGroups", &software.additional_slave_security_groups);
    if let Some(minutes) = group.settings.cluster_auto_termination_minutes {
        values.set("paramIdleSeconds", (u64::from(minutes) * 60).to_string());
    }
    values.set("paramJobFlowRole", &group.iam_instance_profile);
    (values, name)
}

/// Refuses a cluster request the template cannot carry (it would be dropped in silence): spot
/// without `paramMarketType`, a bid without `paramBidPrice`, task nodes without
/// `paramTaskInstanceCount`.
fn template_takes(template: &Template, options: &ClusterOptions) -> Result<()> {
    let asks = [
        ("market", options.market.emr_name(), options.market != Market::OnDemand, "paramMarketType"),
        ("bid", "set", matches!(options.market, Market::Spot { bid: Some(_) }), "paramBidPrice"),
        ("task_nodes", &*options.task_nodes.to_string(), options.task_nodes > 0, "paramTaskInstanceCount"),
    ];
    for (field, value, asked, parameter) in asks {
        if asked && template.parameter(parameter).is_none() {
            let rule = format!("the template declares no {parameter}, so the cluster would not get it");
            return Err(Error::validation(field, value, rule));
        }
    }
    Ok(())
}

/// Every declared parameter, in template order, checked against its constraints: custom
/// params (group config, then software config) win over generated values; nothing is sent
/// twice; a parameter without a value or a Default is refused.
fn template_parameters(
    template: &Template,
    checked: &Checked<'_>,
    values: &Values,
    warnings: &mut Vec<String>,
) -> Result<Vec<PlanParameter>> {
    let (group, software) = (checked.group, checked.software);
    let mut parameters = Vec::new();
    for decl in &template.parameters {
        let custom = [(ValueSource::GroupConfig, &group.params), (ValueSource::SoftwareConfig, &software.params)]
            .into_iter()
            .find_map(|(source, params)| {
                params.iter().find(|p| p.token == decl.name).map(|p| (source, p.value.clone()))
            });
        let (source, value) = match (custom, values.get(&decl.name)) {
            (Some((source, value)), generated) => {
                if generated.is_some_and(|g| g != value) {
                    warnings.push(format!(
                        "parameter {}: the {} param overrides the generated value",
                        decl.name,
                        if source == ValueSource::GroupConfig { "group config" } else { "software config" }
                    ));
                }
                (source, value)
            }
            (None, Some(value)) => (ValueSource::Generated, value.to_string()),
            (None, None) if decl.default.is_none() => {
                return Err(Error::validation(
                    &decl.name,
                    "",
                    "required: the template has no Default and the catalog gives no value \
                     (set it in the group config, or as a software config param)",
                ));
            }
            (None, None) => continue,
        };
        decl.check(&value)?;
        parameters.push(PlanParameter::new(&decl.name, value, decl.no_echo, source));
    }
    Ok(parameters)
}

/// The tags of every launch: MLiy's, the managed marker and the launch id.
fn launch_tags(principal: &Principal, request: &LaunchRequest, checked: &Checked<'_>, name: &str) -> Result<Vec<Tag>> {
    let (group, software) = (checked.group, checked.software);
    let mut tags = vec![
        Tag::new("Name", name),
        Tag::new("AGS", &group.ags),
        Tag::new("Cost Center", &group.cost_center),
        Tag::new("SDLC", &group.sdlc),
        Tag::new("User", principal.shown_name()),
        Tag::new("userid", &principal.username),
        Tag::new(MANAGED_TAG.0, MANAGED_TAG.1),
        Tag::new("Software Config", &software.name),
        Tag::new("Group Config", &group.name),
        Tag::new(LAUNCH_ID_TAG, request.launch_id.as_str()),
    ];
    if let Some(options) = &request.cluster {
        tags.push(Tag::new("Purpose", &options.purpose));
    }
    naming::check_tags(&tags)?;
    Ok(tags)
}

/// The cluster's name: the group's or software config's name, market, launch id and user,
/// fitted to `(min, max)` characters.
fn fitted_cluster_name(
    principal: &Principal,
    request: &LaunchRequest,
    checked: &Checked<'_>,
    options: &ClusterOptions,
    (min, max): (usize, usize),
) -> String {
    let prefix = if checked.group.override_instance_name.is_empty() {
        &checked.software.instance_name
    } else {
        &checked.group.override_instance_name
    };
    naming::cluster_name(prefix, &options.market, &request.launch_id, &principal.username, min, max)
}

/// The RunJobFlow request: the software config's `request` (bootstrap actions,
/// configurations, …), its release, applications, service role and steps, the group's key,
/// subnet, role and idle limit, the launch's name, tags and nodes.
fn job_flow_spec(
    settings: &JobFlowSettings,
    checked: &Checked<'_>,
    options: &ClusterOptions,
    (name, instance_type, request_users): (&str, &str, &[String]),
    tags: &[Tag],
) -> Result<ClusterSpec> {
    let group = checked.group;
    let mut spec = settings.request.clone().unwrap_or_default();
    spec.name = name.to_string();
    spec.release_label = Some(settings.release_label.clone());
    spec.applications = settings.applications.iter().map(Application::named).collect();
    spec.service_role = Some(settings.service_role.clone());
    spec.job_flow_role = Some(group.iam_instance_profile.clone());
    spec.steps = settings.steps.iter().map(StepSpec::to_step).collect();
    if !request_users.is_empty() {
        if !spec.applications.iter().any(|a| a.name.eq_ignore_ascii_case("JupyterHub")) {
            return Err(Error::validation(
                "jupyter_users",
                request_users.join(","),
                "the software config runs no JupyterHub",
            ));
        }
        spec.steps.push(super::jupyter::users_step(request_users)?);
    }
    spec.visible_to_all_users.get_or_insert(true);
    spec.auto_termination_policy = group
        .settings
        .cluster_auto_termination_minutes
        .map(|m| AutoTerminationPolicy { idle_timeout: u64::from(m) * 60 });
    spec.tags.splice(0..0, tags.iter().map(ApiTag::from));
    let i = &mut spec.instances;
    i.ec2_key_name = (!group.key_name.is_empty()).then(|| group.key_name.clone());
    i.ec2_subnet_id = group.network.subnet_id.clone();
    i.instance_groups = node_groups(instance_type, options.core_nodes, options.task_nodes, &options.market);
    i.keep_job_flow_alive_when_no_steps = Some(true);
    spec.check()?;
    Ok(spec)
}

/// A cluster launched with RunJobFlow: the cluster spec from the software config's job flow
/// settings, the group's network, key, role and idle limit, and the request's nodes.
pub(crate) fn assemble_job_flow(
    principal: &Principal,
    request: &LaunchRequest,
    checked: &Checked<'_>,
    settings: &JobFlowSettings,
) -> Result<LaunchPlan> {
    let (group, software) = (checked.group, checked.software);
    let Some(options) = &request.cluster else {
        return Err(Error::validation("request.cluster", "absent", "a job flow launches a cluster"));
    };
    if group.iam_instance_profile.is_empty() {
        return Err(Error::validation(
            format!("group_configs[{}].iam_instance_profile", group.name),
            "",
            "RunJobFlow needs the nodes' instance profile (the job flow role)",
        ));
    }
    let name = fitted_cluster_name(principal, request, checked, options, CLUSTER_NAME_LENGTH);
    let tags = launch_tags(principal, request, checked, &name)?;
    let spec =
        job_flow_spec(settings, checked, options, (&name, &request.instance_type, &request.jupyter_users), &tags)?;
    Ok(LaunchPlan {
        launch_id: request.launch_id.clone(),
        kind: PlanKind::Cluster,
        client_request_token: request.launch_id.to_string(),
        stack_name: name.clone(),
        owner: principal.username.clone(),
        group_config: group.name.clone(),
        software_config: software.name.clone(),
        instance_type: request.instance_type.clone(),
        cluster_name: Some(name),
        parameters: Vec::new(),
        tags,
        user_data: None,
        unknown_tokens: Vec::new(),
        warnings: Vec::new(),
        template_body: Arc::from(""),
        job_flow: Some(spec),
        ready_when: ReadyWhen::default(),
        signal_timeout_secs: None,
    })
}

/// Warns about each `Fn::FindInMap` whose key, taken from a parameter, the mapping lacks:
/// CloudFormation would fail the stack.
fn find_in_map_warnings(template: &Template, parameters: &[PlanParameter], warnings: &mut Vec<String>) {
    let value_of = |name: &str| {
        parameters
            .iter()
            .find(|p| p.key == name)
            .map(|p| p.value().to_string())
            .or_else(|| template.parameter(name).and_then(|d| d.default.clone()))
    };
    fn resolve<'k>(key: &'k MapKey, value_of: &dyn Fn(&str) -> Option<String>) -> Option<(String, Option<&'k str>)> {
        match key {
            MapKey::Literal(s) => Some((s.clone(), None)),
            MapKey::Ref(p) => value_of(p).map(|v| (v, Some(p.as_str()))),
            MapKey::Other => None,
        }
    }
    for f in template.find_in_maps() {
        let Some((top, top_param)) = resolve(&f.top, &value_of) else {
            continue;
        };
        let second = resolve(&f.second, &value_of);
        if !template.mapping_has(&f.map, &top, None) {
            if let Some(param) = top_param {
                let known = template.mapping_keys(&f.map).unwrap_or_default().join(", ");
                warnings.push(format!(
                    "{param} {top}: the template's mapping {} has no entry for it, so CloudFormation's \
                     Fn::FindInMap would fail the stack (the mapping has: {known})",
                    f.map
                ));
            }
        } else if let Some((key, Some(param))) = second
            && !template.mapping_has(&f.map, &top, Some(&key))
        {
            warnings.push(format!(
                "{param} {key}: the template's mapping {}.{top} has no entry for it, so CloudFormation's \
                 Fn::FindInMap would fail the stack",
                f.map
            ));
        }
    }
}
