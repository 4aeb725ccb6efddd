//! One simulated portal process: its view of the shared store and of the cloud, both of
//! which die with it. After a set number of resource writes the process "crashes": from then
//! on every store and cloud call it makes fails, as nothing reaches the world from a dead
//! process. The wrappers also count calls in flight, so that virtual time can stand still
//! while a real database works.

use async_trait::async_trait;
use mliy_core::clock::Timestamp;
use mliy_core::cloud::{
    Cloud, ClusterInfo, ClusterState, CommandInvocation, CommandSpec, InstanceFilter, InstanceInfo, Page, StackInfo,
    StackResource, StepInfo,
};
use mliy_core::error::{Error, Result};
use mliy_core::lifecycle::{LifecycleEvent, Resource};
use mliy_core::model::emr::Step;
use mliy_core::model::{BillingSegment, Catalog, ClusterSpec, LaunchId, StackSpec};
use mliy_core::pricing::Decimal;
use mliy_core::store::{BillingSettlement, PageQuery, ResourceChange, ResourceFilter, StateStore};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;
use tokio::sync::Notify;

/// Whether the process lives, and when it dies.
#[derive(Debug)]
pub(crate) struct Life {
    dead: AtomicBool,
    died: Notify,
    writes_left: Option<AtomicU64>,
    /// Store writes by every process of the run.
    pub(crate) writes: Arc<AtomicU64>,
    /// Store and cloud calls under way, in every process of the run.
    pub(crate) in_flight: Arc<AtomicUsize>,
}

/// Counts a call in flight while it lives.
struct Busy<'a>(&'a AtomicUsize);

impl Drop for Busy<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

impl Life {
    /// A process that dies after `crash_after` resource writes (never when `None`).
    pub(crate) fn new(crash_after: Option<u64>, writes: Arc<AtomicU64>, in_flight: Arc<AtomicUsize>) -> Arc<Life> {
        Arc::new(Life {
            dead: AtomicBool::new(false),
            died: Notify::new(),
            writes_left: crash_after.map(|n| AtomicU64::new(n.max(1))),
            writes,
            in_flight,
        })
    }

    fn enter(&self, what: &str) -> Result<Busy<'_>> {
        if self.dead.load(Ordering::SeqCst) {
            return Err(Error::Unavailable(format!("{what}: the process is dead (simulated crash)")));
        }
        self.in_flight.fetch_add(1, Ordering::SeqCst);
        Ok(Busy(&self.in_flight))
    }

    /// Counts a resource write that succeeded; the process dies right after the last one.
    /// Runs a store call of `n` resource writes (see `enter`), counting them once it succeeds.
    async fn writing(&self, n: usize, call: impl std::future::Future<Output = Result<()>>) -> Result<()> {
        let _busy = self.enter("store")?;
        call.await?;
        self.wrote(n);
        Ok(())
    }

    /// Counts `n` writes taken together; the process dies when its countdown ends among them.
    fn wrote(&self, n: usize) {
        let n = n as u64;
        self.writes.fetch_add(n, Ordering::Relaxed);
        if let Some(left) = &self.writes_left
            && (1..=n).contains(&left.fetch_sub(n, Ordering::SeqCst))
        {
            self.dead.store(true, Ordering::SeqCst);
            self.died.notify_waiters();
            self.died.notify_one();
        }
    }

    /// Waits until the process dies.
    pub(crate) async fn died(&self) {
        while !self.dead.load(Ordering::SeqCst) {
            self.died.notified().await;
        }
    }
}

/// The process's store: the shared one, through its life.
#[derive(Debug)]
pub(crate) struct ReplicaStore {
    pub(crate) inner: Arc<dyn StateStore>,
    pub(crate) life: Arc<Life>,
}

