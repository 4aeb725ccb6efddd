//! What the API answers and takes: its own shapes (documented in the OpenAPI document),
//! made from the engine's records so that nothing internal — stack parameters, the
//! template, secrets — reaches a response.

use mliy_core::engine::{Connection, PricedOffering, ResourceCost};
use mliy_core::lifecycle::{Actor, LifecycleEvent, Phase, Resource};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

/// An error: `{"error": {...}}` (describes [`mliy_core::Error`]'s JSON for the document).
#[derive(ToSchema)]
#[allow(dead_code)]
pub(crate) struct ErrorBody {
    pub(crate) error: ErrorDetail,
}

/// What went wrong. `kind` is stable; `field`, `value` and `rule` come with validation errors.
#[derive(ToSchema)]
#[allow(dead_code)]
pub(crate) struct ErrorDetail {
    /// A stable code: `validation`, `not_found`, `forbidden`, `unauthenticated`, …
    kind: String,
    /// For people.
    message: String,
    /// Whether the same call may succeed later.
    retryable: bool,
    /// The field a validation error is about.
    field: Option<String>,
    /// The value refused.
    value: Option<String>,
    /// The rule it broke.
    rule: Option<String>,
}

/// Credentials, as JSON or as a form.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct LoginBody {
    pub(crate) username: String,
    pub(crate) password: String,
}

/// A new session.
#[derive(Serialize, ToSchema)]
pub(crate) struct SessionView {
    /// The bearer token (JSON logins only; a form login gets an HttpOnly cookie instead).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) token: Option<String>,
    /// What a cookie session sends as `X-CSRF-Token` with every POST and DELETE.
    pub(crate) csrf_token: String,
    pub(crate) username: String,
}

/// The caller.
#[derive(Serialize, ToSchema)]
pub(crate) struct WhoAmI {
    pub(crate) username: String,
    pub(crate) display_name: String,
    pub(crate) groups: Vec<String>,
    pub(crate) admin: bool,
}

/// A resource as listed.
#[derive(Serialize, ToSchema)]
pub(crate) struct ResourceView {
    pub(crate) id: String,
    /// `instance` or `cluster`.
    pub(crate) kind: String,
    pub(crate) owner: String,
    pub(crate) group_config: String,
    pub(crate) software_config: String,
    pub(crate) instance_type: String,
    /// The phase's name: `requested`, `creating_stack`, … `ready`, `stopped`, `terminated`.
    pub(crate) phase: String,
    /// How far a launch is, 0–100, while it has a progress bar.
    pub(crate) percent: Option<u8>,
    /// The bootstrap's last message, or why it failed.
    pub(crate) message: Option<String>,
    /// Whether nothing more happens to it.
    pub(crate) ended: bool,
    pub(crate) private_ip: Option<String>,
    pub(crate) dns_name: Option<String>,
    pub(crate) instance_id: Option<String>,
    pub(crate) cluster_id: Option<String>,
    pub(crate) archived: bool,
    /// RFC 3339, UTC.
    pub(crate) created_at: String,
    pub(crate) updated_at: String,
    /// The actions its phase allows now.
    pub(crate) actions: Vec<String>,
}

/// The actions a phase allows.
fn actions(r: &Resource) -> Vec<String> {
    let names: &[&str] = match (&r.phase, r.kind) {
        (Phase::Ready, mliy_core::lifecycle::ResourceKind::Instance) => &["stop", "restart", "terminate", "extend"],
        (Phase::Stopped, _) => &["start", "terminate"],
        (Phase::Running | Phase::Waiting, _) => &["terminate", "resize", "extend"],
        (p, _) if p.is_terminal() => {
            if r.archived {
                &[]
            } else {
                &["archive"]
            }
        }
        (Phase::Terminating, _) => &[],
        _ => &["terminate"],
    };
    names.iter().map(|s| (*s).to_string()).collect()
}

impl From<&Resource> for ResourceView {
    fn from(r: &Resource) -> Self {
        let message = match &r.phase {
            Phase::Bootstrapping { message, .. } => Some(message.clone()),
            Phase::Failed { reason } | Phase::TerminatedWithErrors { reason } => Some(reason.clone()),
            _ => None,
        };
        ResourceView {
            id: r.id.to_string(),
            kind: r.kind.name().to_string(),
            owner: r.owner.clone(),
            group_config: r.group_config.clone(),
            software_config: r.software_config.clone(),
            instance_type: r.instance_type.clone(),
            phase: r.phase.name().to_string(),
            percent: if r.progress_bar || r.phase.is_usable() { r.phase.launch_percent() } else { None },
            message,
            ended: r.phase.is_terminal(),
            private_ip: r.private_ip.clone(),
            dns_name: r.dns_name.clone(),
            instance_id: r.instance_id.clone(),
            cluster_id: r.cluster_id.clone(),
            archived: r.archived,
            created_at: r.created_at.utc(),
            updated_at: r.updated_at.utc(),
            actions: actions(r),
        }
    }
}

