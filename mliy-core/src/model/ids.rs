//! Identifiers shared by plans, records, the cloud and the store.

use crate::error::{Error, Result};
use serde::{Deserialize, Serialize};
use std::fmt;

/// Identifies one launch. It is CloudFormation's `ClientRequestToken` and part of the stack
/// name, so a retried launch can never create a second stack.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct LaunchId(String);

impl LaunchId {
    /// A new random id: 12 lower-case hex digits, as MLiy used.
    pub fn new_random() -> Self {
        let hex = uuid::Uuid::new_v4().simple().to_string();
        LaunchId(hex[hex.len() - 12..].to_string())
    }

    /// Checks and wraps an id: 1 to 64 of `a-z`, `0-9` and `-`, starting with a letter or digit.
    ///
    /// # Errors
    /// [`Error::Validation`] on `launch_id`.
    pub fn parse(id: &str) -> Result<Self> {
        let ok = (1..=64).contains(&id.len())
            && id.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
            && !id.starts_with('-');
        if ok {
            Ok(LaunchId(id.to_string()))
        } else {
            Err(Error::validation("launch_id", id, "1 to 64 of a-z, 0-9 and -, not starting with -"))
        }
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for LaunchId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Looks ids up by text (hashes and orders as its text does).
impl std::borrow::Borrow<str> for LaunchId {
    fn borrow(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for LaunchId {
    type Error = Error;
    fn try_from(s: String) -> Result<Self> {
        LaunchId::parse(&s)
    }
}

impl From<LaunchId> for String {
    fn from(id: LaunchId) -> String {
        id.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn launch_ids() {
        let id = LaunchId::new_random();
        assert_eq!(id.as_str().len(), 12);
        assert!(LaunchId::parse(id.as_str()).is_ok());
        assert_ne!(id, LaunchId::new_random());
        for bad in ["", "-a", "A1", "a_b", &"a".repeat(65)] {
            assert!(LaunchId::parse(bad).is_err(), "{bad}");
        }
    }
}
