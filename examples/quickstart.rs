//! mliy in one run, offline: the example catalog (`examples/catalog/`), the simulated cloud
//! and an in-memory store, in virtual time. It launches a notebook instance and a Spark
//! cluster, shows their progress while they bootstrap, stops and starts the instance,
//! prints the event history and terminates everything.
//!
//! Run: `cargo run --example quickstart`

use indicatif::{MultiProgress, ProgressBar, ProgressStyle};
use mliy::clock::{Clock, Timestamp, VirtualClock};
use mliy::engine::{Action, Engine, EngineConfig};
use mliy::lifecycle::{Phase, Resource};
use mliy::model::Principal;
use mliy::plan::{ClusterOptions, LaunchRequest, Market};
use mliy::sim::{SimCloud, SimConfig};
use mliy::store::MemoryStore;
use std::sync::Arc;
use std::time::Duration;
use tokio_stream::StreamExt;

type Result<T> = std::result::Result<T, Box<dyn std::error::Error>>;

#[tokio::main(flavor = "current_thread", start_paused = true)]
async fn main() -> Result<()> {
    let clock = Arc::new(VirtualClock::starting_at(Timestamp(1_767_225_600_000)));
    let cloud = Arc::new(SimCloud::new(clock.clone(), SimConfig::default()));
    let engine = Engine::builder()
        .catalog(mliy::demo::catalog()?)
        .cloud(cloud.clone())
        .store(Arc::new(MemoryStore::new()))
        .clock(clock.clone())
        .config(EngineConfig {
            progress_url: Some("https://portal.example/api/progress".into()),
            ..EngineConfig::default()
        })
        .build()?;
    let mut alice = Principal::new("alice", ["cn=data-science,ou=groups,dc=example,dc=com"]);
    alice.display_name = "Alice Liddell".into();

    println!("Launching a notebook instance and a Spark cluster for {} …", alice.display_name);
    let notebook =
        engine.launch_instance(&alice, LaunchRequest::instance("data-science", "notebook", "r5.2xlarge")).await?;
    let options = ClusterOptions {
        core_nodes: 3,
        task_nodes: 0,
        market: Market::Spot { bid: Some(0.3) },
        purpose: "churn model".into(),
    };
    let spark =
        engine.launch_cluster(&alice, LaunchRequest::cluster("data-science", "spark", "m5.xlarge", options)).await?;
    let (nb, cl) = (notebook.resource.id.clone(), spark.resource.id.clone());
    println!("  notebook {nb}: stack {}", notebook.resource.stack.name);
    println!("  cluster  {cl}: stack {}", spark.resource.stack.name);

    // Progress bars, fed by the engine's event stream.
    let bars = MultiProgress::new();
    let style = ProgressStyle::with_template("{prefix:>9} [{bar:30}] {pos:>3}% {msg}")?.progress_chars("=> ");
    let bar = |name: &str| {
        let b = bars.add(ProgressBar::new(100));
        b.set_style(style.clone());
        b.set_prefix(name.to_string());
        b
    };
    let (nb_bar, cl_bar) = (bar("notebook"), bar("cluster"));
    let mut events = engine.subscribe();
    let watcher = {
        let (nb, nb_bar, cl_bar) = (nb.clone(), nb_bar.clone(), cl_bar.clone());
        tokio::spawn(async move {
            while let Some(e) = events.next().await {
                let b = if e.resource == nb { &nb_bar } else { &cl_bar };
                let pos = match &e.to {
                    Phase::Requested => 0,
                    Phase::CreatingStack => 5,
                    Phase::Provisioning | Phase::Starting => 25,
                    Phase::Bootstrapping { percent, .. } => 30 + u64::from(*percent) * 7 / 10,
                    p if p.is_usable() => 100,
                    _ => b.position(),
                };
                b.set_position(pos);
                b.set_message(e.to.to_string());
                // Virtual time flies; slow the drawing down a little so a person can follow.
                std::thread::sleep(Duration::from_millis(60));
            }
        })
    };

    // The instance's bootstrap script reports progress with its launch secret, as the
    // `curl` in a real user-data script would.
    let token = notebook.progress_token.clone().ok_or("the notebook has a progress bar")?;
    engine.wait_until(&nb, |p| matches!(p, Phase::Bootstrapping { .. }) || p.is_terminal()).await?;
    for (percent, step) in [
        (20, "mounting home volume"),
        (45, "installing R"),
        (70, "installing Python"),
        (90, "starting JupyterLab"),
        (100, "done"),
    ] {
        clock.sleep(Duration::from_secs(45)).await;
        engine.report_progress(&nb, token.expose(), percent, step).await?;
    }
    let ready = engine.wait_until(&nb, |p| p.is_usable() || p.is_terminal()).await?;
    let waiting = engine.wait_until(&cl, |p| p.is_usable() || p.is_terminal()).await?;
    nb_bar.finish();
    cl_bar.finish();
    println!("notebook is {} at {}; cluster is {} (master {})", ready.phase, ip(&ready), waiting.phase, ip(&waiting));

    println!("Stopping and starting the notebook …");
    engine.act(&alice, &nb, Action::Stop).await?;
    engine.wait_until(&nb, |p| *p == Phase::Stopped || p.is_terminal()).await?;
    engine.act(&alice, &nb, Action::Start).await?;
    let again = engine.wait_until(&nb, |p| p.is_usable() || p.is_terminal()).await?;
    println!("notebook is {} again", again.phase);

    println!("Terminating everything …");
    for id in [&nb, &cl] {
        engine.act(&alice, id, Action::Terminate).await?;
    }
    for id in [&nb, &cl] {
        engine.wait_until(id, Phase::is_terminal).await?;
    }
    watcher.abort();

    for (name, id) in [("notebook", &nb), ("cluster", &cl)] {
        println!("\nHistory of the {name} {id}:");
        let start = engine.get(&alice, id).await?.created_at;
        for e in engine.events(&alice, id).await? {
            let at = e.at.since(start).as_secs();
            println!("  +{:>2}:{:02}  {:<15} {}", at / 60, at % 60, e.to.name(), e.reason);
        }
    }
    let calls: u64 = cloud.calls().values().sum();
    println!(
        "\nDone in {} virtual minutes: {calls} cloud calls, {} stacks left, {} machines running.",
        clock.elapsed().as_secs() / 60,
        cloud.live_stacks().len(),
        cloud.running_machines()
    );
    Ok(())
}

fn ip(r: &Resource) -> &str {
    r.private_ip.as_deref().unwrap_or("-")
}
