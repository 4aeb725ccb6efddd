//! Monthly budgets per group config: what the group config's resources cost this calendar
//! month (UTC), warning events at 50, 80 and 100% (each once a month, across replicas), and
//! with `budget_enforcement: hard`, refusal of launches and starts once it is spent.

use super::{Engine, Shared};
use crate::clock::Timestamp;
use crate::error::{Error, Result};
use crate::lifecycle::{Actor, Resource};
use crate::model::{BudgetEnforcement, GroupConfig, LaunchId, Principal};
use crate::pricing::Decimal;
use crate::store::ResourceFilter;
use serde::Serialize;
use std::collections::HashMap;

/// The shares of a budget at which a warning event is recorded.
pub const BUDGET_WARNINGS: [u32; 3] = [50, 80, 100];

/// A group config's budget this month.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BudgetStatus {
    /// The group config.
    pub group_config: String,
    /// The month, `2026-12`.
    pub month: String,
    /// Dollars for the month.
    #[serde(with = "rust_decimal::serde::str")]
    pub budget: Decimal,
    /// Dollars spent so far this month (running resources counted until now).
    #[serde(with = "rust_decimal::serde::str")]
    pub spent: Decimal,
    /// `spent` as a share of `budget`, in whole percent (rounded down).
    pub percent: u32,
    /// What happens once it is spent.
    pub enforcement: BudgetEnforcement,
}

impl BudgetStatus {
    /// Whether nothing is left.
    pub fn exhausted(&self) -> bool {
        self.spent >= self.budget
    }
}

impl Engine {
    /// The monthly budget of group config `name` and what is spent of it, for its members
    /// and admins; `None` when it has no budget.
    ///
    /// # Errors
    /// [`Error::NotFound`] for an unknown group config; [`Error::Forbidden`] for anyone else;
    /// the store's.
    pub async fn budget(&self, principal: &Principal, name: &str) -> Result<Option<BudgetStatus>> {
        self.inner.alive()?;
        super::access::authenticated(principal)?;
        let group = self.catalog().group_config(name)?;
        if !group.admits(principal) && !principal.admin {
            return Err(Error::Forbidden(format!("{} is not in group config {name}", principal.username)));
        }
        let spent = self.inner.month_spend().await?;
        Ok(status(group, &spent, self.inner.clock.now()))
    }
}

fn status(group: &GroupConfig, spent: &HashMap<String, Decimal>, now: Timestamp) -> Option<BudgetStatus> {
    let budget = group.settings.monthly_budget?;
    let spent = spent.get(&group.name).copied().unwrap_or_default();
    let share = (spent * Decimal::from(100) / budget).floor();
    Some(BudgetStatus {
        group_config: group.name.clone(),
        month: now.utc()[..7].to_string(),
        budget,
        spent,
        percent: rust_decimal::prelude::ToPrimitive::to_u32(&share).unwrap_or(u32::MAX),
        enforcement: group.settings.budget_enforcement,
    })
}

impl Shared {
    /// This month's spend by group config.
    async fn month_spend(&self) -> Result<HashMap<String, Decimal>> {
        let now = self.clock.now();
        let all = ResourceFilter { include_archived: true, ..ResourceFilter::default() };
        let resources = self.store.list_resources(&all).await?;
        let segments = self.store.billing(None).await?;
        let range = (now.month_start(), now);
        let report =
            super::cost::report(self.planner.catalog(), &resources, &segments, range, now, super::CostBy::GroupConfig);
        Ok(report.rows.into_iter().map(|row| (row.key, row.cost)).collect())
    }

    /// Refuses a launch (or start) under a hard budget that is spent.
    pub(crate) async fn within_budget(&self, group: &GroupConfig, r: &Resource) -> Result<()> {
        if group.settings.budget_enforcement != BudgetEnforcement::Hard || group.settings.monthly_budget.is_none() {
            return Ok(());
        }
        let Some(b) = status(group, &self.month_spend().await?, self.clock.now()) else { return Ok(()) };
        if !b.exhausted() {
            return Ok(());
        }
        let adds = self
            .pricing
            .as_ref()
            .and_then(|p| super::billing::rate(p, r, crate::model::BillState::Running, &Default::default()).0);
        Err(Error::Forbidden(format!(
            "group config {} has spent {} of its monthly budget of {} for {} ({}%, monthly_budget, hard); \
             this launch would add {} per hour",
            b.group_config,
            b.spent.round_dp(2),
            b.budget,
            b.month,
            b.percent,
            adds.map_or_else(|| "an unpriced amount".to_string(), |d| d.normalize().to_string()),
        )))
    }

    /// Records the budget warnings reached and not yet given this month, each on the group
    /// config's most recent unfinished resource. Returns how many were recorded.
    pub(crate) async fn budget_warnings(&self, newest: &Newest) -> Result<usize> {
        let budgeted: Vec<&GroupConfig> =
            self.planner.catalog().group_configs.iter().filter(|g| g.settings.monthly_budget.is_some()).collect();
        if budgeted.is_empty() {
            return Ok(0);
        }
        let (spent, now, mut given) = (self.month_spend().await?, self.clock.now(), 0);
        for group in budgeted {
            let (Some((_, on)), Some(b)) = (newest.0.get(&group.name), status(group, &spent, now)) else { continue };
            for share in BUDGET_WARNINGS.into_iter().filter(|s| b.percent >= *s) {
                let key = format!("budget:{}:{}:{share}", b.group_config, b.month);
                if self.store.put_idempotency_key(&key, on.as_str()).await?.is_none() {
                    self.note_latest(on, Actor::Engine, &warning(&b, share)).await?;
                    given += 1;
                }
            }
        }
        Ok(given)
    }
}

/// Each group config's most recent unfinished resource (when requested, its id), gathered
/// page by page: a budget warning is recorded on it.
#[derive(Debug, Default)]
pub(crate) struct Newest(HashMap<String, (Timestamp, LaunchId)>);

impl Newest {
    /// `r` alone.
    pub(crate) fn of(r: &Resource) -> Newest {
        let mut newest = Newest::default();
        newest.note(r);
        newest
    }

    /// Takes `r` into account.
    pub(crate) fn note(&mut self, r: &Resource) {
        if r.phase.is_terminal() {
            return;
        }
        // Looked up by reference first: most records are not the newest.
        match self.0.get_mut(&r.group_config) {
            Some(newest) if (r.created_at, &r.id) > (newest.0, &newest.1) => *newest = (r.created_at, r.id.clone()),
            Some(_) => {}
            None => {
                self.0.insert(r.group_config.clone(), (r.created_at, r.id.clone()));
            }
        }
    }
}

fn warning(b: &BudgetStatus, share: u32) -> String {
    let then = match (share, b.enforcement) {
        (100, BudgetEnforcement::Hard) => "; launches and starts are refused until next month",
        (100, BudgetEnforcement::Soft) => "; the budget is soft, launches go on",
        _ => "",
    };
    let text = format!(
        "budget: group config {} has spent {} of its monthly budget of {} for {} ({}%, warning at {share}%){then}",
        b.group_config,
        b.spent.round_dp(2),
        b.budget,
        b.month,
        b.percent
    );
    tracing::warn!(target: "mliy::budget", group_config = %b.group_config, percent = b.percent, "{text}");
    text
}
