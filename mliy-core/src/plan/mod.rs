//! Launch planning: from a principal, a request and the catalog to the exact CloudFormation
//! request, checked against the group's policy and the template's constraints. Pure: no I/O.
//!
//! ```
//! use mliy_core::model::{Catalog, Principal};
//! use mliy_core::plan::{LaunchRequest, Planner};
//!
//! let catalog = Catalog::from_yaml_str(r##"
//! instance_types: [{name: t3.large}]
//! security_groups: [{id: sg-0123abcd}]
//! software_configs:
//!   - name: notebook
//!     instance_name: NB
//!     ami_id: ami-0123abcd
//!     compatible_instance_types: [t3.large]
//!     permitted_group_configs: [ds]
//!     user_data: {inline: "#!/bin/sh\necho {{{GREETING}}}\n"}
//!     params: [{token: GREETING, value: hello}]
//!     template:
//!       inline: |
//!         Parameters:
//!           InstanceType: {Type: String}
//!           ImageId: {Type: 'AWS::EC2::Image::Id'}
//!           UserData: {Type: String}
//!         Resources:
//!           I: {Type: 'AWS::EC2::Instance'}
//! group_configs:
//!   - {name: ds, group: data-science, ags: DS, default_security_groups: [sg-0123abcd]}
//! "##).unwrap();
//! let planner = Planner::new(catalog).unwrap();
//! let alice = Principal::new("alice", ["data-science"]);
//! let plan = planner.plan(&alice, &LaunchRequest::instance("ds", "notebook", "t3.large")).unwrap();
//! assert_eq!(plan.parameter("InstanceType"), Some("t3.large"));
//! assert_eq!(plan.user_data.as_deref(), Some("#!/bin/sh\necho hello\n"));
//!
//! let mallory = Principal::new("mallory", ["sales"]);
//! assert!(planner.plan(&mallory, &LaunchRequest::instance("ds", "notebook", "t3.large")).is_err());
//! ```

mod assemble;
mod jupyter;
mod naming;
mod offerings;
mod policy;
mod request;

pub(crate) use jupyter::placeholder_user;
pub use jupyter::{CREATE_USERS_SCRIPT, MAX_JUPYTER_USERS};
pub use offerings::{Offering, offerings};
pub use policy::{DEFAULT_MAX_CLUSTER_NODES, MAX_SPOT_BID};
pub use request::{ClusterOptions, LaunchRequest};

use crate::error::{Error, Result};
use crate::model::{self, Catalog, ClusterSpec, ConfigKind, ParamRef, Principal, StackParameter, StackSpec};
use crate::template::Template;
use serde::{Serialize, Serializer};
use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

/// Whether a plan launches an instance or a cluster.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PlanKind {
    /// An EC2 instance.
    Instance,
    /// An EMR cluster.
    Cluster,
}

/// Where a parameter's value came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ValueSource {
    /// Computed by mliy from the catalog and the request (MLiy's keys).
    Generated,
    /// A group config param named like the parameter.
    GroupConfig,
    /// A software config param named like the parameter.
    SoftwareConfig,
}

/// One CloudFormation parameter of a plan. A NoEcho value is redacted in `Debug` and when
/// serialised; [`PlanParameter::value`] gives it to the code that sends it.
#[derive(Clone, PartialEq, Eq, Serialize)]
pub struct PlanParameter {
    /// The parameter's key.
    pub key: String,
    #[serde(rename = "value", serialize_with = "redacted")]
    value: Secretish,
    /// Whether the template marks it NoEcho.
    pub no_echo: bool,
    /// Where the value came from.
    pub source: ValueSource,
}

#[derive(Clone, PartialEq, Eq)]
struct Secretish {
    text: String,
    secret: bool,
}

fn redacted<S: Serializer>(v: &Secretish, s: S) -> std::result::Result<S::Ok, S::Error> {
    s.serialize_str(if v.secret { crate::template::REDACTED } else { &v.text })
}

impl PlanParameter {
    pub(crate) fn new(key: &str, value: String, no_echo: bool, source: ValueSource) -> Self {
        PlanParameter { key: key.to_string(), value: Secretish { text: value, secret: no_echo }, no_echo, source }
    }

    /// The value to send to CloudFormation (NoEcho values included).
    pub fn value(&self) -> &str {
        &self.value.text
    }

