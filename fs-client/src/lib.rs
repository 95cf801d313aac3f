//! Tarn's storage layer: every byte Tarn reads or writes goes through here.
//!
//! A URL picks the store ([`Location`], [`Stores`]):
//!
//! * plain paths and `file://`: [`LocalStore`], object_store's local file system with large
//!   (≥ 1 MiB) reads, byte ranges read through a ring with many reads in flight, and puts that
//!   are published atomically ([`publish`]: temporary name, `fsync`, rename);
//! * `3fs://` and paths on a `fuse.hf3fs` mount ([`threefs`]): the same, with I/O sized to 3FS
//!   chunks, USRBIO rings where 3FS's library loads, and recursive delete through `3fs-virt/rm-rf`;
//! * `s3://bucket/…`: object_store's S3 client, configured from the usual `AWS_*` variables;
//! * `memory://name/…`: a process-wide in-memory store, for tests and scratch data.
//!
//! The read rings ([`ring`]) share 3FS's USRBIO interface; io_uring serves it on local disks.

pub mod error;
pub mod local;
pub mod location;
mod mapped;
pub mod publish;
pub mod ring;
pub mod stores;
#[cfg(feature = "testing")]
pub mod testing;
pub mod threefs;
pub mod upload;

pub use error::{FsError, Result};
pub use local::LocalStore;
pub use location::Location;
pub use publish::{AtomicFile, publish};
pub use stores::Stores;

/// This machine's boot, as Linux numbers it (`/proc/sys/kernel/random/boot_id`); `None` where
/// there is no such file. Data written without `fsync` survives a crashed process but not a
/// crashed machine, so a record of unsynced files is only good in the boot that wrote them.
pub fn boot_id() -> Option<u128> {
    static BOOT: std::sync::OnceLock<Option<u128>> = std::sync::OnceLock::new();
    *BOOT.get_or_init(|| {
        let text = std::fs::read_to_string("/proc/sys/kernel/random/boot_id").ok()?;
        u128::from_str_radix(&text.trim().replace('-', ""), 16).ok()
    })
}

/// Deletes the tree at `path` (a missing path is fine), through 3FS's `rm-rf` on a 3FS mount.
pub fn remove_tree(path: impl AsRef<std::path::Path>) -> std::io::Result<()> {
    threefs::remove_tree(threefs::mounts(), path.as_ref())
}
