//! The HTTP API in process (tower's `oneshot`): sign-in, who may see and do what, actions
//! only through POST, errors as JSON, progress only with the launch secret.

use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use mliy::auth::StaticAuth;
use mliy::clock::VirtualClock;
use mliy::engine::{Engine, EngineConfig};
use mliy::model::Principal;
use mliy::plan::LaunchRequest;
use mliy::secret::Secret;
use mliy::sim::{SimCloud, SimConfig};
use mliy::store::MemoryStore;
use serde_json::{Value, json};
use std::sync::Arc;
use tower::ServiceExt;

const GROUP: &str = "cn=data-science,ou=groups,dc=example,dc=com";

struct Rig {
    app: axum::Router,
    engine: Engine,
}

fn user(name: &str) -> Principal {
    Principal::new(name, [GROUP])
}

fn rig() -> Rig {
    let clock = Arc::new(VirtualClock::starting_at(mliy::clock::Timestamp(1_700_000_000_000)));
    let cloud = Arc::new(SimCloud::new(clock.clone(), SimConfig::default()));
    let config =
        EngineConfig { progress_url: Some("https://portal.example/progress".into()), ..EngineConfig::default() };
    let engine = Engine::builder()
        .catalog(mliy::demo::catalog().unwrap())
        .cloud(cloud)
        .store(Arc::new(MemoryStore::new()))
        .clock(clock)
        .config(config)
        .build()
        .unwrap();
    let admin = Principal { admin: true, ..Principal::new("root", ["admins"]) };
    let auth = StaticAuth::new()
        .with_user(user("alice"), "alice-pw")
        .with_user(user("bob"), "bob-pw")
        .with_user(admin, "root-pw");
    let app = mliy::http::router(engine.clone(), Arc::new(auth), mliy::http::HttpConfig::default());
    Rig { app, engine }
}

impl Rig {
    async fn call(&self, method: Method, uri: &str, token: Option<&str>, body: Option<Value>) -> (StatusCode, Value) {
        let mut request = Request::builder().method(method).uri(uri);
        if let Some(t) = token {
            request = request.header("authorization", format!("Bearer {t}"));
        }
        let request = match body {
            Some(b) => request.header("content-type", "application/json").body(Body::from(b.to_string())),
            None => request.body(Body::empty()),
        };
        let response = self.app.clone().oneshot(request.unwrap()).await.unwrap();
        let status = response.status();
        let bytes = axum::body::to_bytes(response.into_body(), 1 << 20).await.unwrap();
        (status, serde_json::from_slice(&bytes).unwrap_or(Value::Null))
    }

    /// A notebook launched for alice through the library.
    async fn alices_notebook(&self) -> mliy::engine::Launched {
        let request = LaunchRequest::instance("data-science", "notebook", "t3.large");
        self.engine.launch_instance(&user("alice"), request).await.unwrap()
    }

    async fn login(&self, user: &str, password: &str) -> String {
        let (status, body) =
            self.call(Method::POST, "/api/v1/login", None, Some(json!({"username": user, "password": password}))).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        body["token"].as_str().unwrap().to_string()
    }
}