    /// The value as it may be shown: redacted when NoEcho.
    pub fn shown_value(&self) -> &str {
        if self.no_echo { crate::template::REDACTED } else { &self.value.text }
    }
}

impl fmt::Debug for PlanParameter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let shown = if self.key == "UserData" && !self.no_echo {
            format!("<{} bytes>", self.value.text.len())
        } else {
            self.shown_value().to_string()
        };
        f.debug_struct("PlanParameter")
            .field("key", &self.key)
            .field("value", &shown)
            .field("source", &self.source)
            .finish()
    }
}

/// The CreateStack request a launch sends, and what the planner noticed on the way.
#[derive(Clone, Serialize)]
pub struct LaunchPlan {
    /// The launch id (also the ClientRequestToken).
    pub launch_id: model::LaunchId,
    /// Instance or cluster.
    pub kind: PlanKind,
    /// The stack name.
    pub stack_name: String,
    /// CloudFormation's ClientRequestToken: the launch id.
    pub client_request_token: String,
    /// The principal's username.
    pub owner: String,
    /// The group config used.
    pub group_config: String,
    /// The software config launched.
    pub software_config: String,
    /// The instance type.
    pub instance_type: String,
    /// The generated cluster name (clusters).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cluster_name: Option<String>,
    /// Parameters sent, in template order.
    pub parameters: Vec<PlanParameter>,
    /// Stack tags.
    pub tags: Vec<model::Tag>,
    /// The rendered user-data script, before base64 (instances with a script).
    pub user_data: Option<String>,
    /// Tokens left in the user data because nothing defines them.
    pub unknown_tokens: Vec<String>,
    /// Things that will probably fail or surprise, e.g. a mapping without the instance type.
    pub warnings: Vec<String>,
    /// The template to create the stack from (empty for a job flow).
    #[serde(skip)]
    pub template_body: Arc<str>,
    /// The RunJobFlow request, for a cluster launched without a template.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub job_flow: Option<ClusterSpec>,
    /// What makes the instance ready: the software config's `ready_when`, or the template's
    /// default (`first` when its instance waits for a resource signal).
    pub ready_when: model::ReadyWhen,
    /// How long CloudFormation waits for the instance's resource signal, in seconds (the
    /// engine waits for the stack at least that long, so that CloudFormation's own reason
    /// is the one reported).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub signal_timeout_secs: Option<u64>,
}

impl LaunchPlan {
    /// The value sent for `key`, if any.
    pub fn parameter(&self, key: &str) -> Option<&str> {
        self.parameters.iter().find(|p| p.key == key).map(PlanParameter::value)
    }

    /// The value of the tag `key`, if any.
    pub fn tag(&self, key: &str) -> Option<&str> {
        self.tags.iter().find(|t| t.key == key).map(|t| t.value.as_str())
    }
}

impl fmt::Debug for LaunchPlan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The user data and template are long and the former may hold secrets: sizes only.
        f.debug_struct("LaunchPlan")
            .field("launch_id", &self.launch_id)
            .field("kind", &self.kind)
            .field("stack_name", &self.stack_name)
            .field("parameters", &self.parameters)
            .field("tags", &self.tags)
            .field("user_data_len", &self.user_data.as_ref().map(String::len))
            .field("warnings", &self.warnings)
            .finish_non_exhaustive()
    }
}

/// A catalog with its templates parsed, ready to plan launches.
#[derive(Debug, Clone)]
pub struct Planner {
    catalog: Arc<Catalog>,
    templates: HashMap<String, (Arc<Template>, Arc<str>)>,
}

impl Planner {
    /// Checks the catalog and parses every software config's template.
    ///
    /// # Errors
    /// [`Error::Validation`] for a dangling reference or a template given by path that was
    /// not read, [`Error::Parse`] naming the software config whose template is malformed.
    pub fn new(catalog: Catalog) -> Result<Planner> {
        catalog.validate()?;
        let mut templates = HashMap::new();
        for sc in &catalog.software_configs {
            let Some(source) = &sc.template else { continue };
            let Some(text) = source.text() else {
                return Err(Error::validation(
                    format!("software_configs[{}].template", sc.name),
                    source.describe(),
                    "the file was not read: load the catalog with Catalog::from_path or call load_sources",
                ));
            };
            let name = format!("{} (software config {})", source.describe(), sc.name);
            let template = Template::parse(&name, text)?;
            templates.insert(sc.name.clone(), (Arc::new(template), Arc::from(text)));
        }
        Ok(Planner { catalog: Arc::new(catalog), templates })
    }

