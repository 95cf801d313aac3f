//! Ring semantics, for every ring this machine can run: a full ring refuses, a short read at end of
//! file says how much it read, an error belongs to its request alone, tags come back with their data.

use std::fs::File;
use std::os::fd::AsRawFd;

use tarn_fs::ring::{
    Completion, PreadRing, PrepError, RangeRead, ReadRing, UringRing, read_ranges,
};

use crate::pattern;

fn rings(entries: usize, block: usize) -> Vec<(&'static str, Box<dyn ReadRing>)> {
    vec![
        ("pread", Box::new(PreadRing::new(entries, block))),
        (
            "io_uring",
            Box::new(UringRing::new(entries, block).expect("io_uring is available here")),
        ),
        (
            "slots only",
            Box::new(SlotsOnly(PreadRing::new(entries, block))),
        ),
    ]
}

/// A ring that reads only into its own slots, as USRBIO's does (3FS is not mounted here): the
/// path where `read_ranges` copies out of the slots.
struct SlotsOnly(PreadRing);

impl ReadRing for SlotsOnly {
    fn entries(&self) -> usize {
        self.0.entries()
    }
    fn block_size(&self) -> usize {
        self.0.block_size()
    }
    fn prep_read(
        &mut self,
        fd: std::os::fd::RawFd,
        offset: u64,
        len: usize,
        user_data: u64,
    ) -> Result<usize, PrepError> {
        self.0.prep_read(fd, offset, len, user_data)
    }
    fn submit(&mut self) -> std::io::Result<()> {
        self.0.submit()
    }
    fn wait(&mut self, min_results: usize, out: &mut Vec<Completion>) -> std::io::Result<()> {
        self.0.wait(min_results, out)
    }
    fn buffer(&self, slot: usize) -> &[u8] {
        self.0.buffer(slot)
    }
    fn release(&mut self, slot: usize) {
        self.0.release(slot)
    }
}

fn file_with(bytes: &[u8]) -> (tempfile::TempDir, File) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("data.bin");
    std::fs::write(&path, bytes).unwrap();
    let file = File::open(&path).unwrap();
    (dir, file)
}

fn wait_all(ring: &mut dyn ReadRing, n: usize) -> Vec<Completion> {
    let mut out = Vec::new();
    while out.len() < n {
        ring.wait(n - out.len(), &mut out).unwrap();
    }
    out.sort_by_key(|c| c.user_data);
    out
}

#[test]
fn a_full_ring_refuses_until_a_slot_is_released() {
    let (_dir, file) = file_with(&pattern(64 << 10));
    for (name, mut ring) in rings(4, 4096) {
        let fd = file.as_raw_fd();
        for i in 0..4 {
            ring.prep_read(fd, i * 4096, 4096, i).unwrap();
        }
        let refused = ring.prep_read(fd, 0, 4096, 99);
        assert!(
            matches!(refused, Err(PrepError::Full(4))),
            "{name}: {refused:?}"
        );
        let done = wait_all(ring.as_mut(), 4);
        // Completed but unreleased slots still count: the data in them is the caller's.
        assert!(
            matches!(ring.prep_read(fd, 0, 4096, 99), Err(PrepError::Full(4))),
            "{name}"
        );
        ring.release(done[0].slot);
        ring.prep_read(fd, 0, 4096, 5).unwrap();
        let again = wait_all(ring.as_mut(), 1);
        assert_eq!(again[0].user_data, 5, "{name}");
        assert_eq!(again[0].result, Ok(4096), "{name}");
    }
}

#[test]
fn a_read_past_the_end_is_short_and_a_read_beyond_it_is_empty() {
    let bytes = pattern(100);
    let (_dir, file) = file_with(&bytes);
    for (name, mut ring) in rings(4, 4096) {
        let fd = file.as_raw_fd();
        ring.prep_read(fd, 0, 4096, 0).unwrap();
        ring.prep_read(fd, 60, 4096, 1).unwrap();
        ring.prep_read(fd, 200, 4096, 2).unwrap();
        ring.submit().unwrap();
        let done = wait_all(ring.as_mut(), 3);
        let results: Vec<_> = done.iter().map(|c| c.result).collect();
        assert_eq!(results, [Ok(100), Ok(40), Ok(0)], "{name}");
        assert_eq!(&ring.buffer(done[0].slot)[..100], &bytes[..], "{name}");
        assert_eq!(&ring.buffer(done[1].slot)[..40], &bytes[60..], "{name}");
    }
}

#[test]
fn an_error_completes_its_own_request_only() {
    let bytes = pattern(8192);
    let (dir, file) = file_with(&bytes);
    let folder = File::open(dir.path()).unwrap();
    for (name, mut ring) in rings(4, 4096) {
        ring.prep_read(file.as_raw_fd(), 0, 4096, 0).unwrap();
        ring.prep_read(folder.as_raw_fd(), 0, 4096, 1).unwrap();
        ring.prep_read(file.as_raw_fd(), 4096, 4096, 2).unwrap();
        ring.submit().unwrap();
        let done = wait_all(ring.as_mut(), 3);
        assert_eq!(done[0].result, Ok(4096), "{name}");
        assert_eq!(done[1].result, Err(libc::EISDIR), "{name}");
        assert_eq!(done[2].result, Ok(4096), "{name}");
        assert_eq!(ring.buffer(done[2].slot)[..4096], bytes[4096..], "{name}");
    }
}

