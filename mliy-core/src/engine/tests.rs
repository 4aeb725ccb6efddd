//! Engine tests on SimCloud in virtual time.
#![allow(clippy::unwrap_used)]

use super::*;
use crate::clock::{Timestamp, VirtualClock};
use crate::cloud::{Cloud, StepState};
use crate::lifecycle::{Actor, ResourceKind};
use crate::model::emr::Step;
use crate::model::{Market, OnBootstrapTimeout};
use crate::plan::{ClusterOptions, LaunchRequest};
use crate::secret::Secret;
use crate::sim::{SimCloud, SimConfig, SimTimings};
use crate::store::MemoryStore;
use std::time::Duration;

const CATALOG: &str = r##"
instance_types: [{name: t3.large}, {name: m5.xlarge}]
security_groups: [{id: sg-0a1b2c3d}, {id: sg-0b1b2c3d}, {id: sg-0b1b2c3e}]
software_configs:
  - name: notebook
    ami_id: ami-0123abcd
    has_progress_bar: true
    compatible_instance_types: [t3.large]
    permitted_group_configs: [ds, ops]
    user_data: {inline: "#!/bin/sh\ncurl -H 'token: {{{MLIY_PROGRESS_TOKEN}}}' {{{MLIY_PROGRESS_URL}}}\n"}
    params: [{token: DbPassword, value: db-pass-9f3e1c}]
    template:
      inline: |
        Parameters:
          InstanceType: {Type: String}
          ImageId: {Type: 'AWS::EC2::Image::Id'}
          UserData: {Type: String, Default: ''}
          DbPassword: {Type: String, NoEcho: true}
        Resources:
          EC2Instance: {Type: 'AWS::EC2::Instance'}
  - name: plain
    ami_id: ami-0123abcd
    compatible_instance_types: [t3.large]
    permitted_group_configs: [ds]
    template: {inline: "Parameters: {InstanceType: {Type: String}}\nResources: {I: {Type: 'AWS::EC2::Instance'}}\n"}
  - name: spark
    emr: true
    compatible_instance_types: [m5.xlarge]
    permitted_group_configs: [ds]
    master_security_group: sg-0b1b2c3d
    slave_security_group: sg-0b1b2c3e
    template:
      inline: |
        Parameters:
          paramClusterName: {Type: String, MinLength: 20, MaxLength: 40}
          paramInstanceType: {Type: String}
          paramCoreInstanceCount: {Type: Number}
          paramMarketType: {Type: String, Default: ON_DEMAND}
          paramBidPrice: {Type: String, Default: ''}
        Resources:
          SPARK: {Type: 'AWS::EMR::Cluster'}
  - name: spark-direct
    emr: true
    compatible_instance_types: [m5.xlarge]
    permitted_group_configs: [ds]
    job_flow:
      release_label: emr-6.15.0
      applications: [Spark, JupyterHub]
      service_role: EMR_DefaultRole
      steps: [{name: setup, jar: command-runner.jar, args: [bash, -c, "echo ready"]}]
  - name: jupyterhub
    emr: true
    compatible_instance_types: [m5.xlarge]
    permitted_group_configs: [ds]
    custom_url_format: "https://{{{ URL }}}:9443/hub/login"
    job_flow:
      release_label: emr-6.15.0
      applications: [Spark, Livy, JupyterHub]
      service_role: EMR_DefaultRole
      request:
        Configurations:
          - Classification: jupyter-s3-conf
            Properties: {s3.persistence.enabled: "true", s3.persistence.bucket: ds-notebooks}
group_configs:
  - name: ds
    group: data-science
    emr_access: true
    default_security_groups: [sg-0a1b2c3d]
    iam_instance_profile: ds-nodes
    settings: {cluster_auto_termination_minutes: 90}
  - {name: ops, group: operations, settings: {max_running_per_user: 1}}
"##;

struct Rig {
    clock: Arc<VirtualClock>,
    cloud: Arc<SimCloud>,
    store: Arc<MemoryStore>,
    config: EngineConfig,
}

impl Rig {
    fn new(sim: SimConfig) -> Rig {
        Self::with(
            sim,
            EngineConfig {
                progress_url: Some("https://portal/progress".into()),
                manager_group: Some("managers".into()),
                // Replicas of one deployment share the key progress secrets come from.
                progress_key: Some(Secret::new("rig-progress-key")),
                ..EngineConfig::default()
            },
        )
    }

    fn with(sim: SimConfig, config: EngineConfig) -> Rig {
        let clock = Arc::new(VirtualClock::starting_at(Timestamp(1_700_000_000_000)));
        let cloud = Arc::new(SimCloud::new(clock.clone(), sim));
        Rig { clock, cloud, store: Arc::new(MemoryStore::new()), config }
    }

    fn engine(&self) -> Engine {
        self.replica(&self.config.replica_id)
    }

    /// An engine on the rig's cloud, store and clock, as replica `name`.
    fn replica(&self, name: &str) -> Engine {
        self.replica_with(name, |_| {})
    }

    /// As [`Rig::replica`], with the catalog changed by `edit`.
    fn replica_with(&self, name: &str, edit: impl FnOnce(&mut Catalog)) -> Engine {
        let mut catalog = Catalog::from_yaml_str(CATALOG).unwrap();
        edit(&mut catalog);
        Engine::builder()
            .catalog(catalog)
            .cloud(self.cloud.clone())
            .store(self.store.clone())
            .clock(self.clock.clone())
            .config(EngineConfig { replica_id: name.into(), ..self.config.clone() })
            .build()
            .unwrap()
    }
}

/// An admin, for waits that are not about who may see what.
fn ops() -> Principal {
    Principal { admin: true, ..Principal::new("ops", ["admins"]) }
}

fn alice() -> Principal {
    Principal::new("alice", ["data-science"])
}

fn instance() -> LaunchRequest {
    LaunchRequest::instance("ds", "notebook", "t3.large")
}

/// An instance without a progress bar.
fn plain() -> LaunchRequest {
    LaunchRequest::instance("ds", "plain", "t3.large")
}

fn cluster() -> LaunchRequest {
    let options = ClusterOptions { core_nodes: 2, task_nodes: 0, market: Market::OnDemand, purpose: "test".into() };
    LaunchRequest::cluster("ds", "spark", "m5.xlarge", options)
}

async fn wait_phase(engine: &Engine, id: &LaunchId, name: &str) -> Resource {
    bounded(engine.wait_until(&ops(), id, |p| p.name() == name || p.is_terminal())).await.unwrap()
}

/// Fails a test that would wait forever: a week of virtual time is plenty for anything.
async fn bounded<T>(f: impl std::future::Future<Output = T>) -> T {
    tokio::time::timeout(Duration::from_secs(7 * 24 * 3600), f).await.expect("still waiting after a virtual week")
}

async fn bootstrap(engine: &Engine, launched: &Launched) -> Resource {
    let id = &launched.resource.id;
    let token = launched.progress_token.as_ref().unwrap().expose().to_string();
    wait_phase(engine, id, "bootstrapping").await;
    for p in [30, 60] {
        engine.report_progress(id, &token, p, "installing").await.unwrap();
    }
    engine.report_progress(id, &token, 100, "done").await.unwrap()
}

fn phases(events: &[LifecycleEvent]) -> Vec<&'static str> {
    events.iter().map(|e| e.to.name()).collect()
}

#[tokio::test(start_paused = true)]
async fn instance_lifecycle_end_to_end() {
    let rig = Rig::new(SimConfig::default());
    let engine = rig.engine();
    let launched = engine.launch_instance(&alice(), instance()).await.unwrap();
    let id = launched.resource.id.clone();
    assert!(format!("{:?}", launched).contains("Secret(****)"));
    let ready = bootstrap(&engine, &launched).await;
    assert_eq!(ready.phase, Phase::Ready);
    assert!(ready.private_ip.is_some() && ready.instance_id.is_some() && ready.stack_id.is_some());

    engine.act(&alice(), &id, Action::Stop).await.unwrap();
    assert_eq!(wait_phase(&engine, &id, "stopped").await.phase, Phase::Stopped);
    engine.act(&alice(), &id, Action::Start).await.unwrap();
    assert_eq!(wait_phase(&engine, &id, "ready").await.phase, Phase::Ready);
    engine.act(&alice(), &id, Action::Restart).await.unwrap();
    assert_eq!(wait_phase(&engine, &id, "ready").await.phase, Phase::Ready);
    engine.act(&alice(), &id, Action::Terminate).await.unwrap();
    assert_eq!(bounded(engine.wait_until(&ops(), &id, Phase::is_terminal)).await.unwrap().phase, Phase::Terminated);

    let events = engine.events(&alice(), &id).await.unwrap();
    assert_eq!(
        phases(&events),
        [
            "requested",
            "creating_stack",
            "provisioning",
            "bootstrapping",
            "bootstrapping",
            "bootstrapping",
            "ready",
            "stopping",
            "stopped",
            "starting",
            "ready",
            "rebooting",
            "ready",
            "terminating",
            "terminated"
        ]
    );
    assert!(events.windows(2).all(|w| w[0].seq < w[1].seq && w[0].at <= w[1].at));
    assert_eq!(events[0].reason, "instance launch of notebook requested");
    assert_eq!(events[7].reason, "stop requested by alice");
    assert_eq!(events[1].actor, Actor::Engine);
    assert_eq!(events[4].actor, Actor::Bootstrap);
    assert_eq!(events[7].actor, Actor::User("alice".into()));
    let bills = rig.store.billing(Some(&id)).await.unwrap();
    let states: Vec<_> = bills.iter().map(|b| b.state).collect();
    use crate::model::BillState::{Running, Stopped};
    assert_eq!(
        states,
        [Running, Stopped, Running],
        "a segment per state period (a reboot does not end one): {bills:?}"
    );
    assert!(bills.iter().all(|b| b.end.is_some()));
    assert!(rig.cloud.live_stacks().is_empty());
    assert_eq!(rig.cloud.running_machines(), 0);
    // The secret went into the user data; nothing printed shows it.
    let token = launched.progress_token.unwrap();
    let shown = format!("{:?} {:?}", engine.get(&alice(), &id).await.unwrap(), events);
    assert!(!shown.contains(token.expose()));
    engine.act(&alice(), &id, Action::Archive).await.unwrap();
    assert!(engine.list(&alice(), false).await.unwrap().is_empty());
    assert_eq!(engine.list(&alice(), true).await.unwrap().len(), 1);
}

#[tokio::test(start_paused = true)]
async fn cluster_lifecycle_end_to_end() {
    let rig = Rig::new(SimConfig::default());
    let engine = rig.engine();
    let launched = engine.launch_cluster(&alice(), cluster()).await.unwrap();
    assert!(launched.progress_token.is_none());
    let id = launched.resource.id.clone();
    let up = engine.wait_until(&ops(), &id, |p| p.is_usable() || p.is_terminal()).await.unwrap();
    assert_eq!(up.phase, Phase::Waiting);
    assert!(up.cluster_id.is_some() && up.private_ip.is_some());
    let e = engine.act(&alice(), &id, Action::Stop).await.unwrap_err();
    assert!(e.to_string().contains("cannot be stopped"), "{e}");
    engine.act(&alice(), &id, Action::Terminate).await.unwrap();
    assert_eq!(bounded(engine.wait_until(&ops(), &id, Phase::is_terminal)).await.unwrap().phase, Phase::Terminated);
    assert_eq!(
        phases(&engine.events(&alice(), &id).await.unwrap()),
        ["requested", "creating_stack", "starting", "waiting", "terminating", "terminated"]
    );
    assert_eq!(rig.cloud.running_machines(), 0);
}

#[tokio::test(start_paused = true)]
async fn a_failed_stack_fails_the_launch_and_is_deleted() {
    let rig = Rig::new(SimConfig { fail_stack_rate: 1.0, ..SimConfig::default() });
    let engine = rig.engine();
    let id = engine.launch_instance(&alice(), instance()).await.unwrap().resource.id;
    let r = bounded(engine.wait_until(&ops(), &id, Phase::is_terminal)).await.unwrap();
    let Phase::Failed { reason } = &r.phase else { panic!("{r:?}") };
    assert!(reason.contains("stack creation failed") && reason.contains("EC2Instance"), "{reason}");
    assert!(!r.cleanup_pending);
    assert!(rig.cloud.live_stacks().is_empty(), "the rolled-back stack was deleted");
}

