//! mliy's RunJobFlow model to the SDK's types, field for field.

use aws_sdk_emr::operation::run_job_flow::builders::RunJobFlowFluentBuilder;
use aws_sdk_emr::types as sdk;
use mliy_core::model::emr;

/// A count as the SDK takes it (counts are checked to be small before any call).
fn int(n: u32) -> i32 {
    i32::try_from(n).unwrap_or(i32::MAX)
}

fn non_empty<T>(v: Vec<T>) -> Option<Vec<T>> {
    (!v.is_empty()).then_some(v)
}

/// Every field of `spec` on the RunJobFlow call.
pub(crate) fn run_job_flow(call: RunJobFlowFluentBuilder, spec: &emr::ClusterSpec) -> RunJobFlowFluentBuilder {
    let call = call
        .name(&spec.name)
        .set_release_label(spec.release_label.clone())
        .set_ami_version(spec.ami_version.clone())
        .set_applications(non_empty(spec.applications.iter().map(application).collect()))
        .set_log_uri(spec.log_uri.clone())
        .set_service_role(spec.service_role.clone())
        .set_job_flow_role(spec.job_flow_role.clone())
        .set_auto_scaling_role(spec.auto_scaling_role.clone())
        .set_security_configuration(spec.security_configuration.clone())
        .instances(instances(&spec.instances))
        .set_bootstrap_actions(non_empty(spec.bootstrap_actions.iter().map(bootstrap_action).collect()))
        .set_steps(non_empty(spec.steps.iter().map(step).collect()))
        .set_configurations(non_empty(spec.configurations.iter().map(configuration).collect()))
        .set_ebs_root_volume_size(spec.ebs_root_volume_size.map(int))
        .set_tags(non_empty(
            spec.tags.iter().map(|t| sdk::Tag::builder().key(&t.key).value(&t.value).build()).collect(),
        ))
        .set_visible_to_all_users(spec.visible_to_all_users);
    match spec.auto_termination_policy {
        Some(p) => call.auto_termination_policy(
            sdk::AutoTerminationPolicy::builder()
                .idle_timeout(i64::try_from(p.idle_timeout).unwrap_or(i64::MAX))
                .build(),
        ),
        None => call,
    }
}

fn application(a: &emr::Application) -> sdk::Application {
    sdk::Application::builder().name(&a.name).set_args(non_empty(a.args.clone())).build()
}

fn instances(i: &emr::Instances) -> sdk::JobFlowInstancesConfig {
    let placement = i.placement.as_ref().map(|p| {
        sdk::PlacementType::builder()
            .set_availability_zone(p.availability_zone.clone())
            .set_availability_zones(non_empty(p.availability_zones.clone()))
            .build()
    });
    sdk::JobFlowInstancesConfig::builder()
        .set_ec2_key_name(i.ec2_key_name.clone())
        .set_ec2_subnet_id(i.ec2_subnet_id.clone())
        .set_ec2_subnet_ids(non_empty(i.ec2_subnet_ids.clone()))
        .set_placement(placement)
        .set_emr_managed_master_security_group(i.emr_managed_master_security_group.clone())
        .set_emr_managed_slave_security_group(i.emr_managed_slave_security_group.clone())
        .set_service_access_security_group(i.service_access_security_group.clone())
        .set_additional_master_security_groups(non_empty(i.additional_master_security_groups.clone()))
        .set_additional_slave_security_groups(non_empty(i.additional_slave_security_groups.clone()))
        .set_instance_groups(non_empty(i.instance_groups.iter().map(instance_group).collect()))
        .set_instance_fleets(non_empty(i.instance_fleets.iter().map(instance_fleet).collect()))
        .set_keep_job_flow_alive_when_no_steps(i.keep_job_flow_alive_when_no_steps)
        .set_termination_protected(i.termination_protected)
        .set_hadoop_version(i.hadoop_version.clone())
        .build()
}

fn role_name(role: emr::InstanceRole) -> &'static str {
    match role {
        emr::InstanceRole::Master => "MASTER",
        emr::InstanceRole::Core => "CORE",
        emr::InstanceRole::Task => "TASK",
    }
}

fn instance_group(g: &emr::InstanceGroup) -> sdk::InstanceGroupConfig {
    let market = g.market.map(|m| match m {
        emr::MarketType::OnDemand => sdk::MarketType::OnDemand,
        emr::MarketType::Spot => sdk::MarketType::Spot,
    });
    sdk::InstanceGroupConfig::builder()
        .set_name(g.name.clone())
        .instance_role(sdk::InstanceRoleType::from(role_name(g.instance_role)))
        .set_market(market)
        .set_bid_price(g.bid_price.clone())
        .instance_type(&g.instance_type)
        .instance_count(int(g.instance_count))
        .set_ebs_configuration(g.ebs_configuration.as_ref().map(ebs))
        .set_configurations(non_empty(g.configurations.iter().map(configuration).collect()))
        .build()
}