#[tokio::test(start_paused = true)]
async fn sign_in_and_who_may_see_and_act() {
    let rig = rig();
    let (status, body) =
        rig.call(Method::POST, "/api/v1/login", None, Some(json!({"username": "alice", "password": "nope"}))).await;
    assert_eq!((status, body["error"]["kind"].as_str()), (StatusCode::UNAUTHORIZED, Some("unauthenticated")));
    let (status, _) = rig.call(Method::GET, "/api/v1/whoami", None, None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, _) = rig.call(Method::GET, "/api/v1/whoami", Some("forged"), None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let alice = rig.login("alice", "alice-pw").await;
    let bob = rig.login("bob", "bob-pw").await;
    let root = rig.login("root", "root-pw").await;
    let (status, me) = rig.call(Method::GET, "/api/v1/whoami", Some(&alice), None).await;
    assert_eq!((status, me["username"].as_str()), (StatusCode::OK, Some("alice")));

    let launched = rig.alices_notebook().await;
    let id = launched.resource.id.to_string();
    let (_, mine) = rig.call(Method::GET, "/api/v1/resources", Some(&alice), None).await;
    assert_eq!((mine["items"].as_array().unwrap().len(), &mine["total"]), (1, &json!(1)), "{mine}");
    let (_, theirs) = rig.call(Method::GET, "/api/v1/resources", Some(&bob), None).await;
    assert_eq!(theirs["items"], json!([]), "bob sees none of alice's");
    let one = format!("/api/v1/resources/{id}");
    let (status, r) = rig.call(Method::GET, &one, Some(&alice), None).await;
    assert_eq!((status, r["id"].as_str()), (StatusCode::OK, Some(id.as_str())));
    assert!(!r.to_string().contains(launched.progress_token.as_ref().unwrap().expose()), "no secret in the answer");
    let (status, e) = rig.call(Method::GET, &one, Some(&bob), None).await;
    assert!(matches!(status, StatusCode::NOT_FOUND | StatusCode::FORBIDDEN), "{status} {e}");
    let stop = format!("{one}/actions/terminate");
    let (status, _) = rig.call(Method::POST, &stop, Some(&bob), None).await;
    assert!(matches!(status, StatusCode::NOT_FOUND | StatusCode::FORBIDDEN), "bob cannot terminate it: {status}");
    let (status, _) = rig.call(Method::GET, &stop, Some(&alice), None).await;
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED, "no state change through GET");
    let (status, e) = rig.call(Method::POST, &format!("{one}/actions/explode"), Some(&alice), None).await;
    assert_eq!((status, e["error"]["field"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("action")));
    let (status, r) = rig.call(Method::POST, &stop, Some(&root), None).await;
    assert_eq!((status, r["phase"].as_str()), (StatusCode::OK, Some("terminating")), "{r}");
    let (status, e) = rig.call(Method::GET, "/api/v1/resources/not%20an%20id", Some(&alice), None).await;
    assert_eq!((status, e["error"]["kind"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("validation")), "{e}");

    let (status, _) = rig.call(Method::POST, "/api/v1/logout", Some(&alice), None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _) = rig.call(Method::GET, "/api/v1/whoami", Some(&alice), None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "the token ended with the session");
}

#[tokio::test(start_paused = true)]
async fn progress_needs_the_launch_secret() {
    let rig = rig();
    let launched = rig.alices_notebook().await;
    let id = launched.resource.id.to_string();
    let secret = launched.progress_token.unwrap();
    let uri = format!("/api/v1/progress/{id}");
    let report = json!({"percent": 10, "message": "installing"});
    let (status, _) = rig.call(Method::POST, &uri, None, Some(report.clone())).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "no secret, no report");
    let forged = Secret::new("f".repeat(64));
    let (status, e) = rig.call(Method::POST, &uri, Some(forged.expose()), Some(report.clone())).await;
    assert!(matches!(status, StatusCode::FORBIDDEN | StatusCode::UNAUTHORIZED), "{status} {e}");
    // The launch is driven to where it reports: the bootstrap.
    let alice = user("alice");
    let bootstrapping =
        rig.engine.wait_until(&alice, &launched.resource.id, |p| p.name() == "bootstrapping" || p.is_terminal());
    tokio::time::timeout(std::time::Duration::from_secs(3 * 3600), bootstrapping).await.unwrap().unwrap();
    let (status, e) = rig.call(Method::POST, &uri, Some(secret.expose()), Some(report)).await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{e}");
    let (status, e) = rig.call(Method::POST, &uri, Some(secret.expose()), Some(json!({"percent": "lots"}))).await;
    assert!(status.is_client_error(), "{status} {e}");
    // 60 reports a minute per launch (those above count too): then 429.
    let mut last = StatusCode::OK;
    for n in 0..60 {
        let report = json!({"percent": 20, "message": format!("step {n}")});
        last = rig.call(Method::POST, &uri, Some(secret.expose()), Some(report)).await.0;
    }
    assert_eq!(last, StatusCode::TOO_MANY_REQUESTS);
    let (status, _) = rig.call(Method::POST, &uri, Some(forged.expose()), Some(json!({"percent": 30}))).await;
    assert!(
        matches!(status, StatusCode::FORBIDDEN | StatusCode::UNAUTHORIZED),
        "a forger has its own allowance: {status}"
    );
}
