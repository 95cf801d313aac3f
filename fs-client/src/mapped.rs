//! Byte ranges of a local file handed out from a memory map of it, without copying.
//!
//! Reading a column chunk with `pread` or io_uring copies it from the page cache into a buffer:
//! the kernel's `_copy_to_iter` was 6% of the CPU over the 22 TPC-H queries. A map shares the
//! page cache's own pages; the Parquet decoder reads them in place, and the kernel maps each
//! fault's neighbourhood at once. Every range is also advised as needed soon
//! (`MADV_WILLNEED`), so the pages of a file not yet cached are read ahead in large requests
//! rather than one fault at a time: with the page cache dropped, TPC-H Q6 at SF10 took 0.89 s
//! mapped, 1.8-2.4 s mapped without the advice and 1.23-1.35 s through the io_uring ring.
//!
//! A map of a file that another process truncates in place would end this one with `SIGBUS`
//! on the next read of a lost page. Data files are written whole and renamed into place (every
//! file Tarn writes is), which leaves mapped pages alone; `TARN_IO_RING=uring` reads through a
//! ring instead for files that may shrink while read.

use std::fs::File;
use std::ops::Range;
use std::sync::Arc;

use bytes::Bytes;
use memmap2::{Advice, Mmap};

/// The bytes of each of `ranges` of `file`, sharing one map of it.
pub(crate) fn read_ranges(file: &File, ranges: &[Range<u64>]) -> std::io::Result<Vec<Bytes>> {
    let len = file.metadata()?.len();
    if let Some(range) = ranges.iter().find(|r| r.start > r.end || r.end > len) {
        return Err(std::io::Error::new(
            std::io::ErrorKind::UnexpectedEof,
            format!(
                "unexpected end of file: bytes {}..{} of {len}",
                range.start, range.end
            ),
        ));
    }
    if ranges.iter().all(|r| r.start == r.end) {
        return Ok(vec![Bytes::new(); ranges.len()]);
    }
    // SAFETY: the map is only read, and stays alive while any range of it does; the module
    // documentation says what a file truncated by another process does.
    let map = Arc::new(unsafe { Mmap::map(file)? });
    ranges
        .iter()
        .map(|range| {
            let range = range.start as usize..range.end as usize;
            if !range.is_empty() {
                map.advise_range(Advice::WillNeed, range.start, range.len())?;
            }
            Ok(Bytes::from_owner(MappedRange {
                map: Arc::clone(&map),
                range,
            }))
        })
        .collect()
}

/// One range of a shared map, as the owner of a [`Bytes`].
struct MappedRange {
    map: Arc<Mmap>,
    range: Range<usize>,
}

impl AsRef<[u8]> for MappedRange {
    fn as_ref(&self) -> &[u8] {
        &self.map[self.range.clone()]
    }
}
