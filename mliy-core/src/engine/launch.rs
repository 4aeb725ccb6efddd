//! Launches: plan, store (within the group's quota), then hand the resource to its driver.

use super::{Engine, Shared, access, progress};
use crate::error::{Error, Result};
use crate::lifecycle::{Actor, LifecycleEvent, Phase, Resource, ResourceKind};
use crate::model::{Principal, StackSpec};
use crate::plan::LaunchRequest;
use crate::secret::Secret;

/// A launch that was accepted.
#[derive(Debug, Clone)]
pub struct Launched {
    /// The stored resource (phase Requested).
    pub resource: Resource,
    /// The progress secret, already in the user data; also for a portal that reports
    /// progress itself. `None` when the software config has no progress bar.
    pub progress_token: Option<Secret>,
    /// Each JupyterHub user's random password (`LaunchRequest::jupyter_users`), given only
    /// here: the store and the cluster's request hold only its SHA-512 crypt hash.
    pub jupyter_passwords: Vec<(String, Secret)>,
}

impl Engine {
    /// Launches an instance for `principal`.
    ///
    /// # Errors
    /// [`Error::Unauthenticated`] without a principal, everything [`Planner::plan`](crate::plan::Planner::plan) refuses,
    /// [`Error::Forbidden`] past the group's `max_running_per_user`, [`Error::AlreadyExists`]
    /// when the launch id was used before.
    pub async fn launch_instance(&self, principal: &Principal, request: LaunchRequest) -> Result<Launched> {
        if request.cluster.is_some() {
            return Err(Error::validation("request.cluster", "present", "use launch_cluster for clusters"));
        }
        self.launch(principal, principal, request).await
    }

    /// Launches for `owner` on an admin's behalf (an operator at the command line, a support
    /// desk): planned, counted and owned as the owner's launch, with the admin recorded as
    /// the one who asked. An instance or a cluster, as `request.cluster` says.
    ///
    /// # Errors
    /// [`Error::Forbidden`] unless `admin` is an admin; otherwise as [`Engine::launch_instance`].
    pub async fn launch_for(&self, admin: &Principal, owner: &Principal, request: LaunchRequest) -> Result<Launched> {
        access::authenticated(admin)?;
        if !admin.admin {
            return Err(Error::Forbidden(format!("{} may not launch for others: admins only", admin.username)));
        }
        self.launch(admin, owner, request).await
    }

    /// Launches a cluster for `principal` (`request.cluster` must be set).
    ///
    /// # Errors
    /// As [`Engine::launch_instance`].
    pub async fn launch_cluster(&self, principal: &Principal, request: LaunchRequest) -> Result<Launched> {
        if request.cluster.is_none() {
            return Err(Error::validation("request.cluster", "absent", "a cluster launch needs the cluster options"));
        }
        self.launch(principal, principal, request).await
    }

