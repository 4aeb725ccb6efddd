//! Cost reports: what resources cost over a date range, from their billing segments (each
//! priced when it opened), clipped at the range's ends, grouped by user, group config, cost
//! center or software config.

use super::Engine;
use crate::clock::Timestamp;
use crate::error::{Error, Result};
use crate::lifecycle::Resource;
use crate::model::{BillingSegment, Catalog, LaunchId, MINIMUM_BILLED_SECONDS, Principal, cost_of};
use crate::pricing::Decimal;
use crate::store::ResourceFilter;
use serde::Serialize;
use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

/// What the report's rows group by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CostBy {
    /// The owner.
    User,
    /// The group config.
    GroupConfig,
    /// The group config's cost center.
    CostCenter,
    /// The software config.
    SoftwareConfig,
}

impl std::str::FromStr for CostBy {
    type Err = Error;
    fn from_str(s: &str) -> Result<CostBy> {
        match s {
            "user" => Ok(CostBy::User),
            "group-config" => Ok(CostBy::GroupConfig),
            "cost-center" => Ok(CostBy::CostCenter),
            "software-config" => Ok(CostBy::SoftwareConfig),
            other => Err(Error::validation("by", other, "one of user, group-config, cost-center, software-config")),
        }
    }
}

/// One group's cost.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CostRow {
    /// The user, group config, cost center or software config.
    pub key: String,
    /// Dollars.
    #[serde(with = "rust_decimal::serde::str")]
    pub cost: Decimal,
    /// Hours billed.
    #[serde(with = "rust_decimal::serde::str")]
    pub hours: Decimal,
}

/// One segment inside the range.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SegmentCost {
    /// `running` or `stopped`.
    pub state: &'static str,
    /// Start, clipped to the range (RFC 3339).
    pub start: String,
    /// End, clipped to the range (RFC 3339).
    pub end: String,
    /// Dollars per hour; `None` when the segment is unpriced.
    #[serde(with = "rust_decimal::serde::str_option")]
    pub hourly: Option<Decimal>,
    /// Dollars; `None` when unpriced.
    #[serde(with = "rust_decimal::serde::str_option")]
    pub cost: Option<Decimal>,
}

/// One resource's cost.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ResourceCost {
    /// Its launch id.
    pub id: LaunchId,
    /// Its owner.
    pub owner: String,
    /// Its group config.
    pub group_config: String,
    /// The group config's cost center.
    pub cost_center: String,
    /// Its software config.
    pub software_config: String,
    /// Its instance type.
    pub instance_type: String,
    /// Its segments inside the range.
    pub segments: Vec<SegmentCost>,
    /// Dollars (priced segments).
    #[serde(with = "rust_decimal::serde::str")]
    pub cost: Decimal,
}

/// What resources cost from `from` to `to`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CostReport {
    /// The range's start (RFC 3339).
    pub from: String,
    /// The range's end (RFC 3339).
    pub to: String,
    /// Cost by the chosen key, largest first.
    pub rows: Vec<CostRow>,
    /// Every resource billed in the range.
    pub resources: Vec<ResourceCost>,
    /// Dollars.
    #[serde(with = "rust_decimal::serde::str")]
    pub total: Decimal,
    /// Segments without a price (left out of the sums, never counted as 0).
    pub unpriced_segments: usize,
}

impl Engine {
    /// What every resource cost from `from` to `to`, by `by`. Admins only.
    ///
    /// # Errors
    /// [`Error::Forbidden`] unless the principal is an admin; [`Error::Validation`] for a
    /// range that ends before it starts; the store's.
    pub async fn cost_report(
        &self,
        principal: &Principal,
        from: Timestamp,
        to: Timestamp,
        by: CostBy,
    ) -> Result<CostReport> {
        self.inner.alive()?;
        super::access::admin(principal, "see every resource's cost")?;
        if to <= from {
            return Err(Error::validation("to", to.utc(), format!("must be after from ({})", from.utc())));
        }
        let all = ResourceFilter { include_archived: true, ..ResourceFilter::default() };
        let resources = self.inner.store.list_resources(&all).await?;
        let segments = self.inner.store.billing(None).await?;
        Ok(report(self.catalog(), &resources, &segments, (from, to), self.inner.clock.now(), by))
    }
}