#[tokio::test(start_paused = true)]
async fn a_vanished_instance_fails_the_launch() {
    let rig = Rig::new(SimConfig { vanish_rate: 1.0, ..SimConfig::default() });
    let engine = rig.engine();
    let id = engine.launch_instance(&alice(), instance()).await.unwrap().resource.id;
    let r = bounded(engine.wait_until(&ops(), &id, Phase::is_terminal)).await.unwrap();
    assert!(matches!(&r.phase, Phase::Failed { reason } if reason.contains("terminated outside mliy")), "{r:?}");
    assert!(rig.cloud.live_stacks().is_empty());
}

/// Each wait ends at its deadline in Failed, with the stack cleaned up.
#[tokio::test(start_paused = true)]
async fn every_deadline_ends_in_failed() {
    let slow = |f: fn(&mut SimTimings)| {
        let mut timings = SimTimings::default();
        f(&mut timings);
        SimConfig { timings, consistency_delay: Duration::ZERO, ..SimConfig::default() }
    };
    fn minutes(m: u64) -> Duration {
        Duration::from_secs(m * 60)
    }
    // Stack creation (180 min).
    let rig = Rig::new(slow(|t| t.stack_create = Duration::from_secs(4 * 3600)));
    let engine = rig.engine();
    let id = engine.launch_instance(&alice(), instance()).await.unwrap().resource.id;
    let r = bounded(engine.wait_until(&ops(), &id, Phase::is_terminal)).await.unwrap();
    assert!(
        matches!(&r.phase, Phase::Failed { reason } if reason.starts_with("creating_stack did not finish")),
        "{r:?}"
    );
    assert!(rig.clock.now().since(r.created_at) >= minutes(180));
    assert!(rig.cloud.live_stacks().is_empty());

    // Provisioning: the instance never becomes visible.
    let rig =
        Rig::new(SimConfig { consistency_delay: Duration::from_secs(24 * 3600), seed: 3, ..SimConfig::default() });
    let engine = rig.engine();
    let mut failed = 0;
    for _ in 0..4 {
        let id = engine.launch_instance(&alice(), plain()).await.unwrap().resource.id;
        let r = engine.wait_until(&ops(), &id, |p| p.is_terminal() || p.is_usable()).await.unwrap();
        if matches!(&r.phase, Phase::Failed { reason } if reason.starts_with("provisioning did not finish")) {
            failed += 1;
        }
    }
    assert!(failed > 0, "at least one hidden instance hit the provisioning deadline");

    // Bootstrap: nobody reports progress, and the software config says delete.
    let rig = Rig::new(SimConfig::default());
    let engine = rig.replica_with("r", |c| c.software_configs[0].on_bootstrap_timeout = OnBootstrapTimeout::Delete);
    let id = engine.launch_instance(&alice(), instance()).await.unwrap().resource.id;
    let r = bounded(engine.wait_until(&ops(), &id, Phase::is_terminal)).await.unwrap();
    assert!(matches!(&r.phase, Phase::Failed { reason } if reason.contains("on_bootstrap_timeout: delete")), "{r:?}");
    assert!(rig.cloud.live_stacks().is_empty());

    // Stop, start (action timeout) and termination.
    for (which, timings) in [
        ("stopping", slow(|t| t.instance_stop = minutes(45))),
        ("starting", slow(|t| t.instance_start = minutes(45))),
        ("terminating", slow(|t| t.stack_delete = minutes(150))),
    ] {
        let rig = Rig::new(timings);
        let engine = rig.engine();
        let launched = engine.launch_instance(&alice(), instance()).await.unwrap();
        let id = launched.resource.id.clone();
        bootstrap(&engine, &launched).await;
        if which == "starting" {
            engine.act(&alice(), &id, Action::Stop).await.unwrap();
            wait_phase(&engine, &id, "stopped").await;
        }
        let action = match which {
            "stopping" => Action::Stop,
            "starting" => Action::Start,
            _ => Action::Terminate,
        };
        engine.act(&alice(), &id, action).await.unwrap();
        let r = bounded(engine.wait_until(&ops(), &id, Phase::is_terminal)).await.unwrap();
        assert!(
            matches!(&r.phase, Phase::Failed { reason } if reason.starts_with(&format!("{which} did not finish"))),
            "{which}: {r:?}"
        );
        assert!(rig.cloud.live_stacks().is_empty(), "{which}: cleaned up");
    }
}

/// A bootstrap that never reports done: by default the machine is kept (it may be an image
/// that reports progress its own way); `stop` stops it; neither deletes anything.
#[tokio::test(start_paused = true)]
async fn a_bootstrap_deadline_keeps_or_stops_the_machine() {
    for (policy, phase) in [(OnBootstrapTimeout::Keep, "ready"), (OnBootstrapTimeout::Stop, "stopped")] {
        let rig = Rig::new(SimConfig::default());
        let engine = rig.replica_with("r", |c| c.software_configs[0].on_bootstrap_timeout = policy);
        let id = engine.launch_instance(&alice(), instance()).await.unwrap().resource.id;
        let r = wait_phase(&engine, &id, phase).await;
        assert!(rig.clock.now().since(r.created_at) >= Duration::from_secs(3600), "{policy:?}: after the deadline");
        assert_eq!(rig.cloud.live_stacks().len(), 1, "{policy:?}: the stack and its volume are kept");
        let events = engine.events(&alice(), &id).await.unwrap();
        assert!(
            events.iter().any(|e| e.reason.contains("reported no completion within 60 minutes")),
            "{policy:?}: {events:?}"
        );
        assert!(!events.iter().any(|e| matches!(e.to, Phase::Failed { .. })));
    }
    // Keep is the default.
    let catalog = Catalog::from_yaml_str(CATALOG).unwrap();
    assert_eq!(catalog.software_configs[0].on_bootstrap_timeout, OnBootstrapTimeout::Keep);
}

#[tokio::test(start_paused = true)]
async fn retryable_faults_are_ridden_out() {
    let rig = Rig::new(SimConfig { fault_rate: 0.3, seed: 11, ..SimConfig::default() });
    let engine = rig.engine();
    let mut launches = Vec::new();
    for _ in 0..10 {
        launches.push(engine.launch_instance(&alice(), instance()).await.unwrap());
    }
    for l in &launches {
        assert_eq!(bootstrap(&engine, l).await.phase, Phase::Ready);
        engine.act(&alice(), &l.resource.id, Action::Terminate).await.unwrap();
    }
    for l in &launches {
        assert_eq!(
            engine.wait_until(&ops(), &l.resource.id, Phase::is_terminal).await.unwrap().phase,
            Phase::Terminated
        );
    }
    assert_eq!(rig.cloud.duplicate_stacks(), 0);
    assert!(rig.cloud.live_stacks().is_empty());
}

