//! Persistent state: resources, their events, billing segments, idempotency keys, leases and
//! the catalog. [`MemoryStore`] lives here; SQLite and PostgreSQL stores in `mliy-plugins`.

mod memory;

pub use memory::MemoryStore;

use crate::clock::Timestamp;
use crate::error::Result;
use crate::lifecycle::{LifecycleEvent, Resource, ResourceKind};
use crate::model::{self, Catalog, LaunchId};
use async_trait::async_trait;
use std::fmt::Debug;

/// Which resources to list.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ResourceFilter {
    /// Only this owner's.
    pub owner: Option<String>,
    /// Only those the engine still has work on (not terminal, or cleanup pending).
    pub needs_driving: bool,
    /// Include archived ones.
    pub include_archived: bool,
}

impl ResourceFilter {
    /// Whether `r` passes.
    pub fn matches(&self, r: &Resource) -> bool {
        self.owner.as_ref().is_none_or(|o| *o == r.owner)
            && (!self.needs_driving || r.needs_driving())
            && (self.include_archived || !r.archived)
    }
}

/// One page of one kind's resources in one phase (see [`StateStore::list_page`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageQuery {
    /// Instances or clusters.
    pub kind: ResourceKind,
    /// The phase, by [`Phase::name`](crate::lifecycle::Phase::name).
    pub phase: &'static str,
    /// Only this owner's.
    pub owner: Option<String>,
    /// Only those holding a DNS name.
    pub dns_named: bool,
    /// Only those after this one in the store's order (the last of the page before).
    pub after: Option<LaunchId>,
    /// At most this many (at least 1).
    pub limit: usize,
}

impl PageQuery {
    /// The first page of `limit` of `kind` in `phase`.
    pub fn new(kind: ResourceKind, phase: &'static str, limit: usize) -> PageQuery {
        PageQuery { kind, phase, owner: None, dns_named: false, after: None, limit }
    }

    /// Whether `r` is in the page's listing (ignoring `after` and `limit`).
    pub fn matches(&self, r: &Resource) -> bool {
        r.kind == self.kind
            && r.phase.name() == self.phase
            && self.owner.as_ref().is_none_or(|o| *o == r.owner)
            && (!self.dns_named || r.dns_name.is_some())
    }
}

/// One compare-and-set update of a batch (see [`StateStore::update_resources`]).
#[derive(Debug, Clone, PartialEq)]
pub struct ResourceChange {
    /// The new record (its version is `expected_version + 1`).
    pub resource: Resource,
    /// The version the stored record must have.
    pub expected_version: u64,
    /// The event to append with it.
    pub event: Option<LifecycleEvent>,
}

/// A change of one resource's bill, decided on its record at `version` with the open
/// segment in state `expect_open` (see [`StateStore::settle_billing`]).
#[derive(Debug, Clone, PartialEq)]
pub struct BillingSettlement {
    /// The resource.
    pub resource: LaunchId,
    /// The record's version the change was decided on.
    pub version: u64,
    /// The state of the open segment the change was decided on (`None`: none was open).
    pub expect_open: Option<model::BillState>,
    /// When the open segment closes.
    pub close_at: Timestamp,
    /// The segment to open, if any.
    pub open: Option<model::BillingSegment>,
}

