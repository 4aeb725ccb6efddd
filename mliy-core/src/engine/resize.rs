//! Resizing a running cluster's core or task group (ModifyInstanceGroups): within the group
//! config's `max_cluster_nodes` and spend limits, stored before the call, billed from the
//! change.

use super::Shared;
use crate::error::{Error, Result};
use crate::lifecycle::{Actor, Phase, Resource, ResourceKind};
use crate::model::Principal;
use crate::model::emr::InstanceRole;
use crate::plan::DEFAULT_MAX_CLUSTER_NODES;

impl Shared {
    /// Resizes `r`'s first `role` group to `count` nodes for `principal`.
    pub(super) async fn resize(
        &self,
        principal: &Principal,
        r: &Resource,
        role: InstanceRole,
        count: u32,
    ) -> Result<Resource> {
        let cluster = self.resizable(r, role, count)?;
        let group = self.planner.catalog().group_config(&r.group_config)?;
        let max = group.settings.max_cluster_nodes.unwrap_or(DEFAULT_MAX_CLUSTER_NODES);
        let mut resized = r.clone();
        let before = set_count(&mut resized, role, count);
        let groups = resized.job_flow.iter().flat_map(|s| &s.instances.instance_groups);
        let nodes: u32 = groups.filter(|g| g.instance_role != InstanceRole::Master).map(|g| g.instance_count).sum();
        if nodes > max {
            let rule =
                format!("at most {max} core and task nodes for group config {} (its max_cluster_nodes)", group.name);
            return Err(Error::validation("resize.count", count.to_string(), rule));
        }
        let name = format!("{role:?}").to_uppercase();
        let reason = format!("{name} group resized from {before} to {count} nodes by {}", principal.username);
        let actor = Actor::User(principal.username.clone());
        let stored = self
            .within_quota(
                group,
                &resized,
                self.note(r, actor, reason, |n| {
                    set_count(n, role, count);
                }),
            )
            .await?;
        let groups = self.cloud.list_instance_groups(&cluster).await?;
        let id = groups.iter().find(|g| g.role == role).map(|g| g.id.clone()).ok_or_else(|| {
            Error::validation(
                "resize.group",
                format!("{role:?}"),
                format!("cluster {cluster} has no such instance group"),
            )
        })?;
        self.cloud.resize_instance_group(&cluster, &id, count).await?;
        self.reprice_bill(&stored).await?;
        Ok(stored)
    }

    /// The cluster id of a running job-flow cluster with a `role` group that may take `count`.
    fn resizable(&self, r: &Resource, role: InstanceRole, count: u32) -> Result<String> {
        let refuse = |rule: &str| Err(Error::validation("action", "resize", rule.to_string()));
        if r.kind != ResourceKind::Cluster || !matches!(r.phase, Phase::Running | Phase::Waiting) {
            return refuse(&format!("only a running cluster is resized (this one is {})", r.phase));
        }
        let Some(spec) = &r.job_flow else { return refuse("a template's cluster is resized through its template") };
        if !spec.instances.instance_fleets.is_empty() {
            return refuse("a cluster of instance fleets is not resized here (ModifyInstanceFleet is not built)");
        }
        match role {
            InstanceRole::Master => return refuse("the master group is not resized"),
            InstanceRole::Core if count == 0 => return refuse("a core group keeps at least 1 node"),
            _ => {}
        }
        if !spec.instances.instance_groups.iter().any(|g| g.instance_role == role) {
            return Err(Error::validation(
                "resize.group",
                format!("{role:?}").to_uppercase(),
                "the cluster has no such group",
            ));
        }
        r.cluster_id.clone().ok_or_else(|| Error::validation("action", "resize", "the cluster has no id yet"))
    }
}

/// Sets the first `role` group's count; returns the count before.
fn set_count(r: &mut Resource, role: InstanceRole, count: u32) -> u32 {
    let group =
        r.job_flow.as_mut().and_then(|s| s.instances.instance_groups.iter_mut().find(|g| g.instance_role == role));
    group.map(|g| std::mem::replace(&mut g.instance_count, count)).unwrap_or(0)
}
