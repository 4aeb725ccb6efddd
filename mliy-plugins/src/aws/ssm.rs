//! SSM: commands on a cluster's nodes.

use super::errors::map;
use aws_sdk_ssm::Client;
use aws_sdk_ssm::types::{CommandInvocationStatus as Ssm, Target};
use mliy_core::cloud::{CommandInvocation, CommandSpec, CommandStatus};
use mliy_core::{Error, Result};

/// The tag EMR puts on every node of a cluster.
pub(crate) const CLUSTER_TAG: &str = "aws:elasticmapreduce:job-flow-id";

pub(crate) async fn send_command(client: &Client, spec: &CommandSpec) -> Result<String> {
    let target = Target::builder().key(format!("tag:{CLUSTER_TAG}")).values(&spec.cluster_id).build();
    let out = client
        .send_command()
        .document_name(&spec.document)
        .targets(target)
        .set_parameters(Some(spec.parameters.iter().cloned().collect()))
        .send()
        .await
        .map_err(|e| map("SendCommand", e))?;
    out.command
        .and_then(|c| c.command_id)
        .ok_or_else(|| Error::Unavailable("SendCommand: answer without a command id".into()))
}

fn status(s: Option<&Ssm>) -> CommandStatus {
    match s {
        Some(Ssm::Success) => CommandStatus::Success,
        Some(Ssm::Failed) => CommandStatus::Failed,
        Some(Ssm::TimedOut) => CommandStatus::TimedOut,
        Some(Ssm::Cancelled) => CommandStatus::Cancelled,
        Some(Ssm::InProgress | Ssm::Cancelling) => CommandStatus::InProgress,
        _ => CommandStatus::Pending,
    }
}

pub(crate) async fn command_invocations(client: &Client, command_id: &str) -> Result<Vec<CommandInvocation>> {
    let mut all = Vec::new();
    let mut next = None;
    loop {
        let out = client
            .list_command_invocations()
            .command_id(command_id)
            .set_next_token(next)
            .send()
            .await
            .map_err(|e| map("ListCommandInvocations", e))?;
        all.extend(out.command_invocations.unwrap_or_default().into_iter().map(|i| CommandInvocation {
            instance_id: i.instance_id.unwrap_or_default(),
            status: status(i.status.as_ref()),
        }));
        next = out.next_token.filter(|t| !t.is_empty());
        if next.is_none() {
            return Ok(all);
        }
    }
}
