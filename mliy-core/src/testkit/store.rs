//! The [`StateStore`] conformance suite.

use super::sample_resource;
use crate::Error;
use crate::clock::Timestamp;
use crate::lifecycle::{Actor, LifecycleEvent, Phase, Resource, ResourceKind};
use crate::model::{BillState, BillingSegment, Catalog, LaunchId};
use crate::store::{BillingSettlement, PageQuery, ResourceFilter, StateStore};

fn event(r: &crate::lifecycle::Resource, seq: u64, from: Phase, to: Phase) -> LifecycleEvent {
    LifecycleEvent {
        resource: r.id.clone(),
        seq,
        at: Timestamp(1_700_000_000_000 + seq as i64),
        actor: Actor::Engine,
        from,
        to,
        reason: format!("step {seq}"),
    }
}

/// Runs every check. Each uses its own ids, so the store may be shared but should be empty
/// of those ids.
pub async fn run_all(store: &dyn StateStore) {
    insert_get_and_duplicates(store).await;
    many_inserted_at_once(store).await;
    compare_and_set(store).await;
    concurrent_writers_never_both_win(store).await;
    events_are_appended_in_order(store).await;
    listing_filters(store).await;
    pages_by_phase(store).await;
    billing_segments(store).await;
    billing_settled_on_a_version(store).await;
    idempotency_keys(store).await;
    leases(store).await;
    catalog_round_trip(store).await;
    cancelled_writes_leave_it_usable(store).await;
    batches_are_all_or_nothing(store).await;
}

pub async fn insert_get_and_duplicates(store: &dyn StateStore) {
    let r = sample_resource("conf-insert", "alice");
    assert!(store.get_resource(&r.id).await.unwrap().is_none());
    store.insert_resource(&r, Some(&event(&r, 1, Phase::Requested, Phase::Requested))).await.unwrap();
    assert_eq!(store.get_resource(&r.id).await.unwrap(), Some(r.clone()));
    let again = store.insert_resource(&r, None).await;
    assert!(matches!(again, Err(Error::AlreadyExists(_))), "a second insert must conflict: {again:?}");
    assert_eq!(store.events(&r.id).await.unwrap().len(), 1);
}

pub async fn many_inserted_at_once(store: &dyn StateStore) {
    let many: Vec<Resource> = (0..2_500).map(|i| sample_resource(&format!("conf-many-{i:04}"), "many-owner")).collect();
    store.insert_resources(&many).await.unwrap();
    let mine = ResourceFilter { owner: Some("many-owner".into()), ..ResourceFilter::default() };
    let listed = store.list_resources(&mine).await.unwrap();
    assert_eq!(
        listed.iter().map(|r| r.id.clone()).collect::<Vec<_>>(),
        many.iter().map(|r| r.id.clone()).collect::<Vec<_>>()
    );
    let again = store.insert_resources(&many[..1]).await;
    assert!(matches!(again, Err(Error::AlreadyExists(_))), "a stored id conflicts: {again:?}");
}

pub async fn compare_and_set(store: &dyn StateStore) {
    let mut r = sample_resource("conf-cas", "alice");
    store.insert_resource(&r, None).await.unwrap();
    let mut next = r.clone();
    next.phase = Phase::CreatingStack;
    next.version = 2;
    store.update_resource(&next, 1, Some(&event(&r, 1, Phase::Requested, Phase::CreatingStack))).await.unwrap();
    // A writer that still holds version 1 loses, and nothing of its write is kept.
    r.phase = Phase::Terminating;
    r.version = 2;
    let stale = store.update_resource(&r, 1, Some(&event(&r, 2, Phase::Requested, Phase::Terminating))).await;
    assert!(matches!(stale, Err(Error::Stale(_))), "{stale:?}");
    let stored = store.get_resource(&r.id).await.unwrap().unwrap();
    assert_eq!((stored.phase, stored.version), (Phase::CreatingStack, 2));
    assert_eq!(store.events(&r.id).await.unwrap().len(), 1);
    let unknown = sample_resource("conf-unknown", "alice");
    let mut bumped = unknown.clone();
    bumped.version = 2;
    assert!(matches!(store.update_resource(&bumped, 1, None).await, Err(Error::NotFound { .. })));
}

