//! The end of a `mliy sim` run: what the store and the simulated cloud hold, checked against
//! what the run did.

use super::scenario::{ScenarioReport, Tracked, World};
use mliy_core::error::Result;
use mliy_core::lifecycle::{LifecycleEvent, Phase};
use mliy_core::model::LaunchId;
use mliy_core::store::{ResourceFilter, StateStore};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::Ordering;

pub(super) async fn audit(
    world: &World,
    store: &Arc<dyn StateStore>,
    tracked: &HashMap<LaunchId, Tracked>,
    replicas: usize,
) -> Result<ScenarioReport> {
    let cloud = &world.cloud;
    let all = ResourceFilter { include_archived: true, ..ResourceFilter::default() };
    let resources = store.list_resources(&all).await?;
    let mut report = ScenarioReport {
        launched: tracked.len(),
        never_submitted: 0,
        ready: 0,
        failed: 0,
        terminated: 0,
        unexpected_failures: 0,
        told_to_fail: 0,
        failure_reasons: BTreeMap::new(),
        duplicate_stacks: cloud.duplicate_stacks(),
        orphaned_stacks: cloud.live_stacks().len(),
        running_machines: cloud.running_machines(),
        lost: 0,
        double_actions: cloud.double_actions(),
        replicas,
        restarts: 0,
        refresh_passes: world.refresh_passes.load(Ordering::Relaxed),
        refresh_changes: world.refresh_changes.load(Ordering::Relaxed),
        cloud_calls: cloud.calls(),
        store_writes: world.writes.load(Ordering::Relaxed),
        events: 0,
        cost_total: None,
        cost_mismatches: 0,
        bad_segments: 0,
        progress_reports_accepted: tracked
            .values()
            .filter_map(|t| t.image.as_ref())
            .map(|i| i.accepted.len() as u64)
            .sum(),
        progress_reports_refused: tracked.values().filter_map(|t| t.image.as_ref()).map(|i| i.refused).sum(),
        progress_steps_missing: 0,
        virtual_seconds: 0,
        wall_ms: 0,
    };
    let known: HashSet<&LaunchId> = resources.iter().map(|r| &r.id).collect();
    report.lost = tracked.keys().filter(|id| !known.contains(id)).count();
    for r in &resources {
        let doomed = cloud.doom_of(&r.stack.client_request_token).is_some();
        report.told_to_fail += usize::from(doomed);
        let events = store.events(&r.id).await?;
        report.events += events.len();
        let accepted = tracked.get(&r.id).and_then(|t| t.image.as_ref()).map(|i| i.accepted.as_slice());
        report.progress_steps_missing += usize::from(!accepted.is_none_or(|a| recorded_in_order(a, &events)));
        if events.iter().any(|e| e.to.is_usable()) {
            report.ready += 1;
        }
        match &r.phase {
            _ if r.needs_driving() => report.lost += 1,
            Phase::Failed { reason } => {
                // Group by the reason's words, ids left out.
                let head = reason.split(':').next().unwrap_or(reason);
                let short =
                    head.split(' ').filter(|w| !w.chars().any(|c| c.is_ascii_digit())).collect::<Vec<_>>().join(" ");
                *report.failure_reasons.entry(short).or_default() += 1;
                report.failed += 1;
                report.unexpected_failures += usize::from(!doomed);
            }
            _ => report.terminated += 1,
        }
    }
    let now = mliy_core::clock::Clock::now(&*world.clock);
    let costs = super::costs::audit_costs(world, store, &resources, (mliy_core::clock::Timestamp(0), now)).await?;
    (report.cost_total, report.cost_mismatches, report.bad_segments) =
        (costs.total, costs.mismatches, costs.bad_segments);
    Ok(report)
}

/// Whether every accepted report's percentage appears among the resource's bootstrap events,
/// in the order sent.
fn recorded_in_order(accepted: &[u8], events: &[LifecycleEvent]) -> bool {
    let mut recorded = events.iter().filter_map(|e| bootstrap_percent(&e.reason));
    accepted.iter().all(|p| recorded.any(|r| r == *p))
}

/// `N` in a `bootstrap: N% message` reason.
fn bootstrap_percent(reason: &str) -> Option<u8> {
    reason.strip_prefix("bootstrap: ")?.split('%').next()?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepted_reports_must_be_recorded_in_order() {
        let event = |reason: &str| LifecycleEvent {
            resource: LaunchId::parse("abc").unwrap(),
            seq: 1,
            at: mliy_core::clock::Timestamp(0),
            actor: mliy_core::lifecycle::Actor::Bootstrap,
            from: Phase::CreatingStack,
            to: Phase::Ready,
            reason: reason.into(),
        };
        let events: Vec<_> =
            ["stack created", "bootstrap: 20% a", "bootstrap: 30% b", "bootstrap: 90% c"].map(event).into();
        assert!(recorded_in_order(&[20, 90], &events));
        assert!(recorded_in_order(&[], &events));
        assert!(!recorded_in_order(&[30, 20], &events), "out of order");
        assert!(!recorded_in_order(&[20, 40], &events), "40 missing");
    }
}
