//! The engine: launches, actions, bootstrap progress and crash-safe resumption.
//!
//! Every transition is persisted (version-checked, with its event) before the cloud call it
//! leads to. The launch id is CloudFormation's ClientRequestToken and part of the stack name,
//! so a retried or resumed launch never creates a second stack. Waits go through the
//! [`Clock`] and have deadlines. After a restart, [`Engine::resume`] continues every
//! resource that is not finished.
//!
//! ```
//! use mliy_core::clock::{Timestamp, VirtualClock};
//! use mliy_core::engine::{Action, Engine};
//! use mliy_core::lifecycle::Phase;
//! use mliy_core::model::{Catalog, Principal};
//! use mliy_core::plan::LaunchRequest;
//! use mliy_core::sim::{SimCloud, SimConfig};
//! use mliy_core::store::MemoryStore;
//! use std::sync::Arc;
//!
//! # #[tokio::main(flavor = "current_thread", start_paused = true)]
//! # async fn main() -> mliy_core::Result<()> {
//! let catalog = Catalog::from_yaml_str(r#"
//! instance_types: [{name: t3.large}]
//! software_configs:
//!   - name: box
//!     ami_id: ami-0123abcd
//!     compatible_instance_types: [t3.large]
//!     permitted_group_configs: [ds]
//!     template: {inline: "Parameters: {InstanceType: {Type: String}}\nResources: {I: {Type: 'AWS::EC2::Instance'}}\n"}
//! group_configs: [{name: ds, group: data-science}]
//! "#)?;
//! let clock = Arc::new(VirtualClock::starting_at(Timestamp(0)));
//! let engine = Engine::builder()
//!     .catalog(catalog)
//!     .cloud(Arc::new(SimCloud::new(clock.clone(), SimConfig::default())))
//!     .store(Arc::new(MemoryStore::new()))
//!     .clock(clock)
//!     .build()?;
//! let alice = Principal::new("alice", ["data-science"]);
//! let launched = engine.launch_instance(&alice, LaunchRequest::instance("ds", "box", "t3.large")).await?;
//! let ready = engine.wait_until(&alice, &launched.resource.id, |p| p.is_usable() || p.is_terminal()).await?;
//! assert_eq!(ready.phase, Phase::Ready);
//! engine.act(&alice, &ready.id, Action::Terminate).await?;
//! let gone = engine.wait_until(&alice, &ready.id, Phase::is_terminal).await?;
//! assert_eq!(gone.phase, Phase::Terminated);
//! # Ok(()) }
//! ```

mod access;
mod actions;
mod adoption;
mod billing;
mod budget;
mod clusters;
mod config;
mod connection;
mod cost;
mod dns;
mod driver;
mod jupyter;
mod launch;
mod limits;
mod listing;
mod mliy_fleet;
mod nodes;
mod offerings;
mod outgoing;
mod progress;
mod quota;
mod records;
mod refresh;
mod resize;
#[cfg(test)]
mod tests;
mod workflow;
mod workflow_task;

pub use actions::Action;
pub use adoption::Adoption;
pub use budget::{BUDGET_WARNINGS, BudgetStatus};
pub use config::EngineConfig;
pub use connection::{Connection, JUPYTERHUB_PORT, TUNNEL_PORT, custom_url};
pub use cost::{CostBy, CostReport, CostRow, ResourceCost, SegmentCost, report as cost_report};
pub use launch::Launched;
pub use offerings::{PricedOffering, TypePrice};
pub use refresh::{RefreshConfig, RefreshReport, Unmanaged};
pub use workflow::{WorkflowOptions, WorkflowReport};

use crate::clock::{Clock, SystemClock};
use crate::cloud::Cloud;
use crate::dns::{DnsProvider, NoDns};
use crate::error::{Error, Result};
use crate::lifecycle::{LifecycleEvent, Phase, Resource};
use crate::model::{Catalog, LaunchId, Principal};
use crate::plan::Planner;
use crate::secret::Secret;
use crate::store::{ResourceFilter, StateStore};
use std::collections::HashMap;
use std::pin::Pin;
use std::sync::{Arc, Mutex, Weak};
use tokio::sync::{Notify, broadcast};
use tokio_stream::{Stream, StreamExt, wrappers::BroadcastStream};

