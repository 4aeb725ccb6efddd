//! The catalog's steps, and clusters as records stored before the full RunJobFlow model
//! ([`emr::ClusterSpec`](super::emr::ClusterSpec)) still read.

use super::emr::{self, ApiTag, Application, ClusterSpec, InstanceGroup, InstanceRole, Instances, MarketType};
use super::market::Market;
use super::tags::Tag;
use serde::{Deserialize, Deserializer, Serialize};

/// A step as the catalog and the engine's callers write it: a name, a jar and arguments.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StepSpec {
    /// Its name.
    pub name: String,
    /// The jar, e.g. `command-runner.jar`.
    pub jar: String,
    /// Its arguments.
    pub args: Vec<String>,
}

impl StepSpec {
    /// The step as EMR takes it (the cluster goes on when it fails: `CONTINUE`).
    pub fn to_step(&self) -> emr::Step {
        let hadoop_jar_step =
            emr::HadoopJarStep { jar: self.jar.clone(), args: self.args.clone(), ..Default::default() };
        emr::Step { name: self.name.clone(), action_on_failure: Some(emr::ActionOnFailure::Continue), hadoop_jar_step }
    }
}

impl From<&Tag> for ApiTag {
    fn from(t: &Tag) -> ApiTag {
        ApiTag { key: t.key.clone(), value: t.value.clone() }
    }
}

impl From<&ApiTag> for Tag {
    fn from(t: &ApiTag) -> Tag {
        Tag::new(&t.key, &t.value)
    }
}

/// Instance groups of one type: a master, `core` core nodes and `task` task nodes (the groups
/// of 0 left out), all bought on `market`.
pub fn node_groups(instance_type: &str, core: u32, task: u32, market: &Market) -> Vec<InstanceGroup> {
    let (market, bid) = match market {
        Market::OnDemand => (MarketType::OnDemand, None),
        Market::Spot { bid } => (MarketType::Spot, bid.map(|b| b.to_string())),
    };
    [(InstanceRole::Master, 1), (InstanceRole::Core, core), (InstanceRole::Task, task)]
        .into_iter()
        .filter(|(_, count)| *count > 0)
        .map(|(role, count)| InstanceGroup {
            name: Some(format!("{role:?}").to_lowercase()),
            instance_role: role,
            market: Some(market),
            bid_price: bid.clone(),
            instance_type: instance_type.to_string(),
            instance_count: count,
            ..InstanceGroup::default()
        })
        .collect()
}

/// A cluster record as mliy stored it before the full model: one instance type, core and
/// task counts, one market.
#[derive(Deserialize)]
struct Legacy {
    name: String,
    release_label: String,
    instance_type: String,
    core_nodes: u32,
    task_nodes: u32,
    market: Market,
    subnet_id: Option<String>,
    key_name: Option<String>,
    job_flow_role: String,
    service_role: String,
    applications: Vec<String>,
    steps: Vec<StepSpec>,
    idle_timeout_seconds: Option<u64>,
    tags: Vec<Tag>,
}

impl Legacy {
    fn into_spec(self) -> ClusterSpec {
        let groups = node_groups(&self.instance_type, self.core_nodes, self.task_nodes, &self.market);
        ClusterSpec {
            name: self.name,
            release_label: Some(self.release_label),
            applications: self.applications.into_iter().map(Application::named).collect(),
            service_role: Some(self.service_role),
            job_flow_role: Some(self.job_flow_role),
            instances: Instances {
                ec2_key_name: self.key_name,
                ec2_subnet_id: self.subnet_id,
                instance_groups: groups,
                keep_job_flow_alive_when_no_steps: Some(true),
                ..Instances::default()
            },
            steps: self.steps.iter().map(StepSpec::to_step).collect(),
            tags: self.tags.iter().map(ApiTag::from).collect(),
            visible_to_all_users: Some(true),
            auto_termination_policy: self
                .idle_timeout_seconds
                .map(|idle_timeout| emr::AutoTerminationPolicy { idle_timeout }),
            ..ClusterSpec::default()
        }
    }
}

/// Reads a stored cluster spec in either shape: the RunJobFlow model, or the one before it.
pub(crate) fn stored_spec<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Box<ClusterSpec>>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Either {
        Now(Box<ClusterSpec>),
        Before(Box<Legacy>),
    }
    Ok(match Option::<Either>::deserialize(d)? {
        None => None,
        Some(Either::Now(spec)) => Some(spec),
        Some(Either::Before(old)) => Some(Box::new(old.into_spec())),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Deserialize)]
    struct Holder {
        #[serde(deserialize_with = "stored_spec")]
        job_flow: Option<Box<ClusterSpec>>,
    }

    #[test]
    fn records_stored_before_the_full_model_still_read() {
        let old = r#"{"job_flow": {"name": "c", "release_label": "emr-6.15.0", "instance_type": "m5.xlarge",
            "core_nodes": 2, "task_nodes": 1, "market": {"spot": {"bid": 0.2}}, "subnet_id": null, "key_name": "k",
            "job_flow_role": "nodes", "service_role": "svc", "applications": ["Spark"], "steps": [],
            "idle_timeout_seconds": 600, "tags": [{"key": "a", "value": "b"}]}}"#;
        let spec = serde_json::from_str::<Holder>(old).unwrap().job_flow.unwrap();
        assert_eq!(spec.node_count(), 4);
        assert_eq!(spec.instances.instance_groups[2].bid_price.as_deref(), Some("0.2"));
        assert_eq!(spec.auto_termination_policy.map(|p| p.idle_timeout), Some(600));
        spec.check().unwrap();
        let now = serde_json::json!({"job_flow": spec.to_json()}).to_string();
        assert_eq!(serde_json::from_str::<Holder>(&now).unwrap().job_flow, Some(spec));
    }
}
