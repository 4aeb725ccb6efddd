//! Finding the machines a running MLiy launched that the store does not know: instances
//! tagged `LaunchedBy=MLIY` and clusters tagged `Launched By=MLiy`.

use super::{Engine, Unmanaged};
use crate::cloud::{ClusterState, InstanceFilter, InstanceInfo, InstanceState};
use crate::error::Result;
use crate::lifecycle::{Resource, ResourceKind};
use crate::model::{LAUNCH_ID_TAG, MANAGED_TAG, MLIY_CLUSTER_TAG, Principal};
use crate::store::ResourceFilter;
use std::collections::HashSet;

/// The machines the store's records know.
pub(super) struct Known<'a> {
    instances: HashSet<&'a str>,
    clusters: HashSet<&'a str>,
    launches: HashSet<&'a str>,
}

impl<'a> Known<'a> {
    pub(super) fn new(records: &'a [Resource]) -> Known<'a> {
        Known {
            instances: records.iter().filter_map(|r| r.instance_id.as_deref()).collect(),
            clusters: records.iter().filter_map(|r| r.cluster_id.as_deref()).collect(),
            launches: records.iter().map(|r| r.id.as_str()).collect(),
        }
    }

    /// Whether a listed instance is one nobody manages and not gone. A launch whose stack
    /// still waits for its signal has not recorded its instance, but the instance carries
    /// its launch id.
    pub(super) fn unmanaged_instance(&self, i: &InstanceInfo) -> bool {
        let ours = i.tags.iter().any(|t| t.key == LAUNCH_ID_TAG && self.launches.contains(t.value.as_str()));
        !ours && !self.instances.contains(i.id.as_str()) && i.state != InstanceState::Terminated
    }
}

/// Cluster states a cluster can be adopted from, or will be once it runs.
const LIVE: [ClusterState; 4] =
    [ClusterState::Starting, ClusterState::Bootstrapping, ClusterState::Running, ClusterState::Waiting];

impl Engine {
    /// The machines MLiy launched that the store does not know, for
    /// [`Adoption::from_mliy`](super::Adoption::from_mliy): DescribeInstances by
    /// `LaunchedBy=MLIY` (pages of 1,000), ListClusters of live clusters (pages of 50) and
    /// DescribeCluster for each cluster the store does not know (ListClusters has no tags).
    /// Admins only.
    ///
    /// # Errors
    /// [`Error::Forbidden`](crate::Error::Forbidden) unless the principal is an admin; the
    /// store's and the cloud's.
    pub async fn unmanaged_mliy_machines(&self, principal: &Principal) -> Result<Vec<Unmanaged>> {
        let inner = &self.inner;
        inner.alive()?;
        super::access::admin(principal, "look for machines to adopt")?;
        let all = ResourceFilter { include_archived: true, ..ResourceFilter::default() };
        let records = inner.store.list_resources(&all).await?;
        let known = Known::new(&records);
        let filter = InstanceFilter { ids: Vec::new(), tag: Some((MANAGED_TAG.0.into(), MANAGED_TAG.1.into())) };
        let mut found = Vec::new();
        let mut next = None;
        loop {
            let page = inner.cloud.describe_instances(&filter, next).await?;
            found.extend(page.items.iter().filter(|i| known.unmanaged_instance(i)).map(Unmanaged::instance));
            next = page.next;
            if next.is_none() {
                break;
            }
        }
        loop {
            let page = inner.cloud.list_clusters(&LIVE, next).await?;
            for c in page.items.iter().filter(|c| !known.clusters.contains(c.id.as_str())) {
                let Some(info) = inner.cloud.describe_cluster(&c.id).await? else { continue };
                if info.tags.iter().any(|t| t.key == MLIY_CLUSTER_TAG.0 && t.value == MLIY_CLUSTER_TAG.1) {
                    let launch_id = info.tags.iter().find(|t| t.key == LAUNCH_ID_TAG).map(|t| t.value.clone());
                    found.push(Unmanaged { kind: ResourceKind::Cluster, id: info.id, launch_id, tags: info.tags });
                }
            }
            next = page.next;
            if next.is_none() {
                return Ok(found);
            }
        }
    }
}
