//! AWS SDK errors as mliy's error kinds. The SDK has already retried what it could: what
//! arrives here is final for this call, and its kind tells the engine whether to try later.

use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;
use mliy_core::Error;

/// Error codes AWS services use for throttling.
const THROTTLING: &[&str] = &[
    "Throttling",
    "ThrottlingException",
    "ThrottledException",
    "RequestThrottled",
    "RequestThrottledException",
    "TooManyRequestsException",
    "RequestLimitExceeded",
    "BandwidthLimitExceeded",
    "EC2ThrottledException",
    "PriorRequestNotComplete",
    "SlowDown",
];

/// A service's answer, reduced to what decides its kind.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Failure {
    pub(crate) code: Option<String>,
    pub(crate) message: Option<String>,
    pub(crate) status: Option<u16>,
}

impl Failure {
    pub(crate) fn code(&self) -> &str {
        self.code.as_deref().unwrap_or("")
    }

    pub(crate) fn message(&self) -> &str {
        self.message.as_deref().unwrap_or("")
    }
}

/// What a failed call means: the service's failure (to be looked at) or a mliy error.
pub(crate) enum Outcome {
    /// The service answered with an error.
    Service(Failure),
    /// The call did not get an answer.
    Other(Error),
}

/// Sorts an SDK error into an answer from the service, or a transport failure.
pub(crate) fn outcome<E>(op: &'static str, err: SdkError<E, HttpResponse>) -> Outcome
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    match err {
        SdkError::ServiceError(ctx) => {
            let status = ctx.raw().status().as_u16();
            let e = ctx.err();
            Outcome::Service(Failure {
                code: e.code().map(str::to_string),
                message: e.message().map(str::to_string),
                status: Some(status),
            })
        }
        SdkError::TimeoutError(_) => Outcome::Other(Error::Unavailable(format!("{op}: timed out"))),
        SdkError::DispatchFailure(d) => {
            let what = if d.is_timeout() { "timed out" } else { "could not reach the endpoint" };
            Outcome::Other(Error::Unavailable(format!("{op}: {what}")))
        }
        SdkError::ResponseError(_) => Outcome::Other(Error::Unavailable(format!("{op}: unreadable answer"))),
        other => Outcome::Other(Error::Backend { backend: "aws", source: format!("{op}: {other}").into() }),
    }
}

/// The mliy error for a service's failure.
pub(crate) fn classify(op: &'static str, f: &Failure) -> Error {
    let text = format!("{op}: {} {}", f.code(), f.message()).trim_end().to_string();
    if THROTTLING.contains(&f.code()) || f.status == Some(429) {
        Error::Throttled(text)
    } else if f.status.is_some_and(|s| s >= 500) {
        Error::Unavailable(text)
    } else if f.code() == "AlreadyExistsException" {
        Error::AlreadyExists(text)
    } else if f.code() == "IncorrectInstanceState" {
        Error::WrongState(text)
    } else if matches!(f.code(), "ValidationError" | "InvalidParameterValue" | "InvalidParameterCombination")
        || f.code().starts_with("InvalidParameter")
    {
        Error::validation(op, f.code(), f.message())
    } else if matches!(f.code(), "AccessDenied" | "AccessDeniedException" | "UnauthorizedOperation") {
        Error::Forbidden(text)
    } else {
        Error::Backend { backend: "aws", source: text.into() }
    }
}

/// The mliy error for any failed call.
#[cfg(any(feature = "aws", feature = "route53"))]
pub(crate) fn map<E>(op: &'static str, err: SdkError<E, HttpResponse>) -> Error
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    match outcome(op, err) {
        Outcome::Service(f) => classify(op, &f),
        Outcome::Other(e) => e,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn failure(code: &str, status: u16) -> Failure {
        Failure { code: Some(code.into()), message: Some("m".into()), status: Some(status) }
    }

    #[test]
    fn kinds_follow_code_and_status() {
        assert_eq!(classify("X", &failure("ThrottlingException", 400)).kind(), "throttled");
        assert_eq!(classify("X", &failure("RequestLimitExceeded", 503)).kind(), "throttled");
        assert_eq!(classify("X", &failure("Whatever", 429)).kind(), "throttled");
        assert_eq!(classify("X", &failure("InternalFailure", 500)).kind(), "unavailable");
        assert_eq!(classify("X", &failure("ServiceUnavailable", 503)).kind(), "unavailable");
        assert_eq!(classify("X", &failure("AlreadyExistsException", 400)).kind(), "already_exists");
        assert_eq!(classify("X", &failure("IncorrectInstanceState", 400)).kind(), "wrong_state");
        assert_eq!(classify("X", &failure("ValidationError", 400)).kind(), "validation");
        assert_eq!(classify("X", &failure("UnauthorizedOperation", 403)).kind(), "forbidden");
        assert_eq!(classify("X", &failure("InsufficientCapacity", 400)).kind(), "backend");
        assert!(classify("X", &failure("ThrottlingException", 400)).is_retryable());
        assert!(!classify("X", &failure("ValidationError", 400)).is_retryable());
    }
}
