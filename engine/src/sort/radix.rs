//! Sorting one partition of records in memory: an MSD radix sort over the 10-byte keys.
//!
//! A partition's records come in pieces (one per shuffle file, mapped or read into memory);
//! each record becomes a 16-byte entry, `key << 48 | piece << 24 | index`, so that entries
//! compare as their keys and then by position. One pass distributes the entries into 2^16
//! buckets by the 16 key bits below the prefix they all share (for a range partition that
//! prefix is long, so the digit still splits them evenly); buckets are sorted in parallel,
//! recursing while they are large and finishing small ones with a comparison sort. The records
//! are then gathered in entry order, a block at a time, while the previous block is written.

use std::io::Write;

use rayon::prelude::*;

use super::format::{KEY_LEN, RECORD_LEN};

/// Bits of key each distribution pass looks at.
const DIGIT_BITS: u32 = 16;
/// Buckets at or below this many entries are finished by a comparison sort.
const SMALL: usize = 1 << 12;
/// Records gathered per write.
const WRITE_RECORDS: usize = 80_000;
/// Entry bits for a record's index in its piece, and for its piece: a piece holds at most one
/// input slice (512 MB, 5.4 M records), and a partition has one piece per slice.
const INDEX_BITS: u32 = 24;
const PIECE_BITS: u32 = 24;
/// Where the key starts in an entry: the 80-bit key fills the rest of the 128.
const KEY_SHIFT: u32 = INDEX_BITS + PIECE_BITS;

/// A key as an 80-bit number: comparing these compares the keys as unsigned bytes.
pub fn key_value(record: &[u8]) -> u128 {
    let mut bytes = [0u8; 16];
    bytes[16 - KEY_LEN..].copy_from_slice(&record[..KEY_LEN]);
    u128::from_be_bytes(bytes)
}

/// The records of `pieces` in key order, as entries whose low 48 bits locate each record.
/// Records with equal keys keep their order (piece by piece, then within a piece).
pub fn sorted_entries(pieces: &[&[u8]]) -> Vec<u128> {
    assert!(
        pieces.len() < 1 << PIECE_BITS
            && pieces
                .iter()
                .all(|p| p.len() / RECORD_LEN < 1 << INDEX_BITS),
        "a partition has fewer than 2^24 pieces of fewer than 2^24 records each"
    );
    let mut entries = Vec::with_capacity(pieces.iter().map(|p| p.len() / RECORD_LEN).sum());
    for (p, piece) in pieces.iter().enumerate() {
        entries.par_extend(
            piece
                .par_chunks_exact(RECORD_LEN)
                .enumerate()
                .map(|(i, r)| key_value(r) << KEY_SHIFT | (p as u128) << INDEX_BITS | i as u128),
        );
    }
    sort(&mut entries);
    entries
}

/// The record an entry stands for.
fn record<'a>(pieces: &[&'a [u8]], entry: u128) -> &'a [u8] {
    let mask = |bits: u32| (1usize << bits) - 1;
    let piece = (entry >> INDEX_BITS) as usize & mask(PIECE_BITS);
    let at = (entry as usize & mask(INDEX_BITS)) * RECORD_LEN;
    &pieces[piece][at..at + RECORD_LEN]
}

fn sort(entries: &mut [u128]) {
    if entries.len() <= SMALL {
        entries.sort_unstable();
        return;
    }
    let (low, high) = entries
        .par_iter()
        .fold(
            || (u128::MAX, 0),
            |(low, high), &e| (low.min(e >> KEY_SHIFT), high.max(e >> KEY_SHIFT)),
        )
        .reduce(|| (u128::MAX, 0), |a, b| (a.0.min(b.0), a.1.max(b.1)));
    if low == high {
        // Equal keys: the entries differ only by index.
        entries.sort_unstable();
        return;
    }
    let highest_differing = 127 - (low ^ high).leading_zeros();
    let shift = KEY_SHIFT + highest_differing.saturating_sub(DIGIT_BITS - 1);
    let digit = |e: u128| ((e >> shift) as usize) & ((1 << DIGIT_BITS) - 1);

    let mut counts = vec![0usize; 1 << DIGIT_BITS];
    for &e in entries.iter() {
        counts[digit(e)] += 1;
    }
    let mut next = Vec::with_capacity(counts.len());
    let mut offset = 0;
    for &count in &counts {
        next.push(offset);
        offset += count;
    }
    let mut scratch = vec![0u128; entries.len()];
    for &e in entries.iter() {
        let d = digit(e);
        scratch[next[d]] = e;
        next[d] += 1;
    }
    entries.copy_from_slice(&scratch);
    drop(scratch);

    let mut buckets = Vec::new();
    let mut rest = entries;
    for &count in &counts {
        let (bucket, tail) = std::mem::take(&mut rest).split_at_mut(count);
        // A bucket of one entry is sorted already.
        if count > 1 {
            buckets.push(bucket);
        }
        rest = tail;
    }
    buckets.into_par_iter().for_each(sort);
}