    /// `by` asks, `principal` owns.
    async fn launch(&self, by: &Principal, principal: &Principal, mut request: LaunchRequest) -> Result<Launched> {
        self.inner.alive()?;
        access::authenticated(principal)?;
        let inner = &self.inner;
        let software = inner.planner.catalog().software_config(&request.software_config)?;
        let kind = if request.cluster.is_some() { ResourceKind::Cluster } else { ResourceKind::Instance };
        let progress_bar = software.has_progress_bar && kind == ResourceKind::Instance;
        // The stored user data holds a placeholder; the secret goes in only when CreateStack
        // is sent (see outgoing.rs).
        let secret = progress_bar.then(|| progress::derive(&inner.progress_key, &request.launch_id));
        if secret.is_some() {
            progress_tokens(&inner.config, software, &mut request)?;
        }
        let plan = inner.planner.plan(principal, &request)?;
        let group = inner.planner.catalog().group_config(&request.group_config)?;
        let now = inner.clock.now();
        // JupyterHub users' passwords: made here, returned once; the record keeps their hashes.
        let (job_flow, jupyter_passwords) = match &plan.job_flow {
            Some(spec) => {
                let (spec, passwords) = super::jupyter::hashed(spec);
                (Some(spec), passwords)
            }
            None => (None, Vec::new()),
        };
        let resource = Resource {
            owner: principal.username.clone(),
            owner_groups: principal.groups.clone(),
            group_config: plan.group_config.clone(),
            software_config: plan.software_config.clone(),
            instance_type: plan.instance_type.clone(),
            progress_bar,
            progress_open: progress_bar,
            ready_when: plan.ready_when,
            signal_timeout_secs: plan.signal_timeout_secs,
            job_flow: job_flow.map(Box::new),
            ..Resource::requested(plan.launch_id.clone(), kind, StackSpec::from(&plan), now)
        };
        let event = LifecycleEvent {
            resource: resource.id.clone(),
            seq: 1,
            at: now,
            actor: Actor::User(by.username.clone()),
            from: Phase::Requested,
            to: Phase::Requested,
            reason: match by.username == principal.username {
                true => format!("{} launch of {} requested", kind.name(), plan.software_config),
                false => format!(
                    "{} launch of {} requested by {} for {}",
                    kind.name(),
                    plan.software_config,
                    by.username,
                    principal.username
                ),
            },
        };
        inner.insert_within_quota(group, &resource, &event).await?;
        inner.publish(&resource, event);
        if let Err(e) = inner.budget_warnings(&super::budget::Newest::of(&resource)).await {
            tracing::warn!(target: "mliy::budget", id = %resource.id, error = %e, "budget warnings not recorded");
        }
        Shared::ensure_driver(&self.inner, &resource.id);
        Ok(Launched { resource: resource.redacted(), progress_token: secret, jupyter_passwords })
    }
}

/// The user-data tokens through which the bootstrap reports, each holding the placeholder
/// where the secret goes (see outgoing.rs): mliy's own, or MLiy's `MANAGER_HOSTNAME` as
/// `<portal host>/ajax/s/<secret>`, the host taken from `progress_url`.
fn progress_tokens(
    config: &super::EngineConfig,
    software: &crate::model::SoftwareConfig,
    request: &mut LaunchRequest,
) -> Result<()> {
    use crate::model::{Param, ProgressProtocol};
    match software.progress_protocol {
        ProgressProtocol::Native => {
            request.tokens.insert(0, Param::new("MLIY_PROGRESS_TOKEN", progress::PLACEHOLDER));
            if let Some(url) = &config.progress_url {
                let url = format!("{}/{}", url.trim_end_matches('/'), request.launch_id);
                request.tokens.insert(0, Param::new("MLIY_PROGRESS_URL", url));
            }
            // Empty without an activity endpoint: the example's heartbeat then sends nothing.
            let activity =
                config.activity_url.as_ref().map(|url| format!("{}/{}", url.trim_end_matches('/'), request.launch_id));
            request.tokens.insert(0, Param::new("MLIY_ACTIVITY_URL", activity.unwrap_or_default()));
        }
        ProgressProtocol::Mliy => {
            let host = config.progress_url.as_deref().and_then(portal_host).ok_or_else(|| {
                Error::validation(
                    "engine.progress_url",
                    config.progress_url.clone().unwrap_or_default(),
                    format!(
                        "software config {} has progress_protocol: mliy, which needs the portal's https:// address \
                         (its host becomes MANAGER_HOSTNAME)",
                        software.name
                    ),
                )
            })?;
            let value = format!("{host}/ajax/s/{}", progress::PLACEHOLDER);
            request.tokens.insert(0, Param::new("MANAGER_HOSTNAME", value));
        }
    }
    Ok(())
}

/// `https://portal.example:8443/anything` → `portal.example:8443`: MLiy's images put
/// `https://` in front and `/ajax/progress/…` after.
fn portal_host(url: &str) -> Option<&str> {
    let rest = url.strip_prefix("https://")?;
    let host = rest.split(['/', '?', '#']).next()?;
    (!host.is_empty() && !host.contains('@')).then_some(host)
}
