//! CloudFormation: stacks, and the instances, volumes and clusters their templates declare.

use super::faults::unit;
use super::journal::Mutation;
use super::objects::{ROLLBACK, SignalGate, SimInstance, SimStack, SimTags, StackResources, Timeline};
use super::{Doom, SimCloud, State, page};
use crate::cloud::{InstanceState, Page, StackEvent, StackInfo, StackResource, StackStatus};
use crate::error::{Error, Result};
use crate::model::{StackSpec, Tag};
use crate::template::Template;
use std::sync::Arc;
use std::time::Duration;

pub(super) async fn create_stack(sim: &SimCloud, spec: &StackSpec) -> Result<String> {
    let token = spec.client_request_token.clone();
    sim.mutate(
        "CreateStack",
        &token,
        || Mutation::CreateStack(spec.clone()),
        |st, now| {
            if let Some(existing) = st.stack_by_token(&token) {
                return Ok(existing.id.to_string());
            }
            if st.live_stack_named(&spec.name, now).is_some() {
                return Err(Error::AlreadyExists(format!("AlreadyExistsException: stack {}", spec.name)));
            }
            let template = parsed(st, spec)?;
            let types = &template.resources;
            let has_instance = types.iter().any(|(_, t)| t == "AWS::EC2::Instance");
            let has_cluster = types.iter().any(|(_, t)| t == "AWS::EMR::Cluster");
            let doom = sim.doom(&token, has_instance);
            let n = st.next();
            let id = super::stack_id(&spec.name, n, st.stacks.len());
            let t = &sim.config.timings;
            let ready_after = if has_cluster { t.cluster_ready } else { t.stack_create };
            let param = |k: &str| spec.parameters.iter().find(|p| p.key == k).map(|p| p.value.to_string());
            let stack_tags = SimTags::of_stack(spec.tags.clone(), Some(Arc::clone(&id)), &mut st.tag_lists);
            let gate = signal_gate(&template, spec);
            let created = Created { doom, ready_after, now, gate: gate.as_ref().map(|g| g.timeout) };
            let mut physical_ids = Vec::new();
            for (logical, ty) in types.iter() {
                let m = st.next();
                let physical = match ty.as_str() {
                    "AWS::EC2::Instance" => {
                        let logical_tag = vec![Tag::new("aws:cloudformation:logical-id", logical)];
                        let tags = stack_tags.with(logical_tag, &mut st.tag_lists);
                        let instance = new_instance(sim, &created, m, tags, param("InstanceType"));
                        let iid = instance.id.clone();
                        st.instances.insert(iid.clone(), instance);
                        iid
                    }
                    "AWS::EC2::Volume" => format!("vol-{m:017x}"),
                    "AWS::EMR::Cluster" => {
                        let core = param("paramCoreInstanceCount").and_then(|c| c.parse().ok()).unwrap_or(2);
                        let name = param("paramClusterName").unwrap_or_else(|| spec.name.clone());
                        sim.new_cluster(st, &name, stack_tags.clone(), 1 + core, doom.is_some(), now)
                    }
                    _ => format!("{logical}-{m:08x}"),
                };
                physical_ids.push(physical);
            }
            st.push_stack(SimStack {
                id: Arc::clone(&id),
                name: spec.name.clone(),
                token: token.clone(),
                tags: stack_tags,
                created: now,
                ready_after,
                doom,
                deleted: None,
                delete_takes: t.stack_delete,
                resources: StackResources { template: Arc::clone(&template), physical: physical_ids },
                user_data: spec.parameters.iter().find(|p| p.key == "UserData").map(|p| p.value.clone()),
                gate: gate.map(Box::new),
            });
            Ok(id.to_string())
        },
    )
    .await
}

/// What every resource of a stack being created shares.
struct Created {
    doom: Option<Doom>,
    /// How long after `now` the stack completes.
    ready_after: Duration,
    now: crate::clock::Timestamp,
    /// The instance's signal timeout, when it waits for one.
    gate: Option<Duration>,
}

