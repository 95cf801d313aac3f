//! `bench/io`: reads one multi-file dataset cold, whole, five ways, and reports GB/s and the ratio
//! to the disk's sequential read bandwidth measured in the same run.
//!
//! Run with `bench/io/run.sh` (makes a 4 GB Parquet dataset, then runs this), or directly:
//! `cargo bench -p tarn-fs --bench io -- DIR`. Before every measurement the page cache is dropped
//! (`/proc/sys/vm/drop_caches`, needs root); where that is refused the report says the runs were
//! warm.
//!
//! * `disk (O_DIRECT 16 MiB)`: the files one after another in 16 MiB reads around the page cache,
//!   as `dd iflag=direct bs=16M` reads: the baseline.
//! * `pread`: one buffered `pread` of 8 MiB at a time.
//! * `ring`: every file's 8 MiB blocks through one io_uring ring with 4 reads in flight (Tarn's
//!   scan setting; `RING_DEPTH` and `RING_BLOCK` (MiB) try others).
//! * `object_store LocalFileSystem`: `get` of each file, as DataFusion reads local files by default.
//! * `tarn LocalStore`: `get_ranges` of each file in 8 MiB ranges through Tarn's default store
//!   (how DataFusion's Parquet reader asks for column chunks).
//!
//! The two object-store rows read as many files at once as there are cores, as DataFusion's
//! partitions do; the rows above them read one file after another.
//!
//! The two object-store rows read as many files at once as there are cores, as DataFusion's
//! partitions do; the other rows read one file after another.

use std::fs::File;
use std::os::fd::AsRawFd;
use std::os::unix::fs::{FileExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use futures::StreamExt;
use object_store::local::LocalFileSystem;
use object_store::path::Path as ObjectPath;
use object_store::{ObjectStore, ObjectStoreExt};
use tarn_fs::LocalStore;
use tarn_fs::ring::{RangeRead, RingKind, SCAN_BLOCK, SCAN_DEPTH, for_each_piece};

const MIB: usize = 1 << 20;

fn main() {
    let dir = std::env::args()
        .skip(1)
        .find(|a| !a.starts_with("--"))
        .expect("usage: io DIR (a folder of data files)");
    let files = data_files(Path::new(&dir));
    let total: u64 = files.iter().map(|f| f.metadata().unwrap().len()).sum();
    println!(
        "dataset: {} files, {:.2} GB in {dir}",
        files.len(),
        total as f64 / 1e9
    );
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let setting = |name: &str, default: usize| {
        std::env::var(name)
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(default)
    };
    let depth = setting("RING_DEPTH", SCAN_DEPTH);
    let block = setting("RING_BLOCK", SCAN_BLOCK / MIB) * MIB;
    let mut cold = true;
    let mut measure = |name: &str, read: &mut dyn FnMut() -> u64| {
        cold &= drop_page_cache();
        let start = Instant::now();
        let bytes = read();
        let seconds = start.elapsed().as_secs_f64();
        assert_eq!(bytes, total, "{name} read {bytes} bytes of {total}");
        (name.to_string(), seconds, total as f64 / seconds / 1e9)
    };
    let results = vec![
        measure("disk (O_DIRECT 16 MiB)", &mut || direct_sequential(&files)),
        measure(&format!("pread ({} MiB)", SCAN_BLOCK / MIB), &mut || {
            pread_one_at_a_time(&files)
        }),
        measure(
            &format!("ring (io_uring, {depth} x {} MiB)", block / MIB),
            &mut || ring_scan(&files, depth, block),
        ),
        measure("object_store LocalFileSystem get", &mut || {
            runtime.block_on(store_get(Arc::new(LocalFileSystem::new()), &files))
        }),
        measure("tarn LocalStore get_ranges", &mut || {
            runtime.block_on(store_ranges(
                Arc::new(LocalStore::with_ring(RingKind::Uring)),
                &files,
            ))
        }),
    ];
    if !cold {
        println!("WARNING: the page cache could not be dropped (not root?): these reads were warm");
    }
    let disk = results[0].2;
    println!("| path | seconds | GB/s | of disk sequential |");
    println!("|---|---:|---:|---:|");
    for (name, seconds, rate) in &results {
        println!(
            "| {name} | {seconds:.2} | {rate:.3} | {:.0}% |",
            100.0 * rate / disk
        );
    }
}

fn data_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_file() && !p.file_name().unwrap().to_string_lossy().starts_with('.'))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "{} holds no files", dir.display());
    files
}