#[tokio::test(start_paused = true)]
async fn progress_tokens_are_checked() {
    let rig = Rig::new(SimConfig::default());
    let engine = rig.engine();
    let a = engine.launch_instance(&alice(), instance()).await.unwrap();
    let b = engine.launch_instance(&alice(), instance()).await.unwrap();
    let (ida, tok_a) = (a.resource.id.clone(), a.progress_token.clone().unwrap());
    let tok_b = b.progress_token.clone().unwrap();
    assert_ne!(tok_a, tok_b);
    assert!(
        matches!(engine.report_progress(&ida, tok_a.expose(), 10, "early").await, Err(Error::InvalidTransition(_))),
        "not bootstrapping yet"
    );
    wait_phase(&engine, &ida, "bootstrapping").await;
    for forged in ["", "0000", tok_b.expose(), &tok_a.expose()[..63]] {
        assert!(matches!(engine.report_progress(&ida, forged, 50, "x").await, Err(Error::Forbidden(_))), "{forged:?}");
    }
    assert!(matches!(engine.report_progress(&ida, tok_a.expose(), 101, "x").await, Err(Error::Validation(_))));
    engine.report_progress(&ida, tok_a.expose(), 60, "half\u{7}way").await.unwrap();
    let back = engine.report_progress(&ida, tok_a.expose(), 40, "late").await.unwrap();
    assert_eq!(
        back.phase,
        Phase::Bootstrapping { percent: 60, message: "halfway".into(), stack_creating: false },
        "progress never goes back"
    );
    assert_eq!(engine.report_progress(&ida, tok_a.expose(), 100, "done").await.unwrap().phase, Phase::Ready);
    // Replayed after the bootstrap finished: the secret is gone.
    assert!(matches!(engine.report_progress(&ida, tok_a.expose(), 100, "again").await, Err(Error::Forbidden(_))));
    let unknown = LaunchId::parse("nope").unwrap();
    assert!(matches!(engine.report_progress(&unknown, tok_a.expose(), 1, "x").await, Err(Error::Forbidden(_))));
    // The user data sent carried the URL and the secret; the stored one a placeholder; what
    // the engine hands out, neither.
    let decode = |b64: &str| {
        use base64::Engine as _;
        String::from_utf8(base64::engine::general_purpose::STANDARD.decode(b64).unwrap()).unwrap()
    };
    let sent = decode(&rig.cloud.user_data_of(&a.resource.stack.client_request_token).unwrap());
    assert!(sent.contains(&format!("https://portal/progress/{ida}")) && sent.contains(tok_a.expose()), "{sent}");
    let stored = rig.store.get_resource(&ida).await.unwrap().unwrap();
    let stored_ud = stored.stack.parameters.iter().find(|p| p.key == "UserData").unwrap();
    let stored_text = decode(&stored_ud.value);
    assert!(stored_text.contains(progress::PLACEHOLDER) && !stored_text.contains(tok_a.expose()), "{stored_text}");
    let stored_json = serde_json::to_string(&stored).unwrap();
    assert!(!stored_json.contains(tok_a.expose()) && !stored_json.contains("db-pass-9f3e1c"), "{stored_json}");
    // The NoEcho value is stored as the catalog param it comes from, and read when sent.
    let db = stored.stack.parameters.iter().find(|p| p.key == "DbPassword").unwrap();
    assert!(db.value.is_empty() && db.from.as_ref().is_some_and(|f| f.token == "DbPassword"), "{db:?}");
    let outgoing = engine.inner.outgoing_stack(&stored).unwrap();
    assert!(outgoing.parameters.iter().any(|p| p.key == "DbPassword" && &*p.value == "db-pass-9f3e1c"));
    for shown in [a.resource.clone(), engine.get(&alice(), &ida).await.unwrap()] {
        let ud = shown.stack.parameters.iter().find(|p| p.key == "UserData").unwrap();
        assert!(ud.value.is_empty(), "callers never get the user data");
    }
    let debug = format!("{:?}", stored);
    assert!(!debug.contains(&*stored_ud.value), "Debug hides the user data: {debug}");
    assert!(debug.contains("UserData=<"), "{debug}");
    // An action stores the full record, never the redacted view callers get.
    engine.act(&alice(), &ida, Action::Stop).await.unwrap();
    engine.act(&alice(), &b.resource.id, Action::Terminate).await.unwrap();
    for id in [&ida, &b.resource.id] {
        let after = rig.store.get_resource(id).await.unwrap().unwrap();
        let ud = after.stack.parameters.iter().find(|p| p.key == "UserData").unwrap();
        assert!(decode(&ud.value).contains(progress::PLACEHOLDER), "{id}: the stored user data is kept");
    }
    assert_eq!(rig.store.get_resource(&ida).await.unwrap().unwrap().stack, stored.stack);
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Who {
    Owner,
    SameGroupUser,
    OtherGroupUser,
    Manager,
    OtherManager,
    Admin,
    Unauthenticated,
}

fn principal(who: Who) -> Principal {
    match who {
        Who::Owner => alice(),
        Who::SameGroupUser => Principal::new("bob", ["data-science"]),
        Who::OtherGroupUser => Principal::new("carol", ["operations"]),
        Who::Manager => Principal::new("maria", ["data-science", "managers"]),
        Who::OtherManager => Principal::new("oscar", ["operations", "managers"]),
        Who::Admin => Principal { admin: true, ..Principal::new("root", ["admins"]) },
        Who::Unauthenticated => Principal::new("", Vec::<String>::new()),
    }
}

/// Every action × every kind of caller.
#[tokio::test(start_paused = true)]
async fn authorization_table() {
    use Who::*;
    let allowed = |w: Who| matches!(w, Owner | Manager | Admin);
    for who in [Owner, SameGroupUser, OtherGroupUser, Manager, OtherManager, Admin, Unauthenticated] {
        let rig = Rig::new(SimConfig::default());
        let engine = rig.engine();
        let launched = engine.launch_instance(&alice(), instance()).await.unwrap();
        let id = launched.resource.id.clone();
        bootstrap(&engine, &launched).await;
        let p = principal(who);
        let expect = |what: &str, r: Result<()>| match (allowed(who), r) {
            (true, Ok(())) => {}
            (false, Err(Error::Forbidden(_))) if who != Unauthenticated => {}
            (false, Err(Error::Unauthenticated(_))) if who == Unauthenticated => {}
            (want, got) => panic!("{who:?} {what}: allowed={want}, got {got:?}"),
        };
        expect("view", engine.get(&p, &id).await.map(|_| ()));
        expect("events", engine.events(&p, &id).await.map(|_| ()));
        expect("watch", engine.watch(&p, &id).await.map(|_| ()));
        assert_eq!(
            engine.list(&p, true).await.map(|l| l.len()).unwrap_or(0),
            usize::from(allowed(who)),
            "{who:?} list"
        );
        expect("stop", engine.act(&p, &id, Action::Stop).await.map(|_| ()));
        if allowed(who) {
            wait_phase(&engine, &id, "stopped").await;
        }
        expect("start", engine.act(&p, &id, Action::Start).await.map(|_| ()));
        if allowed(who) {
            wait_phase(&engine, &id, "ready").await;
        }
        expect("restart", engine.act(&p, &id, Action::Restart).await.map(|_| ()));
        if allowed(who) {
            wait_phase(&engine, &id, "ready").await;
        }
        expect("terminate", engine.act(&p, &id, Action::Terminate).await.map(|_| ()));
        if allowed(who) {
            bounded(engine.wait_until(&ops(), &id, Phase::is_terminal)).await.unwrap();
        } else {
            engine.act(&alice(), &id, Action::Terminate).await.unwrap();
            bounded(engine.wait_until(&ops(), &id, Phase::is_terminal)).await.unwrap();
        }
        expect("archive", engine.act(&p, &id, Action::Archive).await.map(|_| ()));
        // Launch: only with a group config one belongs to.
        let launch = engine.launch_instance(&p, instance()).await.map(|_| ());
        match who {
            Owner | SameGroupUser | Manager => assert!(launch.is_ok(), "{who:?} launch: {launch:?}"),
            Unauthenticated => assert!(matches!(launch, Err(Error::Unauthenticated(_)))),
            _ => assert!(matches!(launch, Err(Error::Forbidden(_))), "{who:?} launch: {launch:?}"),
        }
    }
}

async fn next_id(stream: &mut EventStream) -> LaunchId {
    bounded(stream.next()).await.unwrap().resource
}

#[tokio::test(start_paused = true)]
async fn event_streams_and_waits_show_only_what_the_principal_may_see() {
    let rig = Rig::new(SimConfig::default());
    let engine = rig.engine();
    let carol = principal(Who::OtherGroupUser);
    assert!(matches!(engine.subscribe(&principal(Who::Unauthenticated)), Err(Error::Unauthenticated(_))));
    let (mut mine, mut theirs, mut admins) =
        (engine.subscribe(&alice()).unwrap(), engine.subscribe(&carol).unwrap(), engine.subscribe(&ops()).unwrap());
    let a = engine.launch_instance(&alice(), plain()).await.unwrap();
    let c = engine.launch_instance(&carol, LaunchRequest::instance("ops", "notebook", "t3.large")).await.unwrap();
    assert_eq!(next_id(&mut mine).await, a.resource.id, "alice sees her launch");
    assert_eq!(next_id(&mut theirs).await, c.resource.id, "carol sees hers, not alice's");
    assert_eq!(next_id(&mut admins).await, a.resource.id, "an admin sees both");
    assert_eq!(next_id(&mut admins).await, c.resource.id);
    let forbidden = engine.wait_until(&carol, &a.resource.id, |_| true).await;
    assert!(matches!(forbidden, Err(Error::Forbidden(_))), "{forbidden:?}");
    assert!(matches!(engine.watch(&carol, &a.resource.id).await, Err(Error::Forbidden(_))));
}

#[tokio::test(start_paused = true)]
async fn per_user_limit() {
    let rig = Rig::new(SimConfig::default());
    let engine = rig.engine();
    let carol = Principal::new("carol", ["operations"]);
    let req = || LaunchRequest::instance("ops", "notebook", "t3.large");
    engine.launch_instance(&carol, req()).await.unwrap();
    assert!(
        matches!(engine.launch_instance(&carol, req()).await, Err(Error::Forbidden(m)) if m.contains("limit is 1"))
    );
}

#[tokio::test(start_paused = true)]
async fn a_reused_launch_id_is_refused() {
    let rig = Rig::new(SimConfig::default());
    let engine = rig.engine();
    let first = engine.launch_instance(&alice(), instance()).await.unwrap();
    let again = instance().with_launch_id(first.resource.id.clone());
    assert!(matches!(engine.launch_instance(&alice(), again).await, Err(Error::AlreadyExists(_))));
    assert!(matches!(engine.launch_cluster(&alice(), instance()).await, Err(Error::Validation(_))));
}

/// Drops the engine when the resource first enters `phase`, resumes on a new engine, and
/// checks that the launch still ends right, with one stack that is deleted at the end.
async fn crash_in(phase: &'static str, kind: ResourceKind, sim: SimConfig) {
    let rig = Rig::new(sim);
    let engine = rig.engine();
    let mut events = engine.subscribe(&ops()).unwrap();
    let launched = match kind {
        ResourceKind::Instance => engine.launch_instance(&alice(), instance()).await.unwrap(),
        ResourceKind::Cluster => engine.launch_cluster(&alice(), cluster()).await.unwrap(),
    };
    let id = launched.resource.id.clone();
    let token = launched.progress_token.clone();
    let drive = |engine: Engine| {
        let id = id.clone();
        let token = token.clone();
        async move {
            loop {
                let r = engine.store_get(&id).await;
                match (&r.phase, &token) {
                    (Phase::Bootstrapping { .. }, Some(t)) if kind == ResourceKind::Instance => {
                        let _ = engine.report_progress(&id, t.expose(), 100, "done").await;
                    }
                    (Phase::Ready, _) => {
                        engine.act(&alice(), &id, Action::Stop).await.unwrap();
                    }
                    (Phase::Stopped, _) => {
                        engine.act(&alice(), &id, Action::Start).await.unwrap();
                        // Second time ready: terminate.
                        engine.wait_until(&ops(), &id, |p| p.is_usable() || p.is_terminal()).await.unwrap();
                        let _ = engine.act(&alice(), &id, Action::Terminate).await;
                    }
                    (Phase::Waiting, _) => {
                        engine.act(&alice(), &id, Action::Terminate).await.unwrap();
                    }
                    (p, _) if p.is_terminal() && !r.cleanup_pending => return r,
                    _ => {}
                }
                engine.inner.clock.sleep(Duration::from_secs(5)).await;
            }
        }
    };
    // First engine: run until the phase shows up, then crash.
    let first = tokio::spawn(drive(engine.clone()));
    loop {
        let e = events.next().await.unwrap();
        if e.resource == id && e.to.name() == phase {
            break;
        }
    }
    first.abort();
    engine.shutdown();
    drop(engine);
    let second = rig.engine();
    assert!(second.resume().await.unwrap() >= 1, "{phase}: something to resume");
    let end = bounded(drive(second)).await;
    let expected_ok = matches!(end.phase, Phase::Terminated);
    assert!(expected_ok, "{phase}/{kind:?}: ended {:?}", end.phase);
    assert_eq!(rig.cloud.duplicate_stacks(), 0, "{phase}/{kind:?}: duplicate stack");
    assert!(rig.cloud.live_stacks().is_empty(), "{phase}/{kind:?}: orphaned stack {:?}", rig.cloud.live_stacks());
    assert_eq!(rig.cloud.running_machines(), 0, "{phase}/{kind:?}");
}

impl Engine {
    async fn store_get(&self, id: &LaunchId) -> Resource {
        self.inner.store.get_resource(id).await.unwrap().unwrap()
    }
}

#[tokio::test(start_paused = true)]
async fn crash_in_every_instance_phase() {
    for phase in [
        "requested",
        "creating_stack",
        "provisioning",
        "bootstrapping",
        "ready",
        "stopping",
        "stopped",
        "starting",
        "terminating",
    ] {
        crash_in(phase, ResourceKind::Instance, SimConfig::default()).await;
        crash_in(phase, ResourceKind::Instance, SimConfig { fault_rate: 0.2, seed: 5, ..SimConfig::default() }).await;
    }
}

#[tokio::test(start_paused = true)]
async fn crash_in_every_cluster_phase() {
    for phase in ["requested", "creating_stack", "starting", "waiting", "terminating"] {
        crash_in(phase, ResourceKind::Cluster, SimConfig::default()).await;
        crash_in(phase, ResourceKind::Cluster, SimConfig { fault_rate: 0.2, seed: 9, ..SimConfig::default() }).await;
    }
}

/// A crash right after CreateStack was applied but before its id was stored: the resumed
/// engine sends the same ClientRequestToken and gets the same stack.
#[tokio::test(start_paused = true)]
async fn a_lost_create_stack_answer_makes_no_second_stack() {
    let rig = Rig::new(SimConfig { fault_rate: 1.0, seed: 2, ..SimConfig::default() });
    let engine = rig.engine();
    let launched = engine.launch_instance(&alice(), instance()).await.unwrap();
    let id = launched.resource.id.clone();
    // Every call fails at first; some were applied. Let it try for a while, then crash.
    rig.clock.sleep(Duration::from_secs(30)).await;
    engine.shutdown();
    drop(engine);
    rig.cloud.set_fault_rate(0.0);
    let second = rig.engine();
    second.resume().await.unwrap();
    second.act(&alice(), &id, Action::Terminate).await.ok();
    let end = bounded(second.wait_until(&ops(), &id, Phase::is_terminal)).await.unwrap();
    assert!(matches!(end.phase, Phase::Terminated | Phase::Failed { .. }), "{end:?}");
    assert_eq!(rig.cloud.duplicate_stacks(), 0);
}

/// Everything the engine logs at any level, through a launch with a NoEcho parameter, a
/// forged progress report, a bootstrap and a termination, holds no secret.
#[test]
fn logs_hold_no_secrets() {
    let logs = crate::testkit::CapturedLogs::start();
    let runtime = tokio::runtime::Builder::new_current_thread().enable_time().start_paused(true).build().unwrap();
    let (token, user_data) = {
        runtime.block_on(async {
            let rig = Rig::new(SimConfig { fault_rate: 0.2, seed: 4, ..SimConfig::default() });
            let engine = rig.engine();
            let launched = engine.launch_instance(&alice(), instance()).await.unwrap();
            let id = launched.resource.id.clone();
            wait_phase(&engine, &id, "bootstrapping").await;
            assert!(engine.report_progress(&id, "forged-token", 10, "x").await.is_err());
            bootstrap(&engine, &launched).await;
            engine.act(&alice(), &id, Action::Terminate).await.unwrap();
            bounded(engine.wait_until(&ops(), &id, Phase::is_terminal)).await.unwrap();
            let ud = rig.cloud.user_data_of(&launched.resource.stack.client_request_token).unwrap();
            (launched.progress_token.unwrap(), ud)
        })
    };
    let text = logs.text();
    assert!(text.contains("terminated") && text.contains("wrong token"), "the capture works: {text}");
    for secret in [token.expose(), user_data.as_str(), "db-pass-9f3e1c"] {
        assert!(!text.contains(secret), "a secret in the logs");
    }
}

/// Two replicas on one store and one cloud: every resource is driven by one of them at a
/// time, so no cloud action is sent twice.
#[tokio::test(start_paused = true)]
async fn two_replicas_never_double_an_action() {
    let rig = Rig::new(SimConfig { consistency_delay: Duration::ZERO, ..SimConfig::default() });
    let replica = |name: &str| rig.replica(name);
    let (a, b) = (replica("a"), replica("b"));
    let mut launched = Vec::new();
    for i in 0..20 {
        let engine = if i % 2 == 0 { &a } else { &b };
        launched.push(engine.launch_instance(&alice(), instance()).await.unwrap());
    }
    // Both replicas try to drive everything.
    a.resume().await.unwrap();
    b.resume().await.unwrap();
    for (i, l) in launched.iter().enumerate() {
        let engine = if i % 2 == 0 { &b } else { &a };
        bootstrap(engine, l).await;
        engine.act(&alice(), &l.resource.id, Action::Stop).await.unwrap();
    }
    for (i, l) in launched.iter().enumerate() {
        wait_phase(&a, &l.resource.id, "stopped").await;
        let engine = if i % 2 == 0 { &a } else { &b };
        engine.act(&alice(), &l.resource.id, Action::Terminate).await.unwrap();
    }
    for l in &launched {
        assert_eq!(
            bounded(a.wait_until(&ops(), &l.resource.id, Phase::is_terminal)).await.unwrap().phase,
            Phase::Terminated
        );
    }
    let calls = rig.cloud.calls();
    assert_eq!((calls["CreateStack"], calls["StopInstances"], calls["DeleteStack"]), (20, 20, 20), "{calls:?}");
    assert!(rig.cloud.live_stacks().is_empty());
}

/// A replica that dies holding leases: another takes its resources over once they expire.
#[tokio::test(start_paused = true)]
async fn a_dead_replicas_resources_are_taken_over() {
    let rig = Rig::new(SimConfig::default());
    let replica = |name: &str| rig.replica(name);
    let a = replica("a");
    let launched = a.launch_instance(&alice(), instance()).await.unwrap();
    let id = launched.resource.id.clone();
    wait_phase(&a, &id, "creating_stack").await;
    a.shutdown();
    drop(a);
    let b = replica("b");
    b.resume().await.unwrap();
    let r = bootstrap(&b, &launched).await;
    assert_eq!(r.phase, Phase::Ready);
    let events = b.events(&alice(), &id).await.unwrap();
    let at = |name: &str| events.iter().find(|e| e.to.name() == name).unwrap().at;
    let waited = at("provisioning").since(at("creating_stack"));
    assert!(waited >= Duration::from_secs(120), "b took over only when a's lease ran out: {waited:?}");
    b.act(&alice(), &id, Action::Terminate).await.unwrap();
    assert_eq!(bounded(b.wait_until(&ops(), &id, Phase::is_terminal)).await.unwrap().phase, Phase::Terminated);
}

/// A replica that stops cleanly gives its leases up: another takes over at once, and a launch
/// on its behalf is owned by the user and recorded as the admin's.
#[tokio::test(start_paused = true)]
async fn a_stopped_replica_hands_over_at_once() {
    let rig = Rig::new(SimConfig::default());
    let a = rig.replica("a");
    assert!(matches!(a.launch_for(&alice(), &alice(), instance()).await, Err(crate::Error::Forbidden(_))));
    let launched = a.launch_for(&ops(), &alice(), instance()).await.unwrap();
    let id = launched.resource.id.clone();
    assert_eq!(launched.resource.owner, "alice");
    wait_phase(&a, &id, "creating_stack").await;
    a.stop().await;
    assert!(a.is_shut_down());
    let b = rig.replica("b");
    b.resume().await.unwrap();
    assert_eq!(bootstrap(&b, &launched).await.phase, Phase::Ready);
    let events = b.events(&alice(), &id).await.unwrap();
    let at = |name: &str| events.iter().find(|e| e.to.name() == name).unwrap().at;
    let waited = at("provisioning").since(at("creating_stack"));
    assert!(waited < Duration::from_secs(120), "b did not wait for a's lease to run out: {waited:?}");
    assert!(matches!(&events[0].actor, Actor::User(u) if u == "ops"), "{:?}", events[0]);
    assert!(events[0].reason.contains("by ops for alice"), "{}", events[0].reason);
    assert_eq!(rig.cloud.calls().get("CreateStack"), Some(&1));
}

fn job_flow() -> LaunchRequest {
    let options =
        ClusterOptions { core_nodes: 2, task_nodes: 1, market: Market::Spot { bid: Some(0.2) }, purpose: "etl".into() };
    LaunchRequest::cluster("ds", "spark-direct", "m5.xlarge", options)
}

#[tokio::test(start_paused = true)]
async fn job_flow_cluster_lifecycle() {
    let rig = Rig::new(SimConfig::default());
    let engine = rig.engine();
    let launched = engine.launch_cluster(&alice(), job_flow()).await.unwrap();
    let spec = launched.resource.job_flow.clone().unwrap();
    let counts: Vec<u32> = spec.instances.instance_groups.iter().map(|g| g.instance_count).collect();
    assert_eq!((counts, spec.job_flow_role.as_deref()), (vec![1, 2, 1], Some("ds-nodes")));
    assert_eq!(spec.instances.instance_groups[1].bid_price.as_deref(), Some("0.2"));
    assert_eq!(spec.auto_termination_policy.map(|p| p.idle_timeout), Some(90 * 60));
    assert!(spec.tags.iter().any(|t| t.key == crate::model::LAUNCH_ID_TAG && t.value == launched.resource.id.as_str()));
    let id = launched.resource.id.clone();
    let up = wait_phase(&engine, &id, "waiting").await;
    assert_eq!(up.phase, Phase::Waiting, "{up:?}");
    let cluster_id = up.cluster_id.clone().unwrap();
    assert!(up.private_ip.is_some());

    let step = Step::command("count", vec!["spark-submit".into()]);
    let done = bounded(engine.run_steps(&alice(), &id, vec![step])).await.unwrap();
    assert_eq!(done.len(), 1);
    assert_eq!(done[0].state, StepState::Completed);

    let pip = crate::deploy::Deployment::pip("pandas>=2").unwrap();
    let report = bounded(engine.deploy(&alice(), &id, &pip)).await.unwrap();
    assert_eq!(report.nodes.len(), 4, "master, two core and one task node");
    assert!(report.succeeded(), "{report:?}");

    engine.act(&alice(), &id, Action::Terminate).await.unwrap();
    let end = wait_phase(&engine, &id, "terminated").await;
    assert_eq!(end.phase, Phase::Terminated, "{end:?}");
    let info = rig.cloud.describe_cluster(&cluster_id).await.unwrap().unwrap();
    assert!(info.state.is_terminated(), "{info:?}");
    let calls = rig.cloud.calls();
    assert_eq!(calls.get("RunJobFlow"), Some(&1));
    assert_eq!(calls.get("CreateStack"), None, "a job flow needs no stack");
    let reasons: Vec<String> = engine.events(&alice(), &id).await.unwrap().into_iter().map(|e| e.reason).collect();
    assert!(reasons.iter().any(|r| r.contains("steps added by alice: count")), "{reasons:?}");
    assert!(reasons.iter().any(|r| r.contains("python package pandas>=2: succeeded")), "{reasons:?}");
}

/// RunJobFlow has no idempotency token. Answers lost after the cluster was created (and a
/// crash on top) must not submit a second cluster: the launch's tag is looked for first.
#[tokio::test(start_paused = true)]
async fn lost_run_job_flow_answers_submit_no_second_cluster() {
    for seed in 1..=12 {
        let rig = Rig::new(SimConfig { fault_rate: 0.5, seed, ..SimConfig::default() });
        let engine = rig.engine();
        let id = engine.launch_cluster(&alice(), job_flow()).await.unwrap().resource.id;
        rig.clock.sleep(Duration::from_secs(5)).await;
        engine.shutdown();
        drop(engine);
        let second = rig.engine();
        second.resume().await.unwrap();
        let up = wait_phase(&second, &id, "waiting").await;
        assert_eq!(up.phase, Phase::Waiting, "seed {seed}: {up:?}");
        second.act(&alice(), &id, Action::Terminate).await.unwrap();
        let end = bounded(second.wait_until(&ops(), &id, Phase::is_terminal)).await.unwrap();
        assert_eq!(end.phase, Phase::Terminated, "seed {seed}: {end:?}");
        assert_eq!(rig.cloud.duplicate_stacks(), 0, "seed {seed}: a second cluster for one launch");
        assert_eq!(rig.cloud.running_machines(), 0, "seed {seed}");
    }
}

#[tokio::test(start_paused = true)]
async fn a_failed_step_ends_the_wait_with_its_details() {
    let rig = Rig::new(SimConfig { fail_step_rate: 1.0, ..SimConfig::default() });
    let engine = rig.engine();
    // The template cluster (the job flow's own setup step would fail first).
    let id = engine.launch_cluster(&alice(), cluster()).await.unwrap().resource.id;
    wait_phase(&engine, &id, "waiting").await;
    let step = Step::command("etl", vec![]);
    let err = bounded(engine.run_steps(&alice(), &id, vec![step])).await.unwrap_err();
    assert_eq!(err.kind(), "step_failed");
    assert!(err.to_string().contains("step etl") && err.to_string().contains("exited with status 1"), "{err}");
    let Error::StepFailed { cluster, .. } = &err else { unreachable!() };
    assert!(cluster.starts_with("j-"), "{err:?}");
    let events = engine.events(&alice(), &id).await.unwrap();
    assert!(events.iter().any(|e| e.reason.contains("ended Failed")), "{events:?}");
}

#[tokio::test(start_paused = true)]
async fn steps_and_deployments_need_a_running_cluster_and_rights() {
    let rig = Rig::new(SimConfig::default());
    let engine = rig.engine();
    let id = engine.launch_cluster(&alice(), job_flow()).await.unwrap().resource.id;
    let pip = crate::deploy::Deployment::pip("numpy").unwrap();
    let early = engine.deploy(&alice(), &id, &pip).await.unwrap_err();
    assert_eq!(early.kind(), "validation", "{early}");
    wait_phase(&engine, &id, "waiting").await;
    let bob = Principal::new("bob", ["data-science"]);
    assert_eq!(engine.deploy(&bob, &id, &pip).await.unwrap_err().kind(), "forbidden");
    let nobody = Principal::new("", Vec::<String>::new());
    assert_eq!(engine.run_steps(&nobody, &id, vec![]).await.unwrap_err().kind(), "unauthenticated");
    let nameless = Step::command(" ", vec![]);
    assert_eq!(engine.run_steps(&alice(), &id, vec![nameless]).await.unwrap_err().kind(), "validation");
    let box_ = engine.launch_instance(&alice(), plain()).await.unwrap();
    wait_phase(&engine, &box_.resource.id, "ready").await;
    assert_eq!(engine.deploy(&alice(), &box_.resource.id, &pip).await.unwrap_err().kind(), "validation");
    assert_eq!(rig.cloud.calls().get("SendCommand"), None, "nothing was sent");
}

mod refresh {
    use super::*;
    use crate::engine::RefreshConfig;

    fn every_time() -> RefreshConfig {
        RefreshConfig { min_interval: Duration::ZERO, ..RefreshConfig::default() }
    }

    async fn phase(engine: &Engine, id: &LaunchId) -> Phase {
        engine.get(&alice(), id).await.unwrap().phase
    }

    /// Stopped, started and terminated outside mliy; a cluster gone only after two passes.
    #[tokio::test(start_paused = true)]
    async fn refresh_follows_what_happened_outside() {
        let rig = Rig::new(SimConfig { consistency_delay: Duration::ZERO, ..SimConfig::default() });
        let engine = rig.engine();
        let mut ids = Vec::new();
        for _ in 0..3 {
            ids.push(engine.launch_instance(&alice(), plain()).await.unwrap().resource.id);
        }
        let cluster = engine.launch_cluster(&alice(), job_flow()).await.unwrap().resource.id;
        for id in &ids {
            wait_phase(&engine, id, "ready").await;
        }
        wait_phase(&engine, &cluster, "waiting").await;
        let quiet = engine.refresh(&every_time()).await.unwrap();
        assert_eq!((quiet.changes, quiet.checked, quiet.unknown), (0, 4, 0), "{quiet:?}");
        assert!(quiet.unmanaged.is_empty());
        assert_eq!(quiet.cloud_calls, 2, "one page of instances, one of clusters");

        let r = |i: usize| ids[i].clone();
        let stopped = engine.get(&alice(), &r(0)).await.unwrap();
        rig.cloud.stop_instances(&[stopped.instance_id.clone().unwrap()]).await.unwrap();
        let gone = engine.get(&alice(), &r(1)).await.unwrap();
        rig.cloud.delete_stack(gone.stack_id.as_deref().unwrap()).await.unwrap();
        let c = engine.get(&alice(), &cluster).await.unwrap();
        rig.cloud.terminate_clusters(&[c.cluster_id.clone().unwrap()]).await.unwrap();
        rig.clock.sleep(Duration::from_secs(600)).await;

        let first = engine.refresh(&every_time()).await.unwrap();
        assert_eq!((first.changes, first.absent), (2, 1), "{first:?}");
        assert_eq!(phase(&engine, &r(0)).await, Phase::Stopped);
        assert_eq!(phase(&engine, &r(1)).await, Phase::Terminated);
        assert_eq!(phase(&engine, &cluster).await, Phase::Waiting, "absent once is not gone");
        let second = engine.refresh(&every_time()).await.unwrap();
        assert_eq!(second.changes, 1, "{second:?}");
        assert_eq!(phase(&engine, &cluster).await, Phase::Terminated);
        let reasons: Vec<String> =
            engine.events(&alice(), &r(0)).await.unwrap().into_iter().map(|e| e.reason).collect();
        assert!(reasons.iter().any(|x| x.contains("stopped outside mliy")), "{reasons:?}");
        for id in [r(1), cluster.clone()] {
            let bills = rig.store.billing(Some(&id)).await.unwrap();
            assert!(!bills.is_empty() && bills.iter().all(|b| b.end.is_some()), "bills of {id} closed: {bills:?}");
        }

        rig.cloud.start_instances(&[stopped.instance_id.clone().unwrap()]).await.unwrap();
        rig.clock.sleep(Duration::from_secs(600)).await;
        let third = engine.refresh(&every_time()).await.unwrap();
        assert_eq!(third.changes, 1, "{third:?}");
        assert_eq!(phase(&engine, &r(0)).await, Phase::Ready);
        assert_eq!(phase(&engine, &r(2)).await, Phase::Ready, "the untouched one stays");
    }

    /// A pass whose listings fail concludes nothing: no record changes.
    #[tokio::test(start_paused = true)]
    async fn failed_listings_change_nothing() {
        let rig = Rig::new(SimConfig::default());
        let engine = rig.engine();
        let id = engine.launch_instance(&alice(), plain()).await.unwrap().resource.id;
        let before = wait_phase(&engine, &id, "ready").await;
        rig.cloud.set_fault_rate(1.0);
        for _ in 0..5 {
            let report = engine.refresh(&every_time()).await.unwrap();
            assert_eq!((report.changes, report.unknown, report.absent), (0, 1, 0), "{report:?}");
        }
        rig.cloud.set_fault_rate(0.0);
        assert_eq!(engine.get(&alice(), &id).await.unwrap(), before);
    }

    /// The background loop refreshes every interval and ends when told to, or with the engine.
    #[tokio::test(start_paused = true)]
    async fn the_background_loop_runs_and_stops() {
        let rig = Rig::new(SimConfig { consistency_delay: Duration::ZERO, ..SimConfig::default() });
        let engine = rig.engine();
        let id = engine.launch_instance(&alice(), plain()).await.unwrap().resource.id;
        let ready = wait_phase(&engine, &id, "ready").await;
        let stop = Arc::new(tokio::sync::Notify::new());
        let config = RefreshConfig { min_interval: Duration::from_secs(30), ..RefreshConfig::default() };
        let handle = engine.spawn_refresh(config.clone(), Duration::from_secs(60), stop.clone());
        rig.cloud.stop_instances(&[ready.instance_id.clone().unwrap()]).await.unwrap();
        rig.clock.sleep(Duration::from_secs(300)).await;
        assert_eq!(phase(&engine, &id).await, Phase::Stopped, "a background pass saw the stop");
        stop.notify_one();
        bounded(handle).await.unwrap();
        let again = engine.spawn_refresh(config, Duration::from_secs(60), Arc::new(tokio::sync::Notify::new()));
        engine.shutdown();
        bounded(again).await.unwrap();
    }

    #[tokio::test(start_paused = true)]
    async fn one_pass_at_a_time_across_replicas() {
        let rig = Rig::new(SimConfig::default());
        let (a, b) = (rig.replica("a"), rig.replica("b"));
        let config = RefreshConfig { min_interval: Duration::from_secs(60), ..RefreshConfig::default() };
        assert!(a.refresh(&config).await.unwrap().skipped.is_none());
        assert_eq!(a.refresh(&config).await.unwrap().skipped, Some("the last pass was too recent"));
        let now = rig.clock.now();
        rig.store.try_lease("refresh", "a", now.plus(Duration::from_secs(300)), now).await.unwrap();
        assert_eq!(b.refresh(&config).await.unwrap().skipped, Some("another replica refreshes"));
    }

    /// A machine with the managed tag that the store does not know is reported.
    #[tokio::test(start_paused = true)]
    async fn unmanaged_machines_are_reported() {
        let rig = Rig::new(SimConfig { consistency_delay: Duration::ZERO, ..SimConfig::default() });
        let engine = rig.engine();
        let other = Rig::new(SimConfig::default());
        let foreign = other.engine().launch_instance(&alice(), plain()).await.unwrap().resource;
        rig.cloud.create_stack(&foreign.stack).await.unwrap();
        rig.clock.sleep(Duration::from_secs(600)).await;
        let report = engine.refresh(&every_time()).await.unwrap();
        assert_eq!(report.unmanaged.len(), 1, "{report:?}");
        assert_eq!(report.unmanaged[0].launch_id.as_deref(), Some(foreign.id.as_str()));

        // An admin takes it over; it is then an ordinary resource.
        let adoption = crate::engine::Adoption {
            kind: ResourceKind::Instance,
            machine_id: report.unmanaged[0].id.clone(),
            owner: "alice".into(),
            owner_groups: vec!["data-science".into()],
            group_config: "ds".into(),
            software_config: "plain".into(),
        };
        assert_eq!(engine.adopt(&alice(), &adoption).await.unwrap_err().kind(), "forbidden");
        let mut root = Principal::new("root", ["admins"]);
        root.admin = true;
        let adopted = engine.adopt(&root, &adoption).await.unwrap();
        assert_eq!((adopted.id.clone(), adopted.phase.clone()), (foreign.id.clone(), Phase::Ready));
        assert!(adopted.stack_id.is_some() && adopted.private_ip.is_some(), "{adopted:?}");
        assert_eq!(engine.adopt(&root, &adoption).await.unwrap_err().kind(), "already_exists");
        assert!(engine.refresh(&every_time()).await.unwrap().unmanaged.is_empty());
        engine.act(&alice(), &adopted.id, Action::Terminate).await.unwrap();
        wait_phase(&engine, &adopted.id, "terminated").await;
        assert!(rig.cloud.live_stacks().is_empty(), "its stack deleted");
        let bills = rig.store.billing(Some(&adopted.id)).await.unwrap();
        assert!(bills.len() == 1 && bills[0].end.is_some(), "billed from adoption to termination: {bills:?}");
    }

    /// A cluster MLiy launched (`Launched By=MLiy`, `Creator`, `UserGroup`; no software config
    /// tag) is found, mapped and adopted, then terminated through mliy.
    #[tokio::test(start_paused = true)]
    async fn mliy_clusters_are_found_mapped_and_adopted() {
        use crate::model::{ClusterSpec, Tag};
        let rig = Rig::new(SimConfig { consistency_delay: Duration::ZERO, ..SimConfig::default() });
        let engine = rig.engine();
        let tags = [("Launched By", "MLiy"), ("Creator", "erin"), ("UserGroup", "data-science"), ("Purpose", "x")];
        let spec = ClusterSpec::spark("mliy-made", tags.iter().map(|(k, v)| Tag::new(*k, *v)).collect());
        let made = rig.cloud.run_job_flow(&spec).await.unwrap();
        rig.cloud.run_job_flow(&ClusterSpec::spark("someone-else", Vec::new())).await.unwrap();
        let mut root = Principal::new("root", ["admins"]);
        assert_eq!(engine.unmanaged_mliy_machines(&root).await.unwrap_err().kind(), "forbidden");
        root.admin = true;
        let found = engine.unmanaged_mliy_machines(&root).await.unwrap();
        assert_eq!(
            found.iter().map(|m| (m.kind, m.id.as_str())).collect::<Vec<_>>(),
            [(ResourceKind::Cluster, made.as_str())]
        );
        // Two EMR software configs may serve group config ds: the tags cannot say which.
        let catalog = engine.catalog();
        let e = Adoption::from_tags(&found[0], catalog).unwrap_err();
        assert!(e.to_string().contains("several EMR software configs"), "{e}");
        let dump = format!(
            r#"[{{"model": "mliyweb.software_config", "pk": 7, "fields": {{"name": "spark-direct"}}}},
               {{"model": "mliyweb.cluster", "pk": "arn:stack", "fields": {{"cluster_id": "{made}", "userid": "erin", "software_config": 7}}}}]"#
        );
        let records = crate::import::MliyRecords::parse(&dump).unwrap();
        let adoption = Adoption::from_mliy(&found[0], catalog, &records).unwrap();
        assert_eq!((adoption.owner.as_str(), adoption.group_config.as_str()), ("erin", "ds"));
        assert_eq!(adoption.software_config, "spark-direct");
        let e = engine.adopt(&root, &adoption).await.unwrap_err();
        assert!(e.to_string().contains("still starting"), "{e}");
        rig.clock.sleep(Duration::from_secs(1800)).await;
        let adopted = engine.adopt(&root, &adoption).await.unwrap();
        assert_eq!((adopted.phase.clone(), adopted.cluster_id.as_deref()), (Phase::Waiting, Some(made.as_str())));
        assert!(engine.unmanaged_mliy_machines(&root).await.unwrap().is_empty());
        let erin = Principal::new("erin", ["data-science"]);
        engine.act(&erin, &adopted.id, Action::Terminate).await.unwrap();
        let gone = wait_phase(&engine, &adopted.id, "terminated").await;
        let events = engine.events(&erin, &gone.id).await.unwrap();
        assert!(events.iter().any(|e| e.reason == "cluster terminated"), "{events:?}");
        assert!(rig.cloud.describe_cluster(&made).await.unwrap().unwrap().state.is_terminated());
    }
}