/// Where the engine keeps its state.
///
/// # Contract
/// - `insert_resource` fails with [`Error::AlreadyExists`](crate::Error::AlreadyExists) when the id
///   exists, and stores the resource and (when given) its first event together.
/// - `update_resource` is a compare-and-set: it succeeds only when the stored version equals
///   `expected_version`, stores the resource (whose `version` the caller has set to
///   `expected_version + 1`) and appends the event in the same step; otherwise
///   [`Error::Stale`](crate::Error::Stale) and nothing changes. Of several concurrent
///   updates from the same version exactly one wins.
/// - Events are append-only and listed in `seq` order. Nothing here deletes a resource, an
///   event or a billing segment.
/// - `put_idempotency_key` keeps the first value: it returns `None` when it stored `value`,
///   or the value stored before.
/// - A lease is held by one holder until it expires or is released.
///
/// # Errors
/// [`Error::NotFound`](crate::Error::NotFound) for an update of an unknown resource;
/// retryable errors ([`Error::Unavailable`](crate::Error::Unavailable)) when the backend is
/// busy.
#[async_trait]
pub trait StateStore: Debug + Send + Sync + 'static {
    /// Stores a new resource (and its first event).
    async fn insert_resource(&self, resource: &Resource, event: Option<&LifecycleEvent>) -> Result<()>;
    /// Stores new resources without events: a standing fleet, an import. By default one
    /// [`insert_resource`](StateStore::insert_resource) each; the SQL stores write batches of
    /// 1,000 in one transaction each.
    ///
    /// # Errors
    /// [`Error::AlreadyExists`](crate::Error::AlreadyExists) for the first id stored already;
    /// the batches before it stay stored.
    async fn insert_resources(&self, resources: &[Resource]) -> Result<()> {
        for r in resources {
            self.insert_resource(r, None).await?;
        }
        Ok(())
    }
    /// Compare-and-set update (and event).
    async fn update_resource(
        &self,
        resource: &Resource,
        expected_version: u64,
        event: Option<&LifecycleEvent>,
    ) -> Result<()>;
    /// Stores several changes in one transaction, all or none (a refresh pass writes back
    /// what changed this way).
    ///
    /// # Errors
    /// [`Error::Stale`](crate::Error::Stale) or [`Error::NotFound`](crate::Error::NotFound)
    /// for the first change whose record is not at its expected version; nothing is stored then.
    async fn update_resources(&self, changes: &[ResourceChange]) -> Result<()>;
    /// One resource.
    async fn get_resource(&self, id: &LaunchId) -> Result<Option<Resource>>;
    /// Resources passing the filter, oldest first.
    async fn list_resources(&self, filter: &ResourceFilter) -> Result<Vec<Resource>>;
    /// One page of `q`'s resources, in a stable order of the store's (insertion order in
    /// [`MemoryStore`], id order in the SQL stores, through their `(phase, kind, id)` index):
    /// a listing that holds one page at a time, however large the fleet. A record that
    /// changes phase between two pages may be listed in both phases or in neither.
    ///
    /// By default it filters [`list_resources`](StateStore::list_resources) (every call
    /// reads all records: a store that can should override it).
    ///
    /// # Errors
    /// [`Error::Validation`](crate::Error::Validation) for a limit of 0 or an unknown phase;
    /// the store's.
    async fn list_page(&self, q: &PageQuery) -> Result<Vec<Resource>> {
        check_page(q)?;
        let all = self.list_resources(&ResourceFilter { include_archived: true, ..Default::default() }).await?;
        let mut found: Vec<Resource> = all.into_iter().filter(|r| q.matches(r)).collect();
        found.sort_by(|a, b| a.id.cmp(&b.id));
        let start = q.after.as_ref().map_or(0, |after| found.partition_point(|r| r.id <= *after));
        Ok(found.into_iter().skip(start).take(q.limit).collect())
    }
    /// A resource's events, in order.
    async fn events(&self, id: &LaunchId) -> Result<Vec<LifecycleEvent>>;
    /// Opens a billing segment, unless the resource has an open one already (then nothing
    /// changes: the driver and refresh may both see the same change).
    async fn open_billing(&self, segment: &model::BillingSegment) -> Result<()>;
    /// Closes the resource's open segments at `end`; returns how many were closed.
    async fn close_billing(&self, resource: &LaunchId, end: Timestamp) -> Result<u64>;
    /// Closes the resource's open segment at `close_at` and opens `s.open`, in one step and
    /// only while the stored record is at `s.version` and its open segment in `s.expect_open`:
    /// a bill changes only as the record it was decided on says, without a lease. The SQL
    /// stores and [`MemoryStore`] do it in one transaction; by default it checks, then closes
    /// and opens (not atomically: a store that can should override it).
    ///
    /// # Errors
    /// [`Error::Stale`](crate::Error::Stale) when the record or its bill moved on (nothing
    /// changes then); [`Error::NotFound`](crate::Error::NotFound) for an unknown resource.
    async fn settle_billing(&self, s: &BillingSettlement) -> Result<()> {
        let stored = self.get_resource(&s.resource).await?;
        let stored = stored.ok_or_else(|| crate::Error::NotFound { kind: "resource", name: s.resource.to_string() })?;
        let open = self.billing(Some(&s.resource)).await?.into_iter().find(|b| b.end.is_none());
        if stored.version != s.version || open.map(|b| b.state) != s.expect_open {
            return Err(crate::Error::Stale(format!("the bill of {} moved on", s.resource)));
        }
        if s.expect_open.is_some() {
            self.close_billing(&s.resource, s.close_at).await?;
        }
        match &s.open {
            Some(segment) => self.open_billing(segment).await,
            None => Ok(()),
        }
    }
    /// Billing segments, of one resource or all.
    async fn billing(&self, resource: Option<&LaunchId>) -> Result<Vec<model::BillingSegment>>;
    /// Stores `key → value` unless the key exists; returns the earlier value if it does.
    async fn put_idempotency_key(&self, key: &str, value: &str) -> Result<Option<String>>;
    /// Takes or renews the lease `name` for `holder` until `until`; false when another holder
    /// has it and it has not expired at `now`.
    async fn try_lease(&self, name: &str, holder: &str, until: Timestamp, now: Timestamp) -> Result<bool>;
    /// Gives the lease up (only its holder can).
    async fn release_lease(&self, name: &str, holder: &str) -> Result<()>;
    /// Stores the catalog.
    async fn save_catalog(&self, catalog: &Catalog) -> Result<()>;
    /// The stored catalog, if any.
    async fn load_catalog(&self) -> Result<Option<Catalog>>;
}

/// Moved to [`crate::model::BillingSegment`] (the old path, for one release).
#[deprecated(since = "0.2.0", note = "moved to mliy_core::model::BillingSegment")]
pub type BillingSegment = crate::model::BillingSegment;

/// Refuses a page of nothing, and a phase no resource can be in.
///
/// # Errors
/// [`Error::Validation`](crate::Error::Validation) for a limit of 0 or an unknown phase name.
pub fn check_page(q: &PageQuery) -> Result<()> {
    if q.limit == 0 {
        return Err(crate::Error::validation("limit", "0", "a page holds at least one resource"));
    }
    if !crate::lifecycle::Phase::NAMES.contains(&q.phase) {
        return Err(crate::Error::validation("phase", q.phase, "must be one of Phase::NAMES"));
    }
    Ok(())
}
