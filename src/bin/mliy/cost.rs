//! `mliy cost report`: what the deployment's resources cost over a date range.

use crate::Output;
use crate::admin::{Deploy, on_deployment, operator};
use clap::{Args, Subcommand};
use mliy::clock::Timestamp;
use mliy::engine::{CostBy, CostReport};
use mliy::error::Error;

#[derive(Subcommand)]
pub(crate) enum CostCommand {
    /// Cost by user, group config, cost center or software config, from the stored bills.
    Report(ReportArgs),
}

impl CostCommand {
    pub(crate) fn deploy(&self) -> &Deploy {
        match self {
            CostCommand::Report(a) => &a.deploy,
        }
    }
}

#[derive(Args)]
pub(crate) struct ReportArgs {
    /// The range's start, UTC: `2026-11-01` or `2026-11-01T08:00:00Z`.
    #[arg(long, value_parser = utc)]
    from: Timestamp,
    /// The range's end (not included), as `--from`.
    #[arg(long, value_parser = utc)]
    to: Timestamp,
    /// What the rows group by: user, group-config, cost-center or software-config.
    #[arg(long, default_value = "user", value_parser = by)]
    by: CostBy,
    /// Print the rows as CSV (`key,cost,hours`).
    #[arg(long)]
    csv: bool,
    #[command(flatten)]
    pub(crate) deploy: Deploy,
}

fn utc(text: &str) -> Result<Timestamp, String> {
    Timestamp::parse_utc(text)
        .ok_or_else(|| format!("expected a UTC date such as 2026-11-01 or 2026-11-01T08:00:00Z, got {text:?}"))
}

fn by(text: &str) -> Result<CostBy, String> {
    text.parse().map_err(|e: Error| e.to_string())
}

pub(crate) fn cost(command: &CostCommand) -> Result<Output, Error> {
    let CostCommand::Report(args) = command;
    let report = on_deployment(&args.deploy, |s| async move {
        s.engine.cost_report(&operator(), args.from, args.to, args.by).await
    })?;
    let json = serde_json::to_value(&report).map_err(|e| Error::parse("output", e.to_string()))?;
    let human = if args.csv { csv(&report) } else { table(&report) };
    Ok(Output::new(json, human))
}

fn csv(report: &CostReport) -> String {
    let quote =
        |s: &str| if s.contains([',', '"', '\n']) { format!("\"{}\"", s.replace('"', "\"\"")) } else { s.to_string() };
    let mut out = String::from("key,cost,hours\n");
    for row in &report.rows {
        out.push_str(&format!("{},{},{}\n", quote(&row.key), row.cost, row.hours));
    }
    out
}

fn table(report: &CostReport) -> String {
    let rows: Vec<Vec<String>> =
        report.rows.iter().map(|r| vec![r.key.clone(), r.cost.to_string(), r.hours.to_string()]).collect();
    let unpriced = match report.unpriced_segments {
        0 => String::new(),
        n => format!("{n} segments have no price and are left out\n"),
    };
    format!(
        "{} to {}\n{}total {}\n{unpriced}",
        report.from,
        report.to,
        crate::table::table(&["KEY", "COST", "HOURS"], &rows),
        report.total
    )
}
