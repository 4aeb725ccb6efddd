//! Adoption: a machine MLiy (or another mliy) launched that the store does not know, taken
//! under management. Instances carry `LaunchedBy=MLIY`, clusters `Launched By=MLiy`.

use super::{Engine, Shared, Unmanaged};
use crate::cloud::{CloudExt, ClusterInfo, ClusterState, InstanceInfo, InstanceState};
use crate::error::{Error, Result};
use crate::import::MliyRecords;
use crate::lifecycle::{Actor, LifecycleEvent, Phase, Resource, ResourceKind};
use crate::model::{
    Catalog, GroupConfig, LAUNCH_ID_TAG, LaunchId, MANAGED_TAG, MLIY_CLUSTER_TAG, Principal, StackSpec, Tag,
};
use crate::store::ResourceFilter;

/// What [`Engine::adopt`] needs to take over an unmanaged machine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Adoption {
    /// An instance or a cluster.
    pub kind: ResourceKind,
    /// Its EC2 instance id or EMR cluster id, as [`Unmanaged::id`] names it.
    pub machine_id: String,
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
    /// What a machine's tags say of it (see [`Adoption::from_mliy`]), without MLiy's records.
    ///
    /// # Errors
    /// As [`Adoption::from_mliy`].
    pub fn from_tags(machine: &Unmanaged, catalog: &Catalog) -> Result<Adoption> {
        Adoption::from_mliy(machine, catalog, &MliyRecords::default())
    }

    /// What a machine's tags, or else MLiy's records of it, say of it, checked against
    /// `catalog`:
    /// - the owner: `userid` on an instance, `Creator` on a cluster, else the record's `userid`;
    /// - the group config: `Group Config` (or MLiy's `GroupConfig`); for a cluster without
    ///   it, the one group config with EMR access for its `UserGroup`;
    /// - the software config: `Software Config`, else the record's; for a cluster without
    ///   either, the one EMR software config the group config may launch;
    /// - the owner's group: `UserGroup`, else the group config's.
    ///
    /// # Errors
    /// [`Error::Validation`] naming what cannot be mapped and why; [`Error::NotFound`] for a
    /// config the catalog does not have.
    pub fn from_mliy(machine: &Unmanaged, catalog: &Catalog, records: &MliyRecords) -> Result<Adoption> {
        let tags = Tags { tags: &machine.tags, id: &machine.id };
        let record = records
            .get(&machine.id)
            .or_else(|| tags.get(&["aws:cloudformation:stack-id"]).and_then(|s| records.get(&s)));
        let cluster = machine.kind == ResourceKind::Cluster;
        let owner_tag: &[&str] = if cluster { &["Creator"] } else { &["userid"] };
        let owner = tags.need(owner_tag).or_else(|e| record.map(|r| r.owner.clone()).ok_or(e))?;
        let user_group = tags.get(&["UserGroup"]);
        let group = match tags.get(&["Group Config", "GroupConfig"]) {
            Some(name) => catalog.group_config(&name)?,
            None if cluster => emr_group_config(catalog, &machine.id, user_group.as_deref())?,
            None => return Err(tags.missing("GroupConfig")),
        };
        let software = match tags.get(&["Software Config"]).or_else(|| record.and_then(|r| r.software_config.clone())) {
            Some(name) => catalog.software_config(&name)?.name.clone(),
            None if cluster => emr_software_config(catalog, &machine.id, group)?,
            None => return Err(tags.missing("Software Config")),
        };
        Ok(Adoption {
            kind: machine.kind,
            machine_id: machine.id.clone(),
            owner,
            owner_groups: vec![user_group.unwrap_or_else(|| group.group.clone())],
            group_config: group.name.clone(),
            software_config: software,
        })
    }
}

/// A machine's tags, looked up by key.
struct Tags<'a> {
    tags: &'a [Tag],
    id: &'a str,
}