mod refresh_more {
    use super::*;
    use crate::engine::RefreshConfig;

    /// Missing from one listing and back in the next (eventual consistency) ends nothing.
    #[tokio::test(start_paused = true)]
    async fn absent_once_then_back_is_not_gone() {
        let rig = Rig::new(SimConfig { consistency_delay: Duration::ZERO, ..SimConfig::default() });
        let engine = rig.engine();
        let id = engine.launch_instance(&alice(), plain()).await.unwrap().resource.id;
        let ready = wait_phase(&engine, &id, "ready").await;
        // The record points at an instance id the listing lacks, then at the real one again.
        let config = RefreshConfig { min_interval: Duration::ZERO, ..RefreshConfig::default() };
        let mut moved = ready.clone();
        moved.instance_id = Some("i-00000000000000000".into());
        moved.version += 1;
        rig.store.update_resource(&moved, ready.version, None).await.unwrap();
        let first = engine.refresh(&config).await.unwrap();
        assert_eq!((first.absent, first.changes), (1, 0), "{first:?}");
        let mut back = moved.clone();
        back.instance_id = ready.instance_id.clone();
        back.version += 1;
        rig.store.update_resource(&back, moved.version, None).await.unwrap();
        let second = engine.refresh(&config).await.unwrap();
        assert_eq!((second.absent, second.changes), (0, 0), "{second:?}");
        let third = engine.refresh(&config).await.unwrap();
        assert_eq!((third.absent, third.changes), (0, 0), "the count started again: {third:?}");
        assert_eq!(engine.get(&alice(), &id).await.unwrap().phase, Phase::Ready);
    }
}

