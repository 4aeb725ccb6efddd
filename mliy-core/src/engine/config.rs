//! How long the engine waits, and for what.

use crate::secret::Secret;
use std::time::Duration;

/// Waits, deadlines and authorization settings of an [`Engine`](super::Engine).
#[derive(Debug, Clone)]
pub struct EngineConfig {
    /// Stack creation gives up after this (MLiy's template signal timeout: 180 min).
    pub stack_timeout: Duration,
    /// A created instance or cluster must come up within this.
    pub provision_timeout: Duration,
    /// The bootstrap must report done within this.
    pub bootstrap_timeout: Duration,
    /// Stop, start and reboot must finish within this.
    pub action_timeout: Duration,
    /// Termination must finish within this (then the resource fails and cleanup goes on).
    pub terminate_timeout: Duration,
    /// How often a stack is polled.
    pub stack_poll: Duration,
    /// How often an instance is polled.
    pub instance_poll: Duration,
    /// How often a cluster is polled.
    pub cluster_poll: Duration,
    /// How often steps and SSM commands are polled.
    pub command_poll: Duration,
    /// Steps and deployments must finish within this.
    pub work_timeout: Duration,
    /// First wait after a retryable error; doubled each time up to `retry_max`.
    pub retry_base: Duration,
    /// Longest wait between retries.
    pub retry_max: Duration,
    /// The key each launch's progress secret is derived from (HMAC-SHA256 of the launch id).
    /// Give every replica, and the engine after a restart, the same key: a new random key
    /// is made when it is `None`, and then launches from before a restart cannot report.
    pub progress_key: Option<Secret>,
    /// The portal's progress endpoint; the user data gets `{url}/{launch id}` as
    /// `MLIY_PROGRESS_URL` (and the secret as `MLIY_PROGRESS_TOKEN`).
    pub progress_url: Option<String>,
    /// The portal's activity endpoint; the user data gets `{url}/{launch id}` as
    /// `MLIY_ACTIVITY_URL`, where it reports that the machine is in use (idle stop).
    pub activity_url: Option<String>,
    /// Members of this group manage the resources of users who share another group with
    /// them.
    pub manager_group: Option<String>,
    /// This replica's name in leases (random by default). Replicas sharing a store drive
    /// each resource one at a time: a driver acts only while it holds the resource's lease.
    pub replica_id: String,
    /// Keep a stopped instance's DNS record (by default it is deleted on stop and made
    /// again on start).
    pub keep_dns_when_stopped: bool,
    /// How long a driver's lease on a resource lasts without renewal; a dead replica's
    /// resources are taken over after it. Five minutes by default: a launch that reaches
    /// Ready within 3½ minutes never renews it (a renewal is a store write).
    pub lease_ttl: Duration,
}

impl Default for EngineConfig {
    fn default() -> Self {
        EngineConfig {
            stack_timeout: Duration::from_secs(180 * 60),
            provision_timeout: Duration::from_secs(30 * 60),
            bootstrap_timeout: Duration::from_secs(60 * 60),
            action_timeout: Duration::from_secs(30 * 60),
            terminate_timeout: Duration::from_secs(60 * 60),
            stack_poll: Duration::from_secs(15),
            instance_poll: Duration::from_secs(10),
            cluster_poll: Duration::from_secs(30),
            command_poll: super::clusters::DEFAULT_COMMAND_POLL,
            work_timeout: Duration::from_secs(2 * 60 * 60),
            retry_base: Duration::from_secs(2),
            retry_max: Duration::from_secs(60),
            progress_key: None,
            progress_url: None,
            activity_url: None,
            manager_group: None,
            replica_id: format!("replica-{}", crate::model::LaunchId::new_random()),
            keep_dns_when_stopped: false,
            lease_ttl: Duration::from_secs(300),
        }
    }
}
