//! `mliy run`: the long-running engine process. It resumes what the store says is
//! unfinished, drives it, picks up work other processes record, refreshes in the
//! background, and on SIGTERM or Ctrl-C stops cleanly (giving its leases up), to resume on
//! the next start.

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

pub(crate) fn run(args: &RunArgs) -> Result<Output> {
    // The engine's own log (refresh passes, retries, warnings) goes to stderr.
    let _ = tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_max_level(tracing_subscriber::filter::LevelFilter::INFO)
        .try_init();
    block_on(async {
        let s = services(&args.deploy, true).await?;
        let engine = s.engine.clone();
        let mut events = engine.subscribe(&operator())?;
        let resumed = engine.resume().await?;
        say(args, &json!({"started": true, "resumed": resumed}), &format!("mliy run: resumed {resumed}"));
        let stop = Arc::new(tokio::sync::Notify::new());
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
        let driving = engine.busy();
        engine.stop().await;
        let _ = refresher.await;
        let out = json!({"stopped": signal, "left_to_resume": driving});
        say(args, &out, &format!("mliy run: stopped on {signal}; {driving} resources left to resume"));
        Ok(Output::printed())
    })
}

/// One line of the running log: JSON lines with `--json`, text otherwise.
fn say(args: &RunArgs, json: &serde_json::Value, text: &str) {
    if args.deploy.json {
        println!("{json}");
    } else {
        println!("{text}");
    }
}
