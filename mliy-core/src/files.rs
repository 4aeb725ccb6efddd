//! Reading files with a size bound, so a huge or endless file (a FIFO, `/dev/zero`) is
//! refused instead of filling memory.

use crate::error::{Error, Result};
use std::io::Read;
use std::path::Path;

/// The largest catalog, template or script file read (CloudFormation takes templates up to
/// 1 MB; a catalog of thousands of configs stays far below).
pub const MAX_FILE_BYTES: usize = 8 * 1024 * 1024;

/// Reads `path` as UTF-8 text of at most `limit` bytes.
///
/// # Errors
/// [`Error::Io`] when it cannot be read (or is not UTF-8), [`Error::Validation`] when it is
/// longer than `limit`.
pub fn read_bounded(path: &Path, limit: usize) -> Result<String> {
    let io = |source| Error::Io { path: path.to_path_buf(), source };
    let file = std::fs::File::open(path).map_err(io)?;
    let mut bytes = Vec::new();
    file.take(limit as u64 + 1).read_to_end(&mut bytes).map_err(io)?;
    if bytes.len() > limit {
        return Err(Error::validation(
            "file",
            path.display().to_string(),
            format!("longer than the {limit} bytes accepted"),
        ));
    }
    String::from_utf8(bytes).map_err(|e| io(std::io::Error::new(std::io::ErrorKind::InvalidData, e)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_files_are_refused_short_ones_read() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        std::fs::write(&path, "abcd").unwrap();
        assert_eq!(read_bounded(&path, 4).unwrap(), "abcd");
        assert_eq!(read_bounded(&path, 3).unwrap_err().kind(), "validation");
        assert_eq!(read_bounded(Path::new("/dev/zero"), 1024).unwrap_err().kind(), "validation");
    }
}