impl Tags<'_> {
    /// The first of `keys` the machine carries with a value.
    fn get(&self, keys: &[&str]) -> Option<String> {
        keys.iter()
            .find_map(|k| self.tags.iter().find(|t| t.key == *k))
            .map(|t| t.value.trim().to_string())
            .filter(|v| !v.is_empty())
    }

    fn need(&self, keys: &[&str]) -> Result<String> {
        self.get(keys).ok_or_else(|| self.missing(keys[0]))
    }

    fn missing(&self, key: &str) -> Error {
        Error::validation(format!("{key} tag"), self.id, "the machine does not carry it")
    }
}

/// The one group config with EMR access for MLiy's `UserGroup` tag.
fn emr_group_config<'c>(catalog: &'c Catalog, id: &str, user_group: Option<&str>) -> Result<&'c GroupConfig> {
    let Some(group) = user_group else {
        return Err(Error::validation("GroupConfig tag", id, "the cluster carries neither GroupConfig nor UserGroup"));
    };
    let mut fits = catalog.group_configs.iter().filter(|g| g.emr_access && g.group.eq_ignore_ascii_case(group));
    match (fits.next(), fits.next()) {
        (Some(g), None) => Ok(g),
        (None, _) => Err(Error::validation("UserGroup tag", group, "no group config with EMR access has this group")),
        (Some(_), Some(_)) => Err(Error::validation("UserGroup tag", group, "several group configs have this group")),
    }
}

/// The one EMR software config `group` may launch.
fn emr_software_config(catalog: &Catalog, id: &str, group: &GroupConfig) -> Result<String> {
    let mut fits = catalog.software_configs.iter().filter(|s| s.emr && s.permitted_group_configs.contains(&group.name));
    match (fits.next(), fits.next()) {
        (Some(s), None) => Ok(s.name.clone()),
        (None, _) => Err(Error::validation(
            "Software Config tag",
            id,
            format!("group config {} has no EMR software config", group.name),
        )),
        (Some(_), Some(_)) => Err(Error::validation(
            "Software Config tag",
            id,
            format!("group config {} has several EMR software configs: give MLiy's records (--mliy-dump)", group.name),
        )),
    }
}

impl Engine {
    /// Brings a machine MLiy launched that the store does not know under management: an
    /// instance with `LaunchedBy=MLIY` (Ready or Stopped) or a cluster with `Launched
    /// By=MLiy` (Waiting or Running), keeping an instance's usable launch-id tag and the
    /// stack from the CloudFormation tags. Admins only.
    ///
    /// # Errors
    /// [`Error::Forbidden`] unless the principal is an admin; [`Error::NotFound`] for an
    /// unknown machine, group or software config; [`Error::Validation`] for a machine without
    /// MLiy's tag, still starting, or ended; [`Error::AlreadyExists`] when the store knows it.
    pub async fn adopt(&self, principal: &Principal, adoption: &Adoption) -> Result<Resource> {
        let inner = &self.inner;
        inner.alive()?;
        super::access::admin(principal, "adopt machines")?;
        let catalog = inner.planner.catalog();
        catalog.group_config(&adoption.group_config)?;
        catalog.software_config(&adoption.software_config)?;
        let found = inner.adoptable(adoption).await?;
        let all = inner.store.list_resources(&ResourceFilter { include_archived: true, ..Default::default() }).await?;
        if all.iter().any(|r| r.instance_id.as_deref().or(r.cluster_id.as_deref()) == Some(&adoption.machine_id)) {
            let what = adoption.kind.name();
            return Err(Error::AlreadyExists(format!("{what} {} is already managed", adoption.machine_id)));
        }
        let launch_id = found
            .tag(LAUNCH_ID_TAG)
            .and_then(|t| LaunchId::parse(&t).ok())
            .filter(|l| all.iter().all(|r| r.id != *l))
            .unwrap_or_else(LaunchId::new_random);
        let r = inner.adopted(launch_id, adoption, &found);
        let event = LifecycleEvent {
            resource: r.id.clone(),
            seq: 1,
            at: r.created_at,
            actor: Actor::User(principal.username.clone()),
            from: Phase::Requested,
            to: r.phase.clone(),
            reason: format!(
                "{} {} adopted by {} for {}",
                adoption.kind.name(),
                adoption.machine_id,
                principal.username,
                adoption.owner
            ),
        };
        inner.store.insert_resource(&r, Some(&event)).await?;
        inner.publish(&r, event);
        let r = inner.follow_dns(r, true).await?;
        inner.settle_bill(&r).await?;
        Ok(r)
    }
}

