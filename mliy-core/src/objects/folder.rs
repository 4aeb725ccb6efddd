//! A local folder as an [`ObjectStore`]: keys are paths relative to it (with `/`), ETags
//! hashes of the content, so a folder syncs by the same rules as a bucket.

use super::{
    Fetched, MAX_OBJECT_BYTES, ObjectInfo, ObjectPage, ObjectStore, S3Location, content_etag as etag_of, too_large,
};
use crate::clock::Timestamp;
use crate::error::{Error, Result};
use async_trait::async_trait;
use std::path::{Path, PathBuf};

/// The most files a folder listing takes.
const MAX_FILES: usize = 100_000;

/// A folder read as one bucket; symbolic links are not followed.
#[derive(Debug, Clone)]
pub struct FolderObjects {
    root: PathBuf,
}

impl FolderObjects {
    /// The folder at `root` (made absolute when it exists, so that one folder has one name).
    pub fn new(root: impl Into<PathBuf>) -> Self {
        let root = root.into();
        FolderObjects { root: std::fs::canonicalize(&root).unwrap_or(root) }
    }

    /// The location to list: the whole folder.
    pub fn location(&self) -> S3Location {
        S3Location { bucket: "local-folder".into(), prefix: String::new() }
    }

    fn io(path: &Path) -> impl FnOnce(std::io::Error) -> Error + '_ {
        move |source| Error::Io { path: path.to_path_buf(), source }
    }

    fn walk(&self, dir: &Path, out: &mut Vec<ObjectInfo>) -> Result<()> {
        let mut entries: Vec<_> =
            std::fs::read_dir(dir).map_err(Self::io(dir))?.collect::<std::io::Result<_>>().map_err(Self::io(dir))?;
        entries.sort_by_key(std::fs::DirEntry::file_name);
        for entry in entries {
            let path = entry.path();
            let meta = std::fs::symlink_metadata(&path).map_err(Self::io(&path))?;
            if meta.is_dir() {
                self.walk(&path, out)?;
            } else if meta.is_file() {
                if out.len() == MAX_FILES {
                    let root = self.root.display().to_string();
                    return Err(Error::validation("folder", root, format!("at most {MAX_FILES} files")));
                }
                out.push(self.info(&path, &meta)?);
            }
        }
        Ok(())
    }

    fn info(&self, path: &Path, meta: &std::fs::Metadata) -> Result<ObjectInfo> {
        let key = key_of(&self.root, path)?;
        let modified = meta.modified().ok().and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok());
        let last_modified = Timestamp(modified.map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX)));
        let etag = if meta.len() as usize > MAX_OBJECT_BYTES {
            format!("\"size-{}-{}\"", meta.len(), last_modified.0)
        } else {
            etag_of(&std::fs::read(path).map_err(Self::io(path))?)
        };
        Ok(ObjectInfo { key, size: meta.len(), etag, last_modified })
    }
}

fn key_of(root: &Path, path: &Path) -> Result<String> {
    let rel = path
        .strip_prefix(root)
        .map_err(|_| Error::validation("file", path.display().to_string(), "inside the folder"))?;
    let parts: Option<Vec<&str>> = rel.components().map(|c| c.as_os_str().to_str()).collect();
    parts.map(|p| p.join("/")).ok_or_else(|| Error::validation("file", path.display().to_string(), "a UTF-8 name"))
}

#[async_trait]
impl ObjectStore for FolderObjects {
    async fn list_page(&self, at: &S3Location, _continuation: Option<&str>) -> Result<ObjectPage> {
        let mut objects = Vec::new();
        self.walk(&self.root, &mut objects)?;
        objects.retain(|o| o.key.starts_with(&at.prefix));
        objects.sort_by(|a, b| a.key.cmp(&b.key));
        Ok(ObjectPage { objects, next: None })
    }

    async fn get(&self, bucket: &str, key: &str, if_none_match: Option<&str>) -> Result<Fetched> {
        if key.split('/').any(|s| s.is_empty() || s == "." || s == "..") {
            return Err(Error::validation("key", key, "a relative path without '.', '..' or empty segments"));
        }
        let path = self.root.join(key);
        let meta = std::fs::symlink_metadata(&path).map_err(|_| Error::NotFound { kind: "file", name: key.into() })?;
        if !meta.is_file() {
            return Err(Error::NotFound { kind: "file", name: key.into() });
        }
        if meta.len() as usize > MAX_OBJECT_BYTES {
            return Err(too_large(bucket, key));
        }
        let bytes = std::fs::read(&path).map_err(Self::io(&path))?;
        let etag = etag_of(&bytes);
        if if_none_match == Some(etag.as_str()) {
            return Ok(Fetched::NotModified);
        }
        Ok(Fetched::Body { etag, bytes })
    }

    fn name_of(&self, at: &S3Location) -> String {
        format!("folder {}", self.root.join(&at.prefix).display())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn passes_the_suite() {
        let dir = tempfile::tempdir().unwrap();
        for (k, v) in crate::testkit::objects::SEED {
            let path = dir.path().join(k);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, v).unwrap();
        }
        crate::testkit::objects::run_all(&FolderObjects::new(dir.path()), "local-folder").await;
    }

    #[tokio::test]
    async fn a_folder_lists_recursively_with_content_etags() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("ec2/a")).unwrap();
        std::fs::write(dir.path().join("ec2/a/t.json"), "{}").unwrap();
        std::fs::write(dir.path().join("top.sh"), "echo").unwrap();
        let folder = FolderObjects::new(dir.path());
        let page = folder.list_page(&folder.location(), None).await.unwrap();
        let keys: Vec<_> = page.objects.iter().map(|o| o.key.as_str()).collect();
        assert_eq!(keys, ["ec2/a/t.json", "top.sh"]);
        let etag = &page.objects[0].etag;
        assert_eq!(folder.get("x", "ec2/a/t.json", Some(etag)).await.unwrap(), Fetched::NotModified);
        assert_eq!(folder.get("x", "../etc/passwd", None).await.unwrap_err().kind(), "validation");
    }
}
