//! SSM: commands sent to every node of a cluster.

use super::SimCloud;
use super::faults::unit;
use super::journal::Mutation;
use crate::cloud::{CommandInvocation, CommandSpec, CommandStatus};
use crate::error::{Error, Result};

pub(super) async fn send_command(sim: &SimCloud, spec: &CommandSpec) -> Result<String> {
    sim.mutate(
        "SendCommand",
        &spec.cluster_id,
        || Mutation::SendCommand(spec.clone()),
        |st, now| {
            let c = st
                .clusters
                .get(&spec.cluster_id)
                .ok_or_else(|| Error::NotFound { kind: "cluster", name: spec.cluster_id.clone() })?;
            if sim.cluster_state(c, now).0.is_terminated() {
                return Err(Error::validation("Targets", spec.cluster_id.as_str(), "the cluster has no running nodes"));
            }
            let nodes: Vec<String> = (0..c.nodes).map(|i| format!("{}-node-{i}", c.id)).collect();
            let n = st.next();
            let id = format!("cmd-{n:012x}");
            let fails = unit(sim.config.seed, &["command", &id], 0) < sim.config.fail_stack_rate;
            st.commands.insert(id.clone(), (now, nodes, fails));
            Ok(id)
        },
    )
    .await
}

pub(super) async fn command_invocations(sim: &SimCloud, command_id: &str) -> Result<Vec<CommandInvocation>> {
    sim.read("ListCommandInvocations", command_id, |st, now| {
        let (sent, nodes, fails) =
            st.commands.get(command_id).ok_or_else(|| Error::NotFound { kind: "command", name: command_id.into() })?;
        let done = now >= sent.plus(sim.config.timings.command);
        Ok(nodes
            .iter()
            .map(|n| CommandInvocation {
                instance_id: n.clone(),
                status: match (done, fails) {
                    (false, _) => CommandStatus::InProgress,
                    (true, true) => CommandStatus::Failed,
                    (true, false) => CommandStatus::Success,
                },
            })
            .collect())
    })
    .await
}
