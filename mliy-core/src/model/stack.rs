//! The CloudFormation request a resource is created by.

use super::tags::Tag;
use serde::{Deserialize, Serialize};
use std::fmt;

/// The user-data parameter: stored with a placeholder where the progress secret goes.
pub const USER_DATA_KEY: &str = "UserData";

/// One CloudFormation parameter to send. `Debug` redacts NoEcho values.
///
/// A NoEcho value taken from a catalog param is not kept: `value` is empty and `from` says
/// which param to read when the stack is created.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StackParameter {
    /// The key.
    pub key: String,
    /// The value (empty when it is read from `from`); shared, as one plan's user data is
    /// by every record and call made from it.
    pub value: std::sync::Arc<str>,
    /// Whether the template marks it NoEcho.
    #[serde(default)]
    pub no_echo: bool,
    /// The catalog param a NoEcho value is read from when the call is made.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<ParamRef>,
}

impl StackParameter {
    /// A parameter whose value is sent as it is.
    pub fn new(key: impl Into<String>, value: impl AsRef<str>) -> Self {
        StackParameter { key: key.into(), value: value.as_ref().into(), no_echo: false, from: None }
    }
}

/// Which catalog param a value is read from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ParamRef {
    /// A group config's or a software config's params.
    pub config: ConfigKind,
    /// The config's name.
    pub name: String,
    /// The param's token.
    pub token: String,
}

/// A kind of catalog config that holds params.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ConfigKind {
    /// `group_configs[].params`.
    GroupConfig,
    /// `software_configs[].params`.
    SoftwareConfig,
}

impl fmt::Debug for StackParameter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.no_echo, self.key.as_str()) {
            (true, _) => write!(f, "{}=****", self.key),
            // The user data carries the progress secret (and whatever tokens hold).
            (false, "UserData") => write!(f, "UserData=<{} bytes>", self.value.len()),
            (false, _) => write!(f, "{}={:?}", self.key, self.value),
        }
    }
}

/// Everything CreateStack needs, kept with the resource so a resumed launch sends exactly
/// the same request.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StackSpec {
    /// The stack name.
    pub name: String,
    /// The template (shared: it is the catalog's).
    pub template_body: std::sync::Arc<str>,
    /// The parameters.
    pub parameters: Vec<StackParameter>,
    /// The stack's tags.
    pub tags: Vec<Tag>,
    /// CloudFormation's ClientRequestToken: the launch id.
    pub client_request_token: String,
}

impl fmt::Debug for StackSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StackSpec")
            .field("name", &self.name)
            .field("template_len", &self.template_body.len())
            .field("parameters", &self.parameters)
            .field("client_request_token", &self.client_request_token)
            .finish_non_exhaustive()
    }
}

impl StackSpec {
    /// The spec without user data or NoEcho values: what a portal may be shown.
    pub fn redacted(&self) -> StackSpec {
        let parameters = self
            .parameters
            .iter()
            .map(|p| {
                let hidden = p.no_echo || p.key == USER_DATA_KEY;
                StackParameter { value: if hidden { "".into() } else { p.value.clone() }, ..p.clone() }
            })
            .collect();
        StackSpec { parameters, ..self.clone() }
    }
}
