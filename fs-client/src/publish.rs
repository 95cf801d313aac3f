//! Atomic publish on POSIX paths (local disks and 3FS mounts): a file is written under a hidden
//! temporary name in its final folder, synced, and renamed into place, so the final name holds
//! either nothing or the whole file, even if the writer is killed half way.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use crate::error::{FsError, Result};
use crate::threefs;

/// Bytes per write call on an ordinary disk: large enough that the per-call cost vanishes.
pub const LOCAL_IO_SIZE: usize = 1 << 20;

/// The size of each read or write on `path`: 1 MiB, or a whole number of 3FS chunks on a 3FS
/// mount (chunk sizes are powers of two, so the larger of the two is a multiple of both).
pub fn io_size(path: &Path) -> usize {
    threefs::mount_of(threefs::mounts(), path)
        .map_or(LOCAL_IO_SIZE, |mount| mount.chunk_size().max(LOCAL_IO_SIZE))
}

/// A file being written; it appears under its final name only when [`AtomicFile::commit`] returns.
/// Dropping it uncommitted removes the temporary file. One writer per file, writing in order:
/// what 3FS wants too (it serialises writers of one file).
pub struct AtomicFile {
    final_path: PathBuf,
    temp_path: PathBuf,
    file: Option<BufWriter<File>>,
}

impl AtomicFile {
    /// Starts the file for `path`, creating its folder if needed.
    pub fn create(path: impl AsRef<Path>) -> Result<Self> {
        let final_path = path.as_ref().to_path_buf();
        let parent = final_path
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        std::fs::create_dir_all(parent)
            .map_err(|e| FsError::io("create folder", url(parent), e))?;
        let name = final_path.file_name().ok_or_else(|| {
            FsError::io(
                "create",
                url(&final_path),
                std::io::ErrorKind::InvalidInput.into(),
            )
        })?;
        let temp_path = parent.join(format!(
            ".{}.tarn-tmp-{}",
            name.to_string_lossy(),
            uuid::Uuid::new_v4().simple()
        ));
        let file =
            File::create(&temp_path).map_err(|e| FsError::io("create", url(&temp_path), e))?;
        let capacity = io_size(parent);
        Ok(AtomicFile {
            final_path,
            temp_path,
            file: Some(BufWriter::with_capacity(capacity, file)),
        })
    }

    /// The name the file will have once committed.
    pub fn path(&self) -> &Path {
        &self.final_path
    }

    /// Flushes, syncs the data, renames the file into place and syncs the folder, so that the
    /// new name survives a crash too.
    pub fn commit(mut self) -> Result<()> {
        let writer = self
            .file
            .take()
            .expect("an uncommitted file has its writer");
        let file = writer
            .into_inner()
            .map_err(|e| FsError::io("write", url(&self.final_path), e.into_error()))?;
        file.sync_all()
            .map_err(|e| FsError::io("sync", url(&self.final_path), e))?;
        drop(file);
        std::fs::rename(&self.temp_path, &self.final_path)
            .map_err(|e| FsError::io("rename into place", url(&self.final_path), e))?;
        if let Some(parent) = self
            .final_path
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
        {
            File::open(parent)
                .and_then(|dir| dir.sync_all())
                .map_err(|e| FsError::io("sync folder", url(parent), e))?;
        }
        Ok(())
    }
}

impl Write for AtomicFile {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.file
            .as_mut()
            .expect("writer present until commit")
            .write(buf)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.file
            .as_mut()
            .expect("writer present until commit")
            .flush()
    }
}

impl Drop for AtomicFile {
    fn drop(&mut self) {
        if self.file.take().is_some() {
            let _ = std::fs::remove_file(&self.temp_path);
        }
    }
}

/// Writes `bytes` to `path` atomically.
pub fn publish(path: impl AsRef<Path>, bytes: &[u8]) -> Result<()> {
    let mut file = AtomicFile::create(path)?;
    file.write_all(bytes)
        .map_err(|e| FsError::io("write", url(file.path()), e))?;
    file.commit()
}

fn url(path: &Path) -> String {
    path.display().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }

    #[test]
    fn the_final_name_appears_only_at_commit() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("out/part-0.parquet");
        let mut file = AtomicFile::create(&target).unwrap();
        file.write_all(&vec![7u8; 3 << 20]).unwrap();
        assert!(!target.exists());
        file.commit().unwrap();
        assert_eq!(std::fs::read(&target).unwrap(), vec![7u8; 3 << 20]);
        assert_eq!(names(&dir.path().join("out")), ["part-0.parquet"]);
    }

    #[test]
    fn an_abandoned_file_leaves_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("x.bin");
        let mut file = AtomicFile::create(&target).unwrap();
        file.write_all(b"half").unwrap();
        drop(file);
        assert!(names(dir.path()).is_empty());
    }

    #[test]
    fn publish_replaces_a_file_whole() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("x.bin");
        publish(&target, b"old contents").unwrap();
        publish(&target, b"new").unwrap();
        assert_eq!(std::fs::read(&target).unwrap(), b"new");
    }

    #[test]
    fn a_write_into_a_file_names_the_file() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("blocker"), b"").unwrap();
        let err = publish(dir.path().join("blocker/x.bin"), b"")
            .err()
            .unwrap();
        let line = err.to_string();
        assert!(line.starts_with("create folder '"), "{line}");
        assert!(line.contains("blocker"), "{line}");
    }
}
