//! Resource tags and the tag names mliy relies on.

use serde::{Deserialize, Serialize};

/// The tag that marks everything mliy (or MLiy) launched.
pub const MANAGED_TAG: (&str, &str) = ("LaunchedBy", "MLIY");
/// The tag MLiy put on the EMR clusters it launched (with a space, unlike its instances').
pub const MLIY_CLUSTER_TAG: (&str, &str) = ("Launched By", "MLiy");
/// The tag that carries the launch id, for adoption and idempotency.
pub const LAUNCH_ID_TAG: &str = "mliy:launch-id";

/// A resource tag.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Tag {
    /// The key.
    pub key: String,
    /// The value.
    pub value: String,
}

impl Tag {
    /// A new tag.
    pub fn new(key: impl Into<String>, value: impl Into<String>) -> Self {
        Tag { key: key.into(), value: value.into() }
    }
}
