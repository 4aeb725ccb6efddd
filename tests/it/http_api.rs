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
    rig_with(mliy::http::HttpConfig::default())
}

fn rig_with(http: mliy::http::HttpConfig) -> Rig {
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
    let app = mliy::http::router(engine.clone(), Arc::new(auth), http);
    Rig { app, engine }
}

impl Rig {
    async fn call(&self, method: Method, uri: &str, token: Option<&str>, body: Option<Value>) -> (StatusCode, Value) {
        let auth = token.map(|t| format!("Bearer {t}"));
        let headers: Vec<(&str, &str)> = auth.as_deref().map(|a| ("authorization", a)).into_iter().collect();
        let body = body.map(|b| ("application/json", b.to_string()));
        let (status, _, value) = self.send(method, uri, &headers, body).await;
        (status, value)
    }

    /// A request with these headers and body (content type, text): status, headers, JSON.
    async fn send(
        &self,
        method: Method,
        uri: &str,
        headers: &[(&str, &str)],
        body: Option<(&str, String)>,
    ) -> (StatusCode, axum::http::HeaderMap, Value) {
        let mut request = Request::builder().method(method).uri(uri);
        for (k, v) in headers {
            request = request.header(*k, *v);
        }
        let request = match body {
            Some((kind, text)) => request.header("content-type", kind).body(Body::from(text)),
            None => request.body(Body::empty()),
        };
        let response = self.app.clone().oneshot(request.unwrap()).await.unwrap();
        let (status, headers) = (response.status(), response.headers().clone());
        let bytes = axum::body::to_bytes(response.into_body(), 1 << 20).await.unwrap();
        (status, headers, serde_json::from_slice(&bytes).unwrap_or(Value::Null))
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

/// Every operation of the OpenAPI document is routed (none answers the router's bare 404 or
/// 405), and the document names the endpoints the issue asks for.
#[tokio::test(start_paused = true)]
async fn the_openapi_document_describes_every_route() {
    let rig = rig();
    let (status, doc) = rig.call(Method::GET, "/api/v1/openapi.json", None, None).await;
    assert_eq!((status, doc["openapi"].as_str()), (StatusCode::OK, Some("3.1.0")));
    let paths = doc["paths"].as_object().unwrap();
    for wanted in [
        "/api/v1/login",
        "/api/v1/offerings",
        "/api/v1/instances",
        "/api/v1/clusters",
        "/api/v1/resources/{id}/events/stream",
        "/api/v1/progress/{launch}",
        "/api/v1/activity/{launch}",
        "/ajax/s/{secret}/ajax/progress/{instance}/{step}",
        "/api/v1/emr/clusters/{id}",
        "/api/v1/admin/unmanaged",
    ] {
        assert!(paths.contains_key(wanted), "{wanted} is documented");
    }
    let mut operations = 0;
    for (path, item) in paths {
        let uri = path
            .replace("{id}", "0a1b2c3d4e5f")
            .replace("{launch}", "0a1b2c3d4e5f")
            .replace("{action}", "stop")
            .replace("{instance}", "i-0abc")
            .replace("{step}", "done(100)")
            .replace("{secret}", "forged")
            .replace("{group_config}", "data-science");
        for method in item.as_object().unwrap().keys() {
            let m = Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
            let body = (m == Method::POST).then(|| ("application/json", "{}".to_string()));
            let (status, _, answer) = rig.send(m, &uri, &[], body).await;
            let routed = status.is_success() || status == StatusCode::SEE_OTHER || answer["error"]["kind"].is_string();
            assert!(routed && status != StatusCode::METHOD_NOT_ALLOWED, "{method} {uri}: {status} {answer}");
            operations += 1;
        }
    }
    assert!(operations >= 25, "{operations} operations");
}

/// A browser's sign-in: an HttpOnly, SameSite=Strict cookie (Secure off loopback), and every
/// POST with it needs the session's CSRF token.
#[tokio::test(start_paused = true)]
async fn cookie_sessions_need_their_csrf_token() {
    let rig = rig();
    let form = ("application/x-www-form-urlencoded", "username=alice&password=alice-pw".to_string());
    let (status, headers, body) =
        rig.send(Method::POST, "/api/v1/login", &[("host", "127.0.0.1:8080")], Some(form.clone())).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let cookie = headers["set-cookie"].to_str().unwrap().to_string();
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict") && !cookie.contains("Secure"),
        "{cookie}"
    );
    assert!(body.get("token").is_none(), "a browser gets no bearer token: {body}");
    let (_, headers, _) = rig.send(Method::POST, "/api/v1/login", &[("host", "portal.example")], Some(form)).await;
    assert!(headers["set-cookie"].to_str().unwrap().contains("; Secure"), "Secure off loopback");

    let session = cookie.split(';').next().unwrap().to_string();
    let csrf = body["csrf_token"].as_str().unwrap().to_string();
    let launch = json!({"group_config": "data-science", "software_config": "notebook", "instance_type": "t3.large"});
    let json_body = || Some(("application/json", launch.to_string()));
    let (status, _, e) = rig.send(Method::POST, "/api/v1/instances", &[("cookie", &session)], json_body()).await;
    assert_eq!((status, e["error"]["kind"].as_str()), (StatusCode::FORBIDDEN, Some("forbidden")), "no CSRF token");
    let wrong = [("cookie", session.as_str()), ("x-csrf-token", "0000")];
    assert_eq!(rig.send(Method::POST, "/api/v1/instances", &wrong, json_body()).await.0, StatusCode::FORBIDDEN);
    let (status, _, me) = rig.send(Method::GET, "/api/v1/whoami", &[("cookie", &session)], None).await;
    assert_eq!((status, me["username"].as_str()), (StatusCode::OK, Some("alice")), "reads need no token");
    let right = [("cookie", session.as_str()), ("x-csrf-token", csrf.as_str())];
    let (status, _, launched) = rig.send(Method::POST, "/api/v1/instances", &right, json_body()).await;
    assert_eq!(status, StatusCode::CREATED, "{launched}");
    assert_eq!(launched["resource"]["owner"], "alice");
}

/// A launch through the API: the detail has its events and how to connect; the event stream
/// resumes after `Last-Event-ID`; the offerings carry the notebook.
#[tokio::test(start_paused = true)]
async fn launch_then_follow_its_events() {
    use tokio_stream::StreamExt;
    let rig = rig();
    let alice = rig.login("alice", "alice-pw").await;
    let (_, offerings) = rig.call(Method::GET, "/api/v1/offerings", Some(&alice), None).await;
    assert!(offerings.as_array().unwrap().iter().any(|o| o["software_config"] == "notebook"), "{offerings}");
    let launch = json!({"group_config": "data-science", "software_config": "notebook", "instance_type": "t3.large"});
    let (status, launched) = rig.call(Method::POST, "/api/v1/instances", Some(&alice), Some(launch)).await;
    assert_eq!(status, StatusCode::CREATED, "{launched}");
    let id = launched["resource"]["id"].as_str().unwrap().to_string();
    let (owner, launch_id) = (user("alice"), mliy::model::LaunchId::parse(&id).unwrap());
    let bootstrapping = rig.engine.wait_until(&owner, &launch_id, |p| p.name() == "bootstrapping" || p.is_terminal());
    tokio::time::timeout(std::time::Duration::from_secs(3 * 3600), bootstrapping).await.unwrap().unwrap();
    let (status, detail) = rig.call(Method::GET, &format!("/api/v1/resources/{id}"), Some(&alice), None).await;
    assert_eq!((status, detail["phase"].as_str()), (StatusCode::OK, Some("bootstrapping")), "{detail}");
    let seqs: Vec<u64> = detail["events"].as_array().unwrap().iter().map(|e| e["seq"].as_u64().unwrap()).collect();
    assert!(seqs.len() >= 3 && detail["connection"].is_object() && detail["cost_so_far"].is_string(), "{detail}");
    assert!(detail.get("stack").is_none() && !detail.to_string().contains("Parameters"), "nothing internal: {detail}");

    let request = Request::builder()
        .uri(format!("/api/v1/resources/{id}/events/stream"))
        .header("authorization", format!("Bearer {alice}"))
        .header("last-event-id", seqs[0].to_string())
        .body(Body::empty())
        .unwrap();
    let response = rig.app.clone().oneshot(request).await.unwrap();
    assert_eq!(response.headers()["content-type"], "text/event-stream");
    let mut body = response.into_body().into_data_stream();
    let mut text = String::new();
    while text.matches("event: phase").count() < seqs.len() - 1 {
        let chunk = tokio::time::timeout(std::time::Duration::from_secs(60), body.next()).await.unwrap().unwrap();
        text.push_str(&String::from_utf8_lossy(&chunk.unwrap()));
    }
    let ids: Vec<&str> = text.lines().filter_map(|l| l.strip_prefix("id: ")).collect();
    let want: Vec<String> = seqs[1..].iter().map(u64::to_string).collect();
    assert_eq!(ids, want, "resumed after event {}: {text}", seqs[0]);
    let (status, _) = rig.call(Method::GET, &format!("/api/v1/resources/{id}/events/stream"), None, None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

/// MLiy's images report with their secret in the path; without one, or with a forged one,
/// nothing is recorded.
#[tokio::test(start_paused = true)]
async fn mliy_progress_urls_need_the_secret() {
    let rig = rig();
    let (status, e) = rig.call(Method::GET, "/ajax/progress/i-0abc/done(100)", None, None).await;
    assert_eq!((status, e["error"]["kind"].as_str()), (StatusCode::UNAUTHORIZED, Some("unauthenticated")));
    let (status, e) = rig.call(Method::GET, "/ajax/s/forged/ajax/progress/i-0abc/done(100)", None, None).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{e}");
    let (status, e) = rig.call(Method::GET, "/ajax/s/forged/ajax/progress/i-0abc/done", None, None).await;
    assert_eq!((status, e["error"]["field"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("path")), "{e}");
}

/// `/api/v1/datasets` on objects in memory (the S3 plugin itself is tested on moto in
/// `s3.rs`): only under the configured prefixes, and users see only their own notebooks.
#[tokio::test(start_paused = true)]
async fn datasets_stay_inside_the_configured_prefixes() {
    use mliy::objects::{MemoryObjects, S3Location};
    let plain = rig();
    let (status, _) =
        plain.call(Method::GET, "/api/v1/datasets", Some(&plain.login("alice", "alice-pw").await), None).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "no s3 section: no datasets");
    let s3 = MemoryObjects::default();
    let at = mliy::clock::Timestamp(1_700_000_000_000);
    s3.put("data-lake", "curated/sales/part-0.snappy.parquet", "x", at);
    s3.put("data-lake", "private/hr/salaries.csv", "x", at);
    let code = |path: &str| {
        format!(
            "{{\"nbformat\": 4, \"cells\": [{{\"cell_type\": \"code\", \"source\": \"spark.read.parquet('{path}')\"}}]}}"
        )
    };
    s3.put("hub-notebooks", "jupyter/alice/a.ipynb", code("s3://data-lake/curated/sales/"), at);
    s3.put("hub-notebooks", "jupyter/bob/b.ipynb", code("s3://data-lake/curated/sales/2024"), at);
    let source = mliy::http::DatasetsSource {
        objects: Arc::new(s3),
        prefixes: vec![S3Location::parse("p", "s3://data-lake/curated").unwrap()],
        notebooks: Some(S3Location::parse("n", "s3://hub-notebooks/jupyter/").unwrap()),
    };
    let rig = rig_with(mliy::http::HttpConfig { datasets: Some(source), ..Default::default() });
    let (alice, root) = (rig.login("alice", "alice-pw").await, rig.login("root", "root-pw").await);
    assert_eq!(rig.call(Method::GET, "/api/v1/datasets", None, None).await.0, StatusCode::UNAUTHORIZED);
    let (status, list) = rig.call(Method::GET, "/api/v1/datasets", Some(&alice), None).await;
    assert_eq!(
        (status, list["datasets"][0]["uri"].as_str()),
        (StatusCode::OK, Some("s3://data-lake/curated/sales/")),
        "{list}"
    );
    assert_eq!(list["datasets"][0]["formats"]["parquet.snappy"], 1);
    let (status, e) = rig.call(Method::GET, "/api/v1/datasets?prefix=s3://data-lake/private", Some(&alice), None).await;
    assert_eq!((status, e["error"]["kind"].as_str()), (StatusCode::FORBIDDEN, Some("forbidden")), "{e}");
    let (status, e) = rig.call(Method::GET, "/api/v1/datasets?prefix=/etc", Some(&alice), None).await;
    assert_eq!((status, e["error"]["field"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("prefix")), "{e}");
    let used = "/api/v1/datasets/used-by?dataset=s3://data-lake/curated/sales";
    let owners = |v: &Value| {
        v["notebooks"].as_array().unwrap().iter().map(|u| u["owner"].as_str().unwrap().to_string()).collect::<Vec<_>>()
    };
    let (status, mine) = rig.call(Method::GET, used, Some(&alice), None).await;
    assert_eq!((status, owners(&mine)), (StatusCode::OK, vec!["alice".to_string()]), "{mine}");
    let (_, all) = rig.call(Method::GET, used, Some(&root), None).await;
    assert_eq!(owners(&all), ["alice", "bob"]);
    let outside = "/api/v1/datasets/used-by?dataset=s3://data-lake/private/hr";
    assert_eq!(rig.call(Method::GET, outside, Some(&root), None).await.0, StatusCode::FORBIDDEN);
}
