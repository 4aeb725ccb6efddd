//! MLiy's images, unchanged: MLiy's real user data (`tests/fixtures/mliy-scripts/`), rendered
//! through the catalog `catalog import-mliy` makes, sends its reports to a URL the engine
//! accepts; fleets of simulated MLiy images on MLiy's real EC2 template become Ready.
//!
//! SimCloud stands in for the cloud: moto ignores `CreationPolicy`, so only the simulated
//! cloud keeps a stack waiting for its instance's signal.

use super::fixtures;
use mliy::clock::{Clock, Timestamp, VirtualClock};
use mliy::engine::{Engine, EngineConfig};
use mliy::import::{MliyImport, import_mliy};
use mliy::lifecycle::Phase;
use mliy::model::{Catalog, LaunchId, MliyProgressPath};
use mliy::plan::LaunchRequest;
use mliy::secret::Secret;
use mliy::sim::scenario::{self, ScenarioConfig};
use mliy::sim::{Bootstrap, SimCloud, SimConfig};
use mliy::store::MemoryStore;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

fn scripts(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/mliy-scripts").join(name)
}

/// `catalog import-mliy simpledb.json` with MLiy's EC2 template and user-data script, and an
/// AMI in place of the fixture's placeholder.
fn mliy_catalog() -> Catalog {
    let options = MliyImport {
        instance_types_fixture: Some(fixtures::read("instance_types_fixture.json")),
        templates: [("MLiyDefault".to_string(), fixtures::path(fixtures::EC2))].into(),
        user_data: [("MLiyDefault".to_string(), scripts("userdata_MLiy.sh"))].into(),
        subnet_id: Some("subnet-0a1b2c3d".into()),
        availability_zone: Some("us-east-1a".into()),
        ami_ids: [("MLiyDefault".to_string(), "ami-0abcdef1234567890".to_string())].into(),
    };
    let mut catalog = import_mliy(&fixtures::read("simpledb.json"), &options).unwrap().catalog;
    catalog.load_sources(&fixtures::dir()).unwrap();
    catalog
}

/// An engine over MLiy's catalog, `cloud` and a memory store.
fn mliy_engine(clock: Arc<dyn Clock>, cloud: Arc<SimCloud>, config: EngineConfig) -> Engine {
    let store = Arc::new(MemoryStore::new());
    Engine::builder().catalog(mliy_catalog()).cloud(cloud).store(store).clock(clock).config(config).build().unwrap()
}

/// What MLiy's progress lines call, run in bash after the rendered user data's exports, with
/// `curl` printing its URL: the older script's first report, then the newer one's
/// `send_progress installing_system_software 20`.
fn urls_called(user_data: &str, instance_id: &str) -> Vec<String> {
    let exports: String = user_data.lines().filter(|l| l.starts_with("export ")).map(|l| format!("{l}\n")).collect();
    let script = format!(
        "set -eu -o pipefail\n{exports}AWS_INSTANCE_ID={instance_id}\ninstanceid={instance_id}\n\
         curl() {{ printf '%s\\n' \"${{@: -1}}\"; }}\nset +u\nsource '{}'\n\
         send_progress \"installing_system_software\" \"20\"\n",
        scripts("progress_lines.sh").display()
    );
    let out = std::process::Command::new("bash").arg("-c").arg(&script).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap().lines().map(str::to_string).collect()
}

