//! Adoption: a machine with mliy's managed tag that the store does not know (a fleet MLiy
//! launched) taken under management.

use super::{Engine, Shared};
use crate::cloud::{CloudExt, InstanceInfo, InstanceState};
use crate::error::{Error, Result};
use crate::lifecycle::{Actor, LifecycleEvent, Phase, Resource, ResourceKind};
use crate::model::{LAUNCH_ID_TAG, LaunchId, MANAGED_TAG, Principal, StackSpec};
use crate::store::ResourceFilter;

/// What [`Engine::adopt`] needs to take over an unmanaged machine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Adoption {
    /// The EC2 instance, as [`RefreshReport::unmanaged`](super::RefreshReport::unmanaged) names it.
    pub instance_id: String,
    /// Who owns it from now on.
    pub owner: String,
    /// The owner's groups (for group managers' rights).
    pub owner_groups: Vec<String>,
    /// The group config it counts under.
    pub group_config: String,
    /// The software config it runs.
    pub software_config: String,
}

impl Adoption {
    /// What a machine's tags say of it: its owner (`userid`), its software config
    /// (`Software Config`) and its group config (`Group Config`, or MLiy's `GroupConfig`),
    /// with the owner's group from `UserGroup` or else the group config's. Names are checked
    /// against `catalog`.
    ///
    /// # Errors
    /// [`Error::Validation`] naming the tag that is missing; [`Error::NotFound`] for a config
    /// the catalog does not have.
    pub fn from_tags(machine: &super::Unmanaged, catalog: &crate::model::Catalog) -> Result<Adoption> {
        let get = |keys: &[&str]| {
            keys.iter().find_map(|k| machine.tags.iter().find(|t| t.key == *k)).map(|t| t.value.trim().to_string())
        };
        let need = |keys: &[&str]| {
            get(keys).filter(|v| !v.is_empty()).ok_or_else(|| {
                Error::validation(format!("{} tag", keys[0]), &machine.instance_id, "the machine does not carry it")
            })
        };
        let owner = need(&["userid"])?;
        let software_config = catalog.software_config(&need(&["Software Config"])?)?.name.clone();
        let group = catalog.group_config(&need(&["Group Config", "GroupConfig"])?)?;
        let owner_groups = vec![get(&["UserGroup"]).filter(|g| !g.is_empty()).unwrap_or_else(|| group.group.clone())];
        Ok(Adoption {
            instance_id: machine.instance_id.clone(),
            owner,
            owner_groups,
            group_config: group.name.clone(),
            software_config,
        })
    }
}

impl Engine {
    /// Brings a machine with mliy's managed tag that the store does not know under
    /// management (a fleet launched by MLiy carries `LaunchedBy=MLIY`): a record in Ready or
    /// Stopped, keeping its launch-id tag when it has a usable one, its stack from the
    /// CloudFormation tags. Admins only.
    ///
    /// # Errors
    /// [`Error::Forbidden`] unless the principal is an admin; [`Error::NotFound`] for an
    /// unknown instance, group or software config; [`Error::Validation`] for an instance
    /// without the managed tag or already terminated; [`Error::AlreadyExists`] when the store
    /// knows it.
    pub async fn adopt(&self, principal: &Principal, adoption: &Adoption) -> Result<Resource> {
        let inner = &self.inner;
        inner.alive()?;
        super::access::authenticated(principal)?;
        if !principal.admin {
            return Err(Error::Forbidden(format!("{} may not adopt machines: admins only", principal.username)));
        }
        let catalog = inner.planner.catalog();
        catalog.group_config(&adoption.group_config)?;
        catalog.software_config(&adoption.software_config)?;
        let (info, phase) = inner.adoptable(&adoption.instance_id).await?;
        let all = inner.store.list_resources(&ResourceFilter { include_archived: true, ..Default::default() }).await?;
        if all.iter().any(|r| r.instance_id.as_deref() == Some(info.id.as_str())) {
            return Err(Error::AlreadyExists(format!("instance {} is already managed", info.id)));
        }
        let launch_id = tag(&info, LAUNCH_ID_TAG)
            .and_then(|t| LaunchId::parse(&t).ok())
            .filter(|l| all.iter().all(|r| r.id != *l))
            .unwrap_or_else(LaunchId::new_random);
        let r = inner.adopted(launch_id, adoption, &info, phase.clone());
        let event = LifecycleEvent {
            resource: r.id.clone(),
            seq: 1,
            at: r.created_at,
            actor: Actor::User(principal.username.clone()),
            from: Phase::Requested,
            to: phase,
            reason: format!("instance {} adopted by {} for {}", info.id, principal.username, adoption.owner),
        };
        inner.store.insert_resource(&r, Some(&event)).await?;
        inner.publish(&r, event);
        let r = inner.follow_dns(r, true).await?;
        inner.settle_bill(&r).await?;
        Ok(r)
    }
}

fn tag(info: &InstanceInfo, key: &str) -> Option<String> {
    info.tags.iter().find(|t| t.key == key).map(|t| t.value.clone())
}

impl Shared {
    /// The instance, if it carries the managed tag and is not gone, and the phase it is in.
    async fn adoptable(&self, id: &str) -> Result<(InstanceInfo, Phase)> {
        let info = self
            .cloud
            .describe_instance(id)
            .await?
            .ok_or_else(|| Error::NotFound { kind: "instance", name: id.into() })?;
        if tag(&info, MANAGED_TAG.0).as_deref() != Some(MANAGED_TAG.1) {
            return Err(Error::validation("instance_id", id, "has no LaunchedBy=MLIY tag: not a managed machine"));
        }
        let phase = match info.state {
            InstanceState::Pending | InstanceState::Running => Phase::Ready,
            InstanceState::Stopping | InstanceState::Stopped => Phase::Stopped,
            InstanceState::ShuttingDown | InstanceState::Terminated => {
                return Err(Error::validation("instance_id", id, "is terminated"));
            }
        };
        Ok((info, phase))
    }

    /// The record of an adopted instance: what the cloud's tags say of its stack.
    fn adopted(&self, launch_id: LaunchId, adoption: &Adoption, info: &InstanceInfo, phase: Phase) -> Resource {
        let stack = StackSpec {
            name: tag(info, "aws:cloudformation:stack-name").unwrap_or_default(),
            template_body: std::sync::Arc::from(""),
            parameters: Vec::new(),
            tags: info.tags.clone(),
            client_request_token: launch_id.to_string(),
        };
        Resource {
            owner: adoption.owner.clone(),
            owner_groups: adoption.owner_groups.clone(),
            group_config: adoption.group_config.clone(),
            software_config: adoption.software_config.clone(),
            instance_type: info.instance_type.clone(),
            stack_id: tag(info, "aws:cloudformation:stack-id"),
            instance_id: Some(info.id.clone()),
            private_ip: info.private_ip.clone(),
            phase,
            ..Resource::requested(launch_id, ResourceKind::Instance, stack, self.clock.now())
        }
    }
}
