//! An in-memory [`StateStore`]: for tests, the simulator and a single process that needs no
//! persistence.

use super::{BillingSettlement, PageQuery, ResourceChange, ResourceFilter, StateStore};
use crate::clock::Timestamp;
use crate::error::{Error, Result};
use crate::lifecycle::{LifecycleEvent, Resource, ResourceKind};
use crate::model::{BillingSegment, Catalog, LaunchId};
use async_trait::async_trait;
use std::collections::{BTreeSet, HashMap};
use std::sync::{Mutex, MutexGuard};

#[derive(Debug, Default)]
struct Inner {
    /// Every record, in insertion order: a listing reads them in place.
    records: Vec<Resource>,
    /// Each resource's place in `records`.
    position: HashMap<LaunchId, usize>,
    /// Places in `records` by owner, and of those the engine still drives: a listing by owner
    /// or for the driver reads only its own.
    by_owner: HashMap<String, BTreeSet<usize>>,
    driving: BTreeSet<usize>,
    /// Places by kind and phase name: a page of one phase reads only its own.
    by_phase: BTreeSet<(ResourceKind, &'static str, usize)>,
    events: HashMap<LaunchId, Vec<LifecycleEvent>>,
    billing: Vec<BillingSegment>,
    /// Where each resource's segments are in `billing`.
    billing_of: HashMap<LaunchId, Vec<usize>>,
    keys: HashMap<String, String>,
    leases: HashMap<String, (String, Timestamp)>,
    catalog: Option<Catalog>,
    writes: u64,
    /// Resource writes left before the store freezes (a simulated crash).
    freeze_after: Option<u64>,
    frozen: bool,
}

/// Everything in a mutex; each call is atomic.
///
/// For crash simulations it can *freeze* after a number of resource writes: from then on
/// every call fails with [`Error::Unavailable`], as if the process had died right after
/// that write, until [`MemoryStore::thaw`].
#[derive(Debug, Default)]
pub struct MemoryStore {
    inner: Mutex<Inner>,
    frozen: tokio::sync::Notify,
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// How many writes (inserts, updates, appends) it has taken.
    pub fn writes(&self) -> u64 {
        self.lock().writes
    }

    /// Freezes the store after `writes` more resource inserts or updates.
    pub fn freeze_after(&self, writes: u64) {
        self.lock().freeze_after = Some(writes.max(1));
    }

    /// Ends a freeze.
    pub fn thaw(&self) {
        let mut inner = self.lock();
        inner.frozen = false;
        inner.freeze_after = None;
    }

    /// Waits until the store freezes.
    pub async fn frozen(&self) {
        loop {
            let notified = self.frozen.notified();
            if self.lock().frozen {
                return;
            }
            notified.await;
        }
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A panic while holding the lock cannot leave a half-applied write: every write below
        // checks first and mutates after.
        self.inner.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The store, unless it is frozen.
    fn open(&self) -> Result<MutexGuard<'_, Inner>> {
        let inner = self.lock();
        if inner.frozen {
            return Err(Error::Unavailable("the store is frozen (simulated crash)".into()));
        }
        Ok(inner)
    }

    /// Counts a resource write; freezes the store when the countdown ends.
    fn wrote_resource(&self, inner: &mut Inner) {
        inner.writes += 1;
        if let Some(left) = inner.freeze_after.as_mut() {
            *left -= 1;
            if *left == 0 {
                inner.freeze_after = None;
                inner.frozen = true;
                self.frozen.notify_waiters();
            }
        }
    }
}

impl Inner {
    /// Files the resource at place `at` under its owner and, if driven, as driven
    /// (taking `old`, its previous record, out first).
    fn index(&mut self, at: usize, old: Option<&Resource>, new: &Resource) {
        if let Some(old) = old.filter(|o| o.owner != new.owner) {
            self.by_owner.entry(old.owner.clone()).or_default().remove(&at);
        }
        if let Some(old) = old {
            self.by_phase.remove(&(old.kind, old.phase.name(), at));
        }
        self.by_phase.insert((new.kind, new.phase.name(), at));
        self.by_owner.entry(new.owner.clone()).or_default().insert(at);
        if new.needs_driving() {
            self.driving.insert(at)
        } else {
            self.driving.remove(&at)
        };
    }

    /// Stores a new version of a known resource.
    fn replace(&mut self, resource: &Resource) {
        let Some(&at) = self.position.get(&resource.id) else { return };
        let old = std::mem::replace(&mut self.records[at], resource.clone());
        self.index(at, Some(&old), resource);
    }