impl Engine {
    /// What one resource has cost so far, with its segments, if `principal` may see it;
    /// `None` before its first bill.
    ///
    /// # Errors
    /// As [`Engine::get`]; the store's.
    pub async fn resource_cost(&self, principal: &Principal, id: &LaunchId) -> Result<Option<ResourceCost>> {
        let r = self.get(principal, id).await?;
        let segments = self.inner.store.billing(Some(id)).await?;
        let now = self.inner.clock.now();
        let all = report(
            self.catalog(),
            &[r],
            &segments,
            (Timestamp(0), now.plus(Duration::from_secs(1))),
            now,
            CostBy::User,
        );
        Ok(all.resources.into_iter().next())
    }
}

/// The report from the records and their segments, open segments counted until `now`.
pub fn report(
    catalog: &Catalog,
    resources: &[Resource],
    segments: &[BillingSegment],
    (from, to): (Timestamp, Timestamp),
    now: Timestamp,
    by: CostBy,
) -> CostReport {
    let mut by_resource: HashMap<&LaunchId, Vec<&BillingSegment>> = HashMap::new();
    for s in segments {
        by_resource.entry(&s.resource).or_default().push(s);
    }
    let (mut rows, mut out, mut unpriced) = (BTreeMap::<String, (Decimal, Decimal)>::new(), Vec::new(), 0);
    for r in resources {
        let Some(segs) = by_resource.get(&r.id) else { continue };
        let mut cost = ResourceCost {
            id: r.id.clone(),
            owner: r.owner.clone(),
            group_config: r.group_config.clone(),
            cost_center: catalog.group_config(&r.group_config).map(|g| g.cost_center.clone()).unwrap_or_default(),
            software_config: r.software_config.clone(),
            instance_type: r.instance_type.clone(),
            segments: Vec::new(),
            cost: Decimal::ZERO,
        };
        let mut hours = Decimal::ZERO;
        for s in segs {
            let Some((clipped, seconds)) = clip(s, from, to, now) else { continue };
            unpriced += usize::from(clipped.hourly.is_none());
            cost.cost += clipped.cost.unwrap_or_default();
            hours += Decimal::from(seconds) / Decimal::from(3_600);
            cost.segments.push(clipped);
        }
        if cost.segments.is_empty() {
            continue;
        }
        cost.cost = cost.cost.normalize();
        let key = match by {
            CostBy::User => &cost.owner,
            CostBy::GroupConfig => &cost.group_config,
            CostBy::CostCenter => &cost.cost_center,
            CostBy::SoftwareConfig => &cost.software_config,
        };
        let row = rows.entry(key.clone()).or_default();
        row.0 += cost.cost;
        row.1 += hours;
        out.push(cost);
    }
    let total = out.iter().map(|c| c.cost).sum::<Decimal>().normalize();
    let mut rows: Vec<CostRow> = rows
        .into_iter()
        .map(|(key, (cost, hours))| CostRow { key, cost: cost.normalize(), hours: hours.round_dp(4).normalize() })
        .collect();
    rows.sort_by(|a, b| b.cost.cmp(&a.cost).then_with(|| a.key.cmp(&b.key)));
    CostReport { from: from.utc(), to: to.utc(), rows, resources: out, total, unpriced_segments: unpriced }
}

