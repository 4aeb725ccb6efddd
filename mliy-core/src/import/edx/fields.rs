//! Reading a document's mappings and scalars with errors that name the field by its path.

use crate::error::{Error, Result};
use crate::template::Node;

/// A mapping whose keys are all known.
pub(super) struct Fields<'a> {
    pub(super) at: String,
    entries: &'a [(String, Node)],
}

fn path(at: &str, key: &str) -> String {
    if at.is_empty() { key.to_string() } else { format!("{at}.{key}") }
}

impl<'a> Fields<'a> {
    /// `node` as a mapping whose keys are among `known`; `null` reads as an empty mapping.
    pub(super) fn of(node: &'a Node, at: &str, known: &[&str]) -> Result<Fields<'a>> {
        let entries = match node {
            Node::Map(entries) => entries.as_slice(),
            Node::Null => &[],
            other => return Err(Error::validation(at, other.kind(), "a mapping")),
        };
        if let Some((key, _)) = entries.iter().find(|(k, _)| !known.contains(&k.as_str())) {
            return Err(Error::validation(
                path(at, key),
                key,
                format!("not a field here (known: {})", known.join(", ")),
            ));
        }
        Ok(Fields { at: at.to_string(), entries })
    }

    /// The entries, in document order.
    pub(super) fn entries(&self) -> &'a [(String, Node)] {
        self.entries
    }

    /// The field's path.
    pub(super) fn path(&self, key: &str) -> String {
        path(&self.at, key)
    }

    /// The value under `key`, unless absent or null.
    pub(super) fn get(&self, key: &str) -> Option<&'a Node> {
        self.entries.iter().find(|(k, _)| k == key).map(|(_, v)| v).filter(|v| !matches!(v, Node::Null))
    }

    /// A scalar, unless absent, null or empty.
    pub(super) fn text(&self, key: &str) -> Result<Option<String>> {
        match self.get(key) {
            None => Ok(None),
            Some(Node::Scalar(s)) if s.is_empty() => Ok(None),
            Some(Node::Scalar(s)) => Ok(Some(s.clone())),
            Some(other) => Err(Error::validation(self.path(key), other.kind(), "a single value")),
        }
    }

    /// A whole number.
    pub(super) fn number(&self, key: &str) -> Result<Option<u32>> {
        match self.text(key)? {
            None => Ok(None),
            Some(s) => s
                .parse::<u32>()
                .map(Some)
                .map_err(|_| Error::validation(self.path(key), s, "a whole number, 0 or more")),
        }
    }

    /// A number with a fraction allowed (a percentage).
    pub(super) fn decimal(&self, key: &str) -> Result<Option<f64>> {
        match self.text(key)? {
            None => Ok(None),
            Some(s) => match s.parse::<f64>() {
                Ok(v) if v.is_finite() => Ok(Some(v)),
                _ => Err(Error::validation(self.path(key), s, "a number")),
            },
        }
    }

    /// YAML's booleans: `true`/`false`, `yes`/`no`, `on`/`off`, any case.
    pub(super) fn boolean(&self, key: &str) -> Result<Option<bool>> {
        match self.text(key)?.map(|s| s.to_ascii_lowercase()) {
            None => Ok(None),
            Some(s) if ["true", "yes", "on"].contains(&s.as_str()) => Ok(Some(true)),
            Some(s) if ["false", "no", "off"].contains(&s.as_str()) => Ok(Some(false)),
            Some(s) => Err(Error::validation(self.path(key), s, "true or false")),
        }
    }

    /// A list of scalars (a single scalar reads as a list of one when `one_ok`).
    pub(super) fn texts(&self, key: &str, one_ok: bool) -> Result<Vec<String>> {
        match self.get(key) {
            None => Ok(Vec::new()),
            Some(Node::Scalar(s)) if one_ok => Ok(vec![s.clone()]),
            Some(Node::Seq(items)) => items
                .iter()
                .enumerate()
                .map(|(n, item)| match item {
                    Node::Scalar(s) => Ok(s.clone()),
                    other => Err(Error::validation(format!("{}[{n}]", self.path(key)), other.kind(), "a single value")),
                })
                .collect(),
            Some(other) => Err(Error::validation(self.path(key), other.kind(), "a list of values")),
        }
    }

    /// A list of mappings (or of anything), each with its path.
    pub(super) fn items(&self, key: &str) -> Result<Vec<(String, &'a Node)>> {
        match self.get(key) {
            None => Ok(Vec::new()),
            Some(Node::Seq(items)) => {
                Ok(items.iter().enumerate().map(|(n, item)| (format!("{}[{n}]", self.path(key)), item)).collect())
            }
            Some(other) => Err(Error::validation(self.path(key), other.kind(), "a list")),
        }
    }
}

/// A scalar as it is written, or an error naming `at`.
pub(super) fn scalar(node: &Node, at: &str) -> Result<String> {
    match node {
        Node::Scalar(s) => Ok(s.clone()),
        other => Err(Error::validation(at, other.kind(), "a single value")),
    }
}