pub async fn concurrent_writers_never_both_win(store: &dyn StateStore) {
    let r = sample_resource("conf-race", "alice");
    store.insert_resource(&r, None).await.unwrap();
    for round in 1..=20u64 {
        let attempts = (0..8).map(|writer| {
            let mut next = r.clone();
            next.version = round + 1;
            next.private_ip = Some(format!("10.0.{round}.{writer}"));
            let ev = event(&next, round, Phase::Requested, Phase::Requested);
            async move { store.update_resource(&next, round, Some(&ev)).await.is_ok() }
        });
        let wins = futures_join_all(attempts).await.into_iter().filter(|w| *w).count();
        assert_eq!(wins, 1, "round {round}: exactly one compare-and-set may win");
    }
    assert_eq!(store.events(&r.id).await.unwrap().len(), 20);
}

/// Polls several futures concurrently on the current task.
async fn futures_join_all<F: std::future::Future<Output = bool>>(futures: impl Iterator<Item = F>) -> Vec<bool> {
    let mut set: Vec<std::pin::Pin<Box<F>>> = futures.map(Box::pin).collect();
    let mut out = vec![None; set.len()];
    std::future::poll_fn(|cx| {
        for (i, f) in set.iter_mut().enumerate() {
            if out[i].is_none()
                && let std::task::Poll::Ready(v) = f.as_mut().poll(cx)
            {
                out[i] = Some(v);
            }
        }
        if out.iter().all(Option::is_some) { std::task::Poll::Ready(()) } else { std::task::Poll::Pending }
    })
    .await;
    out.into_iter().map(|v| v.unwrap_or(false)).collect()
}

pub async fn events_are_appended_in_order(store: &dyn StateStore) {
    let r = sample_resource("conf-events", "alice");
    store.insert_resource(&r, Some(&event(&r, 1, Phase::Requested, Phase::Requested))).await.unwrap();
    let mut current = r.clone();
    for seq in 2..=5 {
        let mut next = current.clone();
        next.version += 1;
        store
            .update_resource(&next, current.version, Some(&event(&r, seq, Phase::Requested, Phase::Requested)))
            .await
            .unwrap();
        current = next;
    }
    let seqs: Vec<u64> = store.events(&r.id).await.unwrap().iter().map(|e| e.seq).collect();
    assert_eq!(seqs, [1, 2, 3, 4, 5]);
    let wrong = event(&sample_resource("conf-other", "bob"), 6, Phase::Requested, Phase::Requested);
    let mut next = current.clone();
    next.version += 1;
    assert!(store.update_resource(&next, current.version, Some(&wrong)).await.is_err(), "an event of another resource");
    assert_eq!(store.events(&r.id).await.unwrap().len(), 5);
}

pub async fn listing_filters(store: &dyn StateStore) {
    let mut done = sample_resource("conf-list-done", "carol");
    done.phase = Phase::Terminated;
    let mut archived = sample_resource("conf-list-archived", "carol");
    archived.phase = Phase::Failed { reason: "x".into() };
    archived.archived = true;
    let mut cleanup = sample_resource("conf-list-cleanup", "carol");
    cleanup.phase = Phase::Failed { reason: "x".into() };
    cleanup.cleanup_pending = true;
    let live = sample_resource("conf-list-live", "carol");
    for r in [&done, &archived, &cleanup, &live] {
        store.insert_resource(r, None).await.unwrap();
    }
    let ids =
        |rs: Vec<crate::lifecycle::Resource>| -> Vec<String> { rs.into_iter().map(|r| r.id.to_string()).collect() };
    let carol = ResourceFilter { owner: Some("carol".into()), ..ResourceFilter::default() };
    assert_eq!(
        ids(store.list_resources(&carol).await.unwrap()),
        ["conf-list-done", "conf-list-cleanup", "conf-list-live"]
    );
    let all = ResourceFilter { include_archived: true, ..carol.clone() };
    assert_eq!(store.list_resources(&all).await.unwrap().len(), 4);
    let driving = ResourceFilter { needs_driving: true, ..carol };
    assert_eq!(ids(store.list_resources(&driving).await.unwrap()), ["conf-list-cleanup", "conf-list-live"]);
}

