//! The [`Cloud`] conformance suite: stacks, instances, clusters, steps and commands, as the
//! trait's contract states them.
//!
//! A backend that cannot emulate part of AWS names it in [`CloudSuite::gaps`]; those checks
//! are skipped and the skip is printed, so a gap is never silent.

use crate::clock::Clock;
use crate::cloud::{Cloud, CloudExt, ClusterState, CommandSpec, InstanceFilter, InstanceState, StackStatus, StepState};
use crate::model::emr::Step;
use crate::model::{ClusterSpec, LAUNCH_ID_TAG, StackParameter, StackSpec, Tag};
use std::time::Duration;

/// What a backend does not emulate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Gap {
    /// Instances and clusters change state at once: no stopping / starting in between.
    InstantStates,
    /// Steps never leave PENDING / RUNNING.
    StepsNeverFinish,
    /// SSM's ListCommandInvocations.
    CommandInvocations,
    /// PutAutoTerminationPolicy.
    AutoTermination,
}

/// A backend and what the suite needs to exercise it.
#[derive(Debug)]
pub struct CloudSuite<'a> {
    /// The backend.
    pub cloud: &'a dyn Cloud,
    /// The clock its objects change on (virtual for SimCloud, the system's for AWS).
    pub clock: &'a dyn Clock,
    /// How long to wait between looks while something changes, and how many looks.
    pub poll: (Duration, u32),
    /// A template that creates one `AWS::EC2::Instance` in this account.
    pub instance_template: String,
    /// Its parameters.
    pub parameters: Vec<StackParameter>,
    /// A cluster this account can run (its tags get the launch id).
    pub cluster: ClusterSpec,
    /// What this backend does not emulate.
    pub gaps: Vec<Gap>,
}

