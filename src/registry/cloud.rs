//! The cloud a config names, and the AWS connection options Route53 shares.

use crate::config::{CloudConfig, DeploymentConfig};
use mliy_core::clock::Clock;
use mliy_core::cloud::Cloud;
use mliy_core::error::Result;
use mliy_core::sim::{SimCloud, SimConfig};
use std::sync::Arc;

/// The cloud, and the simulated cloud itself when it is one.
///
/// # Errors
/// [`missing_feature`] for `aws` without the feature; the SDK's configuration errors.
pub async fn cloud(
    config: &DeploymentConfig,
    clock: Arc<dyn Clock>,
) -> Result<(Arc<dyn Cloud>, Option<Arc<SimCloud>>)> {
    match &config.cloud {
        CloudConfig::Sim => {
            let sim = config.sim.clone().unwrap_or_default();
            let sim_config = SimConfig { fail_step_rate: sim.failing_steps, ..SimConfig::faulty(sim.seed, sim.faults) };
            let sim = Arc::new(SimCloud::new(clock, sim_config));
            Ok((sim.clone(), Some(sim)))
        }
        #[cfg(feature = "aws")]
        CloudConfig::Aws(aws) => {
            let cloud = crate::plugins::aws::AwsCloud::connect(aws_options(aws)).await?;
            Ok((Arc::new(cloud), None))
        }
        #[cfg(not(feature = "aws"))]
        CloudConfig::Aws(_) => Err(super::missing_feature("cloud.aws", "aws")),
    }
}

#[cfg(any(feature = "aws", feature = "route53", feature = "s3"))]
pub(super) fn aws_options(aws: &crate::config::AwsSection) -> crate::plugins::aws::AwsOptions {
    let mut options = crate::plugins::aws::AwsOptions::new();
    if let Some(profile) = &aws.profile {
        options = options.profile(profile);
    }
    if let Some(region) = &aws.region {
        options = options.region(region);
    }
    if let Some(url) = &aws.endpoint_url {
        options = options.endpoint_url(url);
    }
    options
}
