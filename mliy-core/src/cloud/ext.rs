//! Conveniences over [`Cloud`]'s primitive calls, written once for every backend (the shape
//! of object_store's `ObjectStoreExt`): whole listings and single look-ups.

use super::{Cloud, ClusterInfo, ClusterState, InstanceFilter, InstanceInfo, Page, StackInfo};
use crate::error::Result;
use async_trait::async_trait;

/// Reads every page of a listing; returns the items and how many calls it took.
pub async fn all_pages<T, F>(fetch: impl FnMut(Option<String>) -> F) -> Result<(Vec<T>, u64)>
where
    F: Future<Output = Result<Page<T>>>,
{
    fold_pages(fetch, Vec::new(), |items, page| items.extend(page)).await
}

/// Reads every page of a listing into `acc`, one page at a time (a large listing is never
/// held whole unless `take` keeps it); returns `acc` and how many calls it took.
pub async fn fold_pages<T, A, F>(
    mut fetch: impl FnMut(Option<String>) -> F,
    mut acc: A,
    mut take: impl FnMut(&mut A, Vec<T>),
) -> Result<(A, u64)>
where
    F: Future<Output = Result<Page<T>>>,
{
    let (mut next, mut calls) = (None, 0);
    loop {
        calls += 1;
        let page = fetch(next).await?;
        take(&mut acc, page.items);
        next = page.next;
        if next.is_none() {
            return Ok((acc, calls));
        }
    }
}

/// Blanket helpers on every [`Cloud`] (`use mliy_core::cloud::CloudExt`).
#[async_trait]
pub trait CloudExt: Cloud {
    /// Every instance the filter matches, and the number of DescribeInstances calls.
    async fn all_instances(&self, filter: &InstanceFilter) -> Result<(Vec<InstanceInfo>, u64)> {
        all_pages(|next| self.describe_instances(filter, next)).await
    }

    /// Every cluster in `states` (all when empty), and the number of ListClusters calls.
    async fn all_clusters(&self, states: &[ClusterState]) -> Result<(Vec<ClusterInfo>, u64)> {
        all_pages(|next| self.list_clusters(states, next)).await
    }

    /// Every stack that is not deleted, and the number of ListStacks calls.
    async fn all_stacks(&self) -> Result<(Vec<StackInfo>, u64)> {
        all_pages(|next| self.list_stacks(next)).await
    }

    /// One instance by id, `None` when it does not exist.
    async fn describe_instance(&self, id: &str) -> Result<Option<InstanceInfo>> {
        let filter = InstanceFilter { ids: vec![id.to_string()], tag: None };
        Ok(self.describe_instances(&filter, None).await?.items.into_iter().find(|i| i.id == id))
    }
}

impl<C: Cloud + ?Sized> CloudExt for C {}