impl CloudSuite<'_> {
    /// Runs every check, with names and tokens `conf-cloud-*`.
    pub async fn run_all(&self) {
        self.misses_are_none().await;
        let (stack_id, instance) = self.stacks().await;
        self.instances(&instance).await;
        self.deleted_stacks(&stack_id).await;
        self.clusters().await;
        self.spot_prices().await;
    }

    /// Spot prices are positive decimals, in a zone and for the region, or absent.
    async fn spot_prices(&self) {
        for zone in [Some("us-east-1a"), None] {
            let price = self.cloud.spot_price("m5.xlarge", zone).await.unwrap();
            assert!(price.is_none_or(|p| p > crate::pricing::Decimal::ZERO), "{zone:?}: {price:?}");
        }
    }

    fn has(&self, gap: Gap) -> bool {
        let skip = self.gaps.contains(&gap);
        if skip {
            eprintln!("SKIPPED on {:?}: {gap:?} (not emulated)", self.cloud);
        }
        skip
    }

    /// Calls `look` until it finds something, sleeping `poll.0` between looks, at most `poll.1` times.
    async fn eventually<T>(&self, what: &str, mut look: impl AsyncFnMut() -> Option<T>) -> T {
        for _ in 0..self.poll.1 {
            if let Some(found) = look().await {
                return found;
            }
            self.clock.sleep(self.poll.0).await;
        }
        panic!("{what}: not within {} looks", self.poll.1)
    }

    fn spec(&self, name: &str, token: &str) -> StackSpec {
        StackSpec {
            name: name.into(),
            template_body: self.instance_template.as_str().into(),
            parameters: self.parameters.clone(),
            tags: vec![Tag::new(LAUNCH_ID_TAG, token)],
            client_request_token: token.into(),
        }
    }

    pub async fn misses_are_none(&self) {
        let cloud = self.cloud;
        assert!(cloud.describe_stack("conf-cloud-no-such-stack").await.unwrap().is_none());
        assert!(cloud.describe_cluster("j-NOSUCHCLUSTER0").await.unwrap().is_none());
        let unknown = InstanceFilter { ids: vec!["i-0123456789abcdef0".into()], tag: None };
        assert!(cloud.describe_instances(&unknown, None).await.unwrap().items.is_empty());
    }

    /// Creates a stack twice with one token and once with another; returns its id and
    /// its instance.
    pub async fn stacks(&self) -> (String, String) {
        let cloud = self.cloud;
        let id = cloud.create_stack(&self.spec("conf-cloud-stack", "conf-cloud-1")).await.unwrap();
        let again = cloud.create_stack(&self.spec("conf-cloud-stack", "conf-cloud-1")).await.unwrap();
        assert_eq!(id, again, "one token, one stack");
        let other = cloud.create_stack(&self.spec("conf-cloud-stack", "conf-cloud-2")).await.unwrap_err();
        assert_eq!(other.kind(), "already_exists", "{other}");
        let info = self
            .eventually("CREATE_COMPLETE", async || {
                let info = cloud.describe_stack("conf-cloud-stack").await.unwrap().unwrap();
                (info.status == StackStatus::CreateComplete).then_some(info)
            })
            .await;
        assert_eq!(info.id, id);
        assert!(info.tags.iter().any(|t| t.key == LAUNCH_ID_TAG && t.value == "conf-cloud-1"), "{info:?}");
        let resources = cloud.stack_resources(&id).await.unwrap();
        let instance = resources.iter().find(|r| r.resource_type == "AWS::EC2::Instance").expect("an instance");
        let (listed, _) = cloud.all_stacks().await.unwrap();
        assert!(listed.iter().any(|s| s.id == id), "ListStacks has it");
        (id, instance.physical_id.clone().expect("a physical id"))
    }

    pub async fn instances(&self, id: &str) {
        let cloud = self.cloud;
        let by_id = InstanceFilter { ids: vec![id.to_string()], tag: None };
        let by_tag = InstanceFilter { ids: vec![], tag: Some((LAUNCH_ID_TAG.into(), "conf-cloud-1".into())) };
        let state = async |filter: &InstanceFilter| {
            let page = cloud.describe_instances(filter, None).await.unwrap();
            page.items.iter().find(|i| i.id == id).map(|i| i.state)
        };
        self.eventually("running", async || (state(&by_id).await == Some(InstanceState::Running)).then_some(())).await;
        assert_eq!(state(&by_tag).await, Some(InstanceState::Running), "found by the launch's tag");
        let ids = [id.to_string()];
        cloud.stop_instances(&ids).await.unwrap();
        if !self.has(Gap::InstantStates) {
            assert_eq!(state(&by_id).await, Some(InstanceState::Stopping));
        }
        self.eventually("stopped", async || (state(&by_id).await == Some(InstanceState::Stopped)).then_some(())).await;
        cloud.stop_instances(&ids).await.unwrap();
        cloud.start_instances(&ids).await.unwrap();
        self.eventually("running again", async || (state(&by_id).await == Some(InstanceState::Running)).then_some(()))
            .await;
        cloud.reboot_instances(&ids).await.unwrap();
    }

    pub async fn deleted_stacks(&self, id: &str) {
        let cloud = self.cloud;
        cloud.delete_stack(id).await.unwrap();
        cloud.delete_stack(id).await.unwrap();
        self.eventually("DELETE_COMPLETE", async || {
            let info = cloud.describe_stack(id).await.unwrap();
            info.is_none_or(|s| s.status == StackStatus::DeleteComplete).then_some(())
        })
        .await;
        assert!(cloud.describe_stack("conf-cloud-stack").await.unwrap().is_none(), "not found by name");
    }

    pub async fn clusters(&self) {
        let cloud = self.cloud;
        let mut spec = self.cluster.clone();
        spec.tags.push((&Tag::new(LAUNCH_ID_TAG, "conf-cloud-3")).into());
        let id = cloud.run_job_flow(&spec).await.unwrap();
        let info = cloud.describe_cluster(&id).await.unwrap().expect("the cluster");
        assert_eq!(info.name, spec.name);
        assert!(info.tags.iter().any(|t| t.key == LAUNCH_ID_TAG && t.value == "conf-cloud-3"), "{info:?}");
        let (listed, _) = cloud.all_clusters(&[]).await.unwrap();
        assert!(listed.iter().any(|c| c.id == id), "ListClusters has it");
        self.eventually("waiting", async || {
            let c = cloud.describe_cluster(&id).await.unwrap()?;
            matches!(c.state, ClusterState::Waiting | ClusterState::Running).then_some(())
        })
        .await;
        self.steps(&id).await;
        self.commands(&id).await;
        self.instance_groups(&id).await;
        if !self.has(Gap::AutoTermination) {
            cloud.set_auto_termination(&id, Duration::from_secs(3600)).await.unwrap();
        }
        cloud.terminate_clusters(std::slice::from_ref(&id)).await.unwrap();
        cloud.terminate_clusters(std::slice::from_ref(&id)).await.unwrap();
        self.eventually("terminated", async || {
            cloud.describe_cluster(&id).await.unwrap()?.state.is_terminated().then_some(())
        })
        .await;
    }

    /// ListInstanceGroups shows the request's groups; ModifyInstanceGroups changes a count.
    pub async fn instance_groups(&self, cluster: &str) {
        use crate::model::emr::InstanceRole;
        let cloud = self.cloud;
        let groups = cloud.list_instance_groups(cluster).await.unwrap();
        let core = groups.iter().find(|g| g.role == InstanceRole::Core).expect("a core group");
        assert_eq!((core.requested, core.instance_type.as_str()), (2, "m5.xlarge"), "{groups:?}");
        assert!(groups.iter().any(|g| g.role == InstanceRole::Master), "{groups:?}");
        cloud.resize_instance_group(cluster, &core.id, 3).await.unwrap();
        let after = cloud.list_instance_groups(cluster).await.unwrap();
        assert_eq!(after.iter().find(|g| g.id == core.id).map(|g| g.requested), Some(3), "{after:?}");
    }

    pub async fn steps(&self, cluster: &str) {
        let cloud = self.cloud;
        let step = |name: &str| Step::command(name, vec!["true".into()]);
        let ids = cloud.add_steps(cluster, &[step("conf-first"), step("conf-second")]).await.unwrap();
        assert_eq!(ids.len(), 2);
        let steps = cloud.list_steps(cluster).await.unwrap();
        let at = |id: &str| steps.iter().position(|s| s.id == id).expect("a listed step");
        assert!(at(&ids[1]) < at(&ids[0]), "newest first: {steps:?}");
        if self.has(Gap::StepsNeverFinish) {
            return;
        }
        self.eventually("steps completed", async || {
            let steps = cloud.list_steps(cluster).await.unwrap();
            steps.iter().filter(|s| ids.contains(&s.id)).all(|s| s.state == StepState::Completed).then_some(())
        })
        .await;
    }

    pub async fn commands(&self, cluster: &str) {
        let spec =
            CommandSpec { document: "AWS-RunShellScript".into(), cluster_id: cluster.into(), parameters: vec![] };
        let command = self.cloud.send_command(&spec).await.unwrap();
        if self.has(Gap::CommandInvocations) {
            return;
        }
        self.eventually("command finished", async || {
            let runs = self.cloud.command_invocations(&command).await.unwrap();
            (!runs.is_empty() && runs.iter().all(|r| r.status.is_final())).then_some(())
        })
        .await;
    }
}
