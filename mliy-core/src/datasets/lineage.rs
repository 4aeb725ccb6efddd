//! Which notebooks use a dataset: JupyterHub's notebooks in S3
//! (`s3://<bucket>/jupyter/<user>/…`), each code cell read for the paths it names.

use super::notebook::code_cells;
use super::python::{Piece, scan};
use crate::error::{Error, Result};
use crate::objects::{Fetched, ObjectStore, S3Location, for_each_page};
use serde::Serialize;
use std::collections::BTreeSet;

/// A code cell that names the dataset.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NotebookUse {
    /// The notebook, `s3://…/x.ipynb`.
    pub notebook: String,
    /// Its owner: the folder after `jupyter/`.
    pub owner: String,
    /// The cell's index among the notebook's cells.
    pub cell: usize,
    /// The path the cell names (`{…}` for a part not followed).
    #[serde(rename = "match")]
    pub matched: String,
}

/// A notebook that could not be read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NotebookError {
    /// The notebook.
    pub notebook: String,
    /// Why.
    pub message: String,
}

/// What [`used_by`] found.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct UsedBy {
    /// Every cell that names the dataset.
    pub notebooks: Vec<NotebookUse>,
    /// Notebooks that could not be read; the scan goes on past them.
    pub errors: Vec<NotebookError>,
}

/// The code cells of the notebooks under `notebooks` that name `dataset` (or a path below it,
/// by whole segments) in an `s3://`, `s3a://` or `s3n://` string, or as `bucket/prefix` in a
/// read call's path; names assigned earlier in the cell are followed. `owner`, when given,
/// keeps only that user's notebooks. `.s3keep` markers and `.ipynb_checkpoints` are passed over.
///
/// # Errors
/// The store's errors listing; a notebook that cannot be read or parsed is an entry in
/// [`UsedBy::errors`].
pub async fn used_by(
    store: &dyn ObjectStore,
    notebooks: &S3Location,
    dataset: &S3Location,
    owner: Option<&str>,
) -> Result<UsedBy> {
    let folder = notebooks.folder();
    let mut keys = Vec::new();
    for_each_page(store, &notebooks.at_key(&folder), |page| {
        keys.extend(page.into_iter().map(|o| o.key).filter(|k| is_notebook(k)));
        Ok(())
    })
    .await?;
    let mut out = UsedBy::default();
    for key in keys {
        let who = owner_of(&folder, &key);
        if owner.is_some_and(|o| o != who) {
            continue;
        }
        let uri = format!("s3://{}/{key}", notebooks.bucket);
        match read(store, &notebooks.bucket, &key).await.and_then(|b| code_cells(&b)) {
            Ok(cells) => {
                out.notebooks.extend(matches(&cells, dataset).into_iter().map(|(cell, matched)| NotebookUse {
                    notebook: uri.clone(),
                    owner: who.to_string(),
                    cell,
                    matched,
                }))
            }
            Err(e) => out.errors.push(NotebookError { notebook: uri, message: e.to_string() }),
        }
    }
    Ok(out)
}

fn is_notebook(key: &str) -> bool {
    key.ends_with(".ipynb") && !key.split('/').any(|s| s == ".ipynb_checkpoints")
}

/// The user folder of a notebook: the segment after `jupyter`, or the first one below `folder`.
fn owner_of<'a>(folder: &str, key: &'a str) -> &'a str {
    let parts: Vec<&str> = key.split('/').collect();
    match parts.iter().position(|s| *s == "jupyter") {
        Some(i) if i + 2 < parts.len() => parts[i + 1],
        _ => key[folder.len()..].split('/').next().filter(|_| key[folder.len()..].contains('/')).unwrap_or(""),
    }
}

async fn read(store: &dyn ObjectStore, bucket: &str, key: &str) -> Result<Vec<u8>> {
    match store.get(bucket, key, None).await? {
        Fetched::Body { bytes, .. } => Ok(bytes),
        Fetched::NotModified => Err(Error::Unavailable(format!("s3://{bucket}/{key} answered 304 to a plain read"))),
    }
}

/// The (cell, path) pairs of `cells` that name `dataset`.
fn matches(cells: &[(usize, String)], dataset: &S3Location) -> BTreeSet<(usize, String)> {
    let mut out = BTreeSet::new();
    for (cell, code) in cells {
        let found = scan(code);
        for pieces in &found.literals {
            if let Some(hit) = names(pieces, dataset, false) {
                out.insert((*cell, hit));
            }
        }
        for pieces in &found.read_paths {
            if let Some(hit) = names(pieces, dataset, true) {
                out.insert((*cell, hit));
            }
        }
    }
    out
}

/// The path `pieces` spell, if it lies in `dataset`: the known text up to the first unknown
/// part, whose last segment counts only when complete; `bare` also takes `bucket/prefix`.
fn names(pieces: &[Piece], dataset: &S3Location, bare: bool) -> Option<String> {
    let shown: String = pieces.iter().map(|p| if let Piece::Text(t) = p { t.as_str() } else { "{…}" }).collect();
    let mut known = String::new();
    for p in pieces {
        let Piece::Text(t) = p else {
            known.truncate(known.rfind('/')? + 1);
            break;
        };
        known.push_str(t);
    }
    let known = known.trim();
    let at = S3Location::parse_any_scheme(known).or_else(|| if bare { S3Location::parse_bare(known) } else { None })?;
    dataset.covers(&at).then_some(shown)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_match_by_whole_segments_through_names() {
        let sales = S3Location::parse("dataset", "s3://lake/sales").unwrap();
        let cell =
            |code: &str| matches(&[(0, code.to_string())], &sales).into_iter().map(|(_, m)| m).collect::<Vec<_>>();
        assert_eq!(cell("df = spark.read.parquet('s3a://lake/sales/2024/')"), ["s3a://lake/sales/2024/"]);
        assert!(cell("df = spark.read.parquet('s3://lake/sales_archive/2024/')").is_empty());
        assert_eq!(cell("b = 'lake'\np = b + '/sales/x.csv'\npd.read_csv(p)"), ["lake/sales/x.csv"]);
        assert!(cell("print('lake/sales/x.csv')").is_empty(), "a bare path counts only in a read call");
        assert_eq!(cell("root = 's3://lake/'\nspark.read.json(f'{root}sales/{day}')"), ["s3://lake/sales/{…}"]);
        assert!(cell("spark.read.json(f's3://lake/sales{suffix}')").is_empty(), "a partial segment is not 'sales'");
        assert!(cell("spark.read.csv(f'/{bucket}/sales/x.csv')").is_empty());
    }

    #[test]
    fn owners_are_the_folder_after_jupyter() {
        assert_eq!(owner_of("jupyter/", "jupyter/alice/work/a.ipynb"), "alice");
        assert_eq!(owner_of("", "jupyter/bob/a.ipynb"), "bob");
        assert_eq!(owner_of("notebooks/", "notebooks/carol/a.ipynb"), "carol");
        assert_eq!(owner_of("notebooks/", "notebooks/a.ipynb"), "");
    }
}