/// A stream of lifecycle events.
pub type EventStream = Pin<Box<dyn Stream<Item = LifecycleEvent> + Send>>;

/// An event as broadcast inside the engine, with who may see it.
#[derive(Debug, Clone)]
pub(crate) struct Published {
    event: LifecycleEvent,
    owner: Arc<str>,
    owner_groups: Arc<[String]>,
}

/// What every [`Engine`] handle and every driver task share: the plugins, the planner, the
/// configuration, the running drivers, the event channel and refresh's memory. The engine's
/// rooms (`launch`, `actions`, `progress`, `driver`, `refresh`, `adoption`, `billing`, `dns`,
/// `records`) each add the methods of their concern to it.
pub(crate) struct Shared {
    pub(crate) cloud: Arc<dyn Cloud>,
    pub(crate) store: Arc<dyn StateStore>,
    pub(crate) dns: Arc<dyn DnsProvider>,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) planner: Planner,
    pub(crate) config: EngineConfig,
    /// What bills are priced with (none: segments without a price).
    pub(crate) pricing: Option<crate::pricing::Pricing>,
    /// What progress secrets are derived from.
    pub(crate) progress_key: Secret,
    pub(crate) events: broadcast::Sender<Published>,
    /// Running drivers: one per resource, with its wake-up and abort handles.
    pub(crate) drivers: Mutex<HashMap<LaunchId, (Arc<Notify>, tokio::task::AbortHandle)>>,
    /// Set by [`Engine::shutdown`]: the engine takes no more work.
    pub(crate) stopped: std::sync::atomic::AtomicBool,
    /// Refresh's memory between passes; held during a pass (single flight).
    pub(crate) refresh: tokio::sync::Mutex<refresh::RefreshState>,
}

impl std::fmt::Debug for Shared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine").field("cloud", &self.cloud).field("store", &self.store).finish_non_exhaustive()
    }
}

/// Aborts the drivers when the last [`Engine`] handle goes.
struct Guard(Weak<Shared>);

impl Drop for Guard {
    fn drop(&mut self) {
        if let Some(inner) = self.0.upgrade() {
            inner.abort_all();
        }
    }
}

/// The library's main handle. Clones share one engine; dropping the last one stops its
/// background work (what is stored stays, and [`Engine::resume`] picks it up).
#[derive(Clone)]
pub struct Engine {
    inner: Arc<Shared>,
    _guard: Arc<Guard>,
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.inner.fmt(f)
    }
}

/// Builds an [`Engine`] from its plugins.
#[derive(Default)]
pub struct EngineBuilder {
    catalog: Option<Catalog>,
    cloud: Option<Arc<dyn Cloud>>,
    store: Option<Arc<dyn StateStore>>,
    dns: Option<Arc<dyn DnsProvider>>,
    clock: Option<Arc<dyn Clock>>,
    config: EngineConfig,
    pricing: Option<crate::pricing::Pricing>,
}

impl EngineBuilder {
    /// The catalog (templates and scripts already read).
    pub fn catalog(mut self, catalog: Catalog) -> Self {
        self.catalog = Some(catalog);
        self
    }

    /// The cloud.
    pub fn cloud(mut self, cloud: Arc<dyn Cloud>) -> Self {
        self.cloud = Some(cloud);
        self
    }

    /// The state store.
    pub fn store(mut self, store: Arc<dyn StateStore>) -> Self {
        self.store = Some(store);
        self
    }

    /// The DNS provider ([`NoDns`] by default).
    pub fn dns(mut self, dns: Arc<dyn DnsProvider>) -> Self {
        self.dns = Some(dns);
        self
    }

    /// What billing segments are priced with (unpriced without it).
    pub fn pricing(mut self, pricing: crate::pricing::Pricing) -> Self {
        self.pricing = Some(pricing);
        self
    }