/// A page of resources.
#[derive(Serialize, ToSchema)]
pub(crate) struct ResourcePage {
    pub(crate) items: Vec<ResourceView>,
    /// How many match the filter in all.
    pub(crate) total: usize,
    /// The `offset` of the next page, if there is one.
    pub(crate) next_offset: Option<usize>,
}

/// Which resources to list, newest first.
#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(crate) struct ListQuery {
    /// Only this phase (by name).
    #[param(
        pattern = "^(requested|creating_stack|provisioning|starting|bootstrapping|ready|running|waiting|stopping|stopped|rebooting|terminating|terminated|terminated_with_errors|failed)$"
    )]
    pub(crate) phase: Option<String>,
    /// Only `instance` or `cluster`.
    #[param(pattern = "^(instance|cluster)$")]
    pub(crate) kind: Option<String>,
    /// Only this group config.
    pub(crate) group_config: Option<String>,
    /// Include archived resources.
    pub(crate) archived: Option<bool>,
    /// How many to skip.
    pub(crate) offset: Option<usize>,
    /// At most this many (1–500, 100 by default).
    #[param(minimum = 1, maximum = 500)]
    pub(crate) limit: Option<usize>,
}

/// One recorded transition.
#[derive(Serialize, ToSchema)]
pub(crate) struct EventView {
    /// Its position in the resource's history; the event stream's `id`.
    pub(crate) seq: u64,
    pub(crate) at: String,
    /// `user:<name>`, `engine` or `bootstrap`.
    pub(crate) actor: String,
    pub(crate) from: String,
    pub(crate) to: String,
    /// The launch's progress after it, 0–100.
    pub(crate) percent: Option<u8>,
    pub(crate) reason: String,
}

impl From<&LifecycleEvent> for EventView {
    fn from(e: &LifecycleEvent) -> Self {
        let actor = match &e.actor {
            Actor::User(u) => format!("user:{u}"),
            Actor::Engine => "engine".into(),
            Actor::Bootstrap => "bootstrap".into(),
        };
        EventView {
            seq: e.seq,
            at: e.at.utc(),
            actor,
            from: e.from.name().into(),
            to: e.to.name().into(),
            percent: e.to.launch_percent(),
            reason: e.reason.clone(),
        }
    }
}

/// How to reach it.
#[derive(Serialize, ToSchema)]
pub(crate) struct ConnectionView {
    pub(crate) address: Option<String>,
    pub(crate) custom_url: Option<String>,
    pub(crate) jupyterhub_url: Option<String>,
    /// The SSH command that tunnels to it.
    pub(crate) ssh_tunnel: Option<String>,
}

impl From<Connection> for ConnectionView {
    fn from(c: Connection) -> Self {
        ConnectionView {
            address: c.address,
            custom_url: c.custom_url,
            jupyterhub_url: c.jupyterhub_url,
            ssh_tunnel: c.ssh_tunnel,
        }
    }
}

/// One resource with how to reach it, its cost so far and its history.
#[derive(Serialize, ToSchema)]
pub(crate) struct ResourceDetail {
    #[serde(flatten)]
    pub(crate) resource: ResourceView,
    pub(crate) connection: ConnectionView,
    /// Dollars so far; `null` before its first bill or without pricing.
    pub(crate) cost_so_far: Option<String>,
    pub(crate) events: Vec<EventView>,
}

/// What `extend` and `resize` take.
#[derive(Deserialize, Default, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct ActBody {
    /// `extend`: hours to add to the lifetime.
    pub(crate) hours: Option<u32>,
    /// `resize`: `core` or `task`.
    pub(crate) group: Option<String>,
    /// `resize`: the group's new node count.
    pub(crate) count: Option<u32>,
}

/// An instance type's hourly price in an offering.
#[derive(Serialize, ToSchema)]
pub(crate) struct TypePriceView {
    pub(crate) instance_type: String,
    /// Dollars an hour (an instance with its volume, or a cluster node); `null` unpriced.
    pub(crate) hourly: Option<String>,
}

/// What the caller may launch under one group config.
#[derive(Serialize, ToSchema)]
pub(crate) struct OfferingView {
    pub(crate) group_config: String,
    pub(crate) software_config: String,
    /// `instance` or `cluster`.
    pub(crate) kind: String,
    /// The catalog's description (HTML as written by an admin).
    pub(crate) description: String,
    pub(crate) instance_types: Vec<TypePriceView>,
}

impl From<PricedOffering> for OfferingView {
    fn from(o: PricedOffering) -> Self {
        let instance_types = o
            .prices
            .into_iter()
            .map(|p| TypePriceView {
                instance_type: p.instance_type,
                hourly: p.hourly.map(|d| d.normalize().to_string()),
            })
            .collect();
        OfferingView {
            group_config: o.offering.group_config,
            software_config: o.offering.software_config,
            kind: o.offering.kind.into(),
            description: o.offering.description,
            instance_types,
        }
    }
}

/// Dollars so far of one resource.
pub(crate) fn cost_so_far(c: Option<ResourceCost>) -> Option<String> {
    c.map(|c| c.cost.normalize().to_string())
}
