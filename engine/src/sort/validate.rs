//! `tarn sort validate`: valsort's checks over a folder of sorted record files. Every file is
//! cut into chunks that are summarised in parallel (first and last key, counts, checksum), and
//! the summaries are joined in name order, comparing each chunk's first key with the previous
//! chunk's last, as valsort joins its partition summaries.

use std::path::Path;

use rayon::prelude::*;

use super::files::{Slice, open, read_records, record_files, slices};
use super::format::{Checksum, KEY_LEN, RECORD_LEN};
use crate::error::{Result, TarnError};

/// Records per chunk a thread summarises.
const CHUNK_RECORDS: u64 = 400_000;

/// What validation found; [`Validation::lines`] prints it as valsort does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Validation {
    pub records: u64,
    pub checksum: Checksum,
    /// Records whose key equals the previous record's key.
    pub duplicates: u64,
    /// Records whose key is smaller than the previous record's key.
    pub unordered: u64,
    /// The position (counting from 0 over all files in order) of the first unordered record.
    pub first_unordered: Option<u64>,
}

impl Validation {
    pub fn in_order(&self) -> bool {
        self.unordered == 0
    }

    /// valsort's report: the first unordered record if any, then `Records:`, `Checksum:` and
    /// either the duplicate count and `SUCCESS` or the count of unordered records.
    pub fn lines(&self) -> Vec<String> {
        let mut lines = Vec::new();
        if let Some(first) = self.first_unordered {
            lines.push(format!("First unordered record is record {first}"));
        }
        lines.push(format!("Records: {}", self.records));
        lines.push(format!("Checksum: {}", self.checksum));
        if self.in_order() {
            lines.push(format!("Duplicate keys: {}", self.duplicates));
            lines.push("SUCCESS - all records are in order".to_string());
        } else {
            lines.push(format!(
                "ERROR - there are {} unordered records",
                self.unordered
            ));
        }
        lines
    }
}

/// One chunk's summary.
struct Summary {
    first_key: [u8; KEY_LEN],
    last_key: [u8; KEY_LEN],
    records: u64,
    duplicates: u64,
    unordered: u64,
    /// Position inside the chunk.
    first_unordered: Option<u64>,
    checksum: Checksum,
}

/// Validates the record files of `dir` in name order. A folder without records is an error,
/// as in valsort.
pub fn validate(dir: &Path) -> Result<Validation> {
    let files = record_files(dir)?;
    let chunks = slices(&files, CHUNK_RECORDS);
    if chunks.is_empty() {
        return Err(TarnError::Invalid(format!(
            "no records to validate in '{}'",
            dir.display()
        )));
    }
    let summaries: Vec<Summary> = chunks
        .par_iter()
        .map(|slice| summarise(&files[slice.file].path, slice))
        .collect::<Result<_>>()?;
    Ok(join(&summaries))
}

fn summarise(path: &Path, slice: &Slice) -> Result<Summary> {
    let mut buf = vec![0u8; slice.records as usize * RECORD_LEN];
    read_records(&open(path)?, path, slice.first, &mut buf)?;
    let key = |r: &[u8]| -> [u8; KEY_LEN] { r[..KEY_LEN].try_into().expect("a key") };
    let mut summary = Summary {
        first_key: key(&buf),
        last_key: key(&buf[buf.len() - RECORD_LEN..]),
        records: slice.records,
        duplicates: 0,
        unordered: 0,
        first_unordered: None,
        checksum: Checksum::of(&buf),
    };
    for (i, pair) in buf
        .windows(RECORD_LEN + KEY_LEN)
        .step_by(RECORD_LEN)
        .enumerate()
    {
        let (previous, current) = (&pair[..KEY_LEN], &pair[RECORD_LEN..]);
        match previous.cmp(current) {
            std::cmp::Ordering::Equal => summary.duplicates += 1,
            std::cmp::Ordering::Greater => {
                summary.unordered += 1;
                summary.first_unordered.get_or_insert(i as u64 + 1);
            }
            std::cmp::Ordering::Less => {}
        }
    }
    Ok(summary)
}

/// Joins chunk summaries in order.
fn join(summaries: &[Summary]) -> Validation {
    let mut total = Validation {
        records: 0,
        checksum: Checksum::default(),
        duplicates: 0,
        unordered: 0,
        first_unordered: None,
    };
    let mut previous: Option<[u8; KEY_LEN]> = None;
    for s in summaries {
        if let Some(last) = previous {
            match last.cmp(&s.first_key) {
                std::cmp::Ordering::Equal => total.duplicates += 1,
                std::cmp::Ordering::Greater => {
                    total.unordered += 1;
                    total.first_unordered.get_or_insert(total.records);
                }
                std::cmp::Ordering::Less => {}
            }
        }
        if let Some(first) = s.first_unordered {
            total.first_unordered.get_or_insert(total.records + first);
        }
        total.records += s.records;
        total.duplicates += s.duplicates;
        total.unordered += s.unordered;
        total.checksum += s.checksum;
        previous = Some(s.last_key);
    }
    total
}
