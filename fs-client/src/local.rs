//! [`LocalStore`]: object_store's local file system, made fast and safe for data files.
//!
//! What it changes from `LocalFileSystem`, which it wraps for everything else:
//! * whole-object and open-ended reads stream in blocks of ≥ 1 MiB (3FS chunk multiples on a 3FS
//!   mount), not 8 KiB;
//! * `get_ranges` (how Parquet readers fetch column chunks) hands out ranges of a memory map of
//!   the file ([`crate::mapped`]), without copying them; on a 3FS mount, or with
//!   `TARN_IO_RING=uring|pread`, it reads them through a ring with several large reads in flight,
//!   instead of one `pread` after another;
//! * `put` publishes atomically and durably: temporary name, `fsync`, rename, folder `fsync`.

use std::collections::HashMap;
use std::fmt;
use std::fs::File;
use std::ops::Range;
use std::os::fd::AsRawFd;
use std::os::unix::fs::FileExt;
use std::path::{Path as FsPath, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};

use async_trait::async_trait;
use bytes::Bytes;
use futures::stream::{BoxStream, StreamExt};
use object_store::local::LocalFileSystem;
use object_store::path::Path;
use object_store::{
    CopyOptions, GetOptions, GetResult, GetResultPayload, ListResult, MultipartUpload, ObjectMeta,
    ObjectStore, ObjectStoreExt, PutMode, PutMultipartOptions, PutOptions, PutPayload, PutResult,
    RenameOptions,
};

use crate::mapped;
use crate::publish::{self, io_size};
use crate::ring::usrbio::{Usrbio, UsrbioRing};
use crate::ring::{RangeRead, ReadRing, RingKind, SCAN_BLOCK, SCAN_DEPTH, read_ranges};
use crate::threefs;

/// The local file system (and 3FS mounts), as an object store.
pub struct LocalStore {
    inner: LocalFileSystem,
    /// Whether ranges of files off 3FS mounts come from a map of the file, not a ring.
    map_files: bool,
    rings: RingPool,
}

impl LocalStore {
    /// A store over the whole file system (object paths are absolute paths) that maps files,
    /// unless `TARN_IO_RING` names the ring to read them through.
    pub fn new() -> Self {
        let map_files = std::env::var_os("TARN_IO_RING").is_none();
        Self::reading(map_files, RingKind::from_env())
    }

    /// A store that reads ranges through rings of `kind` (for benchmarks and tests).
    pub fn with_ring(kind: RingKind) -> Self {
        Self::reading(false, kind)
    }

    /// A store that hands out ranges of maps of files off 3FS mounts (for benchmarks and
    /// tests; [`LocalStore::new`] does unless told otherwise).
    pub fn mapping() -> Self {
        Self::reading(true, RingKind::Uring)
    }

    fn reading(map_files: bool, kind: RingKind) -> Self {
        LocalStore {
            inner: LocalFileSystem::new(),
            map_files,
            rings: RingPool::new(kind),
        }
    }

    fn fs_path(&self, location: &Path) -> object_store::Result<PathBuf> {
        self.inner.path_to_filesystem(location)
    }
}

impl Default for LocalStore {
    fn default() -> Self {
        LocalStore::new()
    }
}

impl fmt::Display for LocalStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "LocalStore({:?})", self.rings.kind)
    }
}

impl fmt::Debug for LocalStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

fn generic(
    path: &FsPath,
    source: impl std::error::Error + Send + Sync + 'static,
) -> object_store::Error {
    object_store::Error::Generic {
        store: "LocalStore",
        source: format!("{}: {source}", path.display()).into(),
    }
}

fn not_found_or(path: &FsPath, err: std::io::Error) -> object_store::Error {
    if err.kind() == std::io::ErrorKind::NotFound {
        object_store::Error::NotFound {
            path: path.display().to_string(),
            source: err.into(),
        }
    } else {
        generic(path, err)
    }
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> object_store::Result<T> + Send + 'static,
) -> object_store::Result<T> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|err| object_store::Error::JoinError { source: err })?
}

#[async_trait]
impl ObjectStore for LocalStore {
    async fn put_opts(
        &self,
        location: &Path,
        payload: PutPayload,
        opts: PutOptions,
    ) -> object_store::Result<PutResult> {
        if opts.mode != PutMode::Overwrite {
            return self.inner.put_opts(location, payload, opts).await;
        }
        let path = self.fs_path(location)?;
        blocking(move || {
            let mut file = publish::AtomicFile::create(&path).map_err(|e| generic(&path, e))?;
            for chunk in payload.iter() {
                std::io::Write::write_all(&mut file, chunk).map_err(|e| generic(&path, e))?;
            }
            file.commit().map_err(|e| generic(&path, e))
        })
        .await?;
        let meta = self.inner.head(location).await?;
        Ok(PutResult {
            e_tag: meta.e_tag,
            version: meta.version,
        })
    }

    async fn put_multipart_opts(
        &self,
        location: &Path,
        opts: PutMultipartOptions,
    ) -> object_store::Result<Box<dyn MultipartUpload>> {
        self.inner.put_multipart_opts(location, opts).await
    }

    async fn get_opts(
        &self,
        location: &Path,
        options: GetOptions,
    ) -> object_store::Result<GetResult> {
        let result = self.inner.get_opts(location, options).await?;
        let GetResultPayload::File(file, path) = result.payload else {
            return Ok(result);
        };
        let block = io_size(&path);
        Ok(GetResult {
            payload: GetResultPayload::Stream(stream_blocks(
                file,
                path,
                result.range.clone(),
                block,
            )),
            ..result
        })
    }