/// The machine to adopt, as the cloud describes it, and the phase it is in.
enum Found {
    Instance(InstanceInfo, Phase),
    Cluster(ClusterInfo, Phase),
}

impl Found {
    fn tags(&self) -> &[Tag] {
        match self {
            Found::Instance(i, _) => &i.tags,
            Found::Cluster(c, _) => &c.tags,
        }
    }

    fn tag(&self, key: &str) -> Option<String> {
        self.tags().iter().find(|t| t.key == key).map(|t| t.value.clone())
    }
}

/// Whether the resource is an adopted machine that no stack or job flow of its own holds.
pub(super) fn stackless(r: &Resource) -> bool {
    r.job_flow.is_none() && r.stack_id.is_none() && r.stack.name.is_empty()
}

impl Shared {
    /// The machine, if it carries MLiy's tag and is in a phase a record can start from.
    async fn adoptable(&self, adoption: &Adoption) -> Result<Found> {
        let id = adoption.machine_id.as_str();
        let refuse = |rule: &str| Error::validation("machine_id", id, rule.to_string());
        let found = match adoption.kind {
            ResourceKind::Instance => {
                let info = self
                    .cloud
                    .describe_instance(id)
                    .await?
                    .ok_or_else(|| Error::NotFound { kind: "instance", name: id.into() })?;
                let phase = match info.state {
                    InstanceState::Pending | InstanceState::Running => Phase::Ready,
                    InstanceState::Stopping | InstanceState::Stopped => Phase::Stopped,
                    InstanceState::ShuttingDown | InstanceState::Terminated => return Err(refuse("is terminated")),
                };
                Found::Instance(info, phase)
            }
            ResourceKind::Cluster => {
                let info = self
                    .cloud
                    .describe_cluster(id)
                    .await?
                    .ok_or_else(|| Error::NotFound { kind: "cluster", name: id.into() })?;
                let phase = match info.state {
                    ClusterState::Waiting => Phase::Waiting,
                    ClusterState::Running => Phase::Running,
                    ClusterState::Starting | ClusterState::Bootstrapping => {
                        return Err(refuse("is still starting: adopt it once it runs"));
                    }
                    _ => return Err(refuse("is terminated")),
                };
                Found::Cluster(info, phase)
            }
        };
        let marked = [MANAGED_TAG, MLIY_CLUSTER_TAG].iter().any(|(k, v)| found.tag(k).as_deref() == Some(*v));
        if !marked {
            return Err(refuse("carries neither LaunchedBy=MLIY nor Launched By=MLiy: not a machine MLiy launched"));
        }
        Ok(found)
    }

    /// The record of an adopted machine: what the cloud's tags say of its stack.
    fn adopted(&self, launch_id: LaunchId, adoption: &Adoption, found: &Found) -> Resource {
        let stack = StackSpec {
            name: found.tag("aws:cloudformation:stack-name").unwrap_or_default(),
            template_body: std::sync::Arc::from(""),
            parameters: Vec::new(),
            tags: found.tags().to_vec(),
            client_request_token: launch_id.to_string(),
        };
        let base = Resource {
            owner: adoption.owner.clone(),
            owner_groups: adoption.owner_groups.clone(),
            group_config: adoption.group_config.clone(),
            software_config: adoption.software_config.clone(),
            stack_id: found.tag("aws:cloudformation:stack-id"),
            ..Resource::requested(launch_id, adoption.kind, stack, self.clock.now())
        };
        match found {
            Found::Instance(info, phase) => Resource {
                instance_type: info.instance_type.clone(),
                instance_id: Some(info.id.clone()),
                private_ip: info.private_ip.clone(),
                phase: phase.clone(),
                ..base
            },
            Found::Cluster(info, phase) => Resource {
                cluster_id: Some(info.id.clone()),
                private_ip: info.master_private_ip.clone(),
                phase: phase.clone(),
                ..base
            },
        }
    }