#[async_trait]
impl StateStore for ReplicaStore {
    async fn insert_resource(&self, r: &Resource, e: Option<&LifecycleEvent>) -> Result<()> {
        self.life.writing(1, self.inner.insert_resource(r, e)).await
    }
    async fn insert_resources(&self, rs: &[Resource]) -> Result<()> {
        self.life.writing(rs.len(), self.inner.insert_resources(rs)).await
    }
    async fn update_resource(&self, r: &Resource, expected: u64, e: Option<&LifecycleEvent>) -> Result<()> {
        self.life.writing(1, self.inner.update_resource(r, expected, e)).await
    }
    async fn update_resources(&self, changes: &[ResourceChange]) -> Result<()> {
        self.life.writing(changes.len(), self.inner.update_resources(changes)).await
    }
    async fn get_resource(&self, id: &LaunchId) -> Result<Option<Resource>> {
        let _busy = self.life.enter("store")?;
        self.inner.get_resource(id).await
    }
    async fn list_resources(&self, f: &ResourceFilter) -> Result<Vec<Resource>> {
        let _busy = self.life.enter("store")?;
        self.inner.list_resources(f).await
    }
    async fn list_page(&self, q: &PageQuery) -> Result<Vec<Resource>> {
        let _busy = self.life.enter("store")?;
        self.inner.list_page(q).await
    }
    async fn events(&self, id: &LaunchId) -> Result<Vec<LifecycleEvent>> {
        let _busy = self.life.enter("store")?;
        self.inner.events(id).await
    }
    async fn open_billing(&self, s: &BillingSegment) -> Result<()> {
        let _busy = self.life.enter("store")?;
        self.inner.open_billing(s).await
    }
    async fn close_billing(&self, r: &LaunchId, end: Timestamp) -> Result<u64> {
        let _busy = self.life.enter("store")?;
        self.inner.close_billing(r, end).await
    }
    async fn settle_billing(&self, s: &BillingSettlement) -> Result<()> {
        let _busy = self.life.enter("store")?;
        self.inner.settle_billing(s).await
    }
    async fn billing(&self, r: Option<&LaunchId>) -> Result<Vec<BillingSegment>> {
        let _busy = self.life.enter("store")?;
        self.inner.billing(r).await
    }
    async fn put_idempotency_key(&self, key: &str, value: &str) -> Result<Option<String>> {
        let _busy = self.life.enter("store")?;
        self.inner.put_idempotency_key(key, value).await
    }
    async fn try_lease(&self, name: &str, holder: &str, until: Timestamp, now: Timestamp) -> Result<bool> {
        let _busy = self.life.enter("store")?;
        self.inner.try_lease(name, holder, until, now).await
    }
    async fn release_lease(&self, name: &str, holder: &str) -> Result<()> {
        let _busy = self.life.enter("store")?;
        self.inner.release_lease(name, holder).await
    }
    async fn save_catalog(&self, c: &Catalog) -> Result<()> {
        let _busy = self.life.enter("store")?;
        self.inner.save_catalog(c).await
    }
    async fn load_catalog(&self) -> Result<Option<Catalog>> {
        let _busy = self.life.enter("store")?;
        self.inner.load_catalog().await
    }
}

/// The process's cloud client: the shared cloud, through its life.
#[derive(Debug)]
pub(crate) struct ReplicaCloud {
    pub(crate) inner: Arc<dyn Cloud>,
    pub(crate) life: Arc<Life>,
}

