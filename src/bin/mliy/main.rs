//! The `mliy` admin command line. Offline tools (templates, user data, MLiy's catalog
//! import, launch plans, cluster requests, prices, the simulator), S3's (`catalog sync`,
//! `datasets`) and, on a deployment config (`--config` or
//! `MLIY_CONFIG`), the admin commands: `config check`, `resources`, `act`, `launch`,
//! `cost`, `refresh`, `adopt`, `run` and `workflow`. Every subcommand takes `--json`.
//!
//! Exit codes: 0 on success; 2 when the input is refused (the error names the field, the
//! value and the rule; with `--json` it is printed on stdout as `{"error": {...}}`, argument
//! errors included) or a rendered script does not fit CloudFormation; 1 when an operation
//! failed (the cloud or the store did not answer, a launch or an action ended failed, or
//! `mliy sim`'s audit found anything lost, duplicated, orphaned or done twice).

mod admin;
#[cfg(feature = "ldap")]
mod auth;
mod check;
mod cluster;
mod cost;
mod datasets;
mod launch;
mod offline;
mod pricing;
mod run;
mod sim;
mod table;
mod workflow;

use clap::{Parser, Subcommand};
use mliy::error::Error;
use serde_json::{Value, json};
use std::process::ExitCode;

#[derive(Parser)]
#[command(name = "mliy", version, about = "Self-service analytics environments on AWS: admin tools")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// CloudFormation templates.
    #[command(subcommand)]
    Template(offline::TemplateCommand),
    /// User-data scripts.
    #[command(subcommand)]
    Userdata(offline::UserdataCommand),
    /// The admin catalog.
    #[command(subcommand)]
    Catalog(offline::CatalogCommand),
    /// Datasets in S3 and the notebooks that use them.
    #[command(subcommand)]
    Datasets(datasets::DatasetsCommand),
    /// Plan a launch: the exact CloudFormation request, checked, without calling AWS.
    Plan(offline::PlanArgs),
    /// EMR clusters: render what edX cluster files and Step Functions machines send.
    #[command(subcommand)]
    Cluster(cluster::ClusterCommand),
    /// An instance type's hourly prices from an ec2instances.info `instances.json`.
    Pricing(pricing::PricingArgs),
    /// Simulate a fleet on the simulated cloud in virtual time, with faults and crashes.
    Sim(sim::SimArgs),
    /// Authentication.
    #[cfg(feature = "ldap")]
    #[command(subcommand)]
    Auth(auth::AuthCommand),
    /// The deployment config.
    #[command(subcommand)]
    Config(ConfigCommand),
    /// The deployment's resources.
    #[command(subcommand)]
    Resources(admin::ResourcesCommand),
    /// Start, stop, restart, terminate or archive a resource.
    Act(admin::ActArgs),
    /// Launch an instance or a cluster for a user.
    Launch(launch::LaunchArgs),
    /// What the deployment's resources cost.
    #[command(subcommand)]
    Cost(cost::CostCommand),
    /// Bring the store in line with the cloud (MLiy's `manage.py refresh`).
    Refresh(admin::RefreshArgs),
    /// Take over the machines MLiy launched (by its tags) that the store does not know.
    Adopt(admin::AdoptArgs),
    /// Run the engine: resume, drive, refresh, until SIGTERM.
    Run(run::RunArgs),
    /// Run the engine and serve the HTTP API and the dashboard (the config's `http` section).
    Serve(run::ServeArgs),
    /// Run a Step Functions state machine that calls EMR.
    #[command(subcommand)]
    Workflow(workflow::WorkflowCommand),
}

#[derive(Subcommand)]
enum ConfigCommand {
    /// Validate a deployment config and print what it would use (secrets by source only).
    Check(check::CheckArgs),
}

/// What a subcommand prints: JSON, and the same for people; and how it exits.
struct Output {
    json: Value,
    human: String,
    code: u8,
    /// Already printed by the subcommand (a running log).
    printed: bool,
}

impl Output {
    fn new(json: Value, human: String) -> Output {
        Output { json, human, code: 0, printed: false }
    }

    fn printed() -> Output {
        Output { printed: true, ..Output::new(Value::Null, String::new()) }
    }
}

/// Parses the arguments; an argument error is printed as JSON when `--json` was given.
fn parse() -> Result<Cli, ExitCode> {
    Cli::try_parse().map_err(|e| {
        use clap::error::ErrorKind;
        let wants_json = std::env::args().any(|a| a == "--json");
        if matches!(e.kind(), ErrorKind::DisplayHelp | ErrorKind::DisplayVersion) || !wants_json {
            e.exit();
        }
        let message = e.render().to_string();
        let body = json!({"error": {"kind": "usage", "message": message.trim()}});
        println!("{}", serde_json::to_string_pretty(&body).unwrap_or_default());
        ExitCode::from(2)
    })
}

fn main() -> ExitCode {
    let cli = match parse() {
        Ok(cli) => cli,
        Err(code) => return code,
    };
    let (json, result) = match cli.command {
        Command::Template(c) => (c.json(), offline::template(&c)),
        Command::Userdata(c) => (c.json(), offline::userdata(&c)),
        Command::Catalog(c) => (c.json(), offline::catalog(&c)),
        Command::Datasets(c) => (c.json(), datasets::datasets(&c)),
        Command::Plan(args) => (args.json, offline::plan(&args)),
        Command::Pricing(args) => (args.json, pricing::pricing(&args)),
        Command::Cluster(c) => (c.json(), cluster::cluster(&c)),
        Command::Sim(args) => (args.json, sim::sim(&args)),
        #[cfg(feature = "ldap")]
        Command::Auth(auth::AuthCommand::Check(args)) => return auth::auth_check(&args),
        Command::Config(ConfigCommand::Check(args)) => (args.deploy.json, check::check(&args)),
        Command::Resources(c) => (c.deploy().json, admin::resources(&c)),
        Command::Act(args) => (args.deploy.json, admin::act(&args)),
        Command::Launch(args) => (args.deploy.json, launch::launch(&args)),
        Command::Cost(c) => (c.deploy().json, cost::cost(&c)),
        Command::Refresh(args) => (args.deploy.json, admin::refresh(&args)),
        Command::Adopt(args) => (args.deploy.json, admin::adopt(&args)),
        Command::Run(args) => (args.deploy.json, run::run(&args)),
        Command::Serve(args) => (args.run.deploy.json, run::serve(&args)),
        Command::Workflow(c) => (c.deploy().json, workflow::workflow(&c)),
    };
    match result {
        Ok(out) => {
            print(&out, json);
            ExitCode::from(out.code)
        }
        Err(e) => {
            if json {
                println!("{}", serde_json::to_string_pretty(&json!({ "error": e })).unwrap_or_default());
            } else {
                eprintln!("error: {e}");
            }
            ExitCode::from(exit_code(&e))
        }
    }
}

/// Prints an output as JSON or for people.
fn print(out: &Output, json: bool) {
    match (out.printed, json) {
        (true, _) => {}
        (false, true) => println!("{}", serde_json::to_string_pretty(&out.json).unwrap_or_default()),
        (false, false) => print!("{}", out.human),
    }
}

/// 1 for an operation that failed (a backend that did not answer or failed, a lost race), 2
/// for input that was refused.
fn exit_code(e: &Error) -> u8 {
    match e {
        Error::Throttled(_)
        | Error::Unavailable(_)
        | Error::Backend { .. }
        | Error::StepFailed { .. }
        | Error::Stale(_)
        | Error::WrongState(_) => 1,
        _ => 2,
    }
}
