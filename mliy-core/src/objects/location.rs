//! `s3://bucket/prefix` locations, parsed once and compared by path segment.

use crate::error::{Error, Result};
use std::fmt;

/// A bucket and a key prefix (`s3://bucket/prefix`); the prefix has no leading `/`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct S3Location {
    /// The bucket.
    pub bucket: String,
    /// The key prefix, possibly empty.
    pub prefix: String,
}

/// The schemes that name S3 (Hadoop's `s3a` and `s3n` too).
const SCHEMES: [&str; 3] = ["s3://", "s3a://", "s3n://"];

impl S3Location {
    /// Parses `s3://bucket[/prefix]`; `field` names the input in errors.
    ///
    /// # Errors
    /// [`Error::Validation`] for another scheme or a bucket name S3 would not take.
    pub fn parse(field: &str, uri: &str) -> Result<Self> {
        let rest = uri
            .strip_prefix("s3://")
            .ok_or_else(|| Error::validation(field, uri, "an S3 location, s3://bucket/prefix"))?;
        Self::from_parts(field, uri, rest)
    }

    /// Parses `s3://`, `s3a://` or `s3n://` URIs, as code refers to data; `None` otherwise.
    pub fn parse_any_scheme(uri: &str) -> Option<Self> {
        let rest = SCHEMES.iter().find_map(|s| uri.strip_prefix(s))?;
        Self::from_parts("uri", uri, rest).ok()
    }

    /// `bucket/prefix` without a scheme, when the bucket is a valid name.
    pub fn parse_bare(path: &str) -> Option<Self> {
        Self::from_parts("path", path, path).ok()
    }

    fn from_parts(field: &str, uri: &str, rest: &str) -> Result<Self> {
        let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        check_bucket(bucket).map_err(|rule| Error::validation(field, uri, rule))?;
        Ok(S3Location { bucket: bucket.to_string(), prefix: prefix.to_string() })
    }

    /// The prefix's path segments (empty ones dropped).
    pub fn segments(&self) -> impl Iterator<Item = &str> {
        self.prefix.split('/').filter(|s| !s.is_empty())
    }

    /// Whether `other` lies at or below this location, whole segment by whole segment:
    /// `s3://b/sales` covers `s3://b/sales/2024/x.parquet`, not `s3://b/sales_archive/`.
    pub fn covers(&self, other: &S3Location) -> bool {
        if self.bucket != other.bucket {
            return false;
        }
        let mut theirs = other.segments();
        self.segments().all(|mine| theirs.next() == Some(mine))
    }

    /// The prefix as a folder: empty, or ending in `/`.
    pub fn folder(&self) -> String {
        let p = self.prefix.trim_end_matches('/');
        if p.is_empty() { String::new() } else { format!("{p}/") }
    }

    /// The location of `key` in this bucket.
    pub fn at_key(&self, key: &str) -> S3Location {
        S3Location { bucket: self.bucket.clone(), prefix: key.to_string() }
    }
}

impl fmt::Display for S3Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "s3://{}/{}", self.bucket, self.prefix)
    }
}

/// S3's bucket naming rules (3–63 of lowercase letters, digits, `.` and `-`, starting and
/// ending with a letter or digit); `Err` holds the rule broken.
fn check_bucket(bucket: &str) -> std::result::Result<(), &'static str> {
    let ok_char = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '.' || c == '-';
    let ends = |c: Option<char>| c.is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit());
    if !(3..=63).contains(&bucket.len()) {
        return Err("a bucket name of 3 to 63 characters");
    }
    if !bucket.chars().all(ok_char) || !ends(bucket.chars().next()) || !ends(bucket.chars().last()) {
        return Err(
            "a bucket name of lowercase letters, digits, '.' and '-', starting and ending with a letter or digit",
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locations_parse_and_match_whole_segments() {
        let sales = S3Location::parse("prefix", "s3://data-lake/sales").unwrap();
        assert_eq!((sales.bucket.as_str(), sales.prefix.as_str()), ("data-lake", "sales"));
        let file = S3Location::parse_any_scheme("s3a://data-lake/sales/2024/x.parquet").unwrap();
        assert!(sales.covers(&file));
        assert!(!sales.covers(&S3Location::parse_any_scheme("s3://data-lake/sales_archive/x").unwrap()));
        assert!(!sales.covers(&S3Location::parse_any_scheme("s3://other-lake/sales/x").unwrap()));
        assert!(S3Location::parse("prefix", "s3://data-lake/").unwrap().covers(&file));
        assert_eq!(sales.folder(), "sales/");
        let err = S3Location::parse("datasets.prefix", "https://x/y").unwrap_err().to_string();
        assert!(err.contains("datasets.prefix") && err.contains("s3://bucket/prefix"), "{err}");
        let err = S3Location::parse("prefix", "s3://Bad_Bucket/x").unwrap_err().to_string();
        assert!(err.contains("lowercase"), "{err}");
        assert_eq!(S3Location::parse_bare("data-lake/sales/2024").unwrap().bucket, "data-lake");
        assert!(S3Location::parse_any_scheme("hdfs://x/y").is_none());
    }
}
