//! The catalog's library of templates and user-data scripts, synced from a folder or an S3
//! prefix (what MLiy's `manage.py sync_cf` did, without its broken S3 paths).
//!
//! Documents are kept under their path relative to the source's root, so equal names in
//! different folders do not collide; software configs name them as `library/<path>`. A sync
//! lists the source (paging), reads only what is new or whose ETag changed (a conditional
//! read, so a 304 downloads nothing), checks each document, and reports what went away;
//! with `prune` it removes those, never one a live resource's software config uses.

mod check;
mod folder;

pub use check::{DocumentKind, checked, in_use};
pub use folder::{Library, LibraryEntry};

use crate::error::Result;
use crate::objects::{Fetched, ObjectInfo, ObjectStore, S3Location, for_each_page};
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};

/// How a sync runs.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SyncOptions {
    /// Read and check, but write nothing.
    pub dry_run: bool,
    /// Remove from the library what the source no longer holds (unless in use).
    pub prune: bool,
}

/// What a sync did (or, in a dry run, would do).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct SyncReport {
    /// The source, as its store names it (`s3://…`, or `folder …`).
    pub source: String,
    /// New documents.
    pub added: Vec<LibraryEntry>,
    /// Documents whose content changed.
    pub changed: Vec<LibraryEntry>,
    /// Documents the source holds unchanged (by ETag).
    pub unchanged: Vec<String>,
    /// Documents that failed their check, with why; the library keeps what it had.
    pub rejected: Vec<Rejected>,
    /// Documents the source no longer holds (kept unless pruned).
    pub missing: Vec<String>,
    /// Of those, the ones removed.
    pub removed: Vec<String>,
    /// Of those, the ones kept because a live resource's software config uses them.
    pub kept_in_use: Vec<String>,
    /// How many objects were downloaded.
    pub downloads: usize,
    /// Whether this was a dry run.
    pub dry_run: bool,
}

/// A document that failed its check.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Rejected {
    /// Its path in the library.
    pub key: String,
    /// What is wrong with it.
    pub message: String,
}

/// Syncs the documents under `from` in `source` into `library`; `in_use` holds the library
/// paths a live resource uses (see [`in_use`]).
///
/// # Errors
/// The source's errors (the library is then left as it was, apart from documents already
/// written), and I/O errors writing the library.
pub async fn sync(
    source: &dyn ObjectStore,
    from: &S3Location,
    library: &mut Library,
    in_use: &BTreeSet<String>,
    options: SyncOptions,
) -> Result<SyncReport> {
    let listed = list_documents(source, from).await?;
    let report = SyncReport { source: source.name_of(from), dry_run: options.dry_run, ..SyncReport::default() };
    let mut run = Run { source, from, options, report };
    for (key, object) in &listed {
        run.fetch_one(library, key, object).await?;
    }
    let Run { mut report, .. } = run;
    for key in library.keys_from(&report.source) {
        if listed.contains_key(&key) {
            continue;
        }
        report.missing.push(key.clone());
        if !options.prune {
            continue;
        }
        if in_use.contains(&key) {
            report.kept_in_use.push(key);
        } else {
            if !options.dry_run {
                library.remove(&key)?;
            }
            report.removed.push(key);
        }
    }
    if !options.dry_run {
        library.save()?;
    }
    Ok(report)
}

/// The documents under `from`, by library path; other files are passed over.
async fn list_documents(source: &dyn ObjectStore, from: &S3Location) -> Result<BTreeMap<String, ObjectInfo>> {
    let folder = from.folder();
    let mut listed = BTreeMap::new();
    for_each_page(source, &from.at_key(&folder), |page| {
        for object in page {
            let Some(key) = object.key.strip_prefix(&folder) else { continue };
            if DocumentKind::of(key).is_some() && check::safe_path(key) {
                listed.insert(key.to_string(), object);
            }
        }
        Ok(())
    })
    .await?;
    Ok(listed)
}

/// One sync under way.
struct Run<'a> {
    source: &'a dyn ObjectStore,
    from: &'a S3Location,
    options: SyncOptions,
    report: SyncReport,
}

impl Run<'_> {
    /// Reads one listed document unless its ETag is the one kept, checks it and stores it.
    async fn fetch_one(&mut self, library: &mut Library, key: &str, object: &ObjectInfo) -> Result<()> {
        let kept = library.entry(key).map(|e| e.etag.clone());
        if kept.as_deref() == Some(object.etag.as_str()) {
            self.report.unchanged.push(key.to_string());
            return Ok(());
        }
        let (etag, bytes) = match self.source.get(&self.from.bucket, &object.key, kept.as_deref()).await? {
            Fetched::NotModified => {
                self.report.unchanged.push(key.to_string());
                return Ok(());
            }
            Fetched::Body { etag, bytes } => (etag, bytes),
        };
        self.report.downloads += 1;
        let entry = match checked(key, &bytes, &etag, &self.report.source) {
            Ok(entry) => entry,
            Err(e) => {
                self.report.rejected.push(Rejected { key: key.to_string(), message: e.to_string() });
                return Ok(());
            }
        };
        if !self.options.dry_run {
            library.put(&entry, &bytes)?;
        }
        if kept.is_some() {
            self.report.changed.push(entry)
        } else {
            self.report.added.push(entry)
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests;