    /// The stored record of `id`.
    fn get(&self, id: &LaunchId) -> Option<&Resource> {
        self.position.get(id).map(|&at| &self.records[at])
    }
}

fn check_event(resource: &Resource, event: Option<&LifecycleEvent>) -> Result<()> {
    match event {
        Some(e) if e.resource != resource.id => {
            Err(Error::validation("event.resource", e.resource.as_str(), "must be the resource being written"))
        }
        _ => Ok(()),
    }
}

#[async_trait]
impl StateStore for MemoryStore {
    async fn insert_resource(&self, resource: &Resource, event: Option<&LifecycleEvent>) -> Result<()> {
        check_event(resource, event)?;
        let mut inner = self.open()?;
        if inner.position.contains_key(&resource.id) {
            return Err(Error::AlreadyExists(format!("resource {}", resource.id)));
        }
        let at = inner.records.len();
        inner.position.insert(resource.id.clone(), at);
        inner.index(at, None, resource);
        inner.records.push(resource.clone());
        inner.events.insert(resource.id.clone(), event.into_iter().cloned().collect());
        self.wrote_resource(&mut inner);
        Ok(())
    }

    async fn update_resource(&self, resource: &Resource, expected: u64, event: Option<&LifecycleEvent>) -> Result<()> {
        check_event(resource, event)?;
        let mut inner = self.open()?;
        let stored = inner
            .get(&resource.id)
            .ok_or_else(|| Error::NotFound { kind: "resource", name: resource.id.to_string() })?;
        if stored.version != expected {
            return Err(Error::Stale(format!(
                "resource {} is at version {}, not {expected}",
                resource.id, stored.version
            )));
        }
        if resource.version != expected + 1 {
            return Err(Error::validation("version", resource.version.to_string(), "must be the expected version + 1"));
        }
        inner.replace(resource);
        if let Some(e) = event {
            inner.events.entry(resource.id.clone()).or_default().push(e.clone());
        }
        self.wrote_resource(&mut inner);
        Ok(())
    }

    async fn update_resources(&self, changes: &[ResourceChange]) -> Result<()> {
        let mut inner = self.open()?;
        for c in changes {
            check_event(&c.resource, c.event.as_ref())?;
            let stored = inner
                .get(&c.resource.id)
                .ok_or_else(|| Error::NotFound { kind: "resource", name: c.resource.id.to_string() })?;
            if stored.version != c.expected_version || c.resource.version != c.expected_version + 1 {
                return Err(Error::Stale(format!(
                    "resource {} is at version {}, not {}",
                    c.resource.id, stored.version, c.expected_version
                )));
            }
        }
        for c in changes {
            inner.replace(&c.resource);
            if let Some(e) = &c.event {
                inner.events.entry(c.resource.id.clone()).or_default().push(e.clone());
            }
            self.wrote_resource(&mut inner);
        }
        Ok(())
    }

    async fn get_resource(&self, id: &LaunchId) -> Result<Option<Resource>> {
        Ok(self.open()?.get(id).cloned())
    }

    async fn list_resources(&self, filter: &ResourceFilter) -> Result<Vec<Resource>> {
        let inner = self.open()?;
        let places: Box<dyn Iterator<Item = usize>> = match (&filter.owner, filter.needs_driving) {
            (Some(owner), _) => Box::new(inner.by_owner.get(owner).into_iter().flatten().copied()),
            (None, true) => Box::new(inner.driving.iter().copied()),
            (None, false) => Box::new(0..inner.records.len()),
        };
        let found = places.map(|i| &inner.records[i]);
        Ok(found.filter(|r| filter.matches(r)).cloned().collect())
    }

    async fn list_page(&self, q: &PageQuery) -> Result<Vec<Resource>> {
        super::check_page(q)?;
        let inner = self.open()?;
        let from = match &q.after {
            Some(after) => inner.position.get(after).map_or(0, |at| at + 1),
            None => 0,
        };
        let places = inner.by_phase.range((q.kind, q.phase, from)..=(q.kind, q.phase, usize::MAX));
        let found = places.map(|&(_, _, at)| &inner.records[at]);
        Ok(found.filter(|r| q.matches(r)).take(q.limit).cloned().collect())
    }

    async fn events(&self, id: &LaunchId) -> Result<Vec<LifecycleEvent>> {
        Ok(self.open()?.events.get(id).cloned().unwrap_or_default())
    }