/// A stack's instance: running after its boot time, unless the seed dooms it.
fn new_instance(
    sim: &SimCloud,
    created: &Created,
    m: u64,
    tags: SimTags,
    instance_type: Option<String>,
) -> SimInstance {
    let Created { doom, ready_after, now, gate } = *created;
    let t = &sim.config.timings;
    let iid = format!("i-{m:017x}");
    let state = match doom {
        Some(Doom::StackFails) => Timeline(vec![
            (now, InstanceState::Pending),
            (now.plus(ready_after / 2), InstanceState::ShuttingDown),
            (now.plus(ready_after), InstanceState::Terminated),
        ]),
        Some(Doom::Vanishes) => Timeline(vec![
            (now, InstanceState::Pending),
            (now.plus(t.instance_boot), InstanceState::Running),
            (now.plus(ready_after + Duration::from_secs(60)), InstanceState::ShuttingDown),
            (now.plus(ready_after + Duration::from_secs(90)), InstanceState::Terminated),
        ]),
        // Without its signal, the rollback terminates it (a signal takes the end away).
        None => Timeline(match gate {
            Some(timeout) => vec![
                (now, InstanceState::Pending),
                (now.plus(t.instance_boot), InstanceState::Running),
                (now.plus(timeout), InstanceState::ShuttingDown),
                (now.plus(timeout + ROLLBACK), InstanceState::Terminated),
            ],
            None => vec![(now, InstanceState::Pending), (now.plus(t.instance_boot), InstanceState::Running)],
        }),
    };
    let hidden = unit(sim.config.seed, &["hidden", &iid], 0) < 0.5;
    SimInstance {
        id: iid,
        instance_type: instance_type.unwrap_or_else(|| "m5.large".into()),
        ip: m,
        tags,
        state,
        visible_from: if hidden { now.plus(sim.config.consistency_delay) } else { now },
    }
}

/// The template, parsed once per template body.
fn parsed(st: &mut State, spec: &StackSpec) -> Result<Arc<Template>> {
    if let Some(found) = st.templates.get(&*spec.template_body) {
        return Ok(Arc::clone(found));
    }
    let template = Template::parse(&spec.name, &spec.template_body)
        .map_err(|e| Error::validation("TemplateBody", &spec.name, format!("Template format error: {e}")))?;
    let template = Arc::new(template);
    st.templates.insert(spec.template_body.clone(), Arc::clone(&template));
    Ok(template)
}

/// The instance's signal policy, its timeout from the stack's parameters.
fn signal_gate(template: &Template, spec: &StackSpec) -> Option<SignalGate> {
    let policy = template.signals.iter().find(|s| s.resource_type == "AWS::EC2::Instance")?;
    let given: Vec<(String, String)> = spec.parameters.iter().map(|p| (p.key.clone(), p.value.to_string())).collect();
    let timeout = policy
        .timeout(&given, |p| template.parameter(p).and_then(|d| d.default.clone()))
        .unwrap_or(Duration::from_secs(300));
    Some(SignalGate { logical_id: policy.logical_id.clone(), timeout, signalled: None })
}

/// `cfn-signal --success true`: the waiting resource (and so its stack) completes now. A
/// stack that waits for no signal, or whose wait ended, refuses it as CloudFormation does.
pub(super) async fn signal_resource(sim: &SimCloud, stack: &str, logical_id: &str) -> Result<()> {
    sim.mutate(
        "SignalResource",
        stack,
        || Mutation::SignalResource(stack.to_string(), logical_id.to_string()),
        |st, now| {
            let i = found(st, stack, now)?;
            let s = &mut st.stacks[i];
            let waiting = s.status(now) == StackStatus::CreateInProgress;
            let Some(gate) = s.gate.as_mut().filter(|g| g.logical_id == logical_id && waiting) else {
                return Err(Error::validation("LogicalResourceId", logical_id, "is not waiting for a signal"));
            };
            gate.signalled = Some(now);
            let instance = s.resources.iter().find(|(l, ..)| *l == logical_id).map(|(.., p)| p.to_string());
            if let Some(instance) = instance.and_then(|id| st.instances.get_mut(&id)) {
                instance.state.0.retain(|(t, state)| *t <= now || *state == InstanceState::Running);
            }
            Ok(())
        },
    )
    .await
}

/// The index of the stack named or with id `stack`, or DescribeStack*'s not-found error.
fn found(st: &State, stack: &str, now: crate::clock::Timestamp) -> Result<usize> {
    st.stack_index(stack, now).ok_or_else(|| Error::NotFound { kind: "stack", name: stack.into() })
}

