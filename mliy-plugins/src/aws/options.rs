//! Where and how to reach AWS: region, endpoint, credentials, timeouts and the retry policy.
//! Shared by [`AwsCloud`](super::AwsCloud) and the Route53 DNS plugin.

use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_credential_types::Credentials;
use aws_credential_types::provider::SharedCredentialsProvider;
use mliy_core::secret::Secret;
use mliy_core::{Error, Result};
use std::fmt;
use std::time::Duration;

/// Connection options, with defaults suited to a portal: adaptive retries (5 attempts),
/// 3 s to connect, 20 s per attempt, 60 s per operation.
///
/// The SDK is the only owner of retries: throttling, 5xx answers and timeouts are retried
/// here, with back-off, and only an error that is left after the last attempt reaches mliy
/// (as a retryable [`Error::Throttled`] or [`Error::Unavailable`]). In adaptive mode the
/// client also slows its own sending rate after throttling answers, for a while.
#[derive(Clone)]
pub struct AwsOptions {
    sdk_config: Option<SdkConfig>,
    profile: Option<String>,
    region: Option<String>,
    endpoint_url: Option<String>,
    credentials: Option<(String, Secret)>,
    connect_timeout: Duration,
    attempt_timeout: Duration,
    operation_timeout: Duration,
    max_attempts: u32,
    initial_backoff: Duration,
}

impl Default for AwsOptions {
    fn default() -> Self {
        AwsOptions {
            sdk_config: None,
            profile: None,
            region: None,
            endpoint_url: None,
            credentials: None,
            connect_timeout: Duration::from_secs(3),
            attempt_timeout: Duration::from_secs(20),
            operation_timeout: Duration::from_secs(60),
            max_attempts: 5,
            initial_backoff: Duration::from_secs(1),
        }
    }
}

impl fmt::Debug for AwsOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AwsOptions")
            .field("sdk_config", &self.sdk_config.is_some())
            .field("profile", &self.profile)
            .field("region", &self.region)
            .field("endpoint_url", &self.endpoint_url)
            .field("access_key_id", &self.credentials.as_ref().map(|(id, _)| id))
            .field("connect_timeout", &self.connect_timeout)
            .field("attempt_timeout", &self.attempt_timeout)
            .field("operation_timeout", &self.operation_timeout)
            .field("max_attempts", &self.max_attempts)
            .finish_non_exhaustive()
    }
}

impl AwsOptions {
    /// Options read from the environment when connecting (the SDK's default chain:
    /// `AWS_REGION`, `AWS_ENDPOINT_URL`, profiles, instance roles, …).
    pub fn new() -> Self {
        Self::default()
    }

    /// Uses an `SdkConfig` the application already loaded (region, credentials, endpoint).
    pub fn sdk_config(mut self, config: SdkConfig) -> Self {
        self.sdk_config = Some(config);
        self
    }

    /// Reads credentials and settings from this profile of the shared AWS config files
    /// (`~/.aws/config`, `~/.aws/credentials`) instead of the default one.
    pub fn profile(mut self, name: impl Into<String>) -> Self {
        self.profile = Some(name.into());
        self
    }

    /// The region, e.g. `us-east-1`.
    pub fn region(mut self, region: impl Into<String>) -> Self {
        self.region = Some(region.into());
        self
    }

    /// Another endpoint for every service: an emulator such as moto, or a VPC endpoint.
    pub fn endpoint_url(mut self, url: impl Into<String>) -> Self {
        self.endpoint_url = Some(url.into());
        self
    }

    /// Static credentials instead of the default chain.
    pub fn credentials(mut self, access_key_id: impl Into<String>, secret_access_key: Secret) -> Self {
        self.credentials = Some((access_key_id.into(), secret_access_key));
        self
    }

    /// Time allowed to open a connection.
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// Time allowed for one attempt of a call.
    pub fn attempt_timeout(mut self, timeout: Duration) -> Self {
        self.attempt_timeout = timeout;
        self
    }

    /// Time allowed for a whole call, retries included.
    pub fn operation_timeout(mut self, timeout: Duration) -> Self {
        self.operation_timeout = timeout;
        self
    }

    /// Attempts per call (1 turns retries off) and the first back-off.
    pub fn retries(mut self, max_attempts: u32, initial_backoff: Duration) -> Self {
        self.max_attempts = max_attempts.max(1);
        self.initial_backoff = initial_backoff;
        self
    }

    pub(crate) fn retry_config(&self) -> RetryConfig {
        RetryConfig::adaptive().with_max_attempts(self.max_attempts).with_initial_backoff(self.initial_backoff)
    }

    pub(crate) fn timeout_config(&self) -> TimeoutConfig {
        TimeoutConfig::builder()
            .connect_timeout(self.connect_timeout)
            .operation_attempt_timeout(self.attempt_timeout)
            .operation_timeout(self.operation_timeout)
            .build()
    }

    /// Resolves the SDK configuration: the one given, or the environment's, with this
    /// builder's region, endpoint and credentials on top.
    ///
    /// # Errors
    /// [`Error::Validation`] when no region is configured anywhere.
    pub async fn load(&self) -> Result<SdkConfig> {
        let base = match &self.sdk_config {
            Some(config) => config.clone(),
            None => {
                let mut loader = aws_config::defaults(BehaviorVersion::latest());
                if let Some(profile) = &self.profile {
                    loader = loader.profile_name(profile);
                }
                loader.load().await
            }
        };
        let mut builder = base.into_builder();
        if let Some(region) = &self.region {
            builder.set_region(Some(Region::new(region.clone())));
        }
        if let Some(url) = &self.endpoint_url {
            builder.set_endpoint_url(Some(url.clone()));
        }
        if let Some((id, secret)) = &self.credentials {
            let creds = Credentials::new(id, secret.expose(), None, None, "mliy-static");
            builder.set_credentials_provider(Some(SharedCredentialsProvider::new(creds)));
        }
        builder.set_retry_config(Some(self.retry_config()));
        builder.set_timeout_config(Some(self.timeout_config()));
        let config = builder.build();
        if config.region().is_none() {
            return Err(Error::validation("region", "", "set AWS_REGION, a profile's region or AwsOptions::region"));
        }
        Ok(config)
    }
}