#[test]
fn a_read_longer_than_a_slot_is_refused() {
    let (_dir, file) = file_with(&pattern(10));
    for (name, mut ring) in rings(2, 4096) {
        let refused = ring.prep_read(file.as_raw_fd(), 0, 8192, 0);
        assert!(
            matches!(
                refused,
                Err(PrepError::TooLong {
                    len: 8192,
                    block_size: 4096
                })
            ),
            "{name}: {refused:?}"
        );
        // The refused read took no slot.
        ring.prep_read(file.as_raw_fd(), 0, 10, 0).unwrap();
        ring.prep_read(file.as_raw_fd(), 0, 10, 1).unwrap();
    }
}

#[test]
fn read_ranges_returns_every_range_whole() {
    let bytes = pattern(3 << 20);
    let (_dir, file) = file_with(&bytes);
    let fd = file.as_raw_fd();
    // Ranges smaller and larger than a slot, overlapping, touching the end, empty.
    let spans = [
        (0, 10),
        (5, 1 << 20),
        (12_345, 300_000),
        ((3 << 20) - 77, 77),
        (1 << 20, 2 << 20),
        (42, 0),
    ];
    let ranges: Vec<RangeRead> = spans
        .iter()
        .map(|&(offset, len)| RangeRead { fd, offset, len })
        .collect();
    for (name, mut ring) in rings(8, 64 << 10) {
        let read = read_ranges(ring.as_mut(), &ranges).unwrap();
        for (got, &(offset, len)) in read.iter().zip(&spans) {
            let offset = offset as usize;
            assert!(
                got[..] == bytes[offset..offset + len],
                "{name}: range at {offset}"
            );
        }
    }
}

#[test]
fn read_ranges_fails_on_a_range_past_the_end_and_leaves_the_ring_clean() {
    let bytes = pattern(1000);
    let (_dir, file) = file_with(&bytes);
    let fd = file.as_raw_fd();
    let ranges = [
        RangeRead {
            fd,
            offset: 0,
            len: 500,
        },
        RangeRead {
            fd,
            offset: 900,
            len: 200,
        },
    ];
    for (name, mut ring) in rings(4, 4096) {
        let err = read_ranges(ring.as_mut(), &ranges).unwrap_err();
        assert_eq!(err.range, 1, "{name}");
        assert_eq!(
            err.source.kind(),
            std::io::ErrorKind::UnexpectedEof,
            "{name}"
        );
        assert_eq!(
            err.to_string(),
            "read of 200 bytes at offset 900: unexpected end of file"
        );
        // Every slot came back: a full set of reads fits again.
        let ok = [RangeRead {
            fd,
            offset: 0,
            len: 1000,
        }; 4];
        assert_eq!(read_ranges(ring.as_mut(), &ok).unwrap()[3], bytes, "{name}");
    }
}

#[test]
fn a_read_into_the_callers_memory_lands_there_and_not_in_the_slot() {
    let bytes = pattern(10_000);
    let (_dir, file) = file_with(&bytes);
    for (name, mut ring) in rings(2, 4096) {
        if !ring.reads_into_caller_memory() {
            let mut dest = [7u8; 16];
            // SAFETY: `dest` outlives the call, which refuses without reading.
            let refused =
                unsafe { ring.prep_read_into(file.as_raw_fd(), 0, 16, dest.as_mut_ptr(), 0) };
            assert!(
                matches!(&refused, Err(PrepError::Io(e)) if e.kind() == std::io::ErrorKind::Unsupported),
                "{name}: {refused:?}"
            );
            continue;
        }
        let mut dest = vec![0u8; 4096 + 100];
        // SAFETY: `dest` is valid for 4096 bytes from offset 50 and is not touched until the
        // completion is waited for below.
        let slot = unsafe {
            ring.prep_read_into(file.as_raw_fd(), 9_000, 4096, dest.as_mut_ptr().add(50), 3)
        }
        .unwrap();
        let done = wait_all(ring.as_mut(), 1);
        assert_eq!((done[0].slot, done[0].user_data), (slot, 3), "{name}");
        assert_eq!(done[0].result, Ok(1000), "{name}: short at end of file");
        assert_eq!(&dest[50..1050], &bytes[9_000..], "{name}");
        assert!(
            dest[..50].iter().chain(&dest[1050..]).all(|&b| b == 0),
            "{name}"
        );
        assert!(
            ring.buffer(slot).iter().all(|&b| b == 0),
            "{name}: the slot stays untouched"
        );
        ring.release(slot);
    }
}