    async fn get_ranges(
        &self,
        location: &Path,
        ranges: &[Range<u64>],
    ) -> object_store::Result<Vec<Bytes>> {
        let path = self.fs_path(location)?;
        let ranges = ranges.to_vec();
        let rings = self.rings.clone();
        let map = self.map_files && threefs::mount_of(threefs::mounts(), &path).is_none();
        blocking(move || {
            let file = File::open(&path).map_err(|e| not_found_or(&path, e))?;
            if map {
                return mapped::read_ranges(&file, &ranges).map_err(|e| generic(&path, e));
            }
            let reads: Vec<RangeRead> = ranges
                .iter()
                .map(|r| RangeRead {
                    fd: file.as_raw_fd(),
                    offset: r.start,
                    len: (r.end - r.start) as usize,
                })
                .collect();
            let mut ring = rings.take(&path);
            ring.register(file.as_raw_fd())
                .map_err(|e| generic(&path, e))?;
            let read = read_ranges(ring.as_mut(), &reads);
            ring.deregister(file.as_raw_fd());
            rings.give_back(&path, ring);
            let read = read.map_err(|e| generic(&path, e))?;
            Ok(read.into_iter().map(Bytes::from).collect())
        })
        .await
    }

    fn delete_stream(
        &self,
        locations: BoxStream<'static, object_store::Result<Path>>,
    ) -> BoxStream<'static, object_store::Result<Path>> {
        self.inner.delete_stream(locations)
    }

    fn list(&self, prefix: Option<&Path>) -> BoxStream<'static, object_store::Result<ObjectMeta>> {
        self.inner.list(prefix)
    }

    fn list_with_offset(
        &self,
        prefix: Option<&Path>,
        offset: &Path,
    ) -> BoxStream<'static, object_store::Result<ObjectMeta>> {
        self.inner.list_with_offset(prefix, offset)
    }

    async fn list_with_delimiter(&self, prefix: Option<&Path>) -> object_store::Result<ListResult> {
        self.inner.list_with_delimiter(prefix).await
    }

    async fn copy_opts(
        &self,
        from: &Path,
        to: &Path,
        options: CopyOptions,
    ) -> object_store::Result<()> {
        self.inner.copy_opts(from, to, options).await
    }

    async fn rename_opts(
        &self,
        from: &Path,
        to: &Path,
        options: RenameOptions,
    ) -> object_store::Result<()> {
        self.inner.rename_opts(from, to, options).await
    }
}

/// A byte range of an open file as a stream of `block`-byte reads, each on a blocking thread.
fn stream_blocks(
    file: File,
    path: PathBuf,
    range: Range<u64>,
    block: usize,
) -> BoxStream<'static, object_store::Result<Bytes>> {
    let file = Arc::new(file);
    futures::stream::try_unfold(range.start, move |offset| {
        let (file, path) = (Arc::clone(&file), path.clone());
        let end = range.end;
        async move {
            if offset >= end {
                return Ok(None);
            }
            let len = (end - offset).min(block as u64) as usize;
            let bytes = blocking(move || {
                let mut buf = vec![0; len];
                file.read_exact_at(&mut buf, offset)
                    .map_err(|e| generic(&path, e))?;
                Ok(Bytes::from(buf))
            })
            .await?;
            Ok(Some((bytes, offset + len as u64)))
        }
    })
    .boxed()
}

/// Rings kept between `get_ranges` calls (creating one costs a syscall and its buffer), one
/// list per mount: USRBIO rings belong to a 3FS mount, local rings to everything else.
#[derive(Clone)]
struct RingPool {
    kind: RingKind,
    idle: Arc<Mutex<IdleRings>>,
}

/// Idle rings by the 3FS mount their USRBIO ring serves (`None`: local rings).
type IdleRings = HashMap<Option<PathBuf>, Vec<Box<dyn ReadRing>>>;

impl RingPool {
    fn new(kind: RingKind) -> Self {
        RingPool {
            kind,
            idle: Arc::default(),
        }
    }

    /// The 3FS mount whose USRBIO ring should read `path`, if it is on one and USRBIO loads.
    fn usrbio_mount(path: &FsPath) -> Option<(Arc<Usrbio>, &'static threefs::Mount)> {
        static USRBIO: OnceLock<Option<Arc<Usrbio>>> = OnceLock::new();
        let mount = threefs::mount_of(threefs::mounts(), path)?;
        let api = USRBIO
            .get_or_init(|| {
                Usrbio::load()
                    .inspect_err(|err| tracing::info!(%err, "reading 3FS through FUSE"))
                    .ok()
            })
            .clone()?;
        Some((api, mount))
    }

    fn take(&self, path: &FsPath) -> Box<dyn ReadRing> {
        let usrbio = RingPool::usrbio_mount(path);
        let key = usrbio.as_ref().map(|(_, mount)| mount.root.clone());
        if let Some(ring) = self
            .idle
            .lock()
            .expect("ring pool")
            .get_mut(&key)
            .and_then(Vec::pop)
        {
            return ring;
        }
        let block = io_size(path).max(SCAN_BLOCK);
        if let Some((api, mount)) = usrbio {
            match UsrbioRing::new(api, &mount.root, SCAN_DEPTH, block) {
                Ok(ring) => return Box::new(ring),
                Err(err) => tracing::info!(%err, "USRBIO ring refused; reading 3FS through FUSE"),
            }
        }
        self.kind.open(SCAN_DEPTH, block)
    }

    fn give_back(&self, path: &FsPath, ring: Box<dyn ReadRing>) {
        let key = RingPool::usrbio_mount(path).map(|(_, mount)| mount.root.clone());
        self.idle
            .lock()
            .expect("ring pool")
            .entry(key)
            .or_default()
            .push(ring);
    }
}
