//! An in-memory [`ObjectStore`] for tests and examples, counting its reads.

use super::{Fetched, MAX_OBJECT_BYTES, ObjectInfo, ObjectPage, ObjectStore, S3Location, too_large};
use crate::clock::Timestamp;
use crate::error::{Error, Result};
use async_trait::async_trait;
use std::collections::BTreeMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

type Objects = BTreeMap<(String, String), (Vec<u8>, ObjectInfo)>;

/// Buckets in memory; listings page by `page_size` keys, as S3's `MaxKeys` does.
#[derive(Debug)]
pub struct MemoryObjects {
    objects: Mutex<Objects>,
    page_size: usize,
    downloads: AtomicUsize,
}

impl Default for MemoryObjects {
    fn default() -> Self {
        Self::with_page_size(1_000)
    }
}

impl MemoryObjects {
    /// An empty store listing `page_size` keys a page (at least 1).
    pub fn with_page_size(page_size: usize) -> Self {
        MemoryObjects { objects: Mutex::default(), page_size: page_size.max(1), downloads: AtomicUsize::new(0) }
    }

    /// Writes `bytes` at `key`; its ETag is a quoted content hash.
    pub fn put(&self, bucket: &str, key: &str, bytes: impl Into<Vec<u8>>, at: Timestamp) {
        let bytes = bytes.into();
        let etag = super::content_etag(&bytes);
        self.put_with_etag(bucket, key, bytes, &etag, at);
    }

    /// Writes `bytes` at `key` with the ETag given (a multipart upload's `"…-N"`, say).
    pub fn put_with_etag(&self, bucket: &str, key: &str, bytes: Vec<u8>, etag: &str, at: Timestamp) {
        let info = ObjectInfo { key: key.into(), size: bytes.len() as u64, etag: etag.into(), last_modified: at };
        self.lock().insert((bucket.into(), key.into()), (bytes, info));
    }

    /// Removes `key`.
    pub fn delete(&self, bucket: &str, key: &str) {
        self.lock().remove(&(bucket.to_string(), key.to_string()));
    }

    /// How many reads returned a body.
    pub fn downloads(&self) -> usize {
        self.downloads.load(Ordering::Relaxed)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Objects> {
        self.objects.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

#[async_trait]
impl ObjectStore for MemoryObjects {
    async fn list_page(&self, at: &S3Location, continuation: Option<&str>) -> Result<ObjectPage> {
        let objects = self.lock();
        let from = (at.bucket.clone(), continuation.unwrap_or(&at.prefix).to_string());
        let mut page: Vec<ObjectInfo> = objects
            .range(from..)
            .skip_while(|((_, k), _)| continuation == Some(k.as_str()))
            .take_while(|((b, k), _)| *b == at.bucket && k.starts_with(&at.prefix))
            .take(self.page_size + 1)
            .map(|(_, (_, info))| info.clone())
            .collect();
        let next = (page.len() > self.page_size).then(|| {
            page.truncate(self.page_size);
            page.last().map(|o| o.key.clone()).unwrap_or_default()
        });
        Ok(ObjectPage { objects: page, next })
    }

    async fn get(&self, bucket: &str, key: &str, if_none_match: Option<&str>) -> Result<Fetched> {
        let objects = self.lock();
        let (bytes, info) = objects
            .get(&(bucket.to_string(), key.to_string()))
            .ok_or_else(|| Error::NotFound { kind: "object", name: format!("s3://{bucket}/{key}") })?;
        if if_none_match == Some(info.etag.as_str()) {
            return Ok(Fetched::NotModified);
        }
        if bytes.len() > MAX_OBJECT_BYTES {
            return Err(too_large(bucket, key));
        }
        self.downloads.fetch_add(1, Ordering::Relaxed);
        Ok(Fetched::Body { etag: info.etag.clone(), bytes: bytes.clone() })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::objects::for_each_page;

    #[tokio::test]
    async fn passes_the_suite() {
        let store = MemoryObjects::with_page_size(2);
        for (k, v) in crate::testkit::objects::SEED {
            store.put("suite-bucket", k, v.as_bytes(), Timestamp(0));
        }
        crate::testkit::objects::run_all(&store, "suite-bucket").await;
    }

    #[tokio::test]
    async fn listings_page_and_reads_are_conditional() {
        let store = MemoryObjects::with_page_size(2);
        for k in ["a/1", "a/2", "a/3", "ab/4", "b/5"] {
            store.put("bkt", k, k.as_bytes(), Timestamp(0));
        }
        let at = S3Location::parse("at", "s3://bkt/a/").unwrap();
        let mut pages = Vec::new();
        for_each_page(&store, &at, |p| {
            pages.push(p.into_iter().map(|o| o.key).collect::<Vec<_>>());
            Ok(())
        })
        .await
        .unwrap();
        assert_eq!(pages, vec![vec!["a/1", "a/2"], vec!["a/3"]]);
        let Fetched::Body { etag, .. } = store.get("bkt", "a/1", None).await.unwrap() else { panic!() };
        assert_eq!(store.get("bkt", "a/1", Some(&etag)).await.unwrap(), Fetched::NotModified);
        assert_eq!(store.downloads(), 1);
        assert_eq!(store.get("bkt", "zz", None).await.unwrap_err().kind(), "not_found");
    }
}