/// The stack's events that explain a failure: the waiting resource's missed signal.
pub(super) async fn stack_events(sim: &SimCloud, stack_id: &str) -> Result<Vec<StackEvent>> {
    sim.read("DescribeStackEvents", stack_id, |st, now| {
        let i = found(st, stack_id, now)?;
        let s = &st.stacks[i];
        let missed = s.gate.as_ref().filter(|g| g.signalled.is_none() && now.since(s.created) >= g.timeout);
        Ok(missed
            .map(|g| StackEvent {
                logical_id: g.logical_id.clone(),
                resource_type: "AWS::EC2::Instance".into(),
                status: "CREATE_FAILED".into(),
                reason: Some("Failed to receive 1 resource signal(s) within the specified duration".into()),
            })
            .into_iter()
            .collect())
    })
    .await
}

fn stack_info(s: &SimStack, now: crate::clock::Timestamp) -> StackInfo {
    let status = s.status(now);
    let outputs = if status == StackStatus::CreateComplete {
        s.resources
            .iter()
            .filter_map(|(_, ty, physical)| match ty {
                "AWS::EC2::Instance" => Some(("InstanceId".to_string(), physical.to_string())),
                "AWS::EMR::Cluster" => Some(("ClusterID".to_string(), physical.to_string())),
                _ => None,
            })
            .collect()
    } else {
        Vec::new()
    };
    let reason = status.is_failed_creation().then(|| {
        let failed: Vec<&str> = s.resources.iter().map(|(l, ..)| l).collect();
        format!("The following resource(s) failed to create: [{}] (simulated)", failed.join(", "))
    });
    StackInfo { id: s.id.to_string(), name: s.name.clone(), status, reason, outputs, tags: s.tags.to_vec() }
}

pub(super) async fn describe_stack(sim: &SimCloud, name_or_id: &str) -> Result<Option<StackInfo>> {
    sim.read("DescribeStacks", name_or_id, |st, now| {
        Ok(st.stack_index(name_or_id, now).map(|i| stack_info(&st.stacks[i], now)))
    })
    .await
}

pub(super) async fn list_stacks(sim: &SimCloud, next: Option<String>) -> Result<Page<StackInfo>> {
    sim.read("ListStacks", next.as_deref().unwrap_or(""), |st, now| {
        let from = next.as_deref().and_then(|n| n.parse::<usize>().ok()).map_or(0, |i| i + 1);
        let live = st.stacks.iter().enumerate().skip(from).filter(|(_, s)| s.is_live(now));
        let (items, last) = page(live.map(|(i, s)| (i, stack_info(s, now))), 100);
        Ok(Page { items, next: last.map(|i| i.to_string()) })
    })
    .await
}

pub(super) async fn stack_resources(sim: &SimCloud, stack_id: &str) -> Result<Vec<StackResource>> {
    sim.read("DescribeStackResources", stack_id, |st, now| {
        let i = found(st, stack_id, now)?;
        let s = &st.stacks[i];
        let status = match s.status(now) {
            StackStatus::CreateComplete => "CREATE_COMPLETE",
            StackStatus::CreateInProgress => "CREATE_IN_PROGRESS",
            StackStatus::DeleteInProgress => "DELETE_IN_PROGRESS",
            StackStatus::DeleteComplete => "DELETE_COMPLETE",
            _ => "CREATE_FAILED",
        };
        Ok(s.resources
            .iter()
            .map(|(logical, ty, physical)| StackResource {
                logical_id: logical.to_string(),
                resource_type: ty.to_string(),
                physical_id: Some(physical.to_string()),
                status: status.to_string(),
            })
            .collect())
    })
    .await
}

pub(super) async fn delete_stack(sim: &SimCloud, stack_id: &str) -> Result<()> {
    sim.mutate(
        "DeleteStack",
        stack_id,
        || Mutation::DeleteStack(stack_id.to_string()),
        |st, now| {
            let Some(i) = st.stack_index(stack_id, now).filter(|i| st.stacks[*i].deleted.is_none()) else {
                st.double_actions += u64::from(st.stack_index(stack_id, now).is_some());
                return Ok(());
            };
            st.stacks[i].deleted = Some(now);
            let half = sim.config.timings.stack_delete / 2;
            let resources = st.stacks[i].resources.clone();
            for (_, ty, physical) in resources.iter() {
                match ty {
                    "AWS::EC2::Instance" => super::ec2::shut_down(st, physical, now, half),
                    "AWS::EMR::Cluster" => super::emr::shut_down(st, physical, now, half),
                    _ => {}
                }
            }
            Ok(())
        },
    )
    .await
}