    /// The clock ([`SystemClock`] by default).
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = Some(clock);
        self
    }

    /// Waits and settings.
    pub fn config(mut self, config: EngineConfig) -> Self {
        self.config = config;
        self
    }

    /// Builds the engine; nothing runs until a launch or [`Engine::resume`].
    ///
    /// # Errors
    /// [`Error::Validation`] when the catalog, cloud or store is missing, and the catalog's
    /// own errors (see [`Planner::new`]).
    pub fn build(self) -> Result<Engine> {
        let missing = |what: &str| Error::validation("engine", what, "the builder needs it");
        let planner = Planner::new(self.catalog.ok_or_else(|| missing("catalog"))?)?;
        let priced = planner
            .catalog()
            .group_configs
            .iter()
            .find_map(|g| g.settings.money().into_iter().find_map(|(name, v)| Some((g, name, v?))));
        if let (None, Some((g, name, value))) = (&self.pricing, priced) {
            return Err(Error::validation(
                format!("group_configs.{}.settings.{name}", g.name),
                value.to_string(),
                "needs the engine's pricing (EngineBuilder::pricing, or the deployment config's pricing: section)",
            ));
        }
        let (events, _) = broadcast::channel(4096);
        let progress_key = self.config.progress_key.clone().unwrap_or_else(progress::new_key);
        let inner = Arc::new(Shared {
            progress_key,
            cloud: self.cloud.ok_or_else(|| missing("cloud"))?,
            store: self.store.ok_or_else(|| missing("store"))?,
            dns: self.dns.unwrap_or_else(|| Arc::new(NoDns)),
            clock: self.clock.unwrap_or_else(|| Arc::new(SystemClock)),
            planner,
            config: self.config,
            pricing: self.pricing,
            events,
            drivers: Mutex::new(HashMap::new()),
            stopped: std::sync::atomic::AtomicBool::new(false),
            refresh: tokio::sync::Mutex::new(refresh::RefreshState::default()),
        });
        Ok(Engine { _guard: Arc::new(Guard(Arc::downgrade(&inner))), inner })
    }
}

impl Engine {
    /// A builder.
    pub fn builder() -> EngineBuilder {
        EngineBuilder::default()
    }

    /// The catalog the engine plans with.
    pub fn catalog(&self) -> &Catalog {
        self.inner.planner.catalog()
    }

    /// Records bootstrap progress reported with the launch's secret; 100 means ready.
    ///
    /// # Errors
    /// [`Error::Forbidden`] for a wrong token (or one used after the bootstrap finished),
    /// [`Error::Validation`] for a percentage over 100, [`Error::InvalidTransition`] when the
    /// resource is not bootstrapping.
    pub async fn report_progress(&self, id: &LaunchId, token: &str, percent: u8, message: &str) -> Result<Resource> {
        self.inner.alive()?;
        Ok(progress::report(&self.inner, id, token, percent, message).await?.redacted())
    }

    /// Records that a running machine is in use, reported with the launch's secret (the
    /// example user data does so while a Jupyter kernel is busy or an SSH session is open):
    /// its idle time (`idle_stop_minutes`) starts again. Reports within a minute of the last
    /// are accepted without a store write.
    ///
    /// # Errors
    /// [`Error::Forbidden`] for a wrong token, [`Error::InvalidTransition`] when the
    /// resource is not running.
    pub async fn report_activity(&self, id: &LaunchId, token: &str, detail: &str) -> Result<Resource> {
        self.inner.alive()?;
        Ok(progress::activity(&self.inner, id, token, detail).await?.redacted())
    }

    /// Records progress an MLiy image reported for its EC2 instance (MLiy's
    /// `…/ajax/progress/<instance id>/<message>(<n>)`, the launch's secret in the path
    /// that `{{{MANAGER_HOSTNAME}}}` rendered). Accepted while the stack is still creating.
    ///
    /// # Errors
    /// [`Error::Forbidden`] when the secret matches no launch taking reports, or the instance
    /// is not that launch's; otherwise as [`Engine::report_progress`].
    pub async fn report_progress_by_instance(
        &self,
        instance_id: &str,
        secret: &str,
        percent: u8,
        message: &str,
    ) -> Result<Resource> {
        self.inner.alive()?;
        Ok(progress::report_by_instance(&self.inner, instance_id, secret, percent, message).await?.redacted())
    }

