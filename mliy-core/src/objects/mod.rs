//! Object storage (S3) as the library sees it: a listing that pages and a conditional read,
//! behind the [`ObjectStore`] plugin trait. `mliy-plugins` (feature `s3`) implements it over
//! aws-sdk-s3; [`MemoryObjects`] (tests) and [`FolderObjects`] (a local folder, with content
//! hashes for ETags) live here, so catalog sync and dataset scans run the same code on all.

mod folder;
mod location;
mod memory;

pub use folder::FolderObjects;
pub use location::S3Location;
pub use memory::MemoryObjects;

use crate::clock::Timestamp;
use crate::error::Result;
use async_trait::async_trait;

/// The most bytes one read takes (catalog documents and notebooks); a larger object is refused.
pub const MAX_OBJECT_BYTES: usize = 16 * 1024 * 1024;

/// One object of a listing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectInfo {
    /// Its key in the bucket.
    pub key: String,
    /// Its size in bytes.
    pub size: u64,
    /// Its ETag as the store gives it, quotes included: `"<md5>"`, or `"<hash>-N"` for a
    /// multipart upload (not an MD5 of the content). Compare it as a string, never recompute it.
    pub etag: String,
    /// When it was last written.
    pub last_modified: Timestamp,
}

/// One page of a listing; `next` continues it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ObjectPage {
    /// The objects of this page, in key order.
    pub objects: Vec<ObjectInfo>,
    /// The continuation token of the next page, if there is one.
    pub next: Option<String>,
}

/// What a conditional read found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fetched {
    /// The object still has the ETag given (S3's 304): nothing was downloaded.
    NotModified,
    /// The object's content and ETag.
    Body {
        /// Its current ETag.
        etag: String,
        /// Its bytes (at most [`MAX_OBJECT_BYTES`]).
        bytes: Vec<u8>,
    },
}

/// Listing and reading objects (S3's ListObjectsV2 and GetObject).
#[async_trait]
pub trait ObjectStore: std::fmt::Debug + Send + Sync + 'static {
    /// One page of the objects under `at` (keys starting with its prefix), from `continuation`.
    ///
    /// # Errors
    /// [`Error::NotFound`](crate::Error::NotFound) for a missing bucket; the backend's errors.
    async fn list_page(&self, at: &S3Location, continuation: Option<&str>) -> Result<ObjectPage>;

    /// Reads `key` of `bucket` unless its ETag is `if_none_match`.
    ///
    /// # Errors
    /// [`Error::NotFound`](crate::Error::NotFound) for a missing object,
    /// [`Error::Validation`](crate::Error::Validation) for one over [`MAX_OBJECT_BYTES`].
    async fn get(&self, bucket: &str, key: &str, if_none_match: Option<&str>) -> Result<Fetched>;

    /// How `at` is named in reports and records (`s3://bucket/prefix` by default), so that
    /// what came from one source is never taken for another's.
    fn name_of(&self, at: &S3Location) -> String {
        at.to_string()
    }
}

/// Calls `each` with every page under `at`, one page at a time (nothing held beyond a page).
///
/// # Errors
/// The store's, or the first `each` returns.
pub async fn for_each_page(
    store: &dyn ObjectStore,
    at: &S3Location,
    mut each: impl FnMut(Vec<ObjectInfo>) -> Result<()>,
) -> Result<()> {
    let mut token: Option<String> = None;
    loop {
        let page = store.list_page(at, token.as_deref()).await?;
        each(page.objects)?;
        match page.next {
            Some(next) if Some(&next) != token.as_ref() => token = Some(next),
            Some(next) => return Err(crate::Error::Unavailable(format!("the listing repeated its token {next:?}"))),
            None => return Ok(()),
        }
    }
}

/// The error for an object over [`MAX_OBJECT_BYTES`], for every store's reads.
pub fn too_large(bucket: &str, key: &str) -> crate::Error {
    crate::Error::validation("object", format!("s3://{bucket}/{key}"), format!("at most {MAX_OBJECT_BYTES} bytes"))
}

/// A quoted hash of `bytes`, the ETag of the stores here that have none of their own.
pub(crate) fn content_etag(bytes: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    let hash = Sha256::digest(bytes);
    format!("\"{}\"", hash[..16].iter().map(|b| format!("{b:02x}")).collect::<String>())
}
