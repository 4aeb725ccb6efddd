//! [`ObjectStore`] over S3 (feature `s3`): ListObjectsV2 a page at a time and GetObject with
//! `If-None-Match`, path-style addressing whenever an endpoint is given (moto, MinIO, a VPC
//! endpoint by IP or name).
//!
//! ```no_run
//! # async fn demo() -> mliy_core::Result<()> {
//! use mliy_plugins::aws::AwsOptions;
//! use mliy_plugins::s3::S3Objects;
//! // The environment's settings (AWS_REGION, AWS_ENDPOINT_URL, profiles, roles):
//! let s3 = S3Objects::connect(AwsOptions::new()).await?;
//! # Ok(()) }
//! ```

use crate::aws::AwsOptions;
use crate::aws::errors::{Outcome, classify, outcome};
use async_trait::async_trait;
use aws_sdk_s3::Client;
use mliy_core::clock::Timestamp;
use mliy_core::objects::{Fetched, MAX_OBJECT_BYTES, ObjectInfo, ObjectPage, ObjectStore, S3Location};
use mliy_core::{Error, Result};

/// S3 through the AWS SDK.
#[derive(Debug, Clone)]
pub struct S3Objects {
    client: Client,
    page_size: i32,
}

impl S3Objects {
    /// Connects with `options`.
    ///
    /// # Errors
    /// As [`AwsOptions::load`].
    pub async fn connect(options: AwsOptions) -> Result<S3Objects> {
        let sdk = options.load().await?;
        let path_style = sdk.endpoint_url().is_some();
        let config = aws_sdk_s3::config::Builder::from(&sdk).force_path_style(path_style).build();
        Ok(S3Objects { client: Client::from_conf(config), page_size: 1_000 })
    }

    /// Keys per listing page (S3's `MaxKeys`, 1 to 1,000; 1,000 by default).
    pub fn page_size(mut self, keys: u16) -> Self {
        self.page_size = i32::from(keys.clamp(1, 1_000));
        self
    }
}

fn not_found(what: &'static str, name: String) -> Error {
    Error::NotFound { kind: what, name }
}

#[async_trait]
impl ObjectStore for S3Objects {
    async fn list_page(&self, at: &S3Location, continuation: Option<&str>) -> Result<ObjectPage> {
        let answer = self
            .client
            .list_objects_v2()
            .bucket(&at.bucket)
            .prefix(&at.prefix)
            .max_keys(self.page_size)
            .set_continuation_token(continuation.map(str::to_string))
            .send()
            .await
            .map_err(|e| match outcome("ListObjectsV2", e) {
                Outcome::Service(f) if f.code() == "NoSuchBucket" => not_found("bucket", at.bucket.clone()),
                Outcome::Service(f) => classify("ListObjectsV2", &f),
                Outcome::Other(e) => e,
            })?;
        let objects = answer
            .contents()
            .iter()
            .map(|o| ObjectInfo {
                key: o.key().unwrap_or_default().to_string(),
                size: o.size().map_or(0, |s| u64::try_from(s).unwrap_or(0)),
                etag: o.e_tag().unwrap_or_default().to_string(),
                last_modified: Timestamp(o.last_modified().and_then(|t| t.to_millis().ok()).unwrap_or(0)),
            })
            .collect();
        let next = if answer.is_truncated() == Some(true) {
            answer.next_continuation_token().map(str::to_string)
        } else {
            None
        };
        Ok(ObjectPage { objects, next })
    }

    async fn get(&self, bucket: &str, key: &str, if_none_match: Option<&str>) -> Result<Fetched> {
        let uri = || format!("s3://{bucket}/{key}");
        let sent = self
            .client
            .get_object()
            .bucket(bucket)
            .key(key)
            .set_if_none_match(if_none_match.map(str::to_string))
            .send()
            .await;
        let answer = match sent {
            Ok(answer) => answer,
            Err(e) => {
                return match outcome("GetObject", e) {
                    // The SDK makes S3's 304 an error; it is the answer asked for.
                    Outcome::Service(f) if f.status == Some(304) => Ok(Fetched::NotModified),
                    Outcome::Service(f) if f.code() == "NoSuchKey" || f.status == Some(404) => {
                        Err(not_found("object", uri()))
                    }
                    Outcome::Service(f) => Err(classify("GetObject", &f)),
                    Outcome::Other(e) => Err(e),
                };
            }
        };
        let too_large = || mliy_core::objects::too_large(bucket, key);
        if answer.content_length().is_some_and(|n| n > MAX_OBJECT_BYTES as i64) {
            return Err(too_large());
        }
        let etag = answer.e_tag().unwrap_or_default().to_string();
        let mut body = answer.body;
        let mut bytes = Vec::new();
        while let Some(chunk) = body.next().await {
            let chunk = chunk.map_err(|e| Error::Unavailable(format!("GetObject {}: {e}", uri())))?;
            if bytes.len() + chunk.len() > MAX_OBJECT_BYTES {
                return Err(too_large());
            }
            bytes.extend_from_slice(&chunk);
        }
        Ok(Fetched::Body { etag, bytes })
    }
}