/// Drops clean pages so the next read comes from the disk; false where that is not permitted.
fn drop_page_cache() -> bool {
    // SAFETY: sync(2) has no preconditions.
    unsafe { libc::sync() };
    std::fs::write("/proc/sys/vm/drop_caches", "3\n").is_ok()
}

fn direct_sequential(files: &[PathBuf]) -> u64 {
    let mut buffer = tarn_fs::ring::AlignedBuffer::new(1, 16 * MIB);
    let mut total = 0;
    for path in files {
        let file = File::options()
            .read(true)
            .custom_flags(libc::O_DIRECT)
            .open(path)
            .unwrap();
        let mut offset = 0;
        loop {
            let n = file.read_at(buffer.slot_mut(0), offset).unwrap();
            if n == 0 {
                break;
            }
            offset += n as u64;
        }
        total += offset;
    }
    total
}

fn pread_one_at_a_time(files: &[PathBuf]) -> u64 {
    let mut buffer = vec![0; SCAN_BLOCK];
    let mut total = 0;
    for path in files {
        let file = File::open(path).unwrap();
        let mut offset = 0;
        loop {
            let n = file.read_at(&mut buffer, offset).unwrap();
            if n == 0 {
                break;
            }
            offset += n as u64;
        }
        total += offset;
    }
    total
}

fn ring_scan(files: &[PathBuf], depth: usize, block: usize) -> u64 {
    let opened: Vec<File> = files.iter().map(|p| File::open(p).unwrap()).collect();
    let ranges: Vec<RangeRead> = opened
        .iter()
        .map(|f| RangeRead {
            fd: f.as_raw_fd(),
            offset: 0,
            len: f.metadata().unwrap().len() as usize,
        })
        .collect();
    let mut ring = RingKind::Uring.open(depth, block);
    let mut total = 0;
    for_each_piece(ring.as_mut(), &ranges, |_, _, bytes| {
        total += bytes.len() as u64
    })
    .unwrap();
    total
}

/// Reads every file with `read_file`, as many at once as there are cores.
async fn per_core<F, Fut>(store: Arc<dyn ObjectStore>, files: &[PathBuf], read_file: F) -> u64
where
    F: Fn(Arc<dyn ObjectStore>, ObjectPath) -> Fut,
    Fut: Future<Output = u64>,
{
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    futures::stream::iter(files)
        .map(|path| {
            read_file(
                Arc::clone(&store),
                ObjectPath::from_absolute_path(path).unwrap(),
            )
        })
        .buffer_unordered(cores)
        .fold(0, |total, bytes| async move { total + bytes })
        .await
}

async fn store_get(store: Arc<dyn ObjectStore>, files: &[PathBuf]) -> u64 {
    per_core(store, files, |store, location| async move {
        let bytes = store.get(&location).await.unwrap().bytes().await.unwrap();
        bytes.len() as u64
    })
    .await
}

async fn store_ranges(store: Arc<dyn ObjectStore>, files: &[PathBuf]) -> u64 {
    per_core(store, files, |store, location| async move {
        let size = store.head(&location).await.unwrap().size;
        let ranges: Vec<_> = (0..size)
            .step_by(SCAN_BLOCK)
            .map(|start| start..(start + SCAN_BLOCK as u64).min(size))
            .collect();
        let read = store.get_ranges(&location, &ranges).await.unwrap();
        read.iter().map(|b| b.len() as u64).sum::<u64>()
    })
    .await
}