mod dns {
    use super::*;
    pub(super) use crate::dns::MemoryDns;
    use crate::engine::RefreshConfig;

    pub(super) fn engine_with(rig: &Rig, dns: Arc<MemoryDns>, keep: bool) -> Engine {
        Engine::builder()
            .catalog(Catalog::from_yaml_str(CATALOG).unwrap())
            .cloud(rig.cloud.clone())
            .store(rig.store.clone())
            .clock(rig.clock.clone())
            .dns(dns)
            .config(EngineConfig { keep_dns_when_stopped: keep, ..rig.config.clone() })
            .build()
            .unwrap()
    }

    /// A ready instance on an engine with in-memory DNS.
    async fn ready_with_dns(keep_when_stopped: bool) -> (Rig, Arc<MemoryDns>, Engine, Resource) {
        let rig = Rig::new(SimConfig { consistency_delay: Duration::ZERO, ..SimConfig::default() });
        let dns = Arc::new(MemoryDns::new("example.test"));
        let engine = engine_with(&rig, dns.clone(), keep_when_stopped);
        let id = engine.launch_instance(&alice(), plain()).await.unwrap().resource.id;
        let ready = wait_phase(&engine, &id, "ready").await;
        (rig, dns, engine, ready)
    }

    #[tokio::test(start_paused = true)]
    async fn records_follow_the_lifecycle_and_failures_are_retried() {
        let (rig, dns, engine, ready) = ready_with_dns(false).await;
        let id = ready.id.clone();
        let name = format!("mliy-{id}.example.test");
        assert_eq!(ready.dns_name.as_deref(), Some(name.as_str()));
        assert_eq!(dns.records().get(&name), ready.private_ip.as_ref());

        engine.act(&alice(), &id, Action::Stop).await.unwrap();
        wait_phase(&engine, &id, "stopped").await;
        assert!(dns.records().is_empty(), "deleted on stop");
        engine.act(&alice(), &id, Action::Start).await.unwrap();
        wait_phase(&engine, &id, "ready").await;
        assert!(dns.records().contains_key(&name), "made again on start");

        // Down while the instance is stopped and started outside mliy: the failure is an
        // event, not a failure of the resource; the next pass makes the record.
        dns.set_down(true);
        let r = engine.get(&alice(), &id).await.unwrap();
        rig.cloud.stop_instances(&[r.instance_id.clone().unwrap()]).await.unwrap();
        rig.clock.sleep(Duration::from_secs(300)).await;
        let config = RefreshConfig { min_interval: Duration::ZERO, ..RefreshConfig::default() };
        engine.refresh(&config).await.unwrap();
        rig.cloud.start_instances(&[r.instance_id.clone().unwrap()]).await.unwrap();
        rig.clock.sleep(Duration::from_secs(300)).await;
        engine.refresh(&config).await.unwrap();
        let up = engine.get(&alice(), &id).await.unwrap();
        assert_eq!(up.phase, Phase::Ready);
        let events = engine.events(&alice(), &id).await.unwrap();
        assert!(events.iter().any(|e| e.reason.contains("DNS upsert of") && e.reason.contains("failed")), "{events:?}");
        dns.set_down(false);
        let before = engine.get(&alice(), &id).await.unwrap();
        let pass = engine.refresh(&config).await.unwrap();
        assert_eq!(pass.changes, 1, "{pass:?} {before:?} {events:?}");
        assert!(dns.records().contains_key(&name), "retried on the next pass");

        engine.act(&alice(), &id, Action::Terminate).await.unwrap();
        wait_phase(&engine, &id, "terminated").await;
        assert!(dns.records().is_empty(), "deleted on terminate");
    }

