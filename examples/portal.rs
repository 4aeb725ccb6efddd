//! A portal that embeds mliy: its own axum app, its own sign-in (`PortalUsers`, an
//! [`AuthProvider`] over the portal's user list), and mliy's router nested under `/mliy` —
//! the API, the bootstrap callbacks and the dashboard. Offline: the simulated cloud at 30×
//! speed, a SQLite file in the temporary folder, the example catalog, and the example image
//! on every instance, reporting its progress over HTTP with its launch secret.
//!
//! ```text
//! cargo run --example portal [-- --listen 127.0.0.1:8080 --speed 30]
//! ```
//!
//! Then open the printed address, sign in as `alice` / `alice-demo`, launch a notebook,
//! watch its progress bar reach ready, stop it and terminate it.

use async_trait::async_trait;
use axum::Router;
use axum::response::Html;
use axum::routing::get;
use mliy::auth::{AuthProvider, Credentials};
use mliy::config::DeploymentConfig;
use mliy::model::Principal;
use mliy::registry::Registry;
use std::sync::Arc;
use std::time::Duration;

type Result<T> = std::result::Result<T, Box<dyn std::error::Error>>;

const GROUP: &str = "cn=data-science,ou=groups,dc=example,dc=com";

/// The portal's own users (a real portal asks its directory or its SSO here).
#[derive(Debug)]
struct PortalUsers(Vec<(&'static str, &'static str, Principal)>);

impl PortalUsers {
    fn demo() -> PortalUsers {
        let user = |name: &'static str, display: &str| Principal {
            display_name: display.into(),
            ..Principal::new(name, [GROUP])
        };
        let admin = Principal { admin: true, ..user("admin", "Portal admin") };
        PortalUsers(vec![
            ("alice", "alice-demo", user("alice", "Alice Analyst")),
            ("bob", "bob-demo", user("bob", "Bob Builder")),
            ("admin", "admin-demo", admin),
        ])
    }
}

#[async_trait]
impl AuthProvider for PortalUsers {
    async fn authenticate(&self, credentials: &Credentials) -> mliy::Result<Principal> {
        let Credentials::Password { username, password } = credentials else {
            return Err(mliy::Error::Unauthenticated("a username and password".into()));
        };
        self.0
            .iter()
            .find(|(u, p, _)| u == username && *p == password.expose())
            .map(|(_, _, principal)| principal.clone())
            .ok_or_else(|| mliy::Error::Unauthenticated("invalid username or password".into()))
    }
}

fn arg(name: &str) -> Option<String> {
    let args: Vec<String> = std::env::args().collect();
    args.iter().position(|a| a == name).and_then(|i| args.get(i + 1).cloned())
}

#[tokio::main]
async fn main() -> Result<()> {
    let listen = arg("--listen").unwrap_or_else(|| "127.0.0.1:8080".into());
    let speed: u32 = arg("--speed").map_or(Ok(30), |s| s.parse())?;
    let listener = tokio::net::TcpListener::bind(&listen).await?;
    let address = listener.local_addr()?;
    let folder = tempfile::tempdir()?;
    let store = folder.path().join("portal.sqlite");
    std::fs::write(folder.path().join("prices.json"), mliy::demo::PRICES)?;
    let yaml = format!(
        "cloud: sim\nstore: {{sqlite: '{}'}}\nsim: {{speed: {speed}}}\n\
         pricing: {{file: prices.json}}\n\
         engine: {{progress_url: 'http://{address}/mliy/api/v1/progress', activity_url: 'http://{address}/mliy/api/v1/activity'}}\n",
        store.display()
    );
    let config = DeploymentConfig::from_yaml_str(&yaml, folder.path())?;
    let services = Registry::new(&config).catalog(mliy::demo::catalog()?).build().await?;
    let sim = services.sim.clone().ok_or("cloud: sim gives a simulated cloud")?;
    let _images = mliy::sim::spawn_example_images(sim, Duration::from_secs(2));
    let stop = Arc::new(tokio::sync::Notify::new());
    let _refresh = services.engine.spawn_refresh(services.refresh.clone(), Duration::from_secs(60), stop.clone());

    let mliy =
        mliy::http::router(services.engine.clone(), Arc::new(PortalUsers::demo()), mliy::http::HttpConfig::default());
    // Nested under /mliy: /mliy is the dashboard (axum routes /mliy/ nowhere, so it redirects).
    let app = Router::new()
        .route("/", get(portal_home))
        .route("/mliy/", get(|| async { axum::response::Redirect::permanent("/mliy") }))
        .nest("/mliy", mliy);
    println!("The portal runs at http://{address}/ (mliy at http://{address}/mliy).");
    println!("Sign in as alice / alice-demo, bob / bob-demo or admin / admin-demo. Ctrl-C stops it.");
    axum::serve(listener, app)
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await?;
    stop.notify_waiters();
    services.engine.shutdown();
    Ok(())
}

async fn portal_home() -> Html<&'static str> {
    Html(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Example portal</title></head>\
         <body><h1>Example portal</h1><p>Analytics environments are under <a href=\"/mliy\">mliy</a>.</p></body></html>",
    )
}
