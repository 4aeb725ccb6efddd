//! `mliy pricing`: one instance type's hourly prices from an ec2instances.info
//! `instances.json`.

use crate::Output;
use clap::Args;
use mliy::error::Error;
use mliy::pricing::{PriceIndex, PriceSource};
use serde_json::json;
use std::path::PathBuf;

#[derive(Args)]
pub(crate) struct PricingArgs {
    /// The ec2instances.info `instances.json` (streamed; only `--region` is kept).
    #[arg(long)]
    prices: PathBuf,
    /// The region, e.g. `us-east-1`.
    #[arg(long)]
    region: String,
    /// The instance type, e.g. `m5.xlarge`.
    #[arg(long = "type")]
    instance_type: String,
    /// The platform as the file names it (`linux`, `mswin`, `rhel`, …).
    #[arg(long, default_value = mliy::pricing::LINUX)]
    platform: String,
    /// Also EMR's hourly surcharge on top of the EC2 price.
    #[arg(long)]
    emr: bool,
    /// Print JSON.
    #[arg(long)]
    pub(crate) json: bool,
}

pub(crate) fn pricing(args: &PricingArgs) -> Result<Output, Error> {
    let index = PriceIndex::load(&args.prices, &[args.region.as_str()])?;
    let hourly = index.on_demand(&args.region, &args.instance_type, &args.platform)?;
    let emr = if args.emr { Some(index.emr(&args.region, &args.instance_type)?) } else { None };
    let json = json!({
        "type": args.instance_type,
        "region": args.region,
        "platform": args.platform,
        "ondemand_hourly": hourly.to_string(),
        "emr_hourly": emr.map(|e| e.to_string()),
    });
    let surcharge = emr.map(|e| format!(" + EMR {e}")).unwrap_or_default();
    let human =
        format!("{} on {} in {}: {hourly}{surcharge} per hour\n", args.instance_type, args.platform, args.region);
    Ok(Output::new(json, human))
}