    /// Ends an adopted machine that no stack of its own holds: terminates the instance or the
    /// cluster; `true` once it is gone.
    pub(super) async fn remove_stackless(&self, r: &Resource) -> Result<bool> {
        if r.kind == ResourceKind::Cluster {
            return self.remove_cluster(r).await;
        }
        let Some(id) = &r.instance_id else { return Ok(true) };
        match self.cloud.describe_instance(id).await?.map(|i| i.state) {
            None | Some(InstanceState::Terminated) => Ok(true),
            Some(InstanceState::ShuttingDown) => Ok(false),
            Some(_) => {
                self.cloud.terminate_instances(std::slice::from_ref(id)).await?;
                Ok(false)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn catalog() -> Catalog {
        Catalog::from_yaml_str(
            "instance_types: [{name: t3.large}]
software_configs:
  - {name: MLiyDefault, ami_id: ami-0123abcd, compatible_instance_types: [t3.large], permitted_group_configs: [g]}
group_configs: [{name: g, group: manager}]
",
        )
        .unwrap()
    }

    fn instance(tags: &[(&str, &str)]) -> Unmanaged {
        Unmanaged {
            kind: ResourceKind::Instance,
            id: "i-0abc".into(),
            launch_id: None,
            tags: tags.iter().map(|(k, v)| Tag::new(*k, *v)).collect(),
        }
    }

    #[test]
    fn an_instance_without_its_owner_tag_takes_the_owner_from_mliys_records() {
        let machine = instance(&[("LaunchedBy", "MLIY"), ("Software Config", "MLiyDefault"), ("GroupConfig", "g")]);
        let e = Adoption::from_tags(&machine, &catalog()).unwrap_err();
        assert!(matches!(&e, Error::Validation(v) if v.field == "userid tag" && v.value == "i-0abc"), "{e}");
        let dump =
            r#"[{"model": "mliyweb.instance", "pk": "i-0abc", "fields": {"userid": "dana", "software_config": 1}}]"#;
        let a = Adoption::from_mliy(&machine, &catalog(), &MliyRecords::parse(dump).unwrap()).unwrap();
        assert_eq!(
            (a.owner.as_str(), a.group_config.as_str(), a.owner_groups.as_slice()),
            ("dana", "g", &["manager".to_string()][..])
        );
        // A tag wins over the records; a config the catalog lacks is named.
        let tagged = instance(&[("userid", "erin"), ("Software Config", "MLiyDefault"), ("GroupConfig", "g")]);
        assert_eq!(Adoption::from_tags(&tagged, &catalog()).unwrap().owner, "erin");
        let unknown = instance(&[("userid", "erin"), ("Software Config", "Gone"), ("GroupConfig", "g")]);
        assert!(matches!(Adoption::from_tags(&unknown, &catalog()).unwrap_err(), Error::NotFound { .. }));
    }

    #[test]
    fn a_cluster_needs_a_group_config_with_emr_access_for_its_user_group() {
        let mut machine = instance(&[("Launched By", "MLiy"), ("Creator", "erin"), ("UserGroup", "manager")]);
        machine.kind = ResourceKind::Cluster;
        let e = Adoption::from_tags(&machine, &catalog()).unwrap_err();
        assert!(
            matches!(&e, Error::Validation(v) if v.field == "UserGroup tag" && v.rule.contains("EMR access")),
            "{e}"
        );
    }
}
