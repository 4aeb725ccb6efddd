//! S3, for catalog sync, datasets and notebook lineage.

use crate::config::{CloudConfig, DeploymentConfig};
use mliy_core::error::Result;
use mliy_core::objects::{ObjectStore, S3Location};
use std::sync::Arc;

/// S3 with `cloud.aws`'s connection settings when `config` names AWS, else the
/// environment's (`AWS_REGION`, `AWS_ENDPOINT_URL`, profiles, instance roles).
///
/// # Errors
/// [`super::missing_feature`] without the `s3` feature; the SDK's configuration errors.
pub async fn objects(config: Option<&DeploymentConfig>) -> Result<Arc<dyn ObjectStore>> {
    #[cfg(feature = "s3")]
    {
        let options = match config.map(|c| &c.cloud) {
            Some(CloudConfig::Aws(aws)) => super::cloud::aws_options(aws),
            _ => crate::plugins::aws::AwsOptions::new(),
        };
        Ok(Arc::new(crate::plugins::s3::S3Objects::connect(options).await?))
    }
    #[cfg(not(feature = "s3"))]
    {
        let _ = config.map(|c| matches!(c.cloud, CloudConfig::Aws(_)));
        Err(super::missing_feature("s3", "s3"))
    }
}

/// The config's `s3` section, parsed: dataset prefixes and the notebooks' location.
///
/// # Errors
/// [`mliy_core::Error::Validation`] for a location that is not `s3://bucket/prefix`.
pub fn locations(config: &DeploymentConfig) -> Result<(Vec<S3Location>, Option<S3Location>)> {
    let Some(s3) = &config.s3 else { return Ok((Vec::new(), None)) };
    let prefixes = s3
        .datasets
        .iter()
        .enumerate()
        .map(|(i, p)| S3Location::parse(&format!("s3.datasets[{i}]"), p))
        .collect::<Result<Vec<_>>>()?;
    let notebooks = s3.notebooks.as_deref().map(|n| S3Location::parse("s3.notebooks", n)).transpose()?;
    Ok((prefixes, notebooks))
}
