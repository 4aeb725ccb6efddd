//! `mliy config check`: a deployment config validated, and what it would use printed with
//! secrets shown by their source only. Nothing is contacted unless `--connect`.

use crate::Output;
use crate::admin::{Deploy, block_on};
use clap::Args;
use mliy::config::DeploymentConfig;
use mliy::error::{Error, Result};
use mliy::plan::Planner;
use mliy::registry::{self, Registry};
use serde_json::{Value, json};

#[derive(Args)]
pub(crate) struct CheckArgs {
    /// Also read command secrets, connect to every backend and make one read of the cloud
    /// and the store.
    #[arg(long)]
    connect: bool,
    #[command(flatten)]
    pub(crate) deploy: Deploy,
}

pub(crate) fn check(args: &CheckArgs) -> Result<Output> {
    let config = DeploymentConfig::locate(args.deploy.config.as_deref())?;
    registry::check_features(&config)?;
    let catalog = registry::catalog(&config)?;
    let counts = json!({
        "software_configs": catalog.software_configs.len(),
        "group_configs": catalog.group_configs.len(),
        "instance_types": catalog.instance_types.len(),
    });
    Planner::new(catalog)?;
    let secrets = secrets(&config, args.connect)?;
    let key_runs_a_command = config.engine.progress_key.as_ref().is_some_and(|k| k.runs_a_command());
    if args.connect || !key_runs_a_command {
        registry::engine_config(&config)?;
    }
    let connected = match args.connect {
        true => Some(block_on(connect(&config))?),
        false => None,
    };
    let mut json = serde_json::to_value(&config).map_err(|e| Error::parse("output", e.to_string()))?;
    json["catalog_contents"] = counts;
    json["secrets"] = Value::Array(secrets);
    json["connected"] = connected.clone().unwrap_or(Value::Null);
    let human = format!(
        "{}\n{}{}",
        serde_norway::to_string(&json).unwrap_or_default().trim_end(),
        "the config is valid",
        if connected.is_some() { "; every backend answered\n" } else { " (nothing contacted: --connect does)\n" }
    );
    Ok(Output::new(json, human))
}

/// Each secret's field, source and whether it was read (commands only with `--connect`).
fn secrets(config: &DeploymentConfig, connect: bool) -> Result<Vec<Value>> {
    let mut out = Vec::new();
    for (field, source) in config.secrets() {
        let status = if source.runs_a_command() && !connect {
            "not run (--connect runs it)"
        } else {
            source.resolve(&field, &config.base)?;
            "read"
        };
        out.push(json!({"field": field, "source": source.describe(), "status": status}));
    }
    Ok(out)
}

/// Builds everything and reads once from the cloud and the store.
async fn connect(config: &DeploymentConfig) -> Result<Value> {
    let s = Registry::new(config).build().await?;
    let stacks = s.cloud.list_stacks(None).await?;
    let resources = s.store.list_resources(&Default::default()).await?;
    Ok(json!({
        "stacks_on_first_page": stacks.items.len(),
        "resources_in_store": resources.len(),
        "auth": s.auth.is_some(),
    }))
}