#[tokio::test(start_paused = true)]
async fn mliy_user_data_reports_to_a_url_the_engine_accepts() {
    use base64::Engine as _;
    let clock = Arc::new(VirtualClock::starting_at(Timestamp(1_700_000_000_000)));
    let cloud = Arc::new(SimCloud::new(clock.clone(), SimConfig::default()));
    let config = EngineConfig {
        progress_url: Some("https://portal.example/progress".into()),
        progress_key: Some(Secret::new("a progress key for the test")),
        ..EngineConfig::default()
    };
    let engine = mliy_engine(clock.clone(), cloud.clone(), config);
    let id = LaunchId::parse("00000000abcd").unwrap();
    let request = LaunchRequest::instance("MLiySampleConfig", "MLiyDefault", "c4.xlarge").with_launch_id(id.clone());
    let launched = engine.launch_instance(&fixtures::member(), request).await.unwrap();
    let token = id.to_string();
    let view = loop {
        match cloud.bootstrap_view(&token) {
            Some(v) if v.running => break v,
            _ => clock.sleep(Duration::from_secs(5)).await,
        }
    };
    let b64 = cloud.user_data_of(&token).unwrap();
    let user_data = String::from_utf8(base64::engine::general_purpose::STANDARD.decode(b64).unwrap()).unwrap();
    let urls = urls_called(&user_data, &view.instance_id);
    assert_eq!(urls.len(), 2, "{urls:?}");
    let secret = launched.progress_token.unwrap();
    for (url, step) in urls.iter().zip(["mounting_ebs_filesystem(10)", "installing_system_software(20)"]) {
        let expected =
            format!("https://portal.example/ajax/s/{}/ajax/progress/{}/{step}", secret.expose(), view.instance_id);
        assert_eq!(url, &expected);
        let path = url.strip_prefix("https://portal.example").unwrap();
        assert_eq!(MliyProgressPath::parse(path).unwrap().instance_id, view.instance_id);
        engine.report_mliy_path(path).await.unwrap();
    }
    let r = engine.get(&fixtures::member(), &id).await.unwrap();
    assert!(matches!(r.phase, Phase::Bootstrapping { percent: 20, stack_creating: true, .. }), "{}", r.phase);
    assert!(!format!("{r:?}").contains(secret.expose()), "the secret is not stored");
    // Another launch's secret is refused for this instance.
    let wrong = urls[1].replace(secret.expose(), &"0".repeat(secret.expose().len()));
    assert!(engine.report_mliy_path(wrong.strip_prefix("https://portal.example").unwrap()).await.is_err());
}

/// MLiy's real `send_progress` (verbatim in `progress_lines.sh`) and the older script's first
/// report, run in bash with the real curl against the router served over HTTPS
/// (`mliy::http::tls`), reach the resource. The engine runs on SimCloud at 120× real time.
#[cfg(feature = "http")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mliys_send_progress_reaches_the_resource_over_https() {
    use base64::Engine as _;
    use mliy::clock::ScaledClock;
    use mliy::http::tls::{TlsListener, server_config};
    let (Some(_), Some(_)) =
        (super::servers::find("curl", &["/usr/bin/curl"]), super::servers::find("openssl", &["/usr/bin/openssl"]))
    else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    super::servers::make_certificates(dir.path());
    let tls = server_config(&dir.path().join("server.pem"), &dir.path().join("server.key")).unwrap();
    let listener = TlsListener::bind("127.0.0.1:0".parse().unwrap(), tls).await.unwrap();
    let addr = axum::serve::Listener::local_addr(&listener).unwrap();
    let clock = Arc::new(ScaledClock::starting_at(Timestamp(1_700_000_000_000), 120));
    let cloud = Arc::new(SimCloud::new(clock.clone(), SimConfig::default()));
    let config = EngineConfig { progress_url: Some(format!("https://{addr}/progress")), ..EngineConfig::default() };
    let engine = mliy_engine(clock.clone(), cloud.clone(), config);
    let auth = Arc::new(mliy::auth::StaticAuth::new());
    let app = mliy::http::router(engine.clone(), auth, mliy::http::HttpConfig::default());
    tokio::spawn(async move { axum::serve(listener, app).await });
    let id = LaunchId::parse("00000000beef").unwrap();
    let request = LaunchRequest::instance("MLiySampleConfig", "MLiyDefault", "c4.xlarge").with_launch_id(id.clone());
    engine.launch_instance(&fixtures::member(), request).await.unwrap();
    let token = id.to_string();
    let mut waited = 0;
    let view = loop {
        match cloud.bootstrap_view(&token) {
            Some(v) if v.running => break v,
            _ if waited < 600 => tokio::time::sleep(Duration::from_millis(100)).await,
            other => panic!("the instance never ran: {other:?}"),
        }
        waited += 1;
    };
    let b64 = cloud.user_data_of(&token).unwrap();
    let user_data = String::from_utf8(base64::engine::general_purpose::STANDARD.decode(b64).unwrap()).unwrap();
    let exports: String = user_data.lines().filter(|l| l.starts_with("export ")).map(|l| format!("{l}\n")).collect();
    let script = format!(
        "set -eu -o pipefail\n{exports}AWS_INSTANCE_ID={iid}\ninstanceid={iid}\nset +u\nsource '{}'\n\
         send_progress \"installing_system_software\" \"20\"\n",
        scripts("progress_lines.sh").display(),
        iid = view.instance_id
    );
    let out = tokio::task::spawn_blocking(move || std::process::Command::new("bash").arg("-c").arg(&script).output())
        .await
        .unwrap()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let r = engine.get(&fixtures::member(), &id).await.unwrap();
    assert!(matches!(r.phase, Phase::Bootstrapping { percent: 20, .. }), "{}", r.phase);
    let reasons: Vec<String> =
        engine.events(&fixtures::member(), &id).await.unwrap().into_iter().map(|e| e.reason).collect();
    for step in ["10% mounting ebs filesystem", "20% installing system software"] {
        assert!(reasons.iter().any(|r| r.contains(step)), "{step} in {reasons:?}");
    }
    engine.shutdown();
}