/// Every page of `q`, `q.limit` at a time; the ids, sorted.
async fn paged(store: &dyn StateStore, mut q: PageQuery) -> Vec<String> {
    let mut ids = Vec::new();
    loop {
        let page = store.list_page(&q).await.unwrap();
        assert!(page.len() <= q.limit, "a page of {} holds {}", q.limit, page.len());
        assert!(page.iter().all(|r| q.matches(r)), "a page holds only what it asks for");
        q.after = page.last().map(|r| r.id.clone());
        ids.extend(page.into_iter().map(|r| r.id.to_string()));
        if q.after.is_none() {
            break;
        }
    }
    let listed = ids.len();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), listed, "no record on two pages");
    ids
}

pub async fn pages_by_phase(store: &dyn StateStore) {
    let mut made = Vec::new();
    for i in 0..7 {
        let mut r = sample_resource(&format!("conf-page-{i}"), "dora");
        r.phase = match i {
            5 => Phase::Stopped,
            6 => Phase::Waiting,
            _ => Phase::Ready,
        };
        r.kind = if i == 6 { ResourceKind::Cluster } else { ResourceKind::Instance };
        r.dns_name = (i == 2).then(|| "mliy-conf-page-2.example.com".to_string());
        made.push(r);
    }
    store.insert_resources(&made).await.unwrap();
    let page = |kind, phase, limit| PageQuery { owner: Some("dora".into()), ..PageQuery::new(kind, phase, limit) };
    let ready = ["conf-page-0", "conf-page-1", "conf-page-2", "conf-page-3", "conf-page-4"];
    assert_eq!(paged(store, page(ResourceKind::Instance, "ready", 2)).await, ready);
    assert_eq!(paged(store, page(ResourceKind::Instance, "stopped", 2)).await, ["conf-page-5"]);
    assert_eq!(paged(store, page(ResourceKind::Cluster, "waiting", 1)).await, ["conf-page-6"]);
    assert!(paged(store, page(ResourceKind::Instance, "waiting", 5)).await.is_empty());
    let named = PageQuery { dns_named: true, ..page(ResourceKind::Instance, "ready", 10) };
    assert_eq!(paged(store, named).await, ["conf-page-2"]);
    // An update moves a record between phases.
    let mut stopped = made[0].clone();
    (stopped.phase, stopped.version) = (Phase::Stopped, stopped.version + 1);
    store.update_resource(&stopped, made[0].version, None).await.unwrap();
    assert_eq!(paged(store, page(ResourceKind::Instance, "ready", 3)).await, ready[1..]);
    assert_eq!(paged(store, page(ResourceKind::Instance, "stopped", 3)).await, ["conf-page-0", "conf-page-5"]);
    let empty = store.list_page(&page(ResourceKind::Instance, "ready", 0)).await;
    assert!(matches!(empty, Err(Error::Validation(_))), "a page of nothing is refused: {empty:?}");
    let unknown = store.list_page(&page(ResourceKind::Instance, "readyy", 10)).await;
    assert!(
        matches!(&unknown, Err(Error::Validation(v)) if v.to_string().contains("readyy")),
        "an unknown phase is refused, named: {unknown:?}"
    );
}

pub async fn billing_segments(store: &dyn StateStore) {
    let id = LaunchId::parse("conf-bill").unwrap();
    let seg = |start| BillingSegment {
        resource: id.clone(),
        state: crate::model::BillState::Running,
        hourly: Some("0.504".parse().unwrap()),
        description: "r5.2xlarge".into(),
        start: Timestamp(start),
        end: None,
    };
    store.open_billing(&seg(1_000)).await.unwrap();
    // One open segment per resource: a second open (the driver and refresh seeing the same
    // change) is a no-op.
    store.open_billing(&seg(2_000)).await.unwrap();
    assert_eq!(store.billing(Some(&id)).await.unwrap().len(), 1, "opened once");
    assert_eq!(store.close_billing(&id, Timestamp(5_000)).await.unwrap(), 1);
    assert_eq!(store.close_billing(&id, Timestamp(6_000)).await.unwrap(), 0, "closing twice closes nothing");
    store.open_billing(&seg(7_000)).await.unwrap();
    let segs = store.billing(Some(&id)).await.unwrap();
    assert_eq!(segs.len(), 2);
    assert_eq!(segs[0].end, Some(Timestamp(5_000)));
    assert_eq!(segs[1].end, None);
    assert_eq!(segs[0].hourly.map(|h| h.to_string()).as_deref(), Some("0.504"), "the price as written");
}

