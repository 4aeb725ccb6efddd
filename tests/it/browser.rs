//! The dashboard in headless Chromium (Debian's `chromium` and `chromium-driver`, driven by
//! fantoccini over WebDriver): sign in, launch a notebook, watch its progress bar move to
//! ready (the example image reports over HTTP with its launch secret), stop it, terminate it;
//! a screenshot is kept in the target folder. The engine runs on SimCloud at 60× real time.
//! A missing browser skips loudly, and fails under `MLIY_REQUIRE_SERVERS=1`.

use fantoccini::{Client, ClientBuilder, Locator};
use mliy::auth::StaticAuth;
use mliy::clock::{ScaledClock, Timestamp};
use mliy::engine::{Engine, EngineConfig};
use mliy::model::Principal;
use mliy::sim::{SimCloud, SimConfig};
use mliy::store::MemoryStore;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

const GROUP: &str = "cn=data-science,ou=groups,dc=example,dc=com";

/// chromedriver on a free port, killed when dropped.
struct Driver(Child, u16);

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn start_driver(program: &std::path::Path) -> Driver {
    let port = super::servers::free_port();
    let child = Command::new(program)
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("chromedriver starts");
    let driver = Driver(child, port);
    let deadline = Instant::now() + Duration::from_secs(20);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "chromedriver did not listen on {port}");
        std::thread::sleep(Duration::from_millis(100));
    }
    driver
}

/// The dashboard on 127.0.0.1: the engine, the example image, the router.
async fn serve() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let clock = Arc::new(ScaledClock::starting_at(Timestamp(1_700_000_000_000), 60));
    let cloud = Arc::new(SimCloud::new(clock.clone(), SimConfig::default()));
    let config =
        EngineConfig { progress_url: Some(format!("http://{addr}/api/v1/progress")), ..EngineConfig::default() };
    let engine = Engine::builder()
        .catalog(mliy::demo::catalog().unwrap())
        .cloud(cloud.clone())
        .store(Arc::new(MemoryStore::new()))
        .clock(clock)
        .config(config)
        .pricing(mliy::demo::pricing().unwrap())
        .build()
        .unwrap();
    let alice = Principal { display_name: "Alice Analyst".into(), ..Principal::new("alice", [GROUP]) };
    let auth = Arc::new(StaticAuth::new().with_user(alice, "alice-pw"));
    let app = mliy::http::router(engine, auth, mliy::http::HttpConfig::default());
    tokio::spawn(async move { axum::serve(listener, app).await });
    let _images = mliy::sim::spawn_example_images(cloud, Duration::from_millis(1500));
    std::mem::forget(_images);
    format!("http://{addr}")
}

/// The first row's phase and progress value (`None` without a bar).
async fn row(browser: &Client) -> Option<(String, Option<String>)> {
    let tr = browser.find(Locator::Css("#resources tbody tr")).await.ok()?;
    let phase = tr.attr("data-phase").await.ok()??;
    let bar = match tr.find(Locator::Css("progress")).await {
        Ok(p) => p.attr("value").await.ok().flatten(),
        Err(_) => None,
    };
    Some((phase, bar))
}

/// Polls until the first row is in `phase`; every progress value seen on the way.
async fn until_phase(browser: &Client, phase: &str) -> Vec<String> {
    let deadline = Instant::now() + Duration::from_secs(90);
    let mut seen = Vec::new();
    loop {
        if let Some((now, bar)) = row(browser).await {
            if let Some(v) = bar.filter(|v| seen.last() != Some(v)) {
                seen.push(v);
            }
            if now == phase {
                return seen;
            }
        }
        assert!(Instant::now() < deadline, "the row never reached {phase}; progress seen {seen:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Clicks the first row's `action` button and accepts its confirmation.
async fn act(browser: &Client, action: &str) {
    let button = format!("#resources tbody tr button[data-action=\"{action}\"]");
    browser.wait().for_element(Locator::Css(&button)).await.unwrap().click().await.unwrap();
    browser.accept_alert().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sign_in_launch_watch_stop_terminate_in_chromium() {
    let Some(chromium) = super::servers::find("chromium", &["/usr/bin/chromium"]) else { return };
    let Some(chromedriver) = super::servers::find("chromedriver", &["/usr/bin/chromedriver"]) else { return };
    let base = serve().await;
    let driver = start_driver(&chromedriver);
    let mut caps = serde_json::Map::new();
    let options = serde_json::json!({
        "binary": chromium,
        "args": ["--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1366,900"],
    });
    caps.insert("goog:chromeOptions".into(), options);
    let connector = hyper_util::client::legacy::connect::HttpConnector::new();
    let browser = ClientBuilder::new(connector)
        .capabilities(caps)
        .connect(&format!("http://127.0.0.1:{}", driver.1))
        .await
        .expect("a Chromium session");

    browser.goto(&format!("{base}/")).await.unwrap();
    browser.wait().for_element(Locator::Id("username")).await.unwrap().send_keys("alice").await.unwrap();
    browser.find(Locator::Id("password")).await.unwrap().send_keys("alice-pw").await.unwrap();
    browser.find(Locator::Css("button[type=submit]")).await.unwrap().click().await.unwrap();
    let who = browser.wait().for_element(Locator::Css(".who strong")).await.unwrap().text().await.unwrap();
    assert_eq!(who, "Alice Analyst");
    let price = browser.wait().for_element(Locator::Id("price")).await.unwrap();
    let text = price.text().await.unwrap();
    // t3.large at 0.0832 plus the notebook's 100 GB volume at 0.08 a GB-month.
    assert!(text.starts_with("$0.0942 an hour"), "the launch form says what it costs: {text:?}");

    browser.find(Locator::Css("#launch button[type=submit]")).await.unwrap().click().await.unwrap();
    let seen = until_phase(&browser, "ready").await;
    let values: Vec<f64> = seen.iter().filter_map(|v| v.parse().ok()).collect();
    assert!(values.iter().any(|v| *v > 0.0 && *v < 100.0), "the bar moved on the way: {seen:?}");
    assert_eq!(values.last(), Some(&100.0), "and reached 100: {seen:?}");
    assert!(values.windows(2).all(|w| w[0] <= w[1]), "never backwards: {seen:?}");

    act(&browser, "stop").await;
    until_phase(&browser, "stopped").await;
    act(&browser, "terminate").await;
    until_phase(&browser, "terminated").await;
    let shot = browser.screenshot().await.unwrap();
    let folder = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("e2e");
    std::fs::create_dir_all(&folder).unwrap();
    std::fs::write(folder.join("dashboard.png"), &shot).unwrap();
    assert!(shot.starts_with(b"\x89PNG"), "a PNG screenshot");
    browser.close().await.unwrap();
}