#[test]
fn simulated_mliy_fleets_become_ready_with_every_step_recorded() {
    // Reports an image sends: the older one 10 … 90 and done(100), the newer 20, 30, 40, 60, 90.
    for (bootstrap, reports) in
        [(Bootstrap::MliyClassic, 20 * 10), (Bootstrap::MliyConfigEbs, 20 * 5), (Bootstrap::Mliy, 10 * 15)]
    {
        let config = ScenarioConfig { instances: 20, clusters: 0, bootstrap, ..ScenarioConfig::default() };
        let r = scenario::run(mliy_catalog(), &config).unwrap();
        assert_eq!((r.launched, r.ready, r.failed, r.terminated), (20, 20, 0, 20), "{bootstrap:?}: {r:?}");
        assert_eq!((r.progress_reports_accepted, r.progress_reports_refused), (reports, 0), "{bootstrap:?}: {r:?}");
        assert_eq!(r.progress_steps_missing, 0, "{bootstrap:?}: {r:?}");
        assert_eq!((r.orphaned_stacks, r.running_machines, r.lost), (0, 0, 0), "{bootstrap:?}: {r:?}");
        assert_eq!(r.cloud_calls["SignalResource"], 20, "{bootstrap:?}: one signal per instance");
    }
}

#[test]
fn unsignalled_mliy_stacks_fail_with_cloudformations_reason() {
    // The example's image on MLiy's template sends nothing MLiy's protocol accepts and never
    // signals: CloudFormation's timeout, not the engine's deadline, ends each launch.
    let config = ScenarioConfig { instances: 3, clusters: 0, ..ScenarioConfig::default() };
    let r = scenario::run(mliy_catalog(), &config).unwrap();
    assert_eq!((r.ready, r.failed), (0, 3), "{r:?}");
    assert_eq!(r.failure_reasons.keys().collect::<Vec<_>>(), ["stack creation failed"], "{r:?}");
    assert_eq!((r.orphaned_stacks, r.running_machines), (0, 0), "{r:?}");
}

#[test]
fn mliy_images_need_mliys_progress_protocol() {
    let config = ScenarioConfig { bootstrap: Bootstrap::MliyClassic, ..ScenarioConfig::default() };
    let e = scenario::run(mliy::demo::catalog().unwrap(), &config).unwrap_err();
    assert!(e.to_string().contains("progress_protocol: mliy"), "{e}");
}

/// Bills of a faulty, crashing fleet of MLiy images priced from MLiy's price file: the cost
/// report equals every instance's stored events priced from the file, to the cent, and no
/// segment is left open or counted twice.
#[test]
fn the_cost_report_matches_the_events_and_the_price_file() {
    let index =
        mliy::pricing::PriceIndex::load(&fixtures::path("ec2instances_info_2019-02.json"), &["us-east-1"]).unwrap();
    let pricing = mliy::pricing::Pricing::new(Arc::new(index), "us-east-1");
    let config = ScenarioConfig {
        instances: 60,
        clusters: 0,
        bootstrap: Bootstrap::Mliy,
        fault_rate: 0.1,
        crash_every: Some(30),
        pricing: Some(pricing),
        ..ScenarioConfig::default()
    };
    let r = scenario::run(mliy_catalog(), &config).unwrap();
    assert!(r.restarts > 5, "{r:?}");
    assert_eq!((r.cost_mismatches, r.bad_segments, r.lost), (0, 0, 0), "{r:?}");
    let total: f64 = r.cost_total.as_deref().unwrap().parse().unwrap();
    assert!(total > 0.0, "c4.xlarge and 1 TB of EBS cost something: {r:?}");
    let unpriced = ScenarioConfig { pricing: None, ..config };
    assert_eq!(scenario::run(mliy_catalog(), &unpriced).unwrap().cost_total, None);
}