/// A bill changes only as the record and the open segment it was decided on say.
pub async fn billing_settled_on_a_version(store: &dyn StateStore) {
    let mut r = sample_resource("conf-settle", "alice");
    store.insert_resource(&r, None).await.unwrap();
    let seg = |state, start| BillingSegment {
        resource: r.id.clone(),
        state,
        hourly: None,
        description: "t3.large".into(),
        start: Timestamp(start),
        end: None,
    };
    let settle = |version, expect_open, close_at, open| BillingSettlement {
        resource: r.id.clone(),
        version,
        expect_open,
        close_at: Timestamp(close_at),
        open,
    };
    let running = settle(1, None, 1_000, Some(seg(BillState::Running, 1_000)));
    store.settle_billing(&running).await.unwrap();
    // The same decision again (a second settler): its open segment is no longer what it saw.
    assert!(matches!(store.settle_billing(&running).await, Err(Error::Stale(_))), "decided on no open segment");
    r.version = 2;
    store.update_resource(&r, 1, None).await.unwrap();
    let stopped = settle(1, Some(BillState::Running), 5_000, Some(seg(BillState::Stopped, 5_000)));
    assert!(matches!(store.settle_billing(&stopped).await, Err(Error::Stale(_))), "decided on version 1");
    store.settle_billing(&BillingSettlement { version: 2, ..stopped }).await.unwrap();
    store.settle_billing(&settle(2, Some(BillState::Stopped), 9_000, None)).await.unwrap();
    let segs = store.billing(Some(&r.id)).await.unwrap();
    let got: Vec<_> = segs.iter().map(|s| (s.state, s.start.0, s.end.map(|e| e.0))).collect();
    assert_eq!(got, [(BillState::Running, 1_000, Some(5_000)), (BillState::Stopped, 5_000, Some(9_000))]);
    let unknown =
        BillingSettlement { resource: LaunchId::parse("conf-settle-none").unwrap(), ..settle(1, None, 0, None) };
    assert!(matches!(store.settle_billing(&unknown).await, Err(Error::NotFound { .. })));
}

pub async fn idempotency_keys(store: &dyn StateStore) {
    assert_eq!(store.put_idempotency_key("conf-key", "first").await.unwrap(), None);
    assert_eq!(store.put_idempotency_key("conf-key", "second").await.unwrap().as_deref(), Some("first"));
}

pub async fn leases(store: &dyn StateStore) {
    let (now, later) = (Timestamp(1_000), Timestamp(61_000));
    assert!(store.try_lease("conf-lease", "a", later, now).await.unwrap());
    assert!(!store.try_lease("conf-lease", "b", later, now).await.unwrap(), "held by a");
    assert!(store.try_lease("conf-lease", "a", Timestamp(90_000), now).await.unwrap(), "a renews");
    assert!(store.try_lease("conf-lease", "b", Timestamp(200_000), Timestamp(90_000)).await.unwrap(), "expired");
    store.release_lease("conf-lease", "a").await.unwrap();
    assert!(!store.try_lease("conf-lease", "a", later, Timestamp(100_000)).await.unwrap(), "a cannot release b's");
    store.release_lease("conf-lease", "b").await.unwrap();
    assert!(store.try_lease("conf-lease", "a", later, Timestamp(100_000)).await.unwrap());
}