fn instance_fleet(f: &emr::InstanceFleet) -> sdk::InstanceFleetConfig {
    let launch = f.launch_specifications.as_ref().and_then(|l| l.spot_specification.as_ref()).map(|s| {
        let action = match s.timeout_action {
            emr::SpotTimeoutAction::SwitchToOnDemand => sdk::SpotProvisioningTimeoutAction::SwitchToOnDemand,
            emr::SpotTimeoutAction::TerminateCluster => sdk::SpotProvisioningTimeoutAction::TerminateCluster,
        };
        let spot = sdk::SpotProvisioningSpecification::builder()
            .timeout_duration_minutes(int(s.timeout_duration_minutes))
            .timeout_action(action)
            .set_allocation_strategy(
                s.allocation_strategy.as_deref().map(sdk::SpotProvisioningAllocationStrategy::from),
            )
            .build();
        sdk::InstanceFleetProvisioningSpecifications::builder().spot_specification(spot).build()
    });
    sdk::InstanceFleetConfig::builder()
        .set_name(f.name.clone())
        .instance_fleet_type(sdk::InstanceFleetType::from(role_name(f.instance_fleet_type)))
        .set_target_on_demand_capacity(f.target_on_demand_capacity.map(int))
        .set_target_spot_capacity(f.target_spot_capacity.map(int))
        .set_instance_type_configs(Some(f.instance_type_configs.iter().map(instance_type_config).collect()))
        .set_launch_specifications(launch)
        .build()
}

fn instance_type_config(t: &emr::InstanceTypeConfig) -> sdk::InstanceTypeConfig {
    sdk::InstanceTypeConfig::builder()
        .instance_type(&t.instance_type)
        .set_weighted_capacity(t.weighted_capacity.map(int))
        .set_bid_price(t.bid_price.clone())
        .set_bid_price_as_percentage_of_on_demand_price(t.bid_price_as_percentage_of_on_demand_price)
        .set_ebs_configuration(t.ebs_configuration.as_ref().map(ebs))
        .build()
}

fn ebs(e: &emr::EbsConfiguration) -> sdk::EbsConfiguration {
    let devices = e.ebs_block_device_configs.iter().map(|d| {
        let v = &d.volume_specification;
        let volume = sdk::VolumeSpecification::builder()
            .volume_type(&v.volume_type)
            .size_in_gb(int(v.size_in_gb))
            .set_iops(v.iops.map(int))
            .build();
        sdk::EbsBlockDeviceConfig::builder()
            .volume_specification(volume)
            .set_volumes_per_instance(d.volumes_per_instance.map(int))
            .build()
    });
    sdk::EbsConfiguration::builder()
        .set_ebs_block_device_configs(non_empty(devices.collect()))
        .set_ebs_optimized(e.ebs_optimized)
        .build()
}

fn bootstrap_action(b: &emr::BootstrapAction) -> sdk::BootstrapActionConfig {
    let script = sdk::ScriptBootstrapActionConfig::builder()
        .path(&b.script_bootstrap_action.path)
        .set_args(non_empty(b.script_bootstrap_action.args.clone()))
        .build();
    sdk::BootstrapActionConfig::builder().name(&b.name).script_bootstrap_action(script).build()
}

/// A step as AddJobFlowSteps and RunJobFlow take it.
pub(crate) fn step(s: &emr::Step) -> sdk::StepConfig {
    let j = &s.hadoop_jar_step;
    let properties = j.properties.iter().map(|p| sdk::KeyValue::builder().key(&p.key).value(&p.value).build());
    let jar = sdk::HadoopJarStepConfig::builder()
        .jar(&j.jar)
        .set_main_class(j.main_class.clone())
        .set_properties(non_empty(properties.collect()))
        .set_args(Some(j.args.clone()))
        .build();
    let action = s.action_on_failure.map(|a| match a {
        emr::ActionOnFailure::TerminateJobFlow => sdk::ActionOnFailure::TerminateJobFlow,
        emr::ActionOnFailure::TerminateCluster => sdk::ActionOnFailure::TerminateCluster,
        emr::ActionOnFailure::CancelAndWait => sdk::ActionOnFailure::CancelAndWait,
        emr::ActionOnFailure::Continue => sdk::ActionOnFailure::Continue,
    });
    sdk::StepConfig::builder().name(&s.name).set_action_on_failure(action).hadoop_jar_step(jar).build()
}

fn configuration(c: &emr::Configuration) -> sdk::Configuration {
    let properties = (!c.properties.is_empty())
        .then(|| c.properties.iter().map(|(k, v)| (k.clone(), v.clone())).collect::<std::collections::HashMap<_, _>>());
    sdk::Configuration::builder()
        .set_classification(c.classification.clone())
        .set_properties(properties)
        .set_configurations(non_empty(c.configurations.iter().map(configuration).collect()))
        .build()
}
