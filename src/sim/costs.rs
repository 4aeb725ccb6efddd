//! The audit's check of the bills: every segment closed once its resource ended and none
//! overlapping another, and (when priced) the cost report equal, to the cent, to each
//! instance's stored events priced from the price file.

use super::scenario::World;
use mliy_core::clock::Timestamp;
use mliy_core::engine::{CostBy, cost_report};
use mliy_core::error::Result;
use mliy_core::lifecycle::{LifecycleEvent, Phase, Resource, ResourceKind};
use mliy_core::model::{BillingSegment, MINIMUM_BILLED_SECONDS};
use mliy_core::pricing::{Decimal, LINUX, Pricing};
use mliy_core::store::StateStore;
use std::collections::HashMap;
use std::sync::Arc;

/// What the check found.
pub(super) struct CostAudit {
    pub(super) total: Option<String>,
    pub(super) mismatches: usize,
    pub(super) bad_segments: usize,
}

pub(super) async fn audit_costs(
    world: &World,
    store: &Arc<dyn StateStore>,
    resources: &[Resource],
    (from, now): (Timestamp, Timestamp),
) -> Result<CostAudit> {
    let segments = store.billing(None).await?;
    let mut by_resource: HashMap<&str, Vec<&BillingSegment>> = HashMap::new();
    for s in &segments {
        by_resource.entry(s.resource.as_str()).or_default().push(s);
    }
    let bad_segments =
        resources.iter().map(|r| bad(r, by_resource.get(r.id.as_str()).map_or(&[][..], Vec::as_slice))).sum();
    let Some(pricing) = &world.pricing else { return Ok(CostAudit { total: None, mismatches: 0, bad_segments }) };
    let report = cost_report(
        &world.catalog,
        resources,
        &segments,
        (from, now.plus(std::time::Duration::from_millis(1))),
        now,
        CostBy::User,
    );
    let reported: HashMap<&str, Decimal> = report.resources.iter().map(|c| (c.id.as_str(), c.cost)).collect();
    let mut mismatches = 0;
    for r in resources.iter().filter(|r| r.kind == ResourceKind::Instance) {
        let expected = from_events(pricing, r, &store.events(&r.id).await?, now);
        let got = reported.get(r.id.as_str()).copied().unwrap_or_default();
        if (got - expected).abs() > Decimal::new(5, 3) {
            tracing::warn!(target: "mliy::billing", id = %r.id, %got, %expected, "the cost report differs from the events");
            mismatches += 1;
        }
    }
    Ok(CostAudit { total: Some(report.total.to_string()), mismatches, bad_segments })
}

/// Segments open on an ended resource, and segments overlapping the next.
fn bad(r: &Resource, segments: &[&BillingSegment]) -> usize {
    let open_after_end = segments.iter().filter(|s| s.end.is_none() && !r.needs_driving()).count();
    let overlapping = segments.windows(2).filter(|w| w[0].end.is_none_or(|end| end > w[1].start)).count();
    open_after_end + overlapping
}

/// What the events say an instance cost: running and stopped periods, each priced from the
/// price file, per second with the minute minimum.
fn from_events(p: &Pricing, r: &Resource, events: &[LifecycleEvent], now: Timestamp) -> Decimal {
    let gib = r.stack.parameters.iter().find(|x| x.key == "VolumeSize").and_then(|x| x.value.parse().ok()).unwrap_or(0);
    let volumes = p.volumes_hourly(gib);
    let running = p.source.on_demand(&p.region, &r.instance_type, LINUX).ok().map(|h| p.discounted(h + volumes));
    let stopped = Some(p.discounted(volumes));
    let hourly = |phase: &Phase| match phase {
        Phase::Bootstrapping { .. } | Phase::Ready | Phase::Rebooting => Some(running),
        Phase::Stopping | Phase::Stopped | Phase::Starting => Some(stopped),
        _ => None,
    };
    let mut total = Decimal::ZERO;
    let mut open: Option<(Option<Option<Decimal>>, Timestamp)> = None;
    for e in events.iter().chain(std::iter::once(&end_marker(r, now))) {
        let state = hourly(&e.to);
        if open.as_ref().is_some_and(|(s, _)| *s == state) {
            continue;
        }
        if let Some((Some(Some(price)), start)) = open.take() {
            let seconds = (e.at.0.saturating_sub(start.0) / 1_000).max(0) as u64;
            let billed = Decimal::from(seconds.max(MINIMUM_BILLED_SECONDS));
            total += (price * billed / Decimal::from(3_600)).round_dp(4);
        }
        open = Some((state, e.at));
    }
    total
}

/// A last event at `now` in no billed phase, closing what is still open.
fn end_marker(r: &Resource, now: Timestamp) -> LifecycleEvent {
    LifecycleEvent {
        resource: r.id.clone(),
        seq: u64::MAX,
        at: now,
        actor: mliy_core::lifecycle::Actor::Engine,
        from: r.phase.clone(),
        to: Phase::Terminated,
        reason: String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use mliy_core::lifecycle::Actor;
    use mliy_core::model::{LaunchId, StackParameter, StackSpec};
    use mliy_core::pricing::PriceIndex;

    #[test]
    fn an_instances_events_priced_from_the_file() {
        let prices = r#"[{"instance_type": "m4.large", "pricing": {"us-east-1": {"linux": {"ondemand": "0.10"}}}}]"#;
        let index = PriceIndex::from_slice(prices.as_bytes(), &[]).unwrap();
        let mut p = Pricing::new(Arc::new(index), "us-east-1");
        p.ebs_gb_month = Decimal::from(73); // 0.1 an hour for one GB
        let spec = StackSpec {
            name: "s".into(),
            template_body: Arc::from(""),
            parameters: vec![StackParameter {
                key: "VolumeSize".into(),
                value: "1".into(),
                no_echo: false,
                from: None,
            }],
            tags: Vec::new(),
            client_request_token: "abc".into(),
        };
        let id = LaunchId::parse("abc").unwrap();
        let r = Resource {
            instance_type: "m4.large".into(),
            ..Resource::requested(id.clone(), ResourceKind::Instance, spec, Timestamp(0))
        };
        let h = |hours: i64| Timestamp(hours * 3_600_000);
        let event = |at, to| LifecycleEvent {
            resource: id.clone(),
            seq: 1,
            at,
            actor: Actor::Engine,
            from: Phase::Requested,
            to,
            reason: String::new(),
        };
        let events = vec![
            event(h(0), Phase::CreatingStack),
            event(h(1), Phase::Ready),
            event(h(2), Phase::Rebooting),
            event(h(3), Phase::Ready),
            event(h(4), Phase::Stopping),
            event(h(4), Phase::Stopped),
            event(h(6), Phase::Starting),
            event(h(7), Phase::Ready),
            event(h(8), Phase::Terminating),
        ];
        // Running 1 → 4 h and 7 → 8 h at 0.2; stopped 4 → 7 h at 0.1 (the volume).
        assert_eq!(from_events(&p, &r, &events, h(9)), Decimal::new(11, 1));
        p.discount = Decimal::new(5, 1);
        assert_eq!(from_events(&p, &r, &events, h(9)), Decimal::new(55, 2));
    }
}
