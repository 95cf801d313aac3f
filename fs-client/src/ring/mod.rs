//! Read rings: many reads in flight at once, completed out of order.
//!
//! The interface is 3FS's USRBIO, which is shaped like io_uring: an *iov* (one shared buffer, cut
//! into `entries` slots of `block_size` bytes) and an *ior* (a submission and completion ring).
//! A caller prepares reads, each into a slot the ring picks, submits them, and waits for
//! completions, each carrying the slot, the caller's tag and the byte count or the errno of that
//! one request. Three rings serve it:
//!
//! * [`UringRing`]: io_uring, for local disks (the default where the kernel allows it);
//! * [`UsrbioRing`]: 3FS's own library, loaded at run time, for files on a 3FS mount;
//! * [`PreadRing`]: one `pread` at a time, the baseline and the fallback.
//!
//! [`read_ranges`] drives any of them to read whole byte ranges.

mod buffer;
mod pread;
mod read;
#[cfg(target_os = "linux")]
mod uring;
pub mod usrbio;

use std::os::fd::RawFd;

pub use buffer::AlignedBuffer;
pub use pread::PreadRing;
pub use read::{RangeRead, ReadFailure, for_each_piece, read_ranges};
#[cfg(target_os = "linux")]
pub use uring::UringRing;
pub use usrbio::UsrbioRing;

/// One finished read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Completion {
    /// The buffer slot holding the data; [`ReadRing::release`] it once read.
    pub slot: usize,
    /// The tag the caller gave [`ReadRing::prep_read`].
    pub user_data: u64,
    /// Bytes read (fewer than asked at end of file), or the errno of this request alone.
    pub result: Result<usize, i32>,
}

/// Why a read could not be prepared.
#[derive(Debug, thiserror::Error)]
pub enum PrepError {
    /// Every slot holds a read in flight or a completion not yet released.
    #[error("the ring is full: all {0} slots are in use")]
    Full(usize),
    /// The read is longer than one slot.
    #[error("a read of {len} bytes does not fit a {block_size}-byte slot")]
    TooLong { len: usize, block_size: usize },
    /// The ring itself refused the request.
    #[error(transparent)]
    Io(#[from] std::io::Error),
}

/// A submission/completion ring of reads into slots of a shared buffer.
pub trait ReadRing: Send {
    /// How many reads can be in flight (or completed and unreleased) at once.
    fn entries(&self) -> usize;
    /// The size of each buffer slot: the longest single read.
    fn block_size(&self) -> usize;
    /// Makes `fd` usable in [`ReadRing::prep_read`] (3FS needs this; others accept any fd).
    fn register(&mut self, _fd: RawFd) -> std::io::Result<()> {
        Ok(())
    }
    /// Undoes [`ReadRing::register`] before the fd is closed.
    fn deregister(&mut self, _fd: RawFd) {}
    /// Prepares a read of `len` bytes at `offset` of `fd` into a free slot, which it returns.
    fn prep_read(
        &mut self,
        fd: RawFd,
        offset: u64,
        len: usize,
        user_data: u64,
    ) -> Result<usize, PrepError>;
    /// Whether [`ReadRing::prep_read_into`] can put a read's bytes in the caller's memory:
    /// io_uring and pread can; USRBIO reads land only in the buffer registered with 3FS.
    fn reads_into_caller_memory(&self) -> bool {
        false
    }
    /// Like [`ReadRing::prep_read`], but the bytes land at `dest` instead of in the slot, which
    /// still counts the read in flight and carries its tag (release it as usual). Reading
    /// straight into the caller's buffer spares a copy of every byte, and the zeroing of the
    /// caller's buffer before it. Rings that cannot refuse with `ErrorKind::Unsupported`.
    ///
    /// # Safety
    /// `dest` must be valid for writes of `len` bytes, and nothing else may read or write them,
    /// until this read's completion has been returned by [`ReadRing::wait`].
    unsafe fn prep_read_into(
        &mut self,
        _fd: RawFd,
        _offset: u64,
        _len: usize,
        _dest: *mut u8,
        _user_data: u64,
    ) -> Result<usize, PrepError> {
        Err(PrepError::Io(std::io::ErrorKind::Unsupported.into()))
    }
    /// Hands every prepared read to the kernel (or the 3FS daemon).
    fn submit(&mut self) -> std::io::Result<()>;
    /// Submits what is prepared, waits until at least `min_results` reads have completed (fewer
    /// if fewer are in flight) and appends the completions there are to `out`.
    fn wait(&mut self, min_results: usize, out: &mut Vec<Completion>) -> std::io::Result<()>;
    /// The bytes of a completed read's slot (the first `result` of them are the data).
    fn buffer(&self, slot: usize) -> &[u8];
    /// Returns a slot to the ring once its data has been used.
    fn release(&mut self, slot: usize);
}

/// The slot size for scans: large reads keep the kernel's readahead streaming. On the
/// development machine's disk, 4 reads of 8 MiB in flight read a cold dataset at 1.1-1.3 GB/s,
/// where 32 reads of 1 MiB managed 0.6-0.7 and 16 MiB `O_DIRECT` reads one at a time 0.98
/// (`bench/io`).
pub const SCAN_BLOCK: usize = 8 << 20;

/// Reads in flight for a scan (see [`SCAN_BLOCK`]).
pub const SCAN_DEPTH: usize = 4;

/// Which ring serves local reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RingKind {
    /// io_uring (falls back to pread where the kernel refuses it).
    Uring,
    /// One pread at a time.
    Pread,
}

impl RingKind {
    /// The ring chosen by `TARN_IO_RING=uring|pread`, io_uring by default: it measured faster
    /// than pread on a cold multi-file scan (see `bench/io/RESULTS.md`).
    pub fn from_env() -> RingKind {
        match std::env::var("TARN_IO_RING").as_deref() {
            Ok("pread") => RingKind::Pread,
            _ => RingKind::Uring,
        }
    }

    /// A ring of this kind, with `entries` slots of `block_size` bytes.
    pub fn open(self, entries: usize, block_size: usize) -> Box<dyn ReadRing> {
        #[cfg(target_os = "linux")]
        if self == RingKind::Uring {
            match UringRing::new(entries, block_size) {
                Ok(ring) => return Box::new(ring),
                Err(err) => tracing::debug!(%err, "io_uring unavailable; reading with pread"),
            }
        }
        Box::new(PreadRing::new(entries, block_size))
    }
}

/// Free-slot bookkeeping shared by the rings: which slots are free and each slot's tag.
#[derive(Debug)]
struct Slots {
    free: Vec<usize>,
    user_data: Vec<u64>,
}

impl Slots {
    fn new(entries: usize) -> Self {
        Slots {
            free: (0..entries).rev().collect(),
            user_data: vec![0; entries],
        }
    }

    /// Takes a free slot for a read of `len` bytes tagged `user_data`.
    fn take(&mut self, len: usize, block_size: usize, user_data: u64) -> Result<usize, PrepError> {
        if len > block_size {
            return Err(PrepError::TooLong { len, block_size });
        }
        let slot = self
            .free
            .pop()
            .ok_or(PrepError::Full(self.user_data.len()))?;
        self.user_data[slot] = user_data;
        Ok(slot)
    }

    /// Gives a slot back after [`Slots::take`] when the ring could not queue its read.
    fn untake(&mut self, slot: usize) {
        self.free.push(slot);
    }

    fn release(&mut self, slot: usize) {
        debug_assert!(!self.free.contains(&slot), "slot {slot} released twice");
        self.free.push(slot);
    }
}