    /// Records a report from MLiy's URL path, `/ajax/s/<secret>/ajax/progress/<instance
    /// id>/<message>(<n>)` (what a portal's route hands over; see
    /// [`MliyProgressPath`](crate::model::MliyProgressPath)).
    ///
    /// # Errors
    /// [`Error::Validation`] for a malformed path; otherwise as
    /// [`Engine::report_progress_by_instance`].
    pub async fn report_mliy_path(&self, path: &str) -> Result<Resource> {
        let p = crate::model::MliyProgressPath::parse(path)?;
        self.report_progress_by_instance(&p.instance_id, p.secret.expose(), p.percent, &p.message).await
    }

    /// Continues every resource the store says is unfinished; returns how many.
    ///
    /// # Errors
    /// The store's.
    pub async fn resume(&self) -> Result<usize> {
        self.inner.alive()?;
        let todo = self
            .inner
            .store
            .list_resources(&ResourceFilter {
                needs_driving: true,
                include_archived: true,
                ..ResourceFilter::default()
            })
            .await?;
        for r in &todo {
            Shared::ensure_driver(&self.inner, &r.id);
        }
        Ok(todo.len())
    }

    /// One resource, if `principal` may see it (without user data or NoEcho values).
    ///
    /// # Errors
    /// [`Error::NotFound`], [`Error::Forbidden`].
    pub async fn get(&self, principal: &Principal, id: &LaunchId) -> Result<Resource> {
        Ok(self.get_stored(principal, id).await?.redacted())
    }

    async fn get_stored(&self, principal: &Principal, id: &LaunchId) -> Result<Resource> {
        self.inner.stored_for(principal, id).await
    }

    /// The resources `principal` may see (archived ones too when asked), without user data
    /// or NoEcho values.
    ///
    /// # Errors
    /// The store's.
    pub async fn list(&self, principal: &Principal, include_archived: bool) -> Result<Vec<Resource>> {
        access::authenticated(principal)?;
        let manager = self.inner.config.manager_group.as_deref();
        let owner = access::sees_only_own(principal, manager).then(|| principal.username.clone());
        let filter = ResourceFilter { include_archived, owner, ..ResourceFilter::default() };
        Ok(self
            .inner
            .store
            .list_resources(&filter)
            .await?
            .into_iter()
            .filter(|r| access::may_access(principal, r, manager))
            .map(Resource::redacted)
            .collect())
    }

    /// A resource's event history, if `principal` may see it.
    ///
    /// # Errors
    /// As [`Engine::get`].
    pub async fn events(&self, principal: &Principal, id: &LaunchId) -> Result<Vec<LifecycleEvent>> {
        self.get_stored(principal, id).await?;
        self.inner.store.events(id).await
    }

    /// The events from now on of every resource `principal` may see, as they are stored
    /// (for progress bars and server-sent events). A slow reader skips what it missed.
    ///
    /// # Errors
    /// [`Error::Unauthenticated`] without a principal.
    pub fn subscribe(&self, principal: &Principal) -> Result<EventStream> {
        access::authenticated(principal)?;
        let (principal, manager) = (principal.clone(), self.inner.config.manager_group.clone());
        let stream = BroadcastStream::new(self.inner.events.subscribe()).filter_map(move |p| {
            let p = p.ok()?;
            access::may_see(&principal, &p.owner, &p.owner_groups, manager.as_deref()).then_some(p.event)
        });
        Ok(Box::pin(stream))
    }

    /// One resource's events from now on, if `principal` may see it.
    ///
    /// # Errors
    /// As [`Engine::get`].
    pub async fn watch(&self, principal: &Principal, id: &LaunchId) -> Result<EventStream> {
        self.get_stored(principal, id).await?;
        let id = id.clone();
        Ok(Box::pin(self.subscribe(principal)?.filter(move |e| e.resource == id)))
    }

