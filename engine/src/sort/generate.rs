//! `tarn sort gen`: gensort records written into several files in parallel. Blocks of records
//! are generated on every core while the previous blocks are written, and each file appears
//! under its final name only when it is whole and synced.

use std::fs;
use std::path::{Path, PathBuf};

use rayon::prelude::*;

use super::direct::DirectWriter;
use super::files::has_data;
use super::format::{Checksum, RECORD_LEN, RecordFormat, generate};
use crate::error::{Result, TarnError};
use crate::job::layout::io;

/// Bytes each file's writer buffers.
const WRITE_BUFFER_BYTES: usize = 8 << 20;
/// Records generated as one piece of work.
const BLOCK_RECORDS: u64 = 100_000;

/// What to generate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GenOptions {
    pub records: u64,
    pub files: usize,
    /// The first record's number (gensort's `-b`).
    pub start: u64,
    pub format: RecordFormat,
}

/// What was written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Generated {
    pub records: u64,
    pub checksum: Checksum,
    pub files: Vec<PathBuf>,
}

/// The name of generated file `i`.
pub fn gen_file_name(i: usize) -> String {
    format!("gen-{i:05}.dat")
}

/// Writes `options.records` records into `options.files` files in `dir`, which must hold no
/// data yet. File `i` holds an even share of the records, in record order.
pub fn generate_files(dir: &Path, options: &GenOptions) -> Result<Generated> {
    if options.files == 0 {
        return Err(TarnError::Invalid("--files must be at least 1".into()));
    }
    if options.start.checked_add(options.records).is_none() {
        return Err(TarnError::Invalid(
            "record numbers past 2^64 are not supported".into(),
        ));
    }
    if has_data(dir)? {
        return Err(TarnError::TargetExists(dir.display().to_string()));
    }
    fs::create_dir_all(dir).map_err(|e| io("create", dir, e))?;
    let files = options.files as u64;
    let mut checksum = Checksum::default();
    let mut written = Vec::new();
    for i in 0..files {
        let first = options.start + options.records * i / files;
        let end = options.start + options.records * (i + 1) / files;
        let path = dir.join(gen_file_name(i as usize));
        checksum += write_file(&path, options.format, first, end)?;
        written.push(path);
    }
    Ok(Generated {
        records: options.records,
        checksum,
        files: written,
    })
}

/// Writes records `first..end` to `path` through a temporary name; returns their checksum.
fn write_file(path: &Path, format: RecordFormat, first: u64, end: u64) -> Result<Checksum> {
    let name = path.file_name().expect("a file name").to_string_lossy();
    let temporary = path.with_file_name(format!(".{name}.tmp"));
    let mut file = DirectWriter::create(&temporary, WRITE_BUFFER_BYTES)?;
    let blocks: Vec<(u64, u64)> = (first..end)
        .step_by(BLOCK_RECORDS as usize)
        .map(|b| (b, (b + BLOCK_RECORDS).min(end)))
        .collect();
    let wave = rayon::current_num_threads().max(1) * 2;
    let mut checksum = Checksum::default();
    let mut ready: Vec<Vec<u8>> = Vec::new();
    for group in blocks.chunks(wave) {
        let (wrote, made) = rayon::join(
            || ready.iter().try_for_each(|b| file.append(b)),
            || {
                group
                    .par_iter()
                    .map(|&(b, e)| {
                        let mut buf = vec![0u8; (e - b) as usize * RECORD_LEN];
                        generate(format, b, &mut buf);
                        let sum = Checksum::of(&buf);
                        (buf, sum)
                    })
                    .collect::<Vec<_>>()
            },
        );
        wrote?;
        ready = made
            .into_iter()
            .map(|(buf, sum)| {
                checksum += sum;
                buf
            })
            .collect();
    }
    ready.iter().try_for_each(|b| file.append(b))?;
    file.finish(true)?;
    fs::rename(&temporary, path).map_err(|e| io("rename into", path, e))?;
    Ok(checksum)
}
