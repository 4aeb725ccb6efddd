//! mliy in one run: the example catalog (`examples/catalog/`) launches a notebook instance and
//! a Spark cluster, shows their progress while they bootstrap, stops and starts the instance,
//! prints the event history and terminates everything.
//!
//! Offline (the default): the simulated cloud, fast-forwarded 120 times, and a SQLite file
//! in the temporary folder (`--store sqlite:PATH`, `--store postgres://USER@HOST/DB` with the
//! `postgres` feature, or `--store memory`).
//!
//! ```text
//! cargo run --example quickstart
//! ```
//!
//! On AWS, through the AWS SDK (build with `--features aws`): an emulator such as moto on
//! loopback, or a real account with real credentials. The account's subnet, security group,
//! key pair and instance profile replace the example's placeholders:
//!
//! ```text
//! cargo run --features aws --example quickstart -- --aws-endpoint http://127.0.0.1:5000 \
//!     --subnet subnet-… --security-group sg-… --key-name my-key --instance-profile my-profile [--keep]
//! ```
//!
//! `AWS_ENDPOINT_URL` works as `--aws-endpoint`; `--aws` alone uses the environment's
//! endpoint, region and credentials. `--keep` leaves the instance and the cluster running
//! (after the stop/start), so they can be inspected. `--config mliy.yaml` takes the backends
//! from a deployment config instead. Either way they are built by `mliy::registry`.

use indicatif::{MultiProgress, ProgressBar, ProgressStyle};
use mliy::config::{AwsSection, CloudConfig, DeploymentConfig, SimSection, StoreConfig};
use mliy::engine::Action;
use mliy::lifecycle::{Phase, Resource};
use mliy::model::{Catalog, Market, Principal, SecurityGroup};
use mliy::plan::{ClusterOptions, LaunchRequest};
use mliy::registry::Registry;
use std::time::Duration;
use tokio_stream::StreamExt;

type Result<T> = std::result::Result<T, Box<dyn std::error::Error>>;

/// What the command line asked for.
#[derive(Debug, Default)]
struct Args {
    config: Option<std::path::PathBuf>,
    aws: bool,
    endpoint: Option<String>,
    region: Option<String>,
    keep: bool,
    subnet: Option<String>,
    security_group: Option<String>,
    key_name: Option<String>,
    instance_profile: Option<String>,
    store: Option<String>,
}

fn args() -> Result<Args> {
    let mut args = Args::default();
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().ok_or_else(|| format!("{flag} needs a value"));
        match flag.as_str() {
            "--config" => args.config = Some(value()?.into()),
            "--aws" => args.aws = true,
            "--aws-endpoint" => args.endpoint = Some(value()?),
            "--region" => args.region = Some(value()?),
            "--keep" => args.keep = true,
            "--subnet" => args.subnet = Some(value()?),
            "--security-group" => args.security_group = Some(value()?),
            "--key-name" => args.key_name = Some(value()?),
            "--instance-profile" => args.instance_profile = Some(value()?),
            "--store" => args.store = Some(value()?),
            other => return Err(format!("unknown argument {other:?}").into()),
        }
    }
    if args.endpoint.is_none() {
        args.endpoint = std::env::var("AWS_ENDPOINT_URL").ok().filter(|u| !u.is_empty());
    }
    args.aws |= args.endpoint.is_some();
    Ok(args)
}

/// The example catalog, with the account's network, key and profile when given.
fn catalog(args: &Args) -> Result<Catalog> {
    let mut catalog = mliy::demo::catalog()?;
    let group = &mut catalog.group_configs[0];
    if let Some(subnet) = &args.subnet {
        group.network.subnet_id = Some(subnet.clone());
    }
    if let Some(sg) = &args.security_group {
        group.default_security_groups = vec![sg.clone()];
        group.optional_security_groups.clear();
        catalog.security_groups.push(SecurityGroup { id: sg.clone(), name: "account".into() });
    }
    let group = &mut catalog.group_configs[0];
    if let Some(key) = &args.key_name {
        group.key_name = key.clone();
    }
    if let Some(profile) = &args.instance_profile {
        group.iam_instance_profile = profile.clone();
    }
    Ok(catalog)
}

