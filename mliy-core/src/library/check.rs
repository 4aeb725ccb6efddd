//! What a library document is, the check each kind gets, and which ones are in use.

use super::LibraryEntry;
use crate::error::{Error, Result};
use crate::model::Catalog;
use crate::template::Template;
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;
use std::path::{Component, Path};

/// The kinds of document a library holds, by file extension.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DocumentKind {
    /// A CloudFormation template: `.json`, `.yaml`, `.yml`, `.template`.
    Template,
    /// A user-data script: `.sh`.
    Script,
}

impl DocumentKind {
    /// The kind of the file at `key`, or `None` for a file the library does not take.
    pub fn of(key: &str) -> Option<Self> {
        let name = key.rsplit('/').next().unwrap_or(key);
        let ext = name.rsplit_once('.').map(|(_, e)| e.to_ascii_lowercase())?;
        match ext.as_str() {
            "json" | "yaml" | "yml" | "template" => Some(DocumentKind::Template),
            "sh" => Some(DocumentKind::Script),
            _ => None,
        }
    }
}

/// Whether `key` is a plain relative path: no empty segment, none starting with `.` (so no
/// `..`, and nothing that could be the index or a file being written), no backslash, no
/// leading `/` (an S3 key may hold any of them; none may leave the library's folder).
pub(crate) fn safe_path(key: &str) -> bool {
    !key.contains('\\') && !key.contains('\0') && key.split('/').all(|s| !s.is_empty() && !s.starts_with('.'))
}

/// Checks the document at `key` and describes it: a template parses and declares Parameters
/// and Resources; a script is UTF-8 and its `{{{TOKENS}}}` are listed.
///
/// # Errors
/// [`Error::Parse`] or [`Error::Validation`] naming the document and what is wrong.
pub fn checked(key: &str, bytes: &[u8], etag: &str, source: &str) -> Result<LibraryEntry> {
    let kind = DocumentKind::of(key)
        .ok_or_else(|| Error::validation("document", key, "a .json, .yaml, .yml, .template or .sh file"))?;
    let text =
        std::str::from_utf8(bytes).map_err(|e| Error::parse(format!("document {key}"), format!("not UTF-8: {e}")))?;
    let mut entry = LibraryEntry {
        key: key.to_string(),
        kind,
        etag: etag.to_string(),
        source: source.to_string(),
        size: bytes.len() as u64,
        parameters: Vec::new(),
        resources: 0,
        tokens: Vec::new(),
    };
    match kind {
        DocumentKind::Template => {
            let template = Template::parse(key, text)?;
            if template.parameters.is_empty() {
                return Err(Error::validation(
                    format!("template {key}"),
                    "Parameters",
                    "a template declares its Parameters",
                ));
            }
            entry.parameters = template.parameters.iter().map(|p| p.name.clone()).collect();
            entry.resources = template.resources.len();
        }
        DocumentKind::Script => {
            let rendered = crate::userdata::render(text, &[])?;
            entry.tokens = rendered.unknown_tokens;
        }
    }
    Ok(entry)
}

/// The library paths that the software configs named in `live` use, when their template or
/// user data is a file under `library_dir` (relative to the catalog, `library` by default).
pub fn in_use<'a>(catalog: &Catalog, live: impl IntoIterator<Item = &'a str>, library_dir: &Path) -> BTreeSet<String> {
    let live: BTreeSet<&str> = live.into_iter().collect();
    let mut used = BTreeSet::new();
    for sc in catalog.software_configs.iter().filter(|sc| live.contains(sc.name.as_str())) {
        for source in [&sc.template, &sc.user_data].into_iter().flatten() {
            let Some(path) = &source.path else { continue };
            let normal: std::path::PathBuf = path.components().filter(|c| *c != Component::CurDir).collect();
            if let Ok(rel) = normal.strip_prefix(library_dir) {
                let parts: Vec<_> = rel.components().filter_map(|c| c.as_os_str().to_str()).collect();
                used.insert(parts.join("/"));
            }
        }
    }
    used
}
