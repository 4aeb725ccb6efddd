//! `mliy run`: the long-running engine process. It resumes what the store says is
//! unfinished, drives it, picks up work other processes record, refreshes in the
//! background, and on SIGTERM or Ctrl-C stops cleanly (giving its leases up), to resume on
//! the next start. `mliy serve` does the same and serves the HTTP API and the dashboard.

use crate::Output;
use crate::admin::{Deploy, block_on, duration_arg, operator, services};
use clap::Args;
use mliy::error::{Error, Result};
use serde_json::json;
use std::sync::Arc;
use std::time::Duration;
use tokio_stream::StreamExt;

#[derive(Args)]
pub(crate) struct RunArgs {
    /// How often work recorded by other processes (`mliy launch`, a portal) is picked up.
    #[arg(long, default_value = "5s", value_parser = duration_arg)]
    pickup: Duration,
    #[command(flatten)]
    pub(crate) deploy: Deploy,
}

#[derive(Args)]
pub(crate) struct ServeArgs {
    /// The address to listen on (the config's `http.listen` by default; port 0 picks one).
    #[arg(long)]
    listen: Option<String>,
    #[command(flatten)]
    pub(crate) run: RunArgs,
}

/// What `mliy serve` listens with.
enum Listener {
    Plain(tokio::net::TcpListener),
    Tls(mliy::http::tls::TlsListener),
}

/// The HTTP server `mliy serve` runs beside the engine.
struct Server {
    listener: Listener,
    app: axum::Router,
}

async fn server(args: &ServeArgs, s: &mliy::registry::Services) -> Result<Server> {
    let config = mliy::config::DeploymentConfig::locate(args.run.deploy.config.as_deref())?;
    if let Some(mliy::config::AuthConfig::Header(_)) = &config.auth {
        let rule = "the HTTP API signs users in with a password (static or ldap); header auth is not served yet";
        return Err(Error::validation("auth.header", "given", rule));
    }
    let auth = s.auth.clone().ok_or_else(|| {
        Error::validation("auth", "missing", "mliy serve signs users in: give an auth section (static or ldap)")
    })?;
    let listen = args.listen.clone().unwrap_or_else(|| config.http.listen.clone());
    let addr: std::net::SocketAddr =
        listen.parse().map_err(|_| Error::validation("--listen", &listen, "an IP address and port"))?;
    let listener = match &config.http.tls {
        Some(tls) => {
            let tls = mliy::http::tls::server_config(&config.path(&tls.cert_file), &config.path(&tls.key_file))?;
            Listener::Tls(mliy::http::tls::TlsListener::bind(addr, tls).await?)
        }
        None => Listener::Plain(
            tokio::net::TcpListener::bind(addr)
                .await
                .map_err(|e| Error::Unavailable(format!("cannot listen on {addr}: {e}")))?,
        ),
    };
    let mut http = mliy::registry::http_config(&config);
    http.datasets = mliy::registry::http_datasets(&config).await?;
    let app = mliy::http::router(s.engine.clone(), auth, http);
    Ok(Server { listener, app })
}

pub(crate) fn serve(args: &ServeArgs) -> Result<Output> {
    drive(&args.run, Some(args))
}

pub(crate) fn run(args: &RunArgs) -> Result<Output> {
    drive(args, None)
}

fn drive(args: &RunArgs, serve: Option<&ServeArgs>) -> Result<Output> {
    // The engine's own log (refresh passes, retries, warnings) goes to stderr.
    let _ = tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_max_level(tracing_subscriber::filter::LevelFilter::INFO)
        .try_init();
    block_on(async {
        let s = services(&args.deploy, true).await?;
        let engine = s.engine.clone();
        let mut events = engine.subscribe(&operator())?;
        let stop = Arc::new(tokio::sync::Notify::new());
        let http_stop = Arc::new(tokio::sync::Notify::new());
        let http = match serve {
            Some(serve) => Some(listen(server(serve, &s).await?, args, http_stop.clone())?),
            None => None,
        };
        let resumed = engine.resume().await?;
        say(args, &json!({"started": true, "resumed": resumed}), &format!("mliy run: resumed {resumed}"));
        let refresher = engine.spawn_refresh(s.refresh.clone(), s.refresh_interval, stop.clone());
        let mut sigterm = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .map_err(|e| Error::Unavailable(format!("cannot watch for SIGTERM: {e}")))?;
        let mut pickup = tokio::time::interval(args.pickup);
        let signal = loop {
            tokio::select! {
                _ = sigterm.recv() => break "SIGTERM",
                _ = tokio::signal::ctrl_c() => break "interrupt",
                _ = pickup.tick() => { engine.resume().await?; }
                Some(e) = events.next() => {
                    let line = format!("{} {} -> {}: {}", e.at.utc(), e.resource, e.to, e.reason);
                    say(args, &json!({"event": e}), &line);
                }
            }
        };
        stop.notify_one();
        http_stop.notify_one();
        if let Some(http) = http {
            let _ = http.await;
        }
        let driving = engine.busy();
        engine.stop().await;
        let _ = refresher.await;
        let out = json!({"stopped": signal, "left_to_resume": driving});
        say(args, &out, &format!("mliy run: stopped on {signal}; {driving} resources left to resume"));
        Ok(Output::printed())
    })
}

/// Serves `server` until `stop`, saying where.
fn listen(server: Server, args: &RunArgs, stop: Arc<tokio::sync::Notify>) -> Result<tokio::task::JoinHandle<()>> {
    use axum::serve::Listener as _;
    let (scheme, addr) = match &server.listener {
        Listener::Plain(l) => ("http", l.local_addr()),
        Listener::Tls(l) => ("https", l.local_addr()),
    };
    let addr = addr.map_err(|e| Error::Unavailable(format!("no local address: {e}")))?;
    let url = format!("{scheme}://{addr}");
    say(args, &json!({"listening": url}), &format!("mliy serve: listening on {url}"));
    Ok(tokio::spawn(async move {
        let shutdown = async move { stop.notified().await };
        let served = match server.listener {
            Listener::Plain(l) => axum::serve(l, server.app).with_graceful_shutdown(shutdown).await,
            Listener::Tls(l) => axum::serve(l, server.app).with_graceful_shutdown(shutdown).await,
        };
        if let Err(e) = served {
            tracing::error!(target: "mliy::http", error = %e, "the HTTP server stopped");
        }
    }))
}

/// One line of the running log: JSON lines with `--json`, text otherwise.
fn say(args: &RunArgs, json: &serde_json::Value, text: &str) {
    if args.deploy.json {
        println!("{json}");
    } else {
        println!("{text}");
    }
}