    async fn open_billing(&self, segment: &BillingSegment) -> Result<()> {
        let mut inner = self.open()?;
        let inner = &mut *inner;
        let mine = inner.billing_of.entry(segment.resource.clone()).or_default();
        if !mine.iter().any(|&i| inner.billing[i].end.is_none()) {
            mine.push(inner.billing.len());
            inner.billing.push(segment.clone());
            inner.writes += 1;
        }
        Ok(())
    }

    async fn close_billing(&self, resource: &LaunchId, end: Timestamp) -> Result<u64> {
        let mut inner = self.open()?;
        let inner = &mut *inner;
        let mut closed = 0;
        for &i in inner.billing_of.get(resource).into_iter().flatten() {
            let s = &mut inner.billing[i];
            if s.end.is_none() {
                s.end = Some(end.max(s.start));
                closed += 1;
            }
        }
        if closed > 0 {
            inner.writes += 1;
        }
        Ok(closed)
    }

    async fn settle_billing(&self, s: &BillingSettlement) -> Result<()> {
        let mut inner = self.open()?;
        let inner = &mut *inner;
        let stored = inner.position.get(&s.resource).map(|&at| &inner.records[at]);
        let stored = stored.ok_or_else(|| Error::NotFound { kind: "resource", name: s.resource.to_string() })?;
        let mine = inner.billing_of.entry(s.resource.clone()).or_default();
        let open = mine.iter().copied().find(|&i| inner.billing[i].end.is_none());
        if stored.version != s.version || open.map(|i| inner.billing[i].state) != s.expect_open {
            return Err(Error::Stale(format!("the bill of {} moved on", s.resource)));
        }
        if let Some(i) = open {
            let segment = &mut inner.billing[i];
            segment.end = Some(s.close_at.max(segment.start));
        }
        if let Some(segment) = &s.open {
            mine.push(inner.billing.len());
            inner.billing.push(segment.clone());
        }
        inner.writes += 1;
        Ok(())
    }

    async fn billing(&self, resource: Option<&LaunchId>) -> Result<Vec<BillingSegment>> {
        let inner = self.open()?;
        Ok(match resource {
            None => inner.billing.clone(),
            Some(r) => inner.billing_of.get(r).into_iter().flatten().map(|&i| inner.billing[i].clone()).collect(),
        })
    }

    async fn put_idempotency_key(&self, key: &str, value: &str) -> Result<Option<String>> {
        let mut inner = self.open()?;
        if let Some(existing) = inner.keys.get(key) {
            return Ok(Some(existing.clone()));
        }
        inner.keys.insert(key.to_string(), value.to_string());
        inner.writes += 1;
        Ok(None)
    }

    async fn try_lease(&self, name: &str, holder: &str, until: Timestamp, now: Timestamp) -> Result<bool> {
        let mut inner = self.open()?;
        let free = match inner.leases.get(name) {
            None => true,
            Some((h, expires)) => h == holder || *expires <= now,
        };
        if free {
            inner.leases.insert(name.to_string(), (holder.to_string(), until));
            inner.writes += 1;
        }
        Ok(free)
    }

    async fn release_lease(&self, name: &str, holder: &str) -> Result<()> {
        let mut inner = self.open()?;
        if inner.leases.get(name).is_some_and(|(h, _)| h == holder) {
            inner.leases.remove(name);
        }
        Ok(())
    }

    async fn save_catalog(&self, catalog: &Catalog) -> Result<()> {
        let mut inner = self.open()?;
        inner.catalog = Some(catalog.clone());
        inner.writes += 1;
        Ok(())
    }

    async fn load_catalog(&self) -> Result<Option<Catalog>> {
        Ok(self.open()?.catalog.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn memory_store_passes_the_conformance_suite() {
        crate::testkit::store::run_all(&MemoryStore::new()).await;
    }

    #[tokio::test]
    async fn freezing_stops_every_call_after_the_nth_write() {
        let store = MemoryStore::new();
        store.freeze_after(2);
        let mut r = crate::testkit::sample_resource("freeze", "alice");
        store.insert_resource(&r, None).await.unwrap();
        r.version = 2;
        store.update_resource(&r, 1, None).await.unwrap();
        store.frozen().await;
        assert!(matches!(store.get_resource(&r.id).await, Err(Error::Unavailable(_))));
        store.thaw();
        assert_eq!(store.get_resource(&r.id).await.unwrap().unwrap().version, 2);
    }
}
