//! The crate's error type.

use std::path::PathBuf;

/// Result with mliy's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// A rule that a value broke: which field, which value, which rule.
///
/// Portals show these to users, so the three parts are kept apart and each is readable alone.
/// `value` never holds a secret: callers redact NoEcho values before building one.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: value {value:?} breaks the rule: {rule}")]
pub struct ValidationError {
    /// The field or parameter, e.g. `paramClusterName` or `request.instance_type`.
    pub field: String,
    /// The offending value (or a summary of it, such as a size).
    pub value: String,
    /// The rule in words, e.g. `MaxLength 40`.
    pub rule: String,
}

impl ValidationError {
    /// A new validation error.
    pub fn new(field: impl Into<String>, value: impl Into<String>, rule: impl Into<String>) -> Self {
        Self { field: field.into(), value: value.into(), rule: rule.into() }
    }
}

/// Every error mliy-core returns, by meaning.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A value breaks a rule (a template constraint, a group policy, a size limit).
    #[error(transparent)]
    Validation(#[from] ValidationError),
    /// A document could not be parsed (a template, a catalog, a fixture).
    #[error("{what}: {message}")]
    Parse {
        /// What was being parsed, e.g. `template AWS_EC2.json` or `catalog`.
        what: String,
        /// What is wrong, with a line and column where known.
        message: String,
    },
    /// Something named does not exist.
    #[error("{kind} {name:?} not found")]
    NotFound {
        /// The kind of thing, e.g. `software config`.
        kind: &'static str,
        /// Its name.
        name: String,
    },
    /// The principal may not do this.
    #[error("forbidden: {0}")]
    Forbidden(String),
    /// No principal, or the credentials were not accepted.
    #[error("unauthenticated: {0}")]
    Unauthenticated(String),
    /// A compare-and-set lost: the stored record changed since it was read. Read it again.
    #[error("stale: {0}")]
    Stale(String),
    /// The thing exists already: a resource id, a stack name, an adopted instance.
    #[error("already exists: {0}")]
    AlreadyExists(String),
    /// The lifecycle does not take this event in the resource's phase.
    #[error("invalid transition: {0}")]
    InvalidTransition(String),
    /// The cloud object is not in a state that allows the call (EC2's
    /// `IncorrectInstanceState`, say); it may be after it settles.
    #[error("wrong state: {0}")]
    WrongState(String),
    /// An EMR step ended FAILED, CANCELLED or INTERRUPTED.
    #[error("step {step} on cluster {cluster} failed: {reason}")]
    StepFailed {
        /// The cluster (`j-…`).
        cluster: String,
        /// The step's name and id.
        step: String,
        /// EMR's state and failure details.
        reason: String,
    },
    /// The backend asked us to slow down.
    #[error("throttled: {0}")]
    Throttled(String),
    /// The backend could not be reached or answered with a server error.
    #[error("unavailable: {0}")]
    Unavailable(String),
    /// A file could not be read or written.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// A backend failed in a way the kinds above do not cover.
    #[error("{backend}: {source}")]
    Backend {
        /// The backend, e.g. `aws` or `sqlite`.
        backend: &'static str,
        /// Its error.
        source: Box<dyn std::error::Error + Send + Sync + 'static>,
    },
}

impl Error {
    /// Shorthand for a [`ValidationError`].
    pub fn validation(field: impl Into<String>, value: impl Into<String>, rule: impl Into<String>) -> Self {
        Self::Validation(ValidationError::new(field, value, rule))
    }

    /// Shorthand for a parse error.
    pub fn parse(what: impl Into<String>, message: impl Into<String>) -> Self {
        Self::Parse { what: what.into(), message: message.into() }
    }

    /// Whether the same call may succeed if tried again later.
    pub fn is_retryable(&self) -> bool {
        matches!(self, Self::Throttled(_) | Self::Unavailable(_))
    }

    /// Whether it is one of the conflicts with the current state (a lost compare-and-set,
    /// something that exists already, an illegal transition, a cloud object in the wrong
    /// state): HTTP's 409.
    pub fn is_conflict(&self) -> bool {
        matches!(self, Self::Stale(_) | Self::AlreadyExists(_) | Self::InvalidTransition(_) | Self::WrongState(_))
    }

    /// A short stable name of the kind, for JSON output and metrics (`validation`, `not_found`, …).
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Validation(_) => "validation",
            Self::Parse { .. } => "parse",
            Self::NotFound { .. } => "not_found",
            Self::Forbidden(_) => "forbidden",
            Self::Unauthenticated(_) => "unauthenticated",
            Self::Stale(_) => "stale",
            Self::AlreadyExists(_) => "already_exists",
            Self::InvalidTransition(_) => "invalid_transition",
            Self::WrongState(_) => "wrong_state",
            Self::StepFailed { .. } => "step_failed",
            Self::Throttled(_) => "throttled",
            Self::Unavailable(_) => "unavailable",
            Self::Io { .. } => "io",
            Self::Backend { .. } => "backend",
        }
    }
}

/// As JSON: `{"kind", "message", "retryable"}`, plus `field`, `value` and `rule` for a
/// validation error, `what` and `name` for something not found, `cluster`, `step` and
/// `reason` for a failed step. `kind` is stable; `message` is for people.
impl serde::Serialize for Error {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> std::result::Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut map = serializer.serialize_map(None)?;
        map.serialize_entry("kind", self.kind())?;
        map.serialize_entry("message", &self.to_string())?;
        map.serialize_entry("retryable", &self.is_retryable())?;
        match self {
            Self::Validation(v) => {
                map.serialize_entry("field", &v.field)?;
                map.serialize_entry("value", &v.value)?;
                map.serialize_entry("rule", &v.rule)?;
            }
            Self::NotFound { kind, name } => {
                map.serialize_entry("what", kind)?;
                map.serialize_entry("name", name)?;
            }
            Self::StepFailed { cluster, step, reason } => {
                map.serialize_entry("cluster", cluster)?;
                map.serialize_entry("step", step)?;
                map.serialize_entry("reason", reason)?;
            }
            _ => {}
        }
        map.end()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validation_message_names_field_value_and_rule() {
        let e = Error::validation("VolumeSize", "2000", "MaxValue 1024");
        assert_eq!(e.to_string(), "VolumeSize: value \"2000\" breaks the rule: MaxValue 1024");
        assert_eq!(e.kind(), "validation");
        assert!(!e.is_retryable());
        assert!(Error::Throttled("slow down".into()).is_retryable());
    }

    #[test]
    fn errors_serialise_with_a_stable_kind() {
        let e = Error::validation("VolumeSize", "2000", "MaxValue 1024");
        let json = serde_json::to_value(&e).unwrap();
        assert_eq!(json["kind"], "validation");
        assert_eq!((json["field"].as_str(), json["rule"].as_str()), (Some("VolumeSize"), Some("MaxValue 1024")));
        assert_eq!(json["retryable"], false);
        let step = Error::StepFailed { cluster: "j-1".into(), step: "etl (s-1)".into(), reason: "FAILED".into() };
        let json = serde_json::to_value(&step).unwrap();
        assert_eq!((json["kind"].as_str(), json["cluster"].as_str()), (Some("step_failed"), Some("j-1")));
        assert!(Error::Stale("v2".into()).is_conflict() && !step.is_conflict());
        assert_eq!(serde_json::to_value(Error::Throttled("x".into())).unwrap()["retryable"], true);
    }
}
