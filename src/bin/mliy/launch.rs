//! `mliy launch`: a launch for a user, by the operator, optionally watched to its end with a
//! progress bar of the bootstrap.

use crate::Output;
use crate::admin::{Deploy, on_deployment, operator};
use crate::offline::RequestArgs;
use clap::Args;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use mliy::engine::Engine;
use mliy::error::{Error, Result};
use mliy::lifecycle::{Phase, Resource};
use mliy::model::{LaunchId, Principal};
use tokio_stream::StreamExt;

#[derive(Args)]
pub(crate) struct LaunchArgs {
    /// The user it is for (its owner).
    #[arg(long = "as")]
    as_user: String,
    /// The user's display name (the `User` tag).
    #[arg(long)]
    display_name: Option<String>,
    /// A group the user belongs to (repeatable; the group config's group by default).
    #[arg(long = "group")]
    groups: Vec<String>,
    #[command(flatten)]
    request: RequestArgs,
    /// Drive it here until it is ready (or failed), with a progress bar; without it the
    /// launch is recorded and `mliy run` drives it.
    #[arg(long)]
    wait: bool,
    #[command(flatten)]
    pub(crate) deploy: Deploy,
}

pub(crate) fn launch(args: &LaunchArgs) -> Result<Output> {
    on_deployment(&args.deploy, |s| async move {
        let request = args.request.request()?;
        let groups = match args.groups.is_empty() {
            false => args.groups.clone(),
            true => vec![s.engine.catalog().group_config(&request.group_config)?.group.clone()],
        };
        let owner = Principal {
            display_name: args.display_name.clone().unwrap_or_default(),
            ..Principal::new(&args.as_user, groups)
        };
        let me = operator();
        let launched = s.engine.launch_for(&me, &owner, request).await?;
        let id = launched.resource.id.clone();
        // Without `--wait` the launch is only recorded: this command's engine stops before its
        // driver first runs (one thread, no await in between), and `mliy run` drives it.
        let r = match args.wait {
            true => watch(&s.engine, &me, &id, !args.deploy.json).await?,
            false => launched.resource,
        };
        let failed = matches!(r.phase, Phase::Failed { .. });
        let next = if args.wait { String::new() } else { " (recorded: `mliy run` drives it)".into() };
        let human = format!("{} {} for {}: {}{next}\n", r.kind.name(), r.id, r.owner, r.phase);
        let mut json = serde_json::to_value(&r).map_err(|e| Error::parse("output", e.to_string()))?;
        // The passwords are shown here once; nothing keeps them.
        let passwords: serde_json::Map<String, serde_json::Value> =
            launched.jupyter_passwords.iter().map(|(u, p)| (u.clone(), p.expose().into())).collect();
        let mut human = human;
        for (user, password) in &launched.jupyter_passwords {
            human.push_str(&format!("JupyterHub user {user}: password {} (shown once)\n", password.expose()));
        }
        if !passwords.is_empty() {
            json["jupyter_passwords"] = serde_json::Value::Object(passwords);
        }
        Ok(Output { code: u8::from(failed), ..Output::new(json, human) })
    })
}

/// Follows the launch to usable or terminal, drawing its progress when `bar` (and stderr is
/// a terminal).
async fn watch(engine: &Engine, me: &Principal, id: &LaunchId, bar: bool) -> Result<Resource> {
    let progress = ProgressBar::with_draw_target(
        Some(100),
        if bar { ProgressDrawTarget::stderr() } else { ProgressDrawTarget::hidden() },
    );
    if let Ok(style) = ProgressStyle::with_template("{prefix} [{bar:30}] {pos:>3}% {msg}") {
        progress.set_style(style.progress_chars("=> "));
    }
    progress.set_prefix(id.to_string());
    let mut events = engine.watch(me, id).await?;
    let follow = {
        let progress = progress.clone();
        async move {
            while let Some(e) = events.next().await {
                if let Some(p) = e.to.launch_percent() {
                    progress.set_position(u64::from(p));
                }
                progress.set_message(e.to.to_string());
            }
        }
    };
    let done = engine.wait_until(me, id, |p| p.is_usable() || p.is_terminal());
    let r = tokio::select! {
        r = done => r?,
        () = follow => engine.wait_until(me, id, |p| p.is_usable() || p.is_terminal()).await?,
    };
    progress.finish_and_clear();
    Ok(r)
}