#[async_trait]
impl Cloud for ReplicaCloud {
    async fn create_stack(&self, spec: &StackSpec) -> Result<String> {
        let _busy = self.life.enter("cloud")?;
        self.inner.create_stack(spec).await
    }
    async fn describe_stack(&self, name_or_id: &str) -> Result<Option<StackInfo>> {
        let _busy = self.life.enter("cloud")?;
        self.inner.describe_stack(name_or_id).await
    }
    async fn list_stacks(&self, next: Option<String>) -> Result<Page<StackInfo>> {
        let _busy = self.life.enter("cloud")?;
        self.inner.list_stacks(next).await
    }
    async fn stack_resources(&self, stack_id: &str) -> Result<Vec<StackResource>> {
        let _busy = self.life.enter("cloud")?;
        self.inner.stack_resources(stack_id).await
    }
    async fn stack_events(&self, stack_id: &str) -> Result<Vec<mliy_core::cloud::StackEvent>> {
        let _busy = self.life.enter("cloud")?;
        self.inner.stack_events(stack_id).await
    }
    async fn delete_stack(&self, stack_id: &str) -> Result<()> {
        let _busy = self.life.enter("cloud")?;
        self.inner.delete_stack(stack_id).await
    }
    async fn describe_instances(&self, filter: &InstanceFilter, next: Option<String>) -> Result<Page<InstanceInfo>> {
        let _busy = self.life.enter("cloud")?;
        self.inner.describe_instances(filter, next).await
    }
    async fn start_instances(&self, ids: &[String]) -> Result<()> {
        let _busy = self.life.enter("cloud")?;
        self.inner.start_instances(ids).await
    }
    async fn stop_instances(&self, ids: &[String]) -> Result<()> {
        let _busy = self.life.enter("cloud")?;
        self.inner.stop_instances(ids).await
    }
    async fn reboot_instances(&self, ids: &[String]) -> Result<()> {
        let _busy = self.life.enter("cloud")?;
        self.inner.reboot_instances(ids).await
    }
    async fn terminate_instances(&self, ids: &[String]) -> Result<()> {
        let _busy = self.life.enter("cloud")?;
        self.inner.terminate_instances(ids).await
    }
    async fn run_job_flow(&self, spec: &ClusterSpec) -> Result<String> {
        let _busy = self.life.enter("cloud")?;
        self.inner.run_job_flow(spec).await
    }
    async fn describe_cluster(&self, id: &str) -> Result<Option<ClusterInfo>> {
        let _busy = self.life.enter("cloud")?;
        self.inner.describe_cluster(id).await
    }
    async fn list_clusters(&self, states: &[ClusterState], next: Option<String>) -> Result<Page<ClusterInfo>> {
        let _busy = self.life.enter("cloud")?;
        self.inner.list_clusters(states, next).await
    }
    async fn add_steps(&self, cluster_id: &str, steps: &[Step]) -> Result<Vec<String>> {
        let _busy = self.life.enter("cloud")?;
        self.inner.add_steps(cluster_id, steps).await
    }
    async fn list_steps(&self, cluster_id: &str) -> Result<Vec<StepInfo>> {
        let _busy = self.life.enter("cloud")?;
        self.inner.list_steps(cluster_id).await
    }
    async fn terminate_clusters(&self, ids: &[String]) -> Result<()> {
        let _busy = self.life.enter("cloud")?;
        self.inner.terminate_clusters(ids).await
    }
    async fn set_auto_termination(&self, cluster_id: &str, idle: Duration) -> Result<()> {
        let _busy = self.life.enter("cloud")?;
        self.inner.set_auto_termination(cluster_id, idle).await
    }
    async fn set_termination_protection(&self, cluster_id: &str, protected: bool) -> Result<()> {
        let _busy = self.life.enter("cloud")?;
        self.inner.set_termination_protection(cluster_id, protected).await
    }
    async fn list_instance_groups(&self, cluster_id: &str) -> Result<Vec<mliy_core::cloud::InstanceGroupInfo>> {
        let _busy = self.life.enter("cloud")?;
        self.inner.list_instance_groups(cluster_id).await
    }
    async fn resize_instance_group(&self, cluster_id: &str, group_id: &str, count: u32) -> Result<()> {
        let _busy = self.life.enter("cloud")?;
        self.inner.resize_instance_group(cluster_id, group_id, count).await
    }
    async fn send_command(&self, spec: &CommandSpec) -> Result<String> {
        let _busy = self.life.enter("cloud")?;
        self.inner.send_command(spec).await
    }
    async fn command_invocations(&self, command_id: &str) -> Result<Vec<CommandInvocation>> {
        let _busy = self.life.enter("cloud")?;
        self.inner.command_invocations(command_id).await
    }
    async fn spot_price(&self, instance_type: &str, zone: Option<&str>) -> Result<Option<Decimal>> {
        let _busy = self.life.enter("cloud")?;
        self.inner.spot_price(instance_type, zone).await
    }
}
