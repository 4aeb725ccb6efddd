//! `AwsCloud` against moto: the engine's end-to-end scenarios through the AWS SDK.
//!
//! What moto does not emulate is covered on SimCloud instead (`mliy-core`'s engine tests):
//! moto creates an `AWS::EMR::Cluster` from a template already TERMINATED with no instance
//! groups (so template clusters are tested on SimCloud, RunJobFlow clusters here), changes
//! every state at once, never finishes steps, reports every SSM command as Success and lacks
//! ListCommandInvocations and PutAutoTerminationPolicy (deployments and idle limits: SimCloud), ignores ClientRequestToken and does not
//! check AllowedValues or NoEcho (the planner checks those; tested in `plans`).

use super::fault_proxy::{FaultProxy, Mode};
use super::fixtures;
use super::moto::{Account, Moto};
use mliy::cloud::{Cloud, ClusterState, InstanceFilter, InstanceState, StackStatus, StepState};
use mliy::engine::{Action, Engine, EngineConfig};
use mliy::lifecycle::Phase;
use mliy::model::{Catalog, JobFlowSettings, LAUNCH_ID_TAG, Market, SecurityGroup, StackSpec};
use mliy::plan::{ClusterOptions, LaunchRequest};
use mliy::plugins::aws::{AwsCloud, AwsOptions};
use mliy::secret::Secret;
use mliy::store::MemoryStore;
use std::sync::Arc;
use std::time::Duration;

fn options(url: &str) -> AwsOptions {
    AwsOptions::new().region("us-east-1").endpoint_url(url).credentials("testing", Secret::new("testing"))
}

async fn cloud(moto: &Moto) -> Arc<AwsCloud> {
    Arc::new(AwsCloud::connect(options(&moto.url)).await.unwrap())
}

/// MLiy's fixture catalog, pointed at the emulated account, plus a RunJobFlow Spark config.
fn catalog(account: &Account) -> Catalog {
    let mut catalog = fixtures::catalog();
    // moto ignores the template's ResourceSignal creation policy and completes the stack at
    // once, which `ready_when`'s default (`first`) would take as the bootstrap's signal: wait
    // for the reports instead (signalled stacks are tested on SimCloud).
    catalog.software_configs[0].ready_when = Some(mliy::model::ReadyWhen::Progress100);
    catalog.security_groups.push(SecurityGroup { id: account.security_group.clone(), name: "default".into() });
    let gc = &mut catalog.group_configs[0];
    gc.network.subnet_id = Some(account.subnet_id.clone());
    gc.default_security_groups = vec![account.security_group.clone()];
    gc.optional_security_groups.clear();
    gc.key_name = account.key_name.clone();
    gc.iam_instance_profile = account.instance_profile.clone();
    gc.emr_access = true;
    gc.settings.cluster_auto_termination_minutes = Some(60);
    let mut spark = catalog.software_configs[0].clone();
    spark.name = "SparkJobFlow".into();
    spark.emr = true;
    spark.template = None;
    spark.user_data = None;
    spark.compatible_instance_types = vec!["m5.xlarge".into()];
    spark.job_flow = Some(JobFlowSettings {
        release_label: "emr-6.15.0".into(),
        applications: vec!["Spark".into(), "JupyterHub".into()],
        service_role: "EMR_DefaultRole".into(),
        steps: vec![],
        request: None,
    });
    catalog.software_configs.push(spark);
    if !catalog.instance_types.iter().any(|t| t.name == "m5.xlarge") {
        let mut t = catalog.instance_types[0].clone();
        t.name = "m5.xlarge".into();
        catalog.instance_types.push(t);
    }
    catalog
}

fn fast() -> EngineConfig {
    EngineConfig {
        stack_poll: Duration::from_millis(100),
        instance_poll: Duration::from_millis(100),
        cluster_poll: Duration::from_millis(100),
        command_poll: Duration::from_millis(100),
        retry_base: Duration::from_millis(50),
        retry_max: Duration::from_millis(400),
        progress_url: Some("https://portal.example/progress".into()),
        ..EngineConfig::default()
    }
}

