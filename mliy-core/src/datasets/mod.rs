//! Analytical datasets in S3 and the notebooks that use them (what the OpenAPI EMR service
//! offered): [`list`] groups the data files under a prefix into datasets, page by page, and
//! [`used_by`] reads JupyterHub's notebooks in S3 and finds the code cells that name one.

mod format;
mod lineage;
mod notebook;
mod python;

pub use format::{DataFormat, data_format};
pub use lineage::{NotebookError, NotebookUse, UsedBy, used_by};
pub use notebook::code_cells;

use crate::clock::Timestamp;
use crate::error::Result;
use crate::objects::{ObjectStore, S3Location, for_each_page};
use serde::Serialize;
use std::collections::BTreeMap;

/// A prefix holding data files.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Dataset {
    /// Its location, `s3://bucket/prefix/`.
    pub uri: String,
    /// How many data files it holds.
    pub objects: u64,
    /// Their total size in bytes.
    pub bytes: u64,
    /// When the newest was written.
    pub last_modified: Timestamp,
    /// Data files by format (`parquet`, `csv.gz`, …).
    pub formats: BTreeMap<String, u64>,
}

/// The datasets under `at`: each folder `depth` levels below it (1: its children, so
/// `s3://b/data/sales/` with all its partitions) that holds data files; files directly under
/// `at` make `at` itself one. Files of no data format (`_SUCCESS`, `.s3keep`, `.crc`) are
/// not counted. Reads the listing one page at a time; memory grows with the datasets, not
/// the objects.
///
/// # Errors
/// The store's errors.
pub async fn list(store: &dyn ObjectStore, at: &S3Location, depth: usize) -> Result<Vec<Dataset>> {
    let folder = at.folder();
    let mut found: BTreeMap<String, Dataset> = BTreeMap::new();
    for_each_page(store, &at.at_key(&folder), |page| {
        for object in page {
            let Some(format) = data_format(&object.key) else { continue };
            let rel = &object.key[folder.len()..];
            let parts: Vec<&str> = rel.split('/').collect();
            let prefix = if parts.len() > depth.max(1) {
                format!("{folder}{}/", parts[..depth.max(1)].join("/"))
            } else {
                folder.clone()
            };
            let uri = format!("s3://{}/{prefix}", at.bucket);
            let d = found.entry(prefix).or_insert_with(|| Dataset {
                uri,
                objects: 0,
                bytes: 0,
                last_modified: object.last_modified,
                formats: BTreeMap::new(),
            });
            d.objects += 1;
            d.bytes += object.size;
            d.last_modified = d.last_modified.max(object.last_modified);
            *d.formats.entry(format.to_string()).or_default() += 1;
        }
        Ok(())
    })
    .await?;
    Ok(found.into_values().collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::objects::MemoryObjects;

    #[tokio::test]
    async fn a_bucket_of_100000_objects_is_listed_a_page_at_a_time() {
        let s3 = MemoryObjects::default();
        for i in 0..100_000u64 {
            let (dataset, ext) = if i % 4 == 0 { ("clicks", "json.gz") } else { ("sales", "parquet") };
            s3.put("lake", &format!("raw/{dataset}/day={}/{i:06}.{ext}", i % 30), "12345", Timestamp(i as i64));
        }
        s3.put("lake", "raw/sales/_SUCCESS", "", Timestamp(0));
        let found = list(&s3, &S3Location::parse("prefix", "s3://lake/raw/").unwrap(), 1).await.unwrap();
        let summary: Vec<_> = found.iter().map(|d| (d.uri.as_str(), d.objects, d.bytes, d.last_modified.0)).collect();
        assert_eq!(
            summary,
            [("s3://lake/raw/clicks/", 25_000, 125_000, 99_996), ("s3://lake/raw/sales/", 75_000, 375_000, 99_999)]
        );
        assert_eq!(found[0].formats.get("json.gz"), Some(&25_000));
        let by_day = list(&s3, &S3Location::parse("prefix", "s3://lake/raw/sales").unwrap(), 1).await.unwrap();
        assert_eq!(by_day.len(), 30, "one dataset per partition one level below");
    }
}
