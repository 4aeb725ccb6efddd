//! Reading the catalog: YAML text through the bounded reader, then the templates and scripts
//! it names, each file read with a size bound.

use crate::error::{Error, Result};
use crate::files::{MAX_FILE_BYTES, read_bounded};
use crate::model::{Catalog, Source};
use std::path::Path;

impl Catalog {
    /// Parses YAML (JSON is YAML too). Sources given by path are not read: see
    /// [`Catalog::from_path`] or [`Catalog::load_sources`].
    ///
    /// # Errors
    /// [`Error::Parse`] with the line, column and field, or a dangling reference.
    pub fn from_yaml_str(text: &str) -> Result<Catalog> {
        if text.len() > MAX_FILE_BYTES {
            return Err(Error::validation(
                "catalog",
                format!("{} bytes", text.len()),
                format!("at most {} bytes", MAX_FILE_BYTES),
            ));
        }
        // The bounded reader first: it refuses alias bombs (by nodes and by bytes), deep
        // nesting and duplicate keys in linear work, before serde reads the text.
        crate::template::parse_yaml(text).map_err(|e| Error::parse("catalog", e))?;
        let catalog: Catalog = serde_norway::from_str(text).map_err(|e| Error::parse("catalog", e.to_string()))?;
        catalog.validate()?;
        Ok(catalog)
    }

    /// Reads a catalog file and every template and script it names (relative to its folder).
    ///
    /// # Errors
    /// [`Error::Io`] for a file that cannot be read, otherwise as [`Catalog::from_yaml_str`].
    pub fn from_path(path: impl AsRef<Path>) -> Result<Catalog> {
        let path = path.as_ref();
        let text = read_bounded(path, MAX_FILE_BYTES)?;
        let mut catalog = Catalog::from_yaml_str(&text).map_err(|e| match e {
            Error::Parse { message, .. } => Error::parse(format!("catalog {}", path.display()), message),
            other => other,
        })?;
        catalog.load_sources(path.parent().unwrap_or(Path::new(".")))?;
        Ok(catalog)
    }

    /// Reads every template and user-data script given by path, relative to `base`.
    ///
    /// # Errors
    /// [`Error::Io`] naming the file that cannot be read.
    pub fn load_sources(&mut self, base: &Path) -> Result<()> {
        for sc in &mut self.software_configs {
            for source in [&mut sc.template, &mut sc.user_data].into_iter().flatten() {
                source.load(base)?;
            }
        }
        Ok(())
    }
}

impl Source {
    fn load(&mut self, base: &Path) -> Result<()> {
        if let (None, Some(path)) = (&self.inline, &self.path) {
            let full = if path.is_absolute() { path.clone() } else { base.join(path) };
            self.loaded = Some(read_bounded(&full, MAX_FILE_BYTES)?);
        }
        Ok(())
    }
}
