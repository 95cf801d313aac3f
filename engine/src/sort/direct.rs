//! Reading and writing big sequential files around the page cache (`O_DIRECT`), as gensort's
//! own writer does by default. Through the page cache every byte is copied once more, and a sort that
//! writes several times its memory makes the kernel reclaim cache while it writes, which on
//! the machines measured cost more system time than the sort itself.
//!
//! Direct writes need buffers, offsets and lengths aligned to the device's block; records are
//! 100 bytes, so the writer keeps what does not fill an aligned block and writes that tail
//! through an ordinary handle when the file is finished. Where the file system refuses
//! `O_DIRECT` (tmpfs, some network file systems) it writes through the page cache.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::{FileExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use crate::error::Result;
use crate::job::layout::io;

/// The alignment direct I/O needs on the devices we know (4 KiB sectors at most).
const ALIGN: usize = 4096;

/// An aligned buffer of at least `capacity` bytes: backing storage and the offset of its
/// aligned start.
fn aligned_buffer(capacity: usize) -> (Vec<u8>, usize) {
    let storage = vec![0u8; capacity + ALIGN];
    let start = storage.as_ptr().align_offset(ALIGN);
    (storage, start)
}

/// Opens `path` with `O_DIRECT` added to `options` where the file system allows it.
fn open_direct(options: &mut OpenOptions, path: &Path) -> Option<File> {
    options.custom_flags(libc::O_DIRECT).open(path).ok()
}

/// Ranges of a file read directly where the file system allows it.
pub struct DirectReader {
    file: File,
    path: PathBuf,
    direct: bool,
    storage: Vec<u8>,
    start: usize,
}

impl DirectReader {
    /// Opens `path` for reads of up to `max_len` bytes at a time.
    pub fn open(path: &Path, max_len: usize) -> Result<DirectReader> {
        let (file, direct) = match open_direct(OpenOptions::new().read(true), path) {
            Some(file) => (file, true),
            None => (File::open(path).map_err(|e| io("open", path, e))?, false),
        };
        let (storage, start) = aligned_buffer(max_len + 2 * ALIGN);
        Ok(DirectReader {
            file,
            path: path.to_path_buf(),
            direct,
            storage,
            start,
        })
    }

    /// Fills `into` from `offset`: straight into it where the file is read through the page
    /// cache (a memory-backed folder), through the aligned buffer where it is read directly.
    pub fn read_into(&mut self, offset: u64, into: &mut [u8]) -> Result<()> {
        if self.direct {
            into.copy_from_slice(self.read_at(offset, into.len())?);
            Ok(())
        } else {
            self.file
                .read_exact_at(into, offset)
                .map_err(|e| io("read", &self.path, e))
        }
    }

    /// The `len` bytes at `offset`; reading past the end of the file is an error.
    pub fn read_at(&mut self, offset: u64, len: usize) -> Result<&[u8]> {
        let skip = if self.direct {
            (offset % ALIGN as u64) as usize
        } else {
            0
        };
        let wanted = if self.direct {
            (skip + len).div_ceil(ALIGN) * ALIGN
        } else {
            len
        };
        let buffer = &mut self.storage[self.start..self.start + wanted];
        let mut got = 0;
        while got < skip + len {
            match self
                .file
                .read_at(&mut buffer[got..], offset - skip as u64 + got as u64)
            {
                Ok(0) => break,
                Ok(n) => got += n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Err(io("read", &self.path, e)),
            }
        }
        if got < skip + len {
            let eof = std::io::Error::from(std::io::ErrorKind::UnexpectedEof);
            return Err(io("read", &self.path, eof));
        }
        Ok(&self.storage[self.start + skip..self.start + skip + len])
    }
}

/// A file written front to back, directly where the file system allows it.
pub struct DirectWriter {
    file: File,
    path: PathBuf,
    direct: bool,
    /// Backing storage; the aligned window `[start, start + capacity)` is the buffer.
    storage: Vec<u8>,
    start: usize,
    capacity: usize,
    len: usize,
    /// Bytes written to the file so far (always a multiple of `ALIGN` while direct).
    written: u64,
}

