//! Resizing running clusters on SimCloud.

use super::*;
use crate::model::emr::InstanceRole;
use crate::pricing::Decimal;

fn on_demand_job_flow() -> LaunchRequest {
    let options = ClusterOptions { core_nodes: 2, task_nodes: 0, market: Market::OnDemand, purpose: "etl".into() };
    LaunchRequest::cluster("ds", "spark-direct", "m5.xlarge", options)
}

/// CORE 2 → 4: stored, sent (ModifyInstanceGroups), billed from the change.
#[tokio::test(start_paused = true)]
async fn a_core_group_grows_and_its_bill_follows() {
    let rig = Rig::new(SimConfig { consistency_delay: Duration::ZERO, ..SimConfig::default() });
    let engine = super::bills::priced_with(&rig, Catalog::from_yaml_str(CATALOG).unwrap());
    let id = engine.launch_cluster(&alice(), on_demand_job_flow()).await.unwrap().resource.id;
    let up = wait_phase(&engine, &id, "waiting").await;
    rig.clock.sleep(Duration::from_secs(600)).await;
    let resized = engine.act(&alice(), &id, Action::Resize { role: InstanceRole::Core, count: 4 }).await.unwrap();
    let groups = &resized.job_flow.unwrap().instances.instance_groups;
    assert_eq!(groups.iter().map(|g| g.instance_count).collect::<Vec<_>>(), [1, 4]);
    let cloud_groups = rig.cloud.list_instance_groups(up.cluster_id.as_deref().unwrap()).await.unwrap();
    assert_eq!(cloud_groups.iter().find(|g| g.role == InstanceRole::Core).map(|g| g.requested), Some(4));
    let segs = rig.store.billing(Some(&id)).await.unwrap();
    let hourly: Vec<_> = segs.iter().map(|s| s.hourly).collect();
    // (0.192 + 0.048) per node: 3 nodes, then 5.
    assert_eq!(hourly, [Some(Decimal::new(72, 2)), Some(Decimal::new(120, 2))], "{segs:?}");
    assert_eq!(segs[0].end, Some(segs[1].start), "{segs:?}");
    let events = engine.events(&alice(), &id).await.unwrap();
    assert!(events.iter().any(|e| e.reason == "CORE group resized from 2 to 4 nodes by alice"), "{events:?}");
}

#[tokio::test(start_paused = true)]
async fn resizes_the_cluster_cannot_take_are_refused() {
    let rig = Rig::new(SimConfig::default());
    let engine = rig.engine();
    let id = engine.launch_cluster(&alice(), on_demand_job_flow()).await.unwrap().resource.id;
    wait_phase(&engine, &id, "waiting").await;
    let cases = [
        (InstanceRole::Master, 3, "the master group is not resized"),
        (InstanceRole::Core, 0, "a core group keeps at least 1 node"),
        (InstanceRole::Task, 2, "the cluster has no such group"),
        (InstanceRole::Core, 25, "at most 20 core and task nodes"),
    ];
    for (role, count, rule) in cases {
        let e = engine.act(&alice(), &id, Action::Resize { role, count }).await.unwrap_err();
        assert!(e.to_string().contains(rule), "{role:?} {count}: {e}");
    }
    let templated = engine.launch_cluster(&alice(), cluster()).await.unwrap().resource.id;
    wait_phase(&engine, &templated, "waiting").await;
    let e = engine.act(&alice(), &templated, Action::Resize { role: InstanceRole::Core, count: 3 }).await.unwrap_err();
    assert!(e.to_string().contains("through its template"), "{e}");
    let bob = Principal::new("bob", ["data-science"]);
    assert!(matches!(
        engine.act(&bob, &id, Action::Resize { role: InstanceRole::Core, count: 3 }).await,
        Err(Error::Forbidden(_)) | Err(Error::NotFound { .. })
    ));
    assert_eq!(rig.cloud.calls().get("ModifyInstanceGroups"), None, "nothing reached the cloud");
}
