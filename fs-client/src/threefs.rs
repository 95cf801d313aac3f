//! 3FS mounts: finding them, sizing I/O for them, and deleting trees through them.
//!
//! 3FS is served to applications as a FUSE file system (type `fuse.hf3fs`), so every POSIX call
//! works on it; what this module adds is what makes it fast. Reads and writes are sized to whole
//! chunks (a 3FS file is striped over storage targets chunk by chunk, so a request that crosses a
//! chunk boundary costs two round trips), and a recursive delete is one request to the meta
//! service through the virtual folder `3fs-virt/rm-rf` instead of one unlink per file.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::{SystemTime, UNIX_EPOCH};

/// The file system type a 3FS FUSE mount has in `/proc/self/mountinfo`.
pub const FS_TYPE: &str = "fuse.hf3fs";

/// The chunk size 3FS gives a file unless its layout says otherwise; `TARN_3FS_CHUNK_SIZE`
/// overrides it for clusters configured differently.
pub const DEFAULT_CHUNK_SIZE: usize = 512 << 10;

/// One 3FS mount point.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mount {
    /// Where the file system is mounted.
    pub root: PathBuf,
    /// The cluster the mount serves (the mount source, e.g. `hf3fs.stage`).
    pub source: String,
}

impl Mount {
    /// The chunk size reads and writes on this mount are aligned to.
    pub fn chunk_size(&self) -> usize {
        std::env::var("TARN_3FS_CHUNK_SIZE")
            .ok()
            .and_then(|v| v.parse().ok())
            .filter(|&size: &usize| size.is_power_of_two())
            .unwrap_or(DEFAULT_CHUNK_SIZE)
    }

    /// The virtual folder whose symlinks ask 3FS to delete their targets recursively.
    fn rm_rf_dir(&self) -> PathBuf {
        self.root.join("3fs-virt").join("rm-rf")
    }
}

/// The 3FS mounts in a `mountinfo` text (see proc(5): the file system type is the first field
/// after the ` - ` separator, the mount point the fifth field, octal escapes in paths).
pub fn parse_mountinfo(text: &str) -> Vec<Mount> {
    text.lines()
        .filter_map(|line| {
            let (before, after) = line.split_once(" - ")?;
            let mut after = after.split(' ');
            if after.next()? != FS_TYPE {
                return None;
            }
            let source = after.next().unwrap_or_default().to_string();
            let root = before.split(' ').nth(4)?;
            Some(Mount {
                root: PathBuf::from(unescape_octal(root)),
                source,
            })
        })
        .collect()
}

/// mountinfo writes space, tab, newline and backslash in paths as `\040`-style octal escapes.
fn unescape_octal(field: &str) -> String {
    let bytes = field.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let escape = bytes
            .get(i + 1..i + 4)
            .filter(|digits| bytes[i] == b'\\' && digits.iter().all(|d| (b'0'..=b'7').contains(d)));
        match escape {
            Some(digits) => {
                let value = digits.iter().fold(0u32, |v, d| v * 8 + u32::from(d - b'0'));
                out.push(value as u8);
                i += 4;
            }
            None => {
                out.push(bytes[i]);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The 3FS mounts of this process, read once.
pub fn mounts() -> &'static [Mount] {
    static MOUNTS: OnceLock<Vec<Mount>> = OnceLock::new();
    MOUNTS.get_or_init(|| {
        std::fs::read_to_string("/proc/self/mountinfo")
            .map(|text| parse_mountinfo(&text))
            .unwrap_or_default()
    })
}

/// The mount holding `path`, if it is on 3FS (the deepest mount that is a prefix of the path).
pub fn mount_of<'a>(mounts: &'a [Mount], path: &Path) -> Option<&'a Mount> {
    mounts
        .iter()
        .filter(|mount| path.starts_with(&mount.root))
        .max_by_key(|mount| mount.root.components().count())
}

/// The mount `3fs://` URLs are relative to: `TARN_3FS_MOUNT`, else the only 3FS mount there is.
pub fn default_mount() -> Option<Mount> {
    if let Ok(root) = std::env::var("TARN_3FS_MOUNT") {
        return Some(Mount {
            root: PathBuf::from(root),
            source: String::new(),
        });
    }
    match mounts() {
        [only] => Some(only.clone()),
        _ => None,
    }
}

