//! [`DnsProvider`] over Route53 (feature `route53`): A records `mliy-<id>.<domain>` in the
//! hosted zone of `<domain>`, looked up once and kept.
//!
//! ```no_run
//! # async fn demo() -> mliy_core::Result<()> {
//! use mliy_plugins::aws::AwsOptions;
//! use mliy_plugins::route53::Route53Dns;
//! let dns = Route53Dns::connect(AwsOptions::new(), "analytics.example.com").await?.ttl(60);
//! # Ok(()) }
//! ```

use crate::aws::{AwsOptions, map_error};
use async_trait::async_trait;
use aws_sdk_route53::Client;
use aws_sdk_route53::types::{
    Change, ChangeAction, ChangeBatch, ChangeStatus, ResourceRecord, ResourceRecordSet, RrType,
};
use mliy_core::dns::DnsProvider;
use mliy_core::{Error, Result};
use std::time::Duration;
use tokio::sync::OnceCell;

/// A records in a Route53 hosted zone.
#[derive(Debug)]
pub struct Route53Dns {
    client: Client,
    domain: String,
    prefix: String,
    ttl: i64,
    wait: Option<Duration>,
    zone: OnceCell<String>,
}

impl Route53Dns {
    /// Route53 for the hosted zone of `domain` (found at the first change).
    ///
    /// # Errors
    /// As [`AwsOptions::load`]; [`Error::Validation`] for an empty domain.
    pub async fn connect(options: AwsOptions, domain: &str) -> Result<Route53Dns> {
        let domain = domain.trim().trim_end_matches('.').to_ascii_lowercase();
        if domain.is_empty() || domain.contains(char::is_whitespace) {
            return Err(Error::validation("domain", &domain, "a DNS domain such as analytics.example.com"));
        }
        let sdk = options.load().await?;
        Ok(Route53Dns {
            client: Client::new(&sdk),
            domain,
            prefix: "mliy-".into(),
            ttl: 300,
            wait: Some(Duration::from_secs(2)),
            zone: OnceCell::new(),
        })
    }

    /// The records' TTL in seconds (300 by default).
    pub fn ttl(mut self, seconds: u32) -> Self {
        self.ttl = i64::from(seconds.max(1));
        self
    }

    /// What names start with (`mliy-` by default, as MLiy's).
    pub fn name_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = prefix.into();
        self
    }

    /// Whether each change waits until Route53 reports it INSYNC, polling every `poll`
    /// (`None`: answer as soon as the change is accepted).
    pub fn wait_for_sync(mut self, poll: Option<Duration>) -> Self {
        self.wait = poll;
        self
    }

    async fn zone_id(&self) -> Result<&str> {
        self.zone
            .get_or_try_init(|| async {
                let out = self
                    .client
                    .list_hosted_zones_by_name()
                    .dns_name(&self.domain)
                    .send()
                    .await
                    .map_err(|e| map_error("ListHostedZonesByName", e))?;
                let wanted = format!("{}.", self.domain);
                out.hosted_zones
                    .iter()
                    .find(|z| z.name.eq_ignore_ascii_case(&wanted))
                    .map(|z| z.id.trim_start_matches("/hostedzone/").to_string())
                    .ok_or_else(|| Error::NotFound { kind: "hosted zone", name: self.domain.clone() })
            })
            .await
            .map(String::as_str)
    }

    /// Whether the zone holds an A record `name`.
    async fn exists(&self, zone: &str, name: &str) -> Result<bool> {
        let out = self
            .client
            .list_resource_record_sets()
            .hosted_zone_id(zone)
            .start_record_name(name)
            .start_record_type(RrType::A)
            .max_items(1)
            .send()
            .await
            .map_err(|e| map_error("ListResourceRecordSets", e))?;
        let wanted = format!("{}.", name.trim_end_matches('.'));
        Ok(out.resource_record_sets.iter().any(|r| r.r#type == RrType::A && r.name.eq_ignore_ascii_case(&wanted)))
    }

    async fn change(&self, action: ChangeAction, name: &str, ip: &str) -> Result<()> {
        let bad = |e: aws_sdk_route53::error::BuildError| Error::validation("record", name, e.to_string());
        let record = ResourceRecord::builder().value(ip).build().map_err(bad)?;
        let set = ResourceRecordSet::builder()
            .name(name)
            .r#type(RrType::A)
            .ttl(self.ttl)
            .resource_records(record)
            .build()
            .map_err(bad)?;
        let change = Change::builder().action(action.clone()).resource_record_set(set).build().map_err(bad)?;
        let batch = ChangeBatch::builder().changes(change).build().map_err(bad)?;
        let zone = self.zone_id().await?;
        let sent = self.client.change_resource_record_sets().hosted_zone_id(zone).change_batch(batch).send().await;
        let out = match sent {
            Ok(out) => out,
            Err(e) => {
                let e = map_error("ChangeResourceRecordSets", e);
                // Deleting what is not there (any more) is done: Route53 says "not found",
                // other implementations other things, so the zone is asked.
                let done = action == ChangeAction::Delete
                    && (e.to_string().contains("not found") || !self.exists(zone, name).await?);
                return if done { Ok(()) } else { Err(e) };
            }
        };
        let (Some(poll), Some(info)) = (self.wait, out.change_info) else { return Ok(()) };
        let mut status = info.status;
        for _ in 0..60 {
            if status == ChangeStatus::Insync {
                return Ok(());
            }
            tokio::time::sleep(poll).await;
            let got = self.client.get_change().id(&info.id).send().await.map_err(|e| map_error("GetChange", e))?;
            status = got.change_info.map_or(ChangeStatus::Pending, |c| c.status);
        }
        Err(Error::Unavailable(format!("Route53 change {} for {name} is still pending", info.id)))
    }
}

#[async_trait]
impl DnsProvider for Route53Dns {
    fn display_name(&self, resource_id: &str, _ip: &str) -> Option<String> {
        Some(format!("{}{resource_id}.{}", self.prefix, self.domain))
    }

    async fn upsert(&self, name: &str, ip: &str) -> Result<()> {
        self.change(ChangeAction::Upsert, name, ip).await
    }

    async fn delete(&self, name: &str, ip: &str) -> Result<()> {
        self.change(ChangeAction::Delete, name, ip).await
    }
}