fn engine(cloud: Arc<dyn Cloud>, catalog: Catalog) -> Engine {
    Engine::builder().catalog(catalog).cloud(cloud).store(Arc::new(MemoryStore::new())).config(fast()).build().unwrap()
}

/// An admin, for waits that are not about who may see what.
fn ops() -> mliy::model::Principal {
    mliy::model::Principal { admin: true, ..mliy::model::Principal::new("ops", ["admins"]) }
}

async fn wait(engine: &Engine, id: &mliy::model::LaunchId, name: &str) -> mliy::lifecycle::Resource {
    let r = tokio::time::timeout(
        Duration::from_secs(60),
        engine.wait_until(&ops(), id, |p| p.name() == name || p.is_terminal()),
    )
    .await
    .unwrap_or_else(|_| panic!("{id} did not reach {name} within a minute"))
    .unwrap();
    assert_eq!(r.phase.name(), name, "{r:?}");
    r
}

async fn instance_state(cloud: &AwsCloud, id: &str) -> InstanceState {
    let filter = InstanceFilter { ids: vec![id.to_string()], tag: None };
    cloud.describe_instances(&filter, None).await.unwrap().items[0].state
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn instance_lifecycle_from_mliys_template() {
    let Some(moto) = Moto::start() else { return };
    let account = moto.account();
    let aws = cloud(&moto).await;
    let engine = engine(aws.clone(), catalog(&account));
    let member = fixtures::member();
    let request = LaunchRequest::instance("MLiySampleConfig", "MLiyDefault", "r3.2xlarge").with_volume_size(50);
    let launched = engine.launch_instance(&member, request).await.unwrap();
    let id = launched.resource.id.clone();
    let booting = wait(&engine, &id, "bootstrapping").await;
    let instance = booting.instance_id.clone().unwrap();
    assert!(booting.private_ip.is_some());

    // The stack, seen through the SDK: MLiy's tags and the planned parameters.
    let stack = aws.describe_stack(booting.stack_id.as_deref().unwrap()).await.unwrap().unwrap();
    assert_eq!(stack.status, StackStatus::CreateComplete);
    let tag = |k: &str| stack.tags.iter().find(|t| t.key == k).map(|t| t.value.clone());
    assert_eq!(tag("LaunchedBy").as_deref(), Some("MLIY"));
    assert_eq!(tag("userid").as_deref(), Some("dana.o'neil"));
    assert_eq!(tag(LAUNCH_ID_TAG).as_deref(), Some(id.as_str()));
    assert!(tag("Cost Center").is_some());
    let resources = aws.stack_resources(&stack.id).await.unwrap();
    assert!(resources.iter().any(|r| r.resource_type == "AWS::EC2::Volume"), "{resources:?}");
    assert_eq!(instance_state(&aws, &instance).await, InstanceState::Running);
    let managed = InstanceFilter { ids: vec![], tag: Some(("LaunchedBy".into(), "MLIY".into())) };
    let listed = aws.describe_instances(&managed, None).await.unwrap();
    assert!(listed.items.iter().any(|i| i.id == instance), "tag filter finds the instance");

    let token = launched.progress_token.as_ref().unwrap();
    engine.report_progress(&id, token.expose(), 40, "packages").await.unwrap();
    engine.report_progress(&id, token.expose(), 100, "done").await.unwrap();
    wait(&engine, &id, "ready").await;

    engine.act(&member, &id, Action::Stop).await.unwrap();
    wait(&engine, &id, "stopped").await;
    assert_eq!(instance_state(&aws, &instance).await, InstanceState::Stopped);
    engine.act(&member, &id, Action::Start).await.unwrap();
    wait(&engine, &id, "ready").await;
    assert_eq!(instance_state(&aws, &instance).await, InstanceState::Running);
    engine.act(&member, &id, Action::Restart).await.unwrap();
    wait(&engine, &id, "ready").await;

    engine.act(&member, &id, Action::Terminate).await.unwrap();
    wait(&engine, &id, "terminated").await;
    let gone = aws.describe_stack(&stack.id).await.unwrap().unwrap();
    assert_eq!(gone.status, StackStatus::DeleteComplete);
    assert_eq!(instance_state(&aws, &instance).await, InstanceState::Terminated);
    assert!(aws.describe_stack(&stack.name).await.unwrap().is_none(), "a deleted stack is not found by name");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn job_flow_cluster_lifecycle() {
    let Some(moto) = Moto::start() else { return };
    let account = moto.account();
    let aws = cloud(&moto).await;
    let engine = engine(aws.clone(), catalog(&account));
    let member = fixtures::member();
    let options = ClusterOptions {
        core_nodes: 2,
        task_nodes: 1,
        market: Market::Spot { bid: Some(0.25) },
        purpose: "etl".into(),
    };
    let request = LaunchRequest::cluster("MLiySampleConfig", "SparkJobFlow", "m5.xlarge", options);
    let id = engine.launch_cluster(&member, request).await.unwrap().resource.id;
    let up = wait(&engine, &id, "waiting").await;
    let cluster = up.cluster_id.clone().unwrap();
    let info = aws.describe_cluster(&cluster).await.unwrap().unwrap();
    assert_eq!(info.state, ClusterState::Waiting);
    assert!(info.tags.iter().any(|t| t.key == LAUNCH_ID_TAG && t.value == id.as_str()), "{info:?}");
    let waiting = aws.list_clusters(&[ClusterState::Waiting], None).await.unwrap();
    assert_eq!(waiting.items.iter().filter(|c| c.name == up.stack.name).count(), 1, "one cluster per launch");

    // moto accepts steps but never runs them: add one and see it listed.
    let step = mliy::model::emr::Step::command("count", vec!["true".into()]);
    let ids = aws.add_steps(&cluster, &[step]).await.unwrap();
    let steps = aws.list_steps(&cluster).await.unwrap();
    let ours = steps.iter().find(|s| s.id == ids[0]).unwrap();
    assert!(matches!(ours.state, StepState::Pending | StepState::Running), "{ours:?}");

    engine.act(&member, &id, Action::Terminate).await.unwrap();
    wait(&engine, &id, "terminated").await;
    let info = aws.describe_cluster(&cluster).await.unwrap().unwrap();
    assert!(info.state.is_terminated(), "{info:?}");
}

fn stack_spec(name: &str, token: &str) -> StackSpec {
    StackSpec {
        name: name.into(),
        template_body: r#"{"Resources": {"Q": {"Type": "AWS::SQS::Queue"}}}"#.into(),
        parameters: vec![],
        tags: vec![mliy::model::Tag::new(LAUNCH_ID_TAG, token)],
        client_request_token: token.into(),
    }
}

/// moto ignores ClientRequestToken; AwsCloud still returns the first stack for a repeated
/// token (recognised by the launch-id tag) and refuses another launch's name.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn create_stack_is_idempotent_and_misses_are_none() {
    let Some(moto) = Moto::start() else { return };
    let aws = cloud(&moto).await;
    let first = aws.create_stack(&stack_spec("queue-stack", "l-one")).await.unwrap();
    let again = aws.create_stack(&stack_spec("queue-stack", "l-one")).await.unwrap();
    assert_eq!(first, again);
    let other = aws.create_stack(&stack_spec("queue-stack", "l-two")).await.unwrap_err();
    assert_eq!(other.kind(), "already_exists", "{other}");
    assert!(aws.describe_stack("no-such-stack").await.unwrap().is_none());
    assert!(aws.describe_cluster("j-NOSUCHCLUSTER").await.unwrap().is_none());
    let unknown = InstanceFilter { ids: vec!["i-0123456789abcdef0".into()], tag: None };
    assert!(aws.describe_instances(&unknown, None).await.unwrap().items.is_empty());
    let page = aws.list_stacks(None).await.unwrap();
    assert!(page.items.iter().any(|s| s.id == first && s.tags.iter().any(|t| t.key == LAUNCH_ID_TAG)));
}

/// Throttling and 503s are retried by the SDK (its attempts reach the server) and come out
/// as retryable errors; the engine backs off and carries on once the endpoint recovers.
///
/// The outage comes first: after throttling answers, adaptive retries slow every client of
/// the service in the process down on purpose (the SDK's retry partition), which would only
/// make the engine part slow.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn outages_and_throttling_are_retried_then_ridden_out() {
    let Some(moto) = Moto::start() else { return };
    let account = moto.account();
    let proxy = FaultProxy::start(Mode::Unavailable).await;
    let aws = Arc::new(AwsCloud::connect(options(&proxy.url).retries(3, Duration::from_millis(10))).await.unwrap());
    let engine = engine(aws.clone(), catalog(&account));
    let member = fixtures::member();
    let request = LaunchRequest::instance("MLiySampleConfig", "MLiyDefault", "r3.2xlarge");
    let id = engine.launch_instance(&member, request).await.unwrap().resource.id;
    // More than one call's three attempts: the engine called again after the SDK gave up.
    for _ in 0..200 {
        if proxy.requests() >= 9 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(proxy.requests() >= 9, "the engine tried again: {} requests", proxy.requests());
    let stuck = engine.get(&member, &id).await.unwrap();
    assert_eq!(stuck.phase, Phase::CreatingStack, "an outage must not fail the launch: {stuck:?}");
    proxy.set(Mode::Forward(moto.url.trim_start_matches("http://").to_string()));
    wait(&engine, &id, "bootstrapping").await;
    engine.shutdown();

    proxy.set(Mode::Unavailable);
    let seen = proxy.requests();
    let err = aws.describe_cluster("j-1").await.unwrap_err();
    assert_eq!(err.kind(), "unavailable", "{err}");
    assert!(err.is_retryable());
    assert_eq!(proxy.requests() - seen, 3, "three attempts, one retry owner");
    proxy.set(Mode::Throttle);
    let err = aws.describe_stack("any").await.unwrap_err();
    assert_eq!(err.kind(), "throttled", "{err}");
    assert!(err.is_retryable());
    assert_eq!(proxy.requests() - seen, 6);
}

/// The `Cloud` suite on moto, with what moto does not emulate named as gaps (see the top of
/// this file).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn aws_cloud_passes_the_cloud_suite() {
    use mliy::testkit::cloud::{CloudSuite, Gap};
    let Some(moto) = Moto::start() else { return };
    let account = moto.account();
    let aws = cloud(&moto).await;
    let template = format!(
        r#"{{"Resources": {{"EC2Instance": {{"Type": "AWS::EC2::Instance", "Properties": {{
            "ImageId": "ami-12c6146b", "InstanceType": "t3.micro", "SubnetId": "{}"}}}}}}}}"#,
        account.subnet_id
    );
    let mut cluster = mliy::model::ClusterSpec::spark("conf-cloud-cluster", vec![]);
    cluster.instances.ec2_subnet_id = Some(account.subnet_id.clone());
    CloudSuite {
        cloud: aws.as_ref(),
        clock: &mliy::clock::SystemClock,
        poll: (Duration::from_millis(200), 100),
        instance_template: template,
        parameters: vec![],
        cluster,
        gaps: vec![Gap::InstantStates, Gap::StepsNeverFinish, Gap::CommandInvocations, Gap::AutoTermination],
    }
    .run_all()
    .await;
}
