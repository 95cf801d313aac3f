//! The record files `tarn sort` reads: every regular file of a folder whose name does not
//! start with `.` or `_` (those are a job's own working files), in name order.

use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use super::format::RECORD_LEN;
use crate::error::{Result, TarnError};
use crate::job::layout::{io, read_dir};

/// One file of records.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct RecordFile {
    pub path: PathBuf,
    pub records: u64,
}

/// The folder a `tarn sort` path or URL names. Records are read and written with direct,
/// aligned I/O on a local disk or a 3FS mount (a path, `file://` or `3fs://`); an object-store
/// URL is refused in one line rather than taken for a local folder named `s3:`.
pub fn record_folder(url: &str) -> Result<PathBuf> {
    match tarn_fs::Location::parse(url)? {
        tarn_fs::Location::Posix(path) => Ok(path),
        _ => Err(TarnError::Invalid(format!(
            "'{url}': tarn sort reads and writes records on a local disk or a 3FS mount \
             (a path, file:// or 3fs://), not in an object store"
        ))),
    }
}

/// Whether a folder entry is data rather than a working file.
pub fn is_data_name(name: &str) -> bool {
    !(name.starts_with('.') || name.starts_with('_'))
}

/// The record files of `dir`, in name order. A file whose size is not a whole number of
/// records is refused by name.
pub fn record_files(dir: &Path) -> Result<Vec<RecordFile>> {
    if !dir.is_dir() {
        return Err(TarnError::NoFiles(dir.display().to_string()));
    }
    let mut files = Vec::new();
    for entry in read_dir(dir)? {
        let name = entry.file_name().to_string_lossy().into_owned();
        let path = entry.path();
        let meta = entry.metadata().map_err(|e| io("inspect", &path, e))?;
        if !is_data_name(&name) || !meta.is_file() {
            continue;
        }
        if meta.len() % RECORD_LEN as u64 != 0 {
            return Err(TarnError::BadFile {
                path: path.display().to_string(),
                format: "record",
                reason: format!(
                    "its size {} is not a whole number of {RECORD_LEN}-byte records",
                    meta.len()
                ),
            });
        }
        files.push(RecordFile {
            path,
            records: meta.len() / RECORD_LEN as u64,
        });
    }
    Ok(files)
}

/// Whether `dir` holds data files (a sort refuses to mix its output with them).
pub fn has_data(dir: &Path) -> Result<bool> {
    if !dir.exists() {
        return Ok(false);
    }
    Ok(read_dir(dir)?
        .iter()
        .any(|e| is_data_name(&e.file_name().to_string_lossy())))
}

/// A run of whole records inside one file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct Slice {
    /// Index into the file list.
    pub file: usize,
    pub first: u64,
    pub records: u64,
}

/// Cuts `files` into slices of at most `max_records` records, file by file, in order.
pub fn slices(files: &[RecordFile], max_records: u64) -> Vec<Slice> {
    let max_records = max_records.max(1);
    let mut slices = Vec::new();
    for (file, f) in files.iter().enumerate() {
        let mut first = 0;
        while first < f.records {
            let records = max_records.min(f.records - first);
            slices.push(Slice {
                file,
                first,
                records,
            });
            first += records;
        }
    }
    slices
}

/// Fills `buf` from `file`, starting at the start of record `first`.
pub fn read_records(file: &File, path: &Path, first: u64, buf: &mut [u8]) -> Result<()> {
    file.read_exact_at(buf, first * RECORD_LEN as u64)
        .map_err(|e| io("read", path, e))
}

/// Opens a record file for reading.
pub fn open(path: &Path) -> Result<File> {
    File::open(path).map_err(|e| io("open", path, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slices_cover_every_record_once_in_order() {
        let files = vec![
            RecordFile {
                path: "a".into(),
                records: 7,
            },
            RecordFile {
                path: "b".into(),
                records: 0,
            },
            RecordFile {
                path: "c".into(),
                records: 3,
            },
        ];
        let cut = slices(&files, 3);
        let listed: Vec<(usize, u64, u64)> =
            cut.iter().map(|s| (s.file, s.first, s.records)).collect();
        assert_eq!(listed, vec![(0, 0, 3), (0, 3, 3), (0, 6, 1), (2, 0, 3)]);
    }
}
