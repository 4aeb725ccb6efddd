//! EC2: instances and spot prices.

use super::errors::{Outcome, classify, map, outcome};
use aws_sdk_ec2::Client;
use aws_sdk_ec2::types::{Filter, Instance, InstanceStateName, InstanceType};
use mliy_core::cloud::{InstanceFilter, InstanceInfo, InstanceState, Page};
use mliy_core::model::Tag;
use mliy_core::pricing::Decimal;
use mliy_core::{Error, Result};

fn state(name: &InstanceStateName) -> Result<InstanceState> {
    Ok(match name {
        InstanceStateName::Pending => InstanceState::Pending,
        InstanceStateName::Running => InstanceState::Running,
        InstanceStateName::Stopping => InstanceState::Stopping,
        InstanceStateName::Stopped => InstanceState::Stopped,
        InstanceStateName::ShuttingDown => InstanceState::ShuttingDown,
        InstanceStateName::Terminated => InstanceState::Terminated,
        other => return Err(Error::Unavailable(format!("DescribeInstances: unknown state {}", other.as_str()))),
    })
}

fn info(i: Instance) -> Result<InstanceInfo> {
    let name = i.state.as_ref().and_then(|s| s.name.clone()).unwrap_or(InstanceStateName::Pending);
    Ok(InstanceInfo {
        id: i.instance_id.unwrap_or_default(),
        state: state(&name)?,
        instance_type: i.instance_type.map(|t| t.as_str().to_string()).unwrap_or_default(),
        private_ip: i.private_ip_address.filter(|ip| !ip.is_empty()),
        availability_zone: i.placement.and_then(|p| p.availability_zone),
        tags: i
            .tags
            .unwrap_or_default()
            .into_iter()
            .map(|t| Tag::new(t.key.unwrap_or_default(), t.value.unwrap_or_default()))
            .collect(),
    })
}

pub(crate) async fn describe_instances(
    client: &Client,
    filter: &InstanceFilter,
    next: Option<String>,
) -> Result<Page<InstanceInfo>> {
    let mut call = client.describe_instances().set_next_token(next);
    if filter.ids.is_empty() {
        // EC2 refuses MaxResults together with instance ids.
        call = call.max_results(1000);
    } else {
        call = call.set_instance_ids(Some(filter.ids.clone()));
    }
    if let Some((key, value)) = &filter.tag {
        call = call.filters(Filter::builder().name(format!("tag:{key}")).values(value).build());
    }
    let out = match call.send().await {
        Ok(out) => out,
        Err(err) => {
            return match outcome("DescribeInstances", err) {
                // An id EC2 does not know (yet, or any more) is not an error for mliy.
                Outcome::Service(f) if f.code().starts_with("InvalidInstanceID") => {
                    Ok(Page { items: Vec::new(), next: None })
                }
                Outcome::Service(f) => Err(classify("DescribeInstances", &f)),
                Outcome::Other(e) => Err(e),
            };
        }
    };
    let items = out
        .reservations
        .unwrap_or_default()
        .into_iter()
        .flat_map(|r| r.instances.unwrap_or_default())
        .map(info)
        .collect::<Result<Vec<_>>>()?;
    Ok(Page { items, next: out.next_token.filter(|t| !t.is_empty()) })
}

pub(crate) async fn start_instances(client: &Client, ids: &[String]) -> Result<()> {
    client.start_instances().set_instance_ids(Some(ids.to_vec())).send().await.map_err(|e| map("StartInstances", e))?;
    Ok(())
}

pub(crate) async fn stop_instances(client: &Client, ids: &[String]) -> Result<()> {
    client.stop_instances().set_instance_ids(Some(ids.to_vec())).send().await.map_err(|e| map("StopInstances", e))?;
    Ok(())
}

pub(crate) async fn reboot_instances(client: &Client, ids: &[String]) -> Result<()> {
    client
        .reboot_instances()
        .set_instance_ids(Some(ids.to_vec()))
        .send()
        .await
        .map_err(|e| map("RebootInstances", e))?;
    Ok(())
}

pub(crate) async fn terminate_instances(client: &Client, ids: &[String]) -> Result<()> {
    client
        .terminate_instances()
        .set_instance_ids(Some(ids.to_vec()))
        .send()
        .await
        .map_err(|e| map("TerminateInstances", e))?;
    Ok(())
}

/// The current Linux spot price: AWS answers, per zone, the last price change before the
/// start time (now); the newest per zone is kept, and the highest zone's is the price.
pub(crate) async fn spot_price(client: &Client, instance_type: &str, zone: Option<&str>) -> Result<Option<Decimal>> {
    let out = client
        .describe_spot_price_history()
        .instance_types(InstanceType::from(instance_type))
        .set_availability_zone(zone.map(str::to_string))
        .product_descriptions("Linux/UNIX")
        .start_time(aws_smithy_types::DateTime::from(std::time::SystemTime::now()))
        .send()
        .await
        .map_err(|e| map("DescribeSpotPriceHistory", e))?;
    let mut newest: std::collections::BTreeMap<String, (Option<aws_smithy_types::DateTime>, String)> =
        Default::default();
    for p in out.spot_price_history.unwrap_or_default() {
        let (Some(az), Some(price)) = (p.availability_zone, p.spot_price) else { continue };
        let entry = newest.entry(az).or_insert((None, String::new()));
        if entry.1.is_empty() || p.timestamp > entry.0 {
            *entry = (p.timestamp, price);
        }
    }
    let mut highest: Option<Decimal> = None;
    for (_, text) in newest.into_values() {
        let price = text.parse::<Decimal>().map_err(|_| {
            Error::Unavailable(format!("DescribeSpotPriceHistory: price {text:?} is not a decimal number"))
        })?;
        highest = highest.max(Some(price));
    }
    Ok(highest)
}
