//! Data formats by file name, compression suffixes included.

use std::fmt;

/// A data file's format and compression.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DataFormat {
    /// `parquet`, `csv`, `json`, `orc` or `avro`.
    pub format: &'static str,
    /// `gz`, `bz2`, `snappy`, `zst`, `lz4`, `xz`, `deflate`, or none.
    pub compression: Option<&'static str>,
}

impl fmt::Display for DataFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.compression {
            Some(c) => write!(f, "{}.{c}", self.format),
            None => f.write_str(self.format),
        }
    }
}

fn format_of(ext: &str) -> Option<&'static str> {
    Some(match ext {
        "parquet" | "pq" => "parquet",
        "csv" => "csv",
        "json" | "jsonl" | "ndjson" => "json",
        "orc" => "orc",
        "avro" => "avro",
        _ => return None,
    })
}

fn compression_of(ext: &str) -> Option<&'static str> {
    Some(match ext {
        "gz" | "gzip" => "gz",
        "bz2" => "bz2",
        "snappy" => "snappy",
        "zst" | "zstd" => "zst",
        "lz4" => "lz4",
        "xz" => "xz",
        "deflate" => "deflate",
        _ => return None,
    })
}

/// The data format of the file at `key`: `x.csv.gz` is CSV compressed with gzip, Spark's
/// `part-0.snappy.parquet` Parquet with Snappy; `None` for anything else.
pub fn data_format(key: &str) -> Option<DataFormat> {
    let name = key.rsplit('/').next()?.to_ascii_lowercase();
    if name.starts_with('.') || name.starts_with('_') {
        return None;
    }
    let mut exts = name.rsplit('.');
    let last = exts.next()?;
    let before = exts.next()?;
    if let Some(compression) = compression_of(last) {
        return format_of(before).map(|format| DataFormat { format, compression: Some(compression) });
    }
    let format = format_of(last)?;
    Some(DataFormat { format, compression: compression_of(before) })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_are_read_with_their_compression() {
        let f = |k: &str| data_format(k).map(|d| d.to_string());
        assert_eq!(f("a/x.csv").as_deref(), Some("csv"));
        assert_eq!(f("a/x.CSV.GZ").as_deref(), Some("csv.gz"));
        assert_eq!(f("a/part-0000.snappy.parquet").as_deref(), Some("parquet.snappy"));
        assert_eq!(f("a/x.json.zst").as_deref(), Some("json.zst"));
        assert_eq!(f("a/x.avro").as_deref(), Some("avro"));
        assert_eq!(f("a/x.orc").as_deref(), Some("orc"));
        for none in ["a/_SUCCESS", "a/.s3keep", "a/x.txt", "a/x.gz", "a/parquet", "a/_metadata.parquet"] {
            assert_eq!(f(none), None, "{none}");
        }
    }
}