    #[tokio::test(start_paused = true)]
    async fn a_stopped_instance_may_keep_its_record() {
        let (_rig, dns, engine, ready) = ready_with_dns(true).await;
        let id = ready.id;
        engine.act(&alice(), &id, Action::Stop).await.unwrap();
        wait_phase(&engine, &id, "stopped").await;
        assert_eq!(dns.records().len(), 1);
    }
}

mod vanishing {
    use super::dns::{MemoryDns, engine_with};
    use super::*;
    use crate::engine::RefreshConfig;

    /// Two absent passes end a cluster: its bill is closed and its DNS record deleted.
    #[tokio::test(start_paused = true)]
    async fn two_absent_passes_end_the_record_its_bill_and_its_name() {
        let rig = Rig::new(SimConfig::default());
        let names = Arc::new(MemoryDns::new("example.test"));
        let engine = engine_with(&rig, names.clone(), false);
        let id = engine.launch_cluster(&alice(), job_flow()).await.unwrap().resource.id;
        let up = wait_phase(&engine, &id, "waiting").await;
        assert_eq!(names.records().len(), 1, "the master's name");
        rig.cloud.terminate_clusters(&[up.cluster_id.clone().unwrap()]).await.unwrap();
        rig.clock.sleep(Duration::from_secs(600)).await;
        let config = RefreshConfig { min_interval: Duration::ZERO, ..RefreshConfig::default() };
        engine.refresh(&config).await.unwrap();
        assert_eq!(engine.get(&alice(), &id).await.unwrap().phase, Phase::Waiting);
        engine.refresh(&config).await.unwrap();
        let end = engine.get(&alice(), &id).await.unwrap();
        assert_eq!(end.phase, Phase::Terminated);
        assert!(names.records().is_empty(), "name deleted");
        let bills = rig.store.billing(Some(&id)).await.unwrap();
        assert!(!bills.is_empty() && bills.iter().all(|b| b.end.is_some()), "{bills:?}");
    }
}

/// MLiy's images unchanged: reports by instance id through `MANAGER_HOSTNAME` while the
/// stack waits for the bootstrap's signal (SimCloud models the signal; moto ignores
/// `CreationPolicy` and completes such stacks at once).
mod mliy_images {
    use super::*;
    use crate::cloud::CloudExt;
    use crate::model::{ProgressProtocol, ReadyWhen, Source};
    use base64::Engine as _;

    const SIGNALLED: &str = "Parameters:\n  InstanceType: {Type: String}\n  UserData: {Type: String}\n  \
        ResourceSignalTimeout: {Type: String, Default: PT30M}\nResources:\n  EC2Instance:\n    Type: \
        'AWS::EC2::Instance'\n    CreationPolicy: {ResourceSignal: {Timeout: !Ref ResourceSignalTimeout}}\n";

    /// An engine whose `notebook` is an MLiy image on a signalled template.
    pub(super) fn mliy_engine(rig: &Rig, ready_when: Option<ReadyWhen>) -> Engine {
        rig.replica_with("mliy", |c| {
            let sc = &mut c.software_configs[0];
            sc.template = Some(Source::inline(SIGNALLED));
            sc.user_data = Some(Source::inline("#!/bin/bash\nexport MANAGER_HOSTNAME='{{{MANAGER_HOSTNAME}}}'\n"));
            sc.progress_protocol = ProgressProtocol::Mliy;
            sc.params.clear();
            sc.ready_when = ready_when;
        })
    }

    /// The stack's id and its instance once it runs (what the image finds out about itself).
    pub(super) async fn running_instance(rig: &Rig, r: &Resource) -> (String, String) {
        loop {
            if let Some(stack) = rig.cloud.describe_stack(&r.stack.name).await.unwrap() {
                let resources = rig.cloud.stack_resources(&stack.id).await.unwrap();
                let id = resources.iter().find(|x| x.resource_type == "AWS::EC2::Instance").unwrap();
                let iid = id.physical_id.clone().unwrap();
                let info = rig.cloud.describe_instance(&iid).await.unwrap();
                if info.is_some_and(|i| i.state == crate::cloud::InstanceState::Running) {
                    return (stack.id, iid);
                }
            }
            rig.clock.sleep(Duration::from_secs(10)).await;
        }
    }

    /// The path MLiy's `send_progress` calls: `https://$MANAGER_HOSTNAME/ajax/progress/…`.
    pub(super) fn path(rig: &Rig, r: &Resource, instance: &str, report: &str) -> String {
        let b64 = rig.cloud.user_data_of(&r.stack.client_request_token).unwrap();
        let text = String::from_utf8(base64::engine::general_purpose::STANDARD.decode(b64).unwrap()).unwrap();
        let host = text.split("MANAGER_HOSTNAME='").nth(1).unwrap().split('\'').next().unwrap();
        let url = format!("https://{host}/ajax/progress/{instance}/{report}");
        let rest = url.strip_prefix("https://portal").expect("the portal's host from progress_url");
        rest.to_string()
    }

    #[tokio::test(start_paused = true)]
    async fn a_signalling_image_that_never_sends_100_becomes_ready() {
        let rig = Rig::new(SimConfig::default());
        let engine = mliy_engine(&rig, None);
        let launched = engine.launch_instance(&alice(), instance()).await.unwrap();
        let id = launched.resource.id.clone();
        wait_phase(&engine, &id, "creating_stack").await;
        let (stack, iid) = running_instance(&rig, &launched.resource).await;
        for (n, step) in [(10, "mounting_ebs_filesystem"), (40, "installing_base_packages"), (80, "setting_up")] {
            let r =
                engine.report_mliy_path(&path(&rig, &launched.resource, &iid, &format!("{step}({n})"))).await.unwrap();
            assert!(
                matches!(r.phase, Phase::Bootstrapping { percent, stack_creating: true, .. } if percent == n),
                "{r:?}"
            );
        }
        // Out of order and repeated: kept, never back.
        let late = engine.report_mliy_path(&path(&rig, &launched.resource, &iid, "x(40)")).await.unwrap();
        assert!(matches!(late.phase, Phase::Bootstrapping { percent: 80, .. }));
        rig.cloud.signal_resource(&stack, "EC2Instance").await.unwrap();
        engine.report_mliy_path(&path(&rig, &launched.resource, &iid, "rebooting_MLiy(90)")).await.unwrap();
        let ready = wait_phase(&engine, &id, "ready").await;
        assert_eq!((ready.phase, ready.instance_id.as_deref()), (Phase::Ready, Some(iid.as_str())));
        assert!(ready.private_ip.is_some());
        let events = engine.events(&alice(), &id).await.unwrap();
        let reports: Vec<&str> =
            events.iter().filter(|e| e.actor == Actor::Bootstrap).map(|e| e.reason.as_str()).collect();
        assert_eq!(
            reports,
            [
                "bootstrap: 10% mounting ebs filesystem",
                "bootstrap: 40% installing base packages",
                "bootstrap: 80% setting up",
                "bootstrap: 90% rebooting MLiy"
            ]
        );
        assert!(events.iter().any(|e| e.reason.contains("ready_when: first")), "{events:?}");
        // The older image's done(100) after the reboot is noted and closes the reports.
        engine.report_mliy_path(&path(&rig, &launched.resource, &iid, "done(100)")).await.unwrap();
        let again = engine.report_mliy_path(&path(&rig, &launched.resource, &iid, "done(100)")).await;
        assert!(matches!(again, Err(Error::Forbidden(_))), "{again:?}");
        assert_eq!(engine.get(&alice(), &id).await.unwrap().phase, Phase::Ready);
    }

    #[tokio::test(start_paused = true)]
    async fn a_missed_signal_fails_with_cloudformations_reason() {
        let rig = Rig::new(SimConfig::default());
        let engine = mliy_engine(&rig, None);
        let launched = engine.launch_instance(&alice(), instance()).await.unwrap();
        let id = launched.resource.id.clone();
        let (_, iid) = running_instance(&rig, &launched.resource).await;
        engine.report_mliy_path(&path(&rig, &launched.resource, &iid, "step(10)")).await.unwrap();
        let failed = bounded(engine.wait_until(&ops(), &id, Phase::is_terminal)).await.unwrap();
        let Phase::Failed { reason } = &failed.phase else { panic!("{failed:?}") };
        assert!(
            reason.contains("EC2Instance: Failed to receive 1 resource signal(s) within the specified duration"),
            "{reason}"
        );
        bounded(async {
            while !rig.cloud.live_stacks().is_empty() {
                rig.clock.sleep(Duration::from_secs(30)).await;
            }
        })
        .await;
    }

    #[tokio::test(start_paused = true)]
    async fn progress_100_waits_for_100_after_the_signal() {
        let rig = Rig::new(SimConfig::default());
        let engine = mliy_engine(&rig, Some(ReadyWhen::Progress100));
        let launched = engine.launch_instance(&alice(), instance()).await.unwrap();
        let id = launched.resource.id.clone();
        let (stack, iid) = running_instance(&rig, &launched.resource).await;
        rig.cloud.signal_resource(&stack, "EC2Instance").await.unwrap();
        let r = wait_phase(&engine, &id, "bootstrapping").await;
        assert!(matches!(r.phase, Phase::Bootstrapping { stack_creating: false, .. }), "{r:?}");
        rig.clock.sleep(Duration::from_secs(600)).await;
        assert!(matches!(engine.get(&alice(), &id).await.unwrap().phase, Phase::Bootstrapping { .. }));
        let done = engine.report_mliy_path(&path(&rig, &launched.resource, &iid, "done(100)")).await.unwrap();
        assert_eq!(done.phase, Phase::Ready);
    }