/// The deployment: `--config`, or one made from the flags (the simulated cloud 120 times
/// faster than real time, or AWS; a SQLite file in the temporary folder by default).
fn deployment(args: &Args) -> Result<DeploymentConfig> {
    if let Some(path) = &args.config {
        return Ok(DeploymentConfig::from_path(path)?);
    }
    let default_store = std::env::temp_dir().join(format!("mliy-quickstart-{}.sqlite", std::process::id()));
    let store = match &args.store {
        Some(spec) => StoreConfig::from_spec("--store", spec)?,
        None => StoreConfig::Sqlite(default_store),
    };
    let mut config = if args.aws {
        // An emulator needs some region; real AWS takes the environment's.
        let needs_region = args.endpoint.is_some() && std::env::var_os("AWS_REGION").is_none();
        let region = args.region.clone().or_else(|| needs_region.then(|| "us-east-1".to_string()));
        let aws = AwsSection { region, endpoint_url: args.endpoint.clone(), profile: None };
        let mut config = DeploymentConfig::new(CloudConfig::Aws(aws), store);
        let fast = Some(Duration::from_secs(2));
        (config.engine.stack_poll, config.engine.instance_poll) = (fast, fast);
        config.engine.cluster_poll = Some(Duration::from_secs(10));
        config
    } else {
        // Ten minutes of lifecycle in five seconds.
        let mut config = DeploymentConfig::new(CloudConfig::Sim, store);
        config.sim = Some(SimSection { speed: 120, ..SimSection::default() });
        config
    };
    config.engine.progress_url = Some("https://portal.example/api/progress".into());
    Ok(config)
}

fn main() -> Result<()> {
    let args = args()?;
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    runtime.block_on(run(args))
}

async fn run(args: Args) -> Result<()> {
    let config = deployment(&args)?;
    if let StoreConfig::Sqlite(path) = &config.store {
        println!("State store: SQLite file {}", path.display());
    }
    let services = Registry::new(&config).catalog(catalog(&args)?).build().await?;
    let (engine, clock, sim) = (services.engine, services.clock, services.sim);
    let started = clock.now();
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
    let spark = engine
        .launch_cluster(&alice, LaunchRequest::cluster("data-science", "spark-emr", "m5.xlarge", options))
        .await?;
    let (nb, cl) = (notebook.resource.id.clone(), spark.resource.id.clone());
    println!("  notebook {nb}: stack {}", notebook.resource.stack.name);
    println!("  cluster  {cl}: job flow {}", spark.resource.stack.name);

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
    let mut events = engine.subscribe(&alice)?;
    let watcher = {
        let (nb, nb_bar, cl_bar) = (nb.clone(), nb_bar.clone(), cl_bar.clone());
        tokio::spawn(async move {
            while let Some(e) = events.next().await {
                let b = if e.resource == nb { &nb_bar } else { &cl_bar };
                let pos = e.to.launch_percent().map_or(b.position(), u64::from);
                b.set_position(pos);
                b.set_message(e.to.to_string());
            }
        })
    };

    // The instance's bootstrap script reports progress with its launch secret, as the
    // `curl` in a real user-data script would.
    let token = notebook.progress_token.clone().ok_or("the notebook has a progress bar")?;
    engine.wait_until(&alice, &nb, |p| matches!(p, Phase::Bootstrapping { .. }) || p.is_terminal()).await?;
    for (percent, step) in [
        (20, "mounting home volume"),
        (45, "installing R"),
        (70, "installing Python"),
        (90, "starting JupyterLab"),
        (100, "done"),
    ] {
        clock.sleep(Duration::from_secs(if args.aws { 1 } else { 45 })).await;
        engine.report_progress(&nb, token.expose(), percent, step).await?;
    }
    let ready = engine.wait_until(&alice, &nb, |p| p.is_usable() || p.is_terminal()).await?;
    let waiting = engine.wait_until(&alice, &cl, |p| p.is_usable() || p.is_terminal()).await?;
    nb_bar.finish();
    cl_bar.finish();
    println!("notebook is {} at {}; cluster is {} (master {})", ready.phase, ip(&ready), waiting.phase, ip(&waiting));

    println!("Stopping and starting the notebook …");
    engine.act(&alice, &nb, Action::Stop).await?;
    engine.wait_until(&alice, &nb, |p| *p == Phase::Stopped || p.is_terminal()).await?;
    engine.act(&alice, &nb, Action::Start).await?;
    let again = engine.wait_until(&alice, &nb, |p| p.is_usable() || p.is_terminal()).await?;
    println!("notebook is {} again", again.phase);
    if args.keep {
        watcher.abort();
        println!(
            "Keeping them (--keep): notebook {nb} (stack {}), cluster {cl}.",
            again.stack_id.as_deref().unwrap_or("-")
        );
        println!(
            "  instance {} · cluster {}",
            again.instance_id.as_deref().unwrap_or("-"),
            waiting.cluster_id.as_deref().unwrap_or("-")
        );
        return Ok(());
    }

    println!("Terminating everything …");
    for id in [&nb, &cl] {
        engine.act(&alice, id, Action::Terminate).await?;
    }
    for id in [&nb, &cl] {
        engine.wait_until(&alice, id, Phase::is_terminal).await?;
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
    let minutes = clock.now().since(started).as_secs() / 60;
    match sim {
        Some(sim) => println!(
            "\nDone in {minutes} simulated minutes: {} cloud calls, {} stacks left, {} machines running.",
            sim.calls().values().sum::<u64>(),
            sim.live_stacks().len(),
            sim.running_machines()
        ),
        None => println!("\nDone in {minutes} minutes."),
    }
    Ok(())
}

fn ip(r: &Resource) -> &str {
    r.private_ip.as_deref().unwrap_or("-")
}