/// Writes the records of `pieces` in the order of `entries`, gathering the next block while
/// the previous one is written.
pub fn write_in_order(
    pieces: &[&[u8]],
    entries: &[u128],
    out: &mut (impl Write + Send),
) -> std::io::Result<()> {
    let gather = |buf: &mut Vec<u8>, block: &[u128]| {
        buf.resize(block.len() * RECORD_LEN, 0);
        buf.par_chunks_exact_mut(RECORD_LEN)
            .zip(block.par_iter())
            .for_each(|(dst, &e)| dst.copy_from_slice(record(pieces, e)));
    };
    // Two buffers: one being written while the other is filled.
    let (mut ready, mut next) = (Vec::new(), Vec::new());
    for block in entries.chunks(WRITE_RECORDS) {
        let (wrote, ()) = rayon::join(|| out.write_all(&ready), || gather(&mut next, block));
        wrote?;
        std::mem::swap(&mut ready, &mut next);
    }
    out.write_all(&ready)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};

    fn records_with_keys(keys: &[[u8; KEY_LEN]]) -> Vec<u8> {
        let mut records = Vec::new();
        for (i, key) in keys.iter().enumerate() {
            let mut record = [0u8; RECORD_LEN];
            record[..KEY_LEN].copy_from_slice(key);
            record[KEY_LEN..KEY_LEN + 8].copy_from_slice(&(i as u64).to_be_bytes());
            records.extend_from_slice(&record);
        }
        records
    }

    fn check_sorts(keys: &[[u8; KEY_LEN]]) {
        let records = records_with_keys(keys);
        // Three pieces of uneven size, as shuffle files from three input slices.
        let (first, rest) = records.split_at(records.len() / RECORD_LEN / 5 * RECORD_LEN);
        let (second, third) = rest.split_at(rest.len() / RECORD_LEN / 2 * RECORD_LEN);
        let pieces = [first, second, third];
        let entries = sorted_entries(&pieces);
        let mut out = Vec::new();
        write_in_order(&pieces, &entries, &mut out).unwrap();
        let mut expected: Vec<&[u8]> = records.chunks_exact(RECORD_LEN).collect();
        // A stable sort by key is the reference: equal keys keep their input order.
        expected.sort_by(|a, b| a[..KEY_LEN].cmp(&b[..KEY_LEN]));
        assert_eq!(out, expected.concat());
    }

    #[test]
    fn random_keys_sort_like_a_stable_comparison_sort() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(7);
        let keys: Vec<[u8; KEY_LEN]> = (0..50_000).map(|_| rng.random()).collect();
        check_sorts(&keys);
    }

    #[test]
    fn shared_prefixes_and_equal_keys_still_sort() {
        // Keys that agree on their first 7 bytes and differ in few values below, plus runs of
        // identical keys: the digit must come from below the shared prefix, and equal keys
        // must stay in input order.
        let mut rng = rand::rngs::StdRng::seed_from_u64(11);
        let keys: Vec<[u8; KEY_LEN]> = (0..40_000)
            .map(|_| {
                let mut key = *b"SHAREDPxyz";
                key[7] = rng.random_range(0..3);
                key[9] = rng.random_range(0..2);
                key
            })
            .collect();
        check_sorts(&keys);
    }

    #[test]
    fn an_empty_partition_writes_nothing() {
        let entries = sorted_entries(&[&[], &[]]);
        let mut out = Vec::new();
        write_in_order(&[], &entries, &mut out).unwrap();
        assert!(out.is_empty());
    }
}