    /// The catalog.
    pub fn catalog(&self) -> &Catalog {
        &self.catalog
    }

    /// The parsed template of a software config.
    pub fn template(&self, software_config: &str) -> Option<&Template> {
        self.templates.get(software_config).map(|(t, _)| t.as_ref())
    }

    /// Plans a launch.
    ///
    /// # Errors
    /// [`Error::NotFound`] for an unknown group or software config, [`Error::Forbidden`] when
    /// the principal may not use them, and [`Error::Validation`] naming the field, value and
    /// rule for anything CloudFormation or the group's policy would refuse.
    pub fn plan(&self, principal: &Principal, request: &LaunchRequest) -> Result<LaunchPlan> {
        let checked = policy::check(&self.catalog, principal, request)?;
        if let Some(settings) = &checked.software.job_flow {
            return assemble::assemble_job_flow(principal, request, &checked, settings);
        }
        if !request.jupyter_users.is_empty() {
            let users = request.jupyter_users.join(",");
            return Err(Error::validation(
                "jupyter_users",
                users,
                "only a job-flow cluster that runs JupyterHub creates users",
            ));
        }
        let (template, body) = self.templates.get(&checked.software.name).ok_or_else(|| {
            Error::validation("software_config", &checked.software.name, "the software config has no template")
        })?;
        let launch = assemble::Launch { catalog: &self.catalog, principal, request, checked: &checked, template };
        assemble::assemble(&launch, body)
    }
}

/// Plans one launch against a catalog (parses its templates each time; keep a [`Planner`] to
/// plan many).
///
/// # Errors
/// As [`Planner::new`] and [`Planner::plan`].
pub fn plan(principal: &Principal, request: &LaunchRequest, catalog: &Catalog) -> Result<LaunchPlan> {
    Planner::new(catalog.clone())?.plan(principal, request)
}

impl From<&LaunchPlan> for StackSpec {
    /// The spec to store: NoEcho values from catalog params are kept as references.
    fn from(plan: &LaunchPlan) -> Self {
        let parameters = plan
            .parameters
            .iter()
            .map(|p| {
                let config = match p.source {
                    ValueSource::GroupConfig => Some((ConfigKind::GroupConfig, &plan.group_config)),
                    ValueSource::SoftwareConfig => Some((ConfigKind::SoftwareConfig, &plan.software_config)),
                    ValueSource::Generated => None,
                };
                match config {
                    Some((config, name)) if p.no_echo => StackParameter {
                        key: p.key.clone(),
                        value: "".into(),
                        no_echo: true,
                        from: Some(ParamRef { config, name: name.clone(), token: p.key.clone() }),
                    },
                    _ => StackParameter { no_echo: p.no_echo, ..StackParameter::new(&p.key, p.value()) },
                }
            })
            .collect();
        StackSpec {
            name: plan.stack_name.clone(),
            template_body: std::sync::Arc::clone(&plan.template_body),
            parameters,
            tags: plan.tags.clone(),
            client_request_token: plan.client_request_token.clone(),
        }
    }
}

// The shared types' old paths, for one release.

/// Moved to [`crate::model::LaunchId`].
#[deprecated(since = "0.2.0", note = "moved to mliy_core::model::LaunchId")]
pub type LaunchId = crate::model::LaunchId;
/// Moved to [`crate::model::Market`].
#[deprecated(since = "0.2.0", note = "moved to mliy_core::model::Market")]
pub type Market = crate::model::Market;
/// Moved to [`crate::model::Tag`].
#[deprecated(since = "0.2.0", note = "moved to mliy_core::model::Tag")]
pub type Tag = crate::model::Tag;
/// Moved to [`crate::model::MANAGED_TAG`].
#[deprecated(since = "0.2.0", note = "moved to mliy_core::model::MANAGED_TAG")]
pub const MANAGED_TAG: (&str, &str) = crate::model::MANAGED_TAG;
/// Moved to [`crate::model::LAUNCH_ID_TAG`].
#[deprecated(since = "0.2.0", note = "moved to mliy_core::model::LAUNCH_ID_TAG")]
pub const LAUNCH_ID_TAG: &str = crate::model::LAUNCH_ID_TAG;