/// The part of `s` inside `[from, to)`, priced, and its billed seconds; a segment wholly
/// inside is billed at least [`MINIMUM_BILLED_SECONDS`].
fn clip(s: &BillingSegment, from: Timestamp, to: Timestamp, now: Timestamp) -> Option<(SegmentCost, u64)> {
    let end = s.end.unwrap_or(now.max(s.start));
    let (start_c, end_c) = (s.start.max(from), end.min(to));
    if start_c >= end_c && !(s.start >= from && s.start < to) {
        return None;
    }
    let whole = start_c == s.start && end_c == end;
    let raw = u64::try_from(end_c.0.saturating_sub(start_c.0).max(0)).unwrap_or(0) / 1_000;
    let seconds = if whole { raw.max(MINIMUM_BILLED_SECONDS) } else { raw };
    let cost = s.hourly.map(|h| cost_of(h, seconds).normalize());
    let shown = SegmentCost {
        state: s.state.name(),
        start: start_c.utc(),
        end: end_c.max(start_c).utc(),
        hourly: s.hourly,
        cost,
    };
    Some((shown, seconds))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lifecycle::ResourceKind;
    use crate::model::{BillState, StackSpec};

    const H: i64 = 3_600_000;

    fn resource(id: &str, owner: &str) -> Resource {
        let spec = StackSpec {
            name: String::new(),
            template_body: std::sync::Arc::from(""),
            parameters: Vec::new(),
            tags: Vec::new(),
            client_request_token: id.into(),
        };
        Resource {
            owner: owner.into(),
            group_config: "ds".into(),
            software_config: "notebook".into(),
            instance_type: "m4.large".into(),
            ..Resource::requested(LaunchId::parse(id).unwrap(), ResourceKind::Instance, spec, Timestamp(0))
        }
    }

    fn segment(id: &str, state: BillState, hourly: Option<&str>, start: i64, end: Option<i64>) -> BillingSegment {
        BillingSegment {
            resource: LaunchId::parse(id).unwrap(),
            state,
            hourly: hourly.map(|h| h.parse().unwrap()),
            description: String::new(),
            start: Timestamp(start),
            end: end.map(Timestamp),
        }
    }

    #[test]
    fn segments_are_clipped_at_the_range_and_grouped() {
        let catalog = Catalog::from_yaml_str("group_configs: [{name: ds, group: g, cost_center: CC-7}]").unwrap();
        let resources = [resource("aaa", "alice"), resource("bbb", "bob"), resource("ccc", "carol")];
        let segments = [
            // From before the range into it: 2 of its 4 hours count.
            segment("aaa", BillState::Running, Some("0.10"), 0, Some(4 * H)),
            segment("aaa", BillState::Stopped, Some("0.01"), 4 * H, Some(6 * H)),
            // Open: counted until the range's end.
            segment("bbb", BillState::Running, Some("1"), 3 * H, None),
            // Ten seconds, wholly inside: billed a minute.
            segment("ccc", BillState::Running, Some("3.6"), 5 * H, Some(5 * H + 10_000)),
            segment("ccc", BillState::Running, None, 5 * H + 10_000, Some(6 * H)),
        ];
        let r = report(
            &catalog,
            &resources,
            &segments,
            (Timestamp(2 * H), Timestamp(8 * H)),
            Timestamp(9 * H),
            CostBy::User,
        );
        let d = |t: &str| t.parse::<Decimal>().unwrap();
        let cost = |who: &str| r.rows.iter().find(|row| row.key == who).map(|row| row.cost);
        assert_eq!(cost("alice"), Some(d("0.22")), "2 h × 0.10 + 2 h × 0.01");
        assert_eq!(cost("bob"), Some(d("5")), "open from 3 h, clipped at 8 h");
        assert_eq!(cost("carol"), Some(d("0.06")), "the minute minimum");
        assert_eq!(r.total, d("5.28"));
        assert_eq!(r.unpriced_segments, 1);
        assert_eq!(r.rows[0].key, "bob", "largest first");
        assert_eq!(r.resources[0].segments[0].start, Timestamp(2 * H).utc());
        let by_center = report(
            &catalog,
            &resources,
            &segments,
            (Timestamp(0), Timestamp(8 * H)),
            Timestamp(9 * H),
            CostBy::CostCenter,
        );
        assert_eq!(by_center.rows.iter().map(|r| r.key.as_str()).collect::<Vec<_>>(), ["CC-7"]);
        // Nothing in a range before everything.
        let none =
            report(&catalog, &resources, &segments, (Timestamp(-2 * H), Timestamp(-H)), Timestamp(9 * H), CostBy::User);
        assert!(none.rows.is_empty() && none.total.is_zero());
        let json = serde_json::to_value(&r).unwrap();
        assert_eq!(json["total"], "5.28");
        assert!(json["resources"][0]["segments"][0]["hourly"].is_string());
    }

    #[test]
    fn keys_parse_and_are_refused_by_name() {
        assert_eq!("cost-center".parse::<CostBy>().unwrap(), CostBy::CostCenter);
        let e = "owner".parse::<CostBy>().unwrap_err();
        assert!(matches!(e, Error::Validation(v) if v.field == "by" && v.value == "owner"));
    }
}