impl DirectWriter {
    /// Creates `path`, buffering about `buffer_bytes` (rounded up to the alignment).
    pub fn create(path: &Path, buffer_bytes: usize) -> Result<DirectWriter> {
        let mut options = OpenOptions::new();
        options.write(true).create(true).truncate(true);
        let (file, direct) = match open_direct(&mut options, path) {
            Some(file) => (file, true),
            None => (
                File::create(path).map_err(|e| io("create", path, e))?,
                false,
            ),
        };
        let capacity = buffer_bytes.div_ceil(ALIGN).max(1) * ALIGN;
        let (storage, start) = aligned_buffer(capacity);
        Ok(DirectWriter {
            file,
            path: path.to_path_buf(),
            direct,
            storage,
            start,
            capacity,
            len: 0,
            written: 0,
        })
    }

    /// Appends `bytes`.
    pub fn append(&mut self, mut bytes: &[u8]) -> Result<()> {
        while !bytes.is_empty() {
            let room = self.capacity - self.len;
            let take = room.min(bytes.len());
            let at = self.start + self.len;
            self.storage[at..at + take].copy_from_slice(&bytes[..take]);
            self.len += take;
            bytes = &bytes[take..];
            if self.len == self.capacity {
                self.flush_aligned()?;
            }
        }
        Ok(())
    }

    /// Writes the aligned part of the buffer and keeps the rest at its front.
    fn flush_aligned(&mut self) -> Result<()> {
        let aligned = if self.direct {
            self.len / ALIGN * ALIGN
        } else {
            self.len
        };
        let buffer = &self.storage[self.start..self.start + aligned];
        self.file
            .write_all_at(buffer, self.written)
            .map_err(|e| io("write", &self.path, e))?;
        self.written += aligned as u64;
        self.storage
            .copy_within(self.start + aligned..self.start + self.len, self.start);
        self.len -= aligned;
        Ok(())
    }

    /// Writes what is left (the unaligned tail through an ordinary handle) and, when `sync`,
    /// makes the file durable.
    pub fn finish(mut self, sync: bool) -> Result<()> {
        self.flush_aligned()?;
        let tail = &self.storage[self.start..self.start + self.len];
        let file = if self.direct && !tail.is_empty() {
            let mut plain = OpenOptions::new()
                .write(true)
                .open(&self.path)
                .map_err(|e| io("open", &self.path, e))?;
            plain
                .write_all_at(tail, self.written)
                .and_then(|()| plain.flush())
                .map_err(|e| io("write", &self.path, e))?;
            plain
        } else {
            self.file
        };
        if sync {
            file.sync_all().map_err(|e| io("sync", &self.path, e))?;
        }
        Ok(())
    }
}

impl Write for DirectWriter {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.append(bytes).map_err(std::io::Error::other)?;
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_byte_lands_in_order_whatever_the_alignment() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        let bytes: Vec<u8> = (0..1_000_003u32).map(|i| (i % 251) as u8).collect();
        let mut writer = DirectWriter::create(&path, 10_000).unwrap();
        for piece in bytes.chunks(777) {
            writer.append(piece).unwrap();
        }
        writer.finish(true).unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), bytes);

        let mut reader = DirectReader::open(&path, 50_000).unwrap();
        for (offset, len) in [(0, 4096), (100, 50_000), (999_999, 4), (4097, 1)] {
            let read = reader.read_at(offset as u64, len).unwrap();
            assert_eq!(read, &bytes[offset..offset + len]);
        }
        let mut into = vec![0u8; 30_000];
        reader.read_into(5, &mut into).unwrap();
        assert_eq!(into, &bytes[5..30_005]);
        let past_end = reader.read_at(999_999, 5).unwrap_err().to_string();
        assert!(past_end.contains("read"), "{past_end}");
    }
}