pub async fn catalog_round_trip(store: &dyn StateStore) {
    let catalog =
        Catalog::from_yaml_str("instance_types: [{name: t3.large}]\ngroup_configs: [{name: ds, group: data-science}]")
            .unwrap();
    store.save_catalog(&catalog).await.unwrap();
    assert_eq!(store.load_catalog().await.unwrap(), Some(catalog));
}

/// Writes abandoned half-way (a caller's timeout, a dropped request) either happen whole or
/// not at all, and leave the store usable: the next writes and reads work, and the record's
/// version matches its events.
pub async fn cancelled_writes_leave_it_usable(store: &dyn StateStore) {
    let mut r = sample_resource("conf-cancel", "alice");
    store.insert_resource(&r, None).await.unwrap();
    for round in 0..200u64 {
        let mut next = r.clone();
        next.version = r.version + 1;
        let e = event(&next, next.version, Phase::Requested, Phase::Requested);
        // Dropped after 0 to 2 ms: before, during or after the database's work.
        let write = store.update_resource(&next, r.version, Some(&e));
        let _ = tokio::time::timeout(std::time::Duration::from_micros((round % 21) * 100), write).await;
        tokio::task::yield_now().await;
        // Whatever happened, the store answers and holds one consistent version.
        r = loop {
            match store.get_resource(&r.id).await {
                Ok(Some(now)) => break now,
                Err(e) if e.is_retryable() => tokio::task::yield_now().await,
                other => panic!("the store failed after a cancelled write: {other:?}"),
            }
        };
    }
    // A write abandoned by its caller may still land a little later (stores that finish
    // transactions on their own): write on top of whatever is there by then.
    let mut last = r.clone();
    for _ in 0..1000 {
        let now = store.get_resource(&r.id).await.unwrap().unwrap();
        last = now.clone();
        last.version = now.version + 1;
        let e = event(&last, last.version, Phase::Requested, Phase::Requested);
        match store.update_resource(&last, now.version, Some(&e)).await {
            Ok(()) => break,
            Err(Error::Stale(_)) => tokio::task::yield_now().await,
            Err(other) => panic!("the store failed after cancelled writes: {other:?}"),
        }
    }
    assert_eq!(store.get_resource(&r.id).await.unwrap().unwrap(), last);
    let events = store.events(&r.id).await.unwrap();
    assert_eq!(events.len() as u64, last.version - 1, "one event per stored version");
}

/// A batch of compare-and-set updates is stored whole, or not at all when one is stale.
pub async fn batches_are_all_or_nothing(store: &dyn StateStore) {
    use crate::store::ResourceChange;
    let records: Vec<_> = (0..5).map(|i| sample_resource(&format!("conf-batch-{i}"), "alice")).collect();
    for r in &records {
        store.insert_resource(r, None).await.unwrap();
    }
    let change = |r: &crate::lifecycle::Resource, expected: u64| {
        let mut next = r.clone();
        next.version = expected + 1;
        next.private_ip = Some(format!("10.9.0.{expected}"));
        let e = event(&next, next.version, Phase::Requested, Phase::Requested);
        ResourceChange { resource: next, expected_version: expected, event: Some(e) }
    };
    let good: Vec<_> = records.iter().map(|r| change(r, r.version)).collect();
    store.update_resources(&good).await.unwrap();
    for c in &good {
        assert_eq!(store.get_resource(&c.resource.id).await.unwrap().unwrap(), c.resource);
        assert_eq!(store.events(&c.resource.id).await.unwrap().len(), 1);
    }
    // The last change is stale: none of the batch may land.
    let mut stale: Vec<_> = good.iter().take(4).map(|c| change(&c.resource, c.resource.version)).collect();
    stale.push(change(&good[4].resource, good[4].resource.version - 1));
    let refused = store.update_resources(&stale).await;
    assert!(matches!(refused, Err(Error::Stale(_))), "{refused:?}");
    for c in &good {
        assert_eq!(
            store.get_resource(&c.resource.id).await.unwrap().unwrap(),
            c.resource,
            "nothing of a refused batch"
        );
        assert_eq!(store.events(&c.resource.id).await.unwrap().len(), 1);
    }
    store.update_resources(&[]).await.unwrap();
}