    #[tokio::test(start_paused = true)]
    async fn reports_need_the_launchs_secret_and_its_own_instance() {
        let rig = Rig::new(SimConfig::default());
        let engine = mliy_engine(&rig, None);
        let a = engine.launch_instance(&alice(), instance()).await.unwrap();
        let b = engine.launch_instance(&alice(), instance()).await.unwrap();
        let (_, ia) = running_instance(&rig, &a.resource).await;
        let (_, ib) = running_instance(&rig, &b.resource).await;
        // a's secret for b's instance: refused, and b's record is not touched.
        let e = engine.report_mliy_path(&path(&rig, &a.resource, &ib, "x(10)")).await.unwrap_err();
        assert!(matches!(e, Error::Forbidden(_)), "{e}");
        let wrong = format!("/ajax/s/{}/ajax/progress/{ia}/x(10)", "0".repeat(64));
        assert!(matches!(engine.report_mliy_path(&wrong).await.unwrap_err(), Error::Forbidden(_)));
        let bare = format!("/ajax/progress/{ia}/x(10)");
        assert!(matches!(engine.report_mliy_path(&bare).await.unwrap_err(), Error::Validation(_)));
        engine.report_mliy_path(&path(&rig, &a.resource, &ia, "x(10)")).await.unwrap();
        assert_eq!(engine.get(&alice(), &b.resource.id).await.unwrap().instance_id, None);
    }

    #[tokio::test(start_paused = true)]
    async fn the_mliy_protocol_needs_an_https_portal_address() {
        let rig = Rig::with(
            SimConfig::default(),
            EngineConfig { progress_url: Some("http://portal".into()), ..EngineConfig::default() },
        );
        let engine = mliy_engine(&rig, None);
        let e = engine.launch_instance(&alice(), instance()).await.unwrap_err();
        let Error::Validation(v) = e else { panic!("{e}") };
        assert_eq!((v.field.as_str(), v.value.as_str()), ("engine.progress_url", "http://portal"));
    }
}

mod mliy_reports_under_faults {
    use super::*;

    /// The first report by instance id checks the stack; a throttled check is tried again,
    /// and when every try fails the report (which the image will not repeat) is still
    /// recorded, its instance id left for the stack to tell.
    #[tokio::test(start_paused = true)]
    async fn a_transient_failure_of_the_stack_check_never_loses_the_report() {
        let rig = Rig::new(SimConfig::default());
        let engine = super::mliy_images::mliy_engine(&rig, None);
        let launched = engine.launch_instance(&alice(), instance()).await.unwrap();
        let (_, iid) = super::mliy_images::running_instance(&rig, &launched.resource).await;
        let path = super::mliy_images::path(&rig, &launched.resource, &iid, "step(10)");
        // Until the stack completes the record holds no stack id: the check looks the stack
        // up by name, then lists its resources.
        let checks = || {
            let calls = rig.cloud.calls();
            ["DescribeStacks", "DescribeStackResources"]
                .iter()
                .map(|c| calls.get(*c).copied().unwrap_or(0))
                .sum::<u64>()
        };
        let before = checks();
        rig.cloud.set_fault_rate(1.0);
        let kept = engine.report_mliy_path(&path).await.unwrap();
        assert_eq!(checks() - before, 3, "tried three times");
        assert!(matches!(kept.phase, Phase::Bootstrapping { percent: 10, .. }), "{}", kept.phase);
        assert_eq!(kept.instance_id, None, "not taken from the report unchecked");
        rig.cloud.set_fault_rate(0.0);
        let next = super::mliy_images::path(&rig, &launched.resource, &iid, "step(20)");
        let r = engine.report_mliy_path(&next).await.unwrap();
        assert_eq!(r.instance_id.as_deref(), Some(iid.as_str()));
        // Another instance id is still refused once the stack answers.
        let other = super::mliy_images::path(&rig, &launched.resource, "i-0000000000000dead", "step(30)");
        assert!(matches!(engine.report_mliy_path(&other).await.unwrap_err(), Error::Forbidden(_)));
    }
}

mod bills {
    use super::*;
    use crate::model::BillState;
    use crate::pricing::{Decimal, PriceIndex, Pricing};

    const PRICES: &str = r#"[
      {"instance_type": "t3.large", "pricing": {"us-east-1": {"linux": {"ondemand": "0.0832"}, "ebs": "0.08"}}},
      {"instance_type": "m5.xlarge", "pricing": {"us-east-1": {"linux": {"ondemand": "0.192"}, "emr": {"emr": "0.048"}}}}
    ]"#;

    fn priced(rig: &Rig) -> Engine {
        priced_with(rig, Catalog::from_yaml_str(CATALOG).unwrap())
    }

    pub(super) fn priced_with(rig: &Rig, catalog: Catalog) -> Engine {
        let index = PriceIndex::from_slice(PRICES.as_bytes(), &["us-east-1"]).unwrap();
        Engine::builder()
            .catalog(catalog)
            .cloud(rig.cloud.clone())
            .store(rig.store.clone())
            .clock(rig.clock.clone())
            .config(rig.config.clone())
            .pricing(Pricing::new(Arc::new(index), "us-east-1"))
            .build()
            .unwrap()
    }

    /// Offerings are priced from the engine's pricing: an instance with its volume, a
    /// cluster node with EMR's surcharge; unpriced without pricing.
    #[tokio::test(start_paused = true)]
    async fn offerings_carry_hourly_prices() {
        let rig = Rig::new(SimConfig::default());
        let price = |engine: &Engine, sc: &str| {
            let all = engine.offerings(&alice()).unwrap();
            let o = all.iter().find(|o| o.offering.software_config == sc).unwrap();
            o.prices[0].hourly.map(|d| d.round_dp(6).normalize().to_string())
        };
        let engine = priced(&rig);
        assert_eq!(price(&engine, "plain").as_deref(), Some("0.084296"), "0.0832 + 10 GB at 0.08 a month");
        assert_eq!(price(&engine, "spark").as_deref(), Some("0.24"), "0.192 + 0.048");
        assert_eq!(price(&rig.engine(), "spark"), None, "without pricing");
        let anonymous = Principal::new("", Vec::<String>::new());
        assert!(engine.offerings(&anonymous).is_err());
    }

    /// Launch, stop, start, terminate: a running, a stopped and a running segment, each
    /// priced as the file writes it, each closed once, the cost per second.
    #[tokio::test(start_paused = true)]
    async fn an_instance_is_billed_per_state_at_the_files_price() {
        let rig = Rig::new(SimConfig { consistency_delay: Duration::ZERO, ..SimConfig::default() });
        let engine = priced(&rig);
        let id = engine.launch_instance(&alice(), plain()).await.unwrap().resource.id;
        wait_phase(&engine, &id, "ready").await;
        rig.clock.sleep(Duration::from_secs(3_600)).await;
        engine.act(&alice(), &id, Action::Stop).await.unwrap();
        wait_phase(&engine, &id, "stopped").await;
        engine.act(&alice(), &id, Action::Start).await.unwrap();
        wait_phase(&engine, &id, "ready").await;
        engine.act(&alice(), &id, Action::Terminate).await.unwrap();
        wait_phase(&engine, &id, "terminated").await;
        // Refresh and the idle driver settling again change nothing.
        engine
            .refresh(&crate::engine::RefreshConfig { min_interval: Duration::ZERO, ..Default::default() })
            .await
            .unwrap();
        let segs = rig.store.billing(Some(&id)).await.unwrap();
        let states: Vec<_> = segs.iter().map(|s| (s.state, s.hourly.map(|h| h.to_string()))).collect();
        let t3 = Some("0.0832".to_string());
        assert_eq!(
            states,
            [(BillState::Running, t3.clone()), (BillState::Stopped, Some("0".into())), (BillState::Running, t3)]
        );
        assert!(segs.iter().all(|s| s.end.is_some()), "all closed: {segs:?}");
        assert!(segs.windows(2).all(|w| w[0].end == Some(w[1].start)), "back to back: {segs:?}");
        let first = segs[0].cost(rig.clock.now()).unwrap();
        let hours = Decimal::from(segs[0].billed_seconds(rig.clock.now())) / Decimal::from(3_600);
        assert!(hours >= Decimal::ONE, "over the hour slept");
        assert_eq!(first, (Decimal::new(832, 4) * hours).round_dp(4));
        let so_far = engine.resource_cost(&alice(), &id).await.unwrap().unwrap();
        let summed: Decimal = segs.iter().map(|s| s.cost(rig.clock.now()).unwrap()).sum();
        assert_eq!((so_far.segments.len(), so_far.cost), (3, summed.normalize()), "the owner sees its cost so far");
        let bob = Principal::new("bob", ["other"]);
        assert!(engine.resource_cost(&bob, &id).await.is_err(), "nobody else does");
    }

    /// A cluster: (EC2 + EMR) × nodes; an unpriced type gets no price, never 0.
    #[tokio::test(start_paused = true)]
    async fn clusters_pay_ec2_and_emr_per_node_and_unknown_types_stay_unpriced() {
        let rig = Rig::new(SimConfig { consistency_delay: Duration::ZERO, ..SimConfig::default() });
        let engine = priced(&rig);
        let id = engine.launch_cluster(&alice(), cluster()).await.unwrap().resource.id;
        wait_phase(&engine, &id, "waiting").await;
        let segs = rig.store.billing(Some(&id)).await.unwrap();
        assert_eq!(segs.len(), 1, "{segs:?}");
        // 1 master + 2 core nodes at 0.192 + 0.048.
        assert_eq!(segs[0].hourly, Some(Decimal::new(72, 2)), "{segs:?}");
        let mut catalog = Catalog::from_yaml_str(CATALOG).unwrap();
        let r5 = crate::model::InstanceType {
            name: "r5.2xlarge".into(),
            description: String::new(),
            ebs_optimizable: false,
        };
        catalog.instance_types.push(r5);
        catalog.software_configs[1].compatible_instance_types.push("r5.2xlarge".into());
        let other = priced_with(&rig, catalog);
        let id = other
            .launch_instance(&alice(), LaunchRequest::instance("ds", "plain", "r5.2xlarge"))
            .await
            .unwrap()
            .resource
            .id;
        wait_phase(&other, &id, "ready").await;
        let segs = rig.store.billing(Some(&id)).await.unwrap();
        assert_eq!(segs[0].hourly, None);
        assert!(segs[0].description.contains("no price"), "{segs:?}");
    }

    /// Spot nodes pay the market's price (DescribeSpotPriceHistory) capped by the bid and by
    /// the on-demand price, plus EMR's surcharge: through CloudFormation and RunJobFlow.
    #[tokio::test(start_paused = true)]
    async fn spot_clusters_pay_the_market_price_capped_by_bid_and_on_demand() {
        let rig = Rig::new(SimConfig { consistency_delay: Duration::ZERO, ..SimConfig::default() });
        let engine = priced(&rig);
        let market = rig.cloud.spot_price("m5.xlarge", None).await.unwrap().unwrap();
        let (on_demand, emr) = (Decimal::new(192, 3), Decimal::new(48, 3));
        let mut stacked = cluster();
        if let Some(o) = stacked.cluster.as_mut() {
            o.market = Market::Spot { bid: Some(0.1) };
        }
        for (request, bid, nodes) in [(stacked, Decimal::new(1, 1), 3), (job_flow(), Decimal::new(2, 1), 4)] {
            let id = engine.launch_cluster(&alice(), request).await.unwrap().resource.id;
            wait_phase(&engine, &id, "waiting").await;
            let segs = rig.store.billing(Some(&id)).await.unwrap();
            let node = market.min(bid).min(on_demand) + emr;
            assert_eq!(segs[0].hourly, Some(node * Decimal::from(nodes)), "market {market}: {segs:?}");
            assert!(segs[0].description.contains("EC2 spot"), "{segs:?}");
        }
    }
}

mod spend {
    use super::*;

    fn limited(spend: &str, running: Option<u32>) -> Catalog {
        let mut catalog = Catalog::from_yaml_str(CATALOG).unwrap();
        let ds = catalog.group_configs.iter_mut().find(|g| g.name == "ds").unwrap();
        ds.settings.max_hourly_spend = Some(spend.parse().unwrap());
        ds.settings.max_running_per_user = running;
        catalog
    }

