//! A durable simulated cloud: every call [`SimCloud`](super::SimCloud) applies is appended to
//! a journal file (JSON lines, with its virtual time), and [`SimCloud::replay`] rebuilds the
//! cloud from it. The cloud outlives the program as AWS does, so `mliy sim --resume` can
//! continue after the program was killed.
//!
//! The journal holds what AWS would hold, CloudFormation parameters and user data included:
//! keep it private (it is created with mode 0600).

use super::{SimCloud, SimConfig};
use crate::clock::{Clock, Timestamp};
use crate::cloud::{Cloud, CommandSpec};
use crate::error::{Error, Result};
use crate::model::emr::Step;
use crate::model::{ClusterSpec, StackSpec};
use serde::{Deserialize, Serialize};
use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// A call that changed the cloud.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Mutation {
    CreateStack(StackSpec),
    DeleteStack(String),
    StartInstances(Vec<String>),
    StopInstances(Vec<String>),
    RebootInstances(Vec<String>),
    TerminateInstances(Vec<String>),
    RunJobFlow(Box<ClusterSpec>),
    AddSteps(String, Vec<Step>),
    TerminateClusters(Vec<String>),
    SetAutoTermination(String, u64),
    SetTerminationProtection(String, bool),
    ResizeInstanceGroup(String, String, u32),
    SendCommand(CommandSpec),
    /// A bootstrap's `cfn-signal` (stack, logical id).
    SignalResource(String, String),
    /// Nothing changed; time had come this far.
    Clock,
}

#[derive(Serialize, Deserialize)]
struct Entry {
    at: i64,
    call: Mutation,
}

/// The open journal file.
#[derive(Debug)]
pub(crate) struct Journal {
    path: PathBuf,
    file: Mutex<std::fs::File>,
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> Error + '_ {
    move |source| Error::Io { path: path.to_path_buf(), source }
}

impl Journal {
    fn open(path: &Path) -> Result<Journal> {
        let mut options = std::fs::OpenOptions::new();
        options.create(true).append(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let file = options.open(path).map_err(io(path))?;
        Ok(Journal { path: path.to_path_buf(), file: Mutex::new(file) })
    }

    /// Appends one applied call (one `write`: a killed process loses nothing written).
    pub(crate) fn append(&self, at: Timestamp, call: Mutation) -> Result<()> {
        let mut line =
            serde_json::to_vec(&Entry { at: at.0, call }).map_err(|e| Error::parse("journal", e.to_string()))?;
        line.push(b'\n');
        let mut file = self.file.lock().unwrap_or_else(|p| p.into_inner());
        file.write_all(&line).map_err(io(&self.path))
    }
}

impl SimCloud {
    /// Notes in the journal how far time has come, so that a replay reaches it too (between
    /// calls, time passes in the cloud: stacks finish deleting, instances stop).
    ///
    /// # Errors
    /// [`Error::Io`] when the journal cannot be written.
    pub fn mark_time(&self) -> Result<()> {
        self.record(self.clock.now(), || Mutation::Clock)
    }

    /// Journals every applied call to `path` from now on (appending to what it holds).
    ///
    /// # Errors
    /// [`Error::Io`] when the file cannot be opened.
    pub fn with_journal(mut self, path: &Path) -> Result<SimCloud> {
        self.journal = Some(Arc::new(Journal::open(path)?));
        Ok(self)
    }

    /// Rebuilds a cloud from its journal, calls replayed at their virtual times (the clock,
    /// a [`VirtualClock`](crate::clock::VirtualClock) on paused tokio time, sleeps until
    /// each), then journals on into the same file. A torn last line (the writer was killed in
    /// the middle of it) is ignored.
    ///
    /// # Errors
    /// [`Error::Io`] when the file cannot be read; [`Error::Parse`] for a damaged line.
    pub async fn replay(clock: Arc<dyn Clock>, config: SimConfig, path: &Path) -> Result<SimCloud> {
        let cloud = SimCloud::new(clock.clone(), SimConfig { fault_rate: 0.0, ..config.clone() });
        let file = std::fs::File::open(path).map_err(io(path))?;
        let lines: Vec<String> =
            std::io::BufReader::new(file).lines().collect::<std::io::Result<_>>().map_err(io(path))?;
        let last = lines.len().saturating_sub(1);
        for (i, line) in lines.iter().enumerate() {
            let entry: Entry = match serde_json::from_str(line) {
                Ok(entry) => entry,
                Err(_) if i == last => break,
                Err(e) => return Err(Error::parse(format!("{} line {}", path.display(), i + 1), e.to_string())),
            };
            let now = clock.now();
            if entry.at > now.0 {
                clock.sleep(Duration::from_millis((entry.at - now.0).unsigned_abs())).await;
            }
            // Replayed calls fail exactly as they did (or were refused) the first time.
            let _ = match entry.call {
                Mutation::CreateStack(spec) => cloud.create_stack(&spec).await.map(drop),
                Mutation::DeleteStack(id) => cloud.delete_stack(&id).await,
                Mutation::StartInstances(ids) => cloud.start_instances(&ids).await,
                Mutation::StopInstances(ids) => cloud.stop_instances(&ids).await,
                Mutation::RebootInstances(ids) => cloud.reboot_instances(&ids).await,
                Mutation::TerminateInstances(ids) => cloud.terminate_instances(&ids).await,
                Mutation::RunJobFlow(spec) => cloud.run_job_flow(&spec).await.map(drop),
                Mutation::AddSteps(id, steps) => cloud.add_steps(&id, &steps).await.map(drop),
                Mutation::TerminateClusters(ids) => cloud.terminate_clusters(&ids).await,
                Mutation::SetAutoTermination(id, secs) => {
                    cloud.set_auto_termination(&id, Duration::from_secs(secs)).await
                }
                Mutation::SetTerminationProtection(id, on) => cloud.set_termination_protection(&id, on).await,
                Mutation::ResizeInstanceGroup(id, group, n) => cloud.resize_instance_group(&id, &group, n).await,
                Mutation::SendCommand(spec) => cloud.send_command(&spec).await.map(drop),
                Mutation::SignalResource(stack, logical) => cloud.signal_resource(&stack, &logical).await,
                Mutation::Clock => Ok(()),
            };
        }
        cloud.set_fault_rate(config.fault_rate);
        cloud.with_journal(path)
    }
}