    /// Waits (on the engine's clock) until the resource's phase satisfies `done`, if
    /// `principal` may see it.
    ///
    /// # Errors
    /// As [`Engine::get`]; the store's errors.
    pub async fn wait_until(
        &self,
        principal: &Principal,
        id: &LaunchId,
        done: impl Fn(&Phase) -> bool,
    ) -> Result<Resource> {
        loop {
            let r = self.get_stored(principal, id).await?;
            if done(&r.phase) && !(r.phase.is_terminal() && r.cleanup_pending) {
                return Ok(r.redacted());
            }
            self.inner.clock.sleep(std::time::Duration::from_secs(1)).await;
        }
    }

    /// How many resources have a driver running in this engine.
    pub fn busy(&self) -> usize {
        self.inner.drivers.lock().map(|d| d.len()).unwrap_or(0)
    }

    /// Whether [`Engine::shutdown`] was called.
    pub fn is_shut_down(&self) -> bool {
        self.inner.alive().is_err()
    }

    /// Stops all background work now, as a crash would (what is stored stays). The engine
    /// takes no more work: launches and actions answer [`Error::Unavailable`].
    pub fn shutdown(&self) {
        self.inner.stopped.store(true, std::sync::atomic::Ordering::SeqCst);
        self.inner.abort_all();
    }
}

impl Engine {
    /// Stops as [`Engine::shutdown`] does, then gives up the leases of the resources this
    /// engine was driving, so that another process (or this one restarted under another
    /// replica id) takes them over at once instead of after `lease_ttl`. For a clean exit,
    /// on SIGTERM say.
    pub async fn stop(&self) {
        let driven: Vec<LaunchId> = self.inner.drivers.lock().map(|d| d.keys().cloned().collect()).unwrap_or_default();
        self.shutdown();
        for id in driven {
            let _ = self.inner.store.release_lease(&format!("resource:{id}"), &self.inner.config.replica_id).await;
        }
        let _ = self.inner.store.release_lease("refresh", &self.inner.config.replica_id).await;
    }
}

impl Shared {
    fn alive(&self) -> Result<()> {
        if self.stopped.load(std::sync::atomic::Ordering::SeqCst) {
            return Err(Error::Unavailable("the engine is shut down".into()));
        }
        Ok(())
    }

    /// The stored record (not the redacted view), if `principal` may see it.
    pub(crate) async fn stored_for(&self, principal: &Principal, id: &LaunchId) -> Result<Resource> {
        access::authenticated(principal)?;
        let r = self
            .store
            .get_resource(id)
            .await?
            .ok_or_else(|| Error::NotFound { kind: "resource", name: id.to_string() })?;
        access::check(principal, &r, self.config.manager_group.as_deref())?;
        Ok(r)
    }

    /// Tells subscribers about a stored event of `r`.
    pub(crate) fn publish(&self, r: &Resource, event: LifecycleEvent) {
        let published =
            Published { event, owner: Arc::from(r.owner.as_str()), owner_groups: Arc::from(r.owner_groups.clone()) };
        let _ = self.events.send(published);
    }

    fn abort_all(&self) {
        if let Ok(mut drivers) = self.drivers.lock() {
            for (_, (_, abort)) in drivers.drain() {
                abort.abort();
            }
        }
    }

    /// Starts the resource's driver unless one runs; wakes it if it does.
    pub(crate) fn ensure_driver(this: &Arc<Shared>, id: &LaunchId) {
        if this.alive().is_err() {
            return;
        }
        let Ok(mut drivers) = this.drivers.lock() else { return };
        if let Some((notify, _)) = drivers.get(id) {
            notify.notify_one();
            return;
        }
        let notify = Arc::new(Notify::new());
        let task = tokio::spawn(driver::drive(Arc::clone(this), id.clone(), Arc::clone(&notify)));
        drivers.insert(id.clone(), (notify, task.abort_handle()));
    }

    /// Removes the resource's driver entry (called by the driver itself on exit).
    pub(crate) fn unregister(&self, id: &LaunchId) {
        if let Ok(mut drivers) = self.drivers.lock() {
            drivers.remove(id);
        }
    }
}