    /// t3.large costs 0.0832 an hour: a limit of 0.1 takes one; the second launch is refused
    /// with the figures before any cloud call, and passes once the first is stopped.
    #[tokio::test(start_paused = true)]
    async fn hourly_spend_is_checked_before_any_cloud_call_and_freed_by_a_stop() {
        let rig = Rig::new(SimConfig { consistency_delay: Duration::ZERO, ..SimConfig::default() });
        let engine = super::bills::priced_with(&rig, limited("0.1", Some(1)));
        let first = engine.launch_instance(&alice(), plain()).await.unwrap().resource.id;
        let creates = || rig.cloud.calls().get("CreateStack").copied().unwrap_or(0);
        let before = creates();
        let e = engine.launch_instance(&alice(), plain()).await.unwrap_err();
        let text = e.to_string();
        assert!(matches!(e, Error::Forbidden(_)), "{e}");
        assert!(text.contains("max_running_per_user"), "the run quota first: {text}");
        // Without the run quota, the spend limit speaks, with its figures.
        let engine = super::bills::priced_with(&rig, limited("0.1", None));
        let e = engine.launch_instance(&alice(), plain()).await.unwrap_err().to_string();
        assert!(
            e.contains("would be 0.1664 (0.0832 now + 0.0832 for this one)")
                && e.contains("its limit is 0.1 (max_hourly_spend)"),
            "{e}"
        );
        assert_eq!(creates(), before, "no cloud call for a refused launch");
        // Another user has a spend of their own.
        let bob = Principal::new("bob", ["data-science"]);
        engine.launch_instance(&bob, plain()).await.unwrap();
        // A stopped instance keeps only its volumes' cost (none here) and frees the quota.
        wait_phase(&engine, &first, "ready").await;
        engine.act(&alice(), &first, Action::Stop).await.unwrap();
        wait_phase(&engine, &first, "stopped").await;
        let strict = super::bills::priced_with(&rig, limited("0.1", Some(1)));
        strict.launch_instance(&alice(), plain()).await.unwrap();
    }

    #[test]
    fn a_spend_limit_without_prices_is_refused_at_build() {
        let rig = Rig::new(SimConfig::default());
        let e = Engine::builder()
            .catalog(limited("5", None))
            .cloud(rig.cloud.clone())
            .store(rig.store.clone())
            .build()
            .unwrap_err();
        assert!(
            matches!(&e, Error::Validation(v) if v.field == "group_configs.ds.settings.max_hourly_spend" && v.value == "5"),
            "{e}"
        );
    }
}

mod start_quota {
    use super::*;

    /// Stopping frees the run quota; starting takes it back, so a start past the limit is
    /// refused, and allowed again once the other machine stops.
    #[tokio::test(start_paused = true)]
    async fn a_start_is_checked_against_the_run_quota() {
        let rig = Rig::new(SimConfig { consistency_delay: Duration::ZERO, ..SimConfig::default() });
        let mut catalog = Catalog::from_yaml_str(CATALOG).unwrap();
        catalog.group_configs.iter_mut().find(|g| g.name == "ds").unwrap().settings.max_running_per_user = Some(1);
        let engine = super::bills::priced_with(&rig, catalog);
        let first = engine.launch_instance(&alice(), plain()).await.unwrap().resource.id;
        wait_phase(&engine, &first, "ready").await;
        engine.act(&alice(), &first, Action::Stop).await.unwrap();
        wait_phase(&engine, &first, "stopped").await;
        let second = engine.launch_instance(&alice(), plain()).await.unwrap().resource.id;
        wait_phase(&engine, &second, "ready").await;
        let starts = || rig.cloud.calls().get("StartInstances").copied().unwrap_or(0);
        let e = engine.act(&alice(), &first, Action::Start).await.unwrap_err();
        assert!(matches!(&e, Error::Forbidden(m) if m.contains("its limit is 1 (max_running_per_user)")), "{e}");
        assert_eq!(starts(), 0, "refused before any cloud call");
        assert_eq!(engine.get(&alice(), &first).await.unwrap().phase, Phase::Stopped);
        engine.act(&alice(), &second, Action::Stop).await.unwrap();
        wait_phase(&engine, &second, "stopped").await;
        engine.act(&alice(), &first, Action::Start).await.unwrap();
        wait_phase(&engine, &first, "ready").await;
    }
}

mod budgets_and_lifetimes {
    use super::*;
    use crate::engine::RefreshConfig;
    use crate::model::BudgetEnforcement;

    fn settings(edit: impl FnOnce(&mut crate::model::GroupSettings)) -> Catalog {
        let mut catalog = Catalog::from_yaml_str(CATALOG).unwrap();
        edit(&mut catalog.group_configs.iter_mut().find(|g| g.name == "ds").unwrap().settings);
        catalog
    }

    async fn pass(engine: &Engine) -> crate::engine::RefreshReport {
        engine.refresh(&RefreshConfig { min_interval: Duration::ZERO, ..RefreshConfig::default() }).await.unwrap()
    }

    async fn reasons(engine: &Engine, id: &LaunchId) -> Vec<String> {
        engine.events(&alice(), id).await.unwrap().into_iter().map(|e| e.reason).collect()
    }

    /// t3.large costs 0.0832 an hour; a budget of 0.05 is half spent after about 18 minutes
    /// and spent after 36: the warnings come once each, then a launch is refused with the
    /// figures before any cloud call. A soft budget only warns.
    #[tokio::test(start_paused = true)]
    async fn a_spent_hard_budget_refuses_launches_after_its_warnings() {
        let rig = Rig::new(SimConfig { consistency_delay: Duration::ZERO, ..SimConfig::default() });
        let engine = super::bills::priced_with(&rig, settings(|s| s.monthly_budget = Some("0.05".parse().unwrap())));
        let first = engine.launch_instance(&alice(), plain()).await.unwrap().resource.id;
        wait_phase(&engine, &first, "ready").await;
        rig.clock.sleep(Duration::from_secs(25 * 60)).await;
        assert_eq!(pass(&engine).await.warnings, 1, "50%");
        assert_eq!(pass(&engine).await.warnings, 0, "once");
        rig.clock.sleep(Duration::from_secs(15 * 60)).await;
        assert_eq!(pass(&engine).await.warnings, 2, "80% and 100%");
        let status = engine.budget(&alice(), "ds").await.unwrap().unwrap();
        assert!(status.exhausted() && status.percent >= 100, "{status:?}");
        let said = reasons(&engine, &first).await;
        let warnings: Vec<&String> = said.iter().filter(|r| r.starts_with("budget:")).collect();
        assert_eq!(warnings.len(), 3, "{said:?}");
        assert!(warnings[2].contains("warning at 100%") && warnings[2].contains("refused"), "{warnings:?}");
        let creates = rig.cloud.calls().get("CreateStack").copied();
        let e = engine.launch_instance(&alice(), plain()).await.unwrap_err();
        let text = e.to_string();
        assert!(matches!(e, Error::Forbidden(_)), "{e}");
        assert!(
            text.contains("of its monthly budget of 0.05")
                && text.contains("monthly_budget, hard")
                && text.contains("would add 0.0832 per hour"),
            "{text}"
        );
        assert_eq!(rig.cloud.calls().get("CreateStack").copied(), creates, "no cloud call");
        let outsider = Principal::new("eve", ["finance"]);
        assert!(matches!(engine.budget(&outsider, "ds").await, Err(Error::Forbidden(_))));
        let soft = super::bills::priced_with(
            &rig,
            settings(|s| {
                s.monthly_budget = Some("0.05".parse().unwrap());
                s.budget_enforcement = BudgetEnforcement::Soft;
            }),
        );
        soft.launch_instance(&alice(), plain()).await.unwrap();
    }

    /// Group-wide limits count every user's resources.
    #[tokio::test(start_paused = true)]
    async fn the_group_run_quota_counts_everyone() {
        let rig = Rig::new(SimConfig { consistency_delay: Duration::ZERO, ..SimConfig::default() });
        let engine = super::bills::priced_with(&rig, settings(|s| s.max_running_per_group = Some(1)));
        engine.launch_instance(&alice(), plain()).await.unwrap();
        let bob = Principal::new("bob", ["data-science"]);
        let e = engine.launch_instance(&bob, plain()).await.unwrap_err().to_string();
        assert!(
            e.contains("group config ds (all users) has 1 resources running, its limit is 1 (max_running_per_group)"),
            "{e}"
        );
        let spend =
            super::bills::priced_with(&rig, settings(|s| s.max_group_hourly_spend = Some("0.1".parse().unwrap())));
        let e = spend.launch_instance(&bob, plain()).await.unwrap_err().to_string();
        assert!(
            e.contains("would be 0.1664 (0.0832 now + 0.0832 for this one)") && e.contains("max_group_hourly_spend"),
            "{e}"
        );
    }

    /// A 26-hour lifetime: warnings 24 hours and 1 hour before, then a stop with the reason;
    /// a start is refused until `extend`, which the policy limits to 2 hours.
    #[tokio::test(start_paused = true)]
    async fn a_lifetime_warns_stops_and_is_extended_within_policy() {
        let rig = Rig::new(SimConfig { consistency_delay: Duration::ZERO, ..SimConfig::default() });
        let engine = super::bills::priced_with(
            &rig,
            settings(|s| {
                s.max_lifetime_hours = Some(26);
                s.max_lifetime_extension_hours = Some(2);
            }),
        );
        let id = engine.launch_instance(&alice(), plain()).await.unwrap().resource.id;
        wait_phase(&engine, &id, "ready").await;
        assert_eq!(pass(&engine).await.warnings, 0);
        rig.clock.sleep(Duration::from_secs(2 * 3600 + 60)).await;
        assert_eq!(pass(&engine).await.warnings, 1, "24 hours before");
        rig.clock.sleep(Duration::from_secs(23 * 3600)).await;
        assert_eq!(pass(&engine).await.warnings, 1, "1 hour before");
        rig.clock.sleep(Duration::from_secs(3600)).await;
        assert_eq!(pass(&engine).await.lifetime_ends, 1);
        wait_phase(&engine, &id, "stopped").await;
        let said = reasons(&engine, &id).await;
        assert!(
            said.iter().any(|r| r.contains("in under 24 hours")) && said.iter().any(|r| r.contains("in under 1 hour"))
        );
        assert!(said.iter().any(|r| r == "lifetime of 26 hours reached (max_lifetime_hours): stopped"), "{said:?}");
        let e = engine.act(&alice(), &id, Action::Start).await.unwrap_err();
        assert!(matches!(&e, Error::Forbidden(m) if m.contains("extend it before starting")), "{e}");
        let e = engine.act(&alice(), &id, Action::Extend { hours: 3 }).await.unwrap_err();
        assert!(
            matches!(&e, Error::Forbidden(m) if m.contains("at most 2 hours") && m.contains("would make 3")),
            "{e}"
        );
        let extended = engine.act(&alice(), &id, Action::Extend { hours: 2 }).await.unwrap();
        assert_eq!(extended.watch.extended_hours, 2);
        engine.act(&alice(), &id, Action::Start).await.unwrap();
        wait_phase(&engine, &id, "ready").await;
        let e = engine.act(&alice(), &id, Action::Extend { hours: 1 }).await.unwrap_err();
        assert!(matches!(e, Error::Forbidden(_)), "the 2 hours are used: {e}");
    }

    /// Activity after the idle warning calls the stop off.
    #[tokio::test(start_paused = true)]
    async fn activity_after_the_idle_warning_calls_the_stop_off() {
        let rig = Rig::new(SimConfig { consistency_delay: Duration::ZERO, ..SimConfig::default() });
        let engine = super::bills::priced_with(&rig, settings(|s| s.idle_stop_minutes = Some(30)));
        let launched = engine.launch_instance(&alice(), plain()).await.unwrap();
        let id = launched.resource.id.clone();
        wait_phase(&engine, &id, "ready").await;
        rig.clock.sleep(Duration::from_secs(21 * 60)).await;
        assert_eq!(pass(&engine).await.warnings, 1);
        let token = super::progress::derive(&engine.inner.progress_key, &id);
        engine.report_activity(&id, token.expose(), "kernel busy").await.unwrap();
        rig.clock.sleep(Duration::from_secs(20 * 60)).await;
        let report = pass(&engine).await;
        assert_eq!((report.idle_stops, report.warnings), (0, 1), "warned again 20 minutes after the activity");
        assert!(reasons(&engine, &id).await.iter().any(|r| r == "activity: kernel busy; the idle stop is called off"));
        rig.clock.sleep(Duration::from_secs(10 * 60)).await;
        assert_eq!(pass(&engine).await.idle_stops, 1);
        wait_phase(&engine, &id, "stopped").await;
    }
}

mod connection;
mod resize;
mod workflows;
