//! What a refresh pass keeps of the cloud's listings, read page by page: of each listed
//! instance its state, address and launch id (not its tags), of each live cluster its
//! summary; and which listed instances no record claims, for the unmanaged report.

use super::{Shared, Unmanaged};
use crate::cloud::{ClusterInfo, ClusterState, InstanceFilter, InstanceInfo, InstanceState, all_pages, fold_pages};
use crate::lifecycle::{Resource, ResourceKind};
use crate::model::{LAUNCH_ID_TAG, LaunchId, MANAGED_TAG};
use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

/// A listed instance, as a pass keeps it.
#[derive(Debug)]
pub(super) struct ListedInstance {
    pub(super) state: InstanceState,
    pub(super) private_ip: Option<String>,
    /// Its launch id tag, if it has one.
    launch_id: Option<String>,
    /// Whether a record read this pass has its instance id.
    claimed: AtomicBool,
}

impl ListedInstance {
    /// What is kept of `i`, by its id.
    pub(super) fn of(i: InstanceInfo) -> (String, ListedInstance) {
        let launch_id = i.tags.into_iter().find(|t| t.key == LAUNCH_ID_TAG).map(|t| t.value);
        (i.id, ListedInstance { state: i.state, private_ip: i.private_ip, launch_id, claimed: AtomicBool::new(false) })
    }
}

/// What the listings said of one resource.
pub(super) enum Seen<'a> {
    Present(Listed<'a>),
    Absent,
    Unknown,
}

/// A resource as its listing shows it.
pub(super) enum Listed<'a> {
    /// The instance's id and what is kept of it.
    Instance(&'a str, &'a ListedInstance),
    Cluster(&'a ClusterInfo),
}

/// This pass's listings by id (`None` where the listing failed), and the records the pass
/// changed (which a later page may list again, in their new phase).
pub(super) struct Listings {
    instances: Option<HashMap<String, ListedInstance>>,
    clusters: Option<HashMap<String, ClusterInfo>>,
    changed: HashSet<LaunchId>,
}

impl Listings {
    /// DescribeInstances by the managed tag (pages of 1,000) and ListClusters of live
    /// clusters (pages of 50), each page cut down as it comes; the calls are counted.
    pub(super) async fn list(shared: &Shared, calls: &AtomicU64) -> Listings {
        let filter = InstanceFilter { ids: vec![], tag: Some((MANAGED_TAG.0.to_string(), MANAGED_TAG.1.to_string())) };
        let describe = |next| shared.cloud.describe_instances(&filter, next);
        let keep =
            |map: &mut HashMap<_, _>, page: Vec<InstanceInfo>| map.extend(page.into_iter().map(ListedInstance::of));
        let instances = match fold_pages(describe, HashMap::new(), keep).await {
            Ok((map, pages)) => {
                calls.fetch_add(pages, Ordering::Relaxed);
                Some(map)
            }
            Err(_) => None,
        };
        use ClusterState as S;
        let live = [S::Starting, S::Bootstrapping, S::Running, S::Waiting, S::Terminating];
        let clusters = match all_pages(|next| shared.cloud.list_clusters(&live, next)).await {
            Ok((items, pages)) => {
                calls.fetch_add(pages, Ordering::Relaxed);
                Some(items.into_iter().map(|c| (c.id.clone(), c)).collect())
            }
            Err(_) => None,
        };
        Listings { instances, clusters, changed: HashSet::new() }
    }

    /// False when the pass changed `r` before (it moved from an earlier page's phase).
    pub(super) fn fresh(&self, r: &Resource) -> bool {
        !self.changed.contains(&r.id)
    }

    /// Takes `r` as read: the instance it names is not unmanaged ([`Listings::seen`] does
    /// this too).
    pub(super) fn claim(&self, r: &Resource) {
        if let (Some(map), Some(id)) = (&self.instances, &r.instance_id)
            && let Some(listed) = map.get(id)
        {
            listed.claimed.store(true, Ordering::Relaxed);
        }
    }

    /// Notes that the pass changed `id`.
    pub(super) fn changed(&mut self, id: &LaunchId) {
        self.changed.insert(id.clone());
    }

    pub(super) fn seen(&self, r: &Resource) -> Seen<'_> {
        fn absent_or(found: Option<Listed<'_>>) -> Seen<'_> {
            found.map_or(Seen::Absent, Seen::Present)
        }
        match r.kind {
            ResourceKind::Instance => match (&self.instances, &r.instance_id) {
                (Some(map), Some(id)) => absent_or(map.get_key_value(id).map(|(id, i)| {
                    i.claimed.store(true, Ordering::Relaxed);
                    Listed::Instance(id.as_str(), i)
                })),
                _ => Seen::Unknown,
            },
            ResourceKind::Cluster => match (&self.clusters, &r.cluster_id) {
                (Some(map), Some(id)) => absent_or(map.get(id).map(Listed::Cluster)),
                _ => Seen::Unknown,
            },
        }
    }

    /// Listed instances, not terminated, that no record read this pass names: their ids
    /// and launch ids.
    fn unclaimed(&self) -> impl Iterator<Item = (&str, Option<&str>)> {
        let listed = self.instances.iter().flatten();
        listed
            .filter(|(_, i)| !i.claimed.load(Ordering::Relaxed) && i.state != InstanceState::Terminated)
            .map(|(id, i)| (id.as_str(), i.launch_id.as_deref()))
    }
}

impl Shared {
    /// The listed machines nobody manages: those no record of the pass names and whose
    /// launch id (if any) has no record either (a launch whose stack still waits for its
    /// signal has not recorded its instance; an ended one may still be cleaning up),
    /// described again by id for their tags (one call per 1,000).
    pub(super) async fn unmanaged(&self, listings: &Listings, calls: &AtomicU64) -> crate::Result<Vec<Unmanaged>> {
        let mut ids = Vec::new();
        for (id, launch) in listings.unclaimed() {
            let launch = launch.and_then(|l| LaunchId::parse(l).ok());
            if let Some(launch) = launch
                && self.store.get_resource(&launch).await?.is_some()
            {
                continue;
            }
            ids.push(id.to_string());
        }
        let mut found = Vec::new();
        for chunk in ids.chunks(1_000) {
            calls.fetch_add(1, Ordering::Relaxed);
            let filter = InstanceFilter { ids: chunk.to_vec(), tag: None };
            // A failed look leaves them for the next pass.
            let Ok(page) = self.cloud.describe_instances(&filter, None).await else { break };
            let live = page.items.iter().filter(|i| i.state != InstanceState::Terminated);
            found.extend(live.map(Unmanaged::instance));
        }
        Ok(found)
    }
}
