//! EC2: instances (created by stacks) and spot prices.

use super::faults::unit;
use super::journal::Mutation;
use super::objects::SimInstance;
use super::{SimCloud, State, page};
use crate::clock::Timestamp;
use crate::cloud::{InstanceFilter, InstanceInfo, InstanceState, Page};
use crate::error::{Error, Result};
use crate::pricing::Decimal;
use std::collections::BTreeSet;
use std::ops::Bound;
use std::time::Duration;

pub(super) async fn describe_instances(
    sim: &SimCloud,
    filter: &InstanceFilter,
    next: Option<String>,
) -> Result<Page<InstanceInfo>> {
    let key = format!("{}|{:?}|{}", filter.ids.join(","), filter.tag, next.as_deref().unwrap_or(""));
    sim.read("DescribeInstances", &key, |st, now| {
        let visible = |i: &&SimInstance| i.visible_from <= now;
        let tagged = |i: &&SimInstance| filter.tag.as_ref().is_none_or(|(k, v)| i.tags.has(k, v));
        // By id: looked up, not scanned; else from the cursor on, in id order.
        let matching: Box<dyn Iterator<Item = &SimInstance>> = if filter.ids.is_empty() {
            let from = next.as_deref().map_or(Bound::Unbounded, |n| Bound::Excluded(n.to_string()));
            Box::new(st.instances.range((from, Bound::Unbounded)).map(|(_, i)| i))
        } else {
            let ids: BTreeSet<&String> = filter.ids.iter().collect();
            let after = next.clone().unwrap_or_default();
            Box::new(ids.into_iter().filter(move |id| **id > after).filter_map(|id| st.instances.get(id)))
        };
        // Only the page's instances are built.
        let (items, last) = page(matching.filter(visible).filter(tagged).map(|i| (i.id.clone(), i)), 1000);
        Ok(Page { items: items.into_iter().map(|i| info(i, now)).collect(), next: last })
    })
    .await
}

fn info(i: &SimInstance, now: Timestamp) -> InstanceInfo {
    let state = i.state.at(now).unwrap_or(InstanceState::Pending);
    InstanceInfo {
        id: i.id.clone(),
        state,
        instance_type: i.instance_type.clone(),
        private_ip: matches!(state, InstanceState::Running | InstanceState::Stopping | InstanceState::Stopped)
            .then(|| super::ip(i.ip)),
        availability_zone: Some("us-east-1a".into()),
        tags: i.tags.to_vec(),
    }
}

pub(super) async fn start_instances(sim: &SimCloud, ids: &[String]) -> Result<()> {
    let t = sim.config.timings.instance_start;
    with_instances(sim, "StartInstances", Mutation::StartInstances, ids, |i, now| match i.state.at(now) {
        Some(InstanceState::Stopped) => {
            i.state.then(now, &[(Duration::ZERO, InstanceState::Pending), (t, InstanceState::Running)]);
            Ok(false)
        }
        Some(InstanceState::Running | InstanceState::Pending) => Ok(true),
        Some(other) => Err(incorrect_state(&i.id, other)),
        None => Ok(false),
    })
    .await
}

pub(super) async fn stop_instances(sim: &SimCloud, ids: &[String]) -> Result<()> {
    let t = sim.config.timings.instance_stop;
    with_instances(sim, "StopInstances", Mutation::StopInstances, ids, |i, now| match i.state.at(now) {
        Some(InstanceState::Running | InstanceState::Pending) => {
            i.state.then(now, &[(Duration::ZERO, InstanceState::Stopping), (t, InstanceState::Stopped)]);
            Ok(false)
        }
        Some(InstanceState::Stopping | InstanceState::Stopped) => Ok(true),
        None => Ok(false),
        Some(other) => Err(incorrect_state(&i.id, other)),
    })
    .await
}

pub(super) async fn reboot_instances(sim: &SimCloud, ids: &[String]) -> Result<()> {
    with_instances(sim, "RebootInstances", Mutation::RebootInstances, ids, |i, now| match i.state.at(now) {
        Some(InstanceState::Running) | None => Ok(false),
        Some(other) => Err(incorrect_state(&i.id, other)),
    })
    .await
}

pub(super) async fn terminate_instances(sim: &SimCloud, ids: &[String]) -> Result<()> {
    let t = sim.config.timings.instance_stop;
    with_instances(sim, "TerminateInstances", Mutation::TerminateInstances, ids, |i, now| match i.state.at(now) {
        Some(InstanceState::ShuttingDown | InstanceState::Terminated) => Ok(true),
        _ => {
            i.state.then(now, &[(Duration::ZERO, InstanceState::ShuttingDown), (t, InstanceState::Terminated)]);
            Ok(false)
        }
    })
    .await
}

/// Applies `f` to each instance (all must exist; `f` says whether the instance already was
/// as asked, which counts as a double action).
async fn with_instances(
    sim: &SimCloud,
    op: &'static str,
    mutation: fn(Vec<String>) -> Mutation,
    ids: &[String],
    f: impl Fn(&mut SimInstance, Timestamp) -> Result<bool>,
) -> Result<()> {
    sim.mutate(
        op,
        &ids.join(","),
        || mutation(ids.to_vec()),
        |st, now| {
            if let Some(missing) = ids.iter().find(|id| !st.instances.contains_key(*id)) {
                return Err(Error::NotFound { kind: "instance", name: missing.clone() });
            }
            for id in ids {
                if let Some(instance) = st.instances.get_mut(id)
                    && f(instance, now)?
                {
                    st.double_actions += 1;
                }
            }
            Ok(())
        },
    )
    .await
}

/// Shuts an instance down with its stack: terminated after `takes`.
pub(super) fn shut_down(st: &mut State, id: &str, now: Timestamp, takes: Duration) {
    if let Some(inst) = st.instances.get_mut(id)
        && inst.state.at(now) != Some(InstanceState::Terminated)
    {
        inst.state.then(now, &[(Duration::ZERO, InstanceState::ShuttingDown), (takes, InstanceState::Terminated)]);
    }
}

fn incorrect_state(id: &str, state: InstanceState) -> Error {
    Error::WrongState(format!("IncorrectInstanceState: instance {id} is {state:?}"))
}

/// A price per type and zone from the seed, 0.0500 to 0.5500 (four decimals, as AWS writes
/// them); without a zone, the highest of three (the sim's zones `sim-a`…`sim-c`).
pub(super) async fn spot_price(sim: &SimCloud, instance_type: &str, zone: Option<&str>) -> Result<Option<Decimal>> {
    const ZONES: [&str; 3] = ["sim-a", "sim-b", "sim-c"];
    sim.read("DescribeSpotPriceHistory", instance_type, |_, _| {
        let price = |zone: &str| {
            let u = unit(sim.config.seed, &["spot", instance_type, zone], 0);
            Decimal::new(500 + (u * 5000.0).round() as i64, 4)
        };
        Ok(match zone {
            Some(z) => Some(price(z)),
            None => ZONES.iter().map(|z| price(z)).max(),
        })
    })
    .await
}