/// Deletes the tree at `path`. On a 3FS mount that has `3fs-virt/rm-rf`, one symlink there hands
/// the whole tree to the meta service; anywhere else (or if that request fails) the tree is
/// removed file by file. A missing path is not an error.
pub fn remove_tree(mounts: &[Mount], path: &Path) -> std::io::Result<()> {
    if !path.exists() {
        return Ok(());
    }
    if let Some(mount) = mount_of(mounts, path).filter(|m| m.rm_rf_dir().is_dir()) {
        let name = path.file_name().unwrap_or_default().to_string_lossy();
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or_default();
        let link = mount.rm_rf_dir().join(format!("{name}-{nanos}"));
        match std::os::unix::fs::symlink(path, &link) {
            Ok(()) => return Ok(()),
            Err(err) => tracing::debug!(?path, %err, "3FS rm-rf refused; removing file by file"),
        }
    }
    if path.is_dir() {
        std::fs::remove_dir_all(path)
    } else {
        std::fs::remove_file(path)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Lines as a host with a 3FS client shows them (the 3FS mount with a space in its path).
    const MOUNTINFO: &str = "\
22 27 0:21 / /proc rw,relatime - proc proc rw
27 1 253:0 / / rw,relatime - ext4 /dev/vda rw
301 27 0:52 / /3fs/stage rw,nosuid,nodev,relatime shared:150 - fuse.hf3fs hf3fs.stage rw,user_id=0,group_id=0,allow_other
302 27 0:53 / /mnt/my\\040cluster rw,relatime - fuse.hf3fs hf3fs.dev rw
303 27 0:54 / /mnt/other rw,relatime - fuse.sshfs host:/ rw
";

    #[test]
    fn mountinfo_lists_hf3fs_mounts_only() {
        let mounts = parse_mountinfo(MOUNTINFO);
        assert_eq!(
            mounts,
            vec![
                Mount {
                    root: "/3fs/stage".into(),
                    source: "hf3fs.stage".into()
                },
                Mount {
                    root: "/mnt/my cluster".into(),
                    source: "hf3fs.dev".into()
                },
            ]
        );
    }

    #[test]
    fn a_path_belongs_to_the_mount_that_holds_it() {
        let mounts = parse_mountinfo(MOUNTINFO);
        let found = mount_of(&mounts, Path::new("/3fs/stage/corpus/a.parquet"));
        assert_eq!(found.map(|m| m.source.as_str()), Some("hf3fs.stage"));
        assert!(mount_of(&mounts, Path::new("/3fs/stager/a")).is_none());
        assert!(mount_of(&mounts, Path::new("/mnt/other/a")).is_none());
    }

    #[test]
    fn remove_tree_hands_the_tree_to_rm_rf_on_a_3fs_mount() {
        // A folder laid out like a mount: its `3fs-virt/rm-rf` receives the symlink.
        let root = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(root.path().join("3fs-virt/rm-rf")).unwrap();
        let tree = root.path().join("job/shuffle");
        std::fs::create_dir_all(tree.join("p=0")).unwrap();
        let mounts = [Mount {
            root: root.path().to_path_buf(),
            source: "hf3fs.test".into(),
        }];
        remove_tree(&mounts, &tree).unwrap();
        let links: Vec<_> = std::fs::read_dir(root.path().join("3fs-virt/rm-rf"))
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        assert_eq!(links.len(), 1);
        assert_eq!(std::fs::read_link(&links[0]).unwrap(), tree);
        assert!(
            links[0]
                .file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with("shuffle-")
        );
    }

    #[test]
    fn remove_tree_elsewhere_removes_file_by_file() {
        let root = tempfile::tempdir().unwrap();
        let tree = root.path().join("t");
        std::fs::create_dir_all(tree.join("a/b")).unwrap();
        std::fs::write(tree.join("a/b/f"), b"x").unwrap();
        remove_tree(&[], &tree).unwrap();
        assert!(!tree.exists());
        remove_tree(&[], &tree).unwrap();
    }
}
