//! Two replicas of the HTTP API on one PostgreSQL database, as two `mliy serve` processes
//! would run: each its own engine, store connection and router; the simulated cloud is the
//! one thing shared in process (separate processes would each simulate their own). A progress
//! report taken by one replica, and an action taken on the other, reach the other replica's
//! event stream within 2 s: the stream reads the store, not the process's own broadcast.

use axum::body::Body;
use axum::http::Request;
use mliy::auth::StaticAuth;
use mliy::clock::{ScaledClock, Timestamp};
use mliy::engine::{Engine, EngineConfig};
use mliy::model::Principal;
use mliy::secret::Secret;
use mliy::sim::{SimCloud, SimConfig};
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio_stream::StreamExt;
use tower::ServiceExt;

const GROUP: &str = "cn=data-science,ou=groups,dc=example,dc=com";

/// One replica: its router and a signed-in token for alice.
struct Replica {
    app: axum::Router,
    token: String,
}

async fn replica(name: &str, url: &str, cloud: Arc<SimCloud>, clock: Arc<ScaledClock>) -> Replica {
    let store = Arc::new(mliy::plugins::postgres::PostgresStore::connect(url).await.unwrap());
    let config = EngineConfig {
        replica_id: name.into(),
        progress_key: Some(Secret::new("one progress key for every replica of the test")),
        progress_url: Some("http://127.0.0.1:9/api/v1/progress".into()),
        ..EngineConfig::default()
    };
    let engine = Engine::builder()
        .catalog(mliy::demo::catalog().unwrap())
        .cloud(cloud)
        .store(store)
        .clock(clock)
        .config(config)
        .build()
        .unwrap();
    let alice = Principal::new("alice", [GROUP]);
    let auth = Arc::new(StaticAuth::new().with_user(alice, "alice-pw"));
    let app = mliy::http::router(engine, auth, mliy::http::HttpConfig::default());
    let (_, body) =
        call(&app, "POST", "/api/v1/login", &[], Some(json!({"username": "alice", "password": "alice-pw"}))).await;
    Replica { app, token: body["token"].as_str().unwrap().to_string() }
}

async fn call(
    app: &axum::Router,
    method: &str,
    uri: &str,
    headers: &[(&str, &str)],
    body: Option<Value>,
) -> (u16, Value) {
    let mut request = Request::builder().method(method).uri(uri);
    for (k, v) in headers {
        request = request.header(*k, *v);
    }
    let request = match body {
        Some(b) => request.header("content-type", "application/json").body(Body::from(b.to_string())),
        None => request.body(Body::empty()),
    };
    let answer = app.clone().oneshot(request.unwrap()).await.unwrap();
    let status = answer.status().as_u16();
    let bytes = axum::body::to_bytes(answer.into_body(), 1 << 20).await.unwrap();
    (status, serde_json::from_slice(&bytes).unwrap_or(Value::Null))
}

impl Replica {
    async fn call(&self, method: &str, uri: &str, body: Option<Value>) -> (u16, Value) {
        call(&self.app, method, uri, &[("authorization", &format!("Bearer {}", self.token))], body).await
    }

    /// The resource's event stream on this replica, as text chunks.
    async fn stream(&self, id: &str) -> impl tokio_stream::Stream<Item = String> + use<> {
        let request = Request::get(format!("/api/v1/resources/{id}/events/stream"))
            .header("authorization", format!("Bearer {}", self.token))
            .body(Body::empty())
            .unwrap();
        let answer = self.app.clone().oneshot(request).await.unwrap();
        assert_eq!(answer.status(), 200);
        answer.into_body().into_data_stream().map(|c| String::from_utf8_lossy(&c.unwrap()).into_owned())
    }
}

/// Reads `stream` until its text holds `wanted`; how long that took.
async fn until_seen(
    stream: &mut (impl tokio_stream::Stream<Item = String> + Unpin),
    seen: &mut String,
    wanted: &str,
) -> Duration {
    let start = Instant::now();
    while !seen.contains(wanted) {
        let chunk = tokio::time::timeout(Duration::from_secs(30), stream.next()).await;
        seen.push_str(&chunk.unwrap_or_else(|_| panic!("{wanted} never came: {seen}")).unwrap());
    }
    start.elapsed()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_report_on_one_replica_reaches_the_others_stream_within_two_seconds() {
    let Some(server) = crate::postgres::start().await else { return };
    let url = crate::postgres::fresh_database(&server);
    let clock = Arc::new(ScaledClock::starting_at(Timestamp(1_700_000_000_000), 60));
    let cloud = Arc::new(SimCloud::new(clock.clone(), SimConfig::default()));
    let a = replica("replica-a", &url, cloud.clone(), clock.clone()).await;
    let b = replica("replica-b", &url, cloud.clone(), clock).await;
    let launch = json!({"group_config": "data-science", "software_config": "notebook", "instance_type": "t3.large"});
    let (status, launched) = a.call("POST", "/api/v1/instances", Some(launch)).await;
    assert_eq!(status, 201, "{launched}");
    let id = launched["resource"]["id"].as_str().unwrap().to_string();
    let mut on_b = Box::pin(b.stream(&id).await);
    let mut seen_b = String::new();
    until_seen(&mut on_b, &mut seen_b, "\"to\":\"bootstrapping\"").await;

    // The image reports to replica A with the secret its user data holds.
    let token = cloud.live_stacks().into_iter().map(|(_, t, _)| t).next().unwrap();
    let user_data = cloud.user_data_of(&token).unwrap();
    let script = {
        use base64::Engine as _;
        let text = base64::engine::general_purpose::STANDARD.decode(user_data).unwrap();
        mliy::sim::Script::parse(&String::from_utf8(text).unwrap()).unwrap()
    };
    let progress = format!("/api/v1/progress/{id}");
    let secret = [("x-mliy-progress-token", script.token.as_str())];
    let (status, e) =
        call(&a.app, "POST", &progress, &secret, Some(json!({"percent": 50, "message": "halfway"}))).await;
    assert_eq!(status, 204, "{e}");
    let took = until_seen(&mut on_b, &mut seen_b, "50% halfway").await;
    assert!(took < Duration::from_secs(2), "replica B saw A's report after {took:?}");

    // An action on replica B reaches replica A's stream.
    let mut on_a = Box::pin(a.stream(&id).await);
    let mut seen_a = String::new();
    until_seen(&mut on_a, &mut seen_a, "50% halfway").await;
    let (status, r) = b.call("POST", &format!("/api/v1/resources/{id}/actions/terminate"), None).await;
    assert_eq!(status, 200, "{r}");
    let took = until_seen(&mut on_a, &mut seen_a, "\"to\":\"terminating\"").await;
    assert!(took < Duration::from_secs(2), "replica A saw B's action after {took:?}");
}
