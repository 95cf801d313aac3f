//! Reading whole byte ranges through a ring: keep it full, split ranges into slot-sized reads,
//! resubmit the rest of a short read, and turn an errno into an error that names the range.

use std::collections::VecDeque;
use std::os::fd::RawFd;

use super::{Completion, PrepError, ReadRing};

/// A byte range of an open file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RangeRead {
    pub fd: RawFd,
    pub offset: u64,
    pub len: usize,
}

/// A range that could not be read whole.
#[derive(Debug, thiserror::Error)]
#[error("read of {len} bytes at offset {offset}: {source}")]
pub struct ReadFailure {
    /// Index of the range in the caller's list.
    pub range: usize,
    pub offset: u64,
    pub len: usize,
    pub source: std::io::Error,
}

/// One slot-sized read: part of range `range`, landing at `at` in its output.
#[derive(Debug, Clone, Copy)]
struct Piece {
    range: usize,
    at: usize,
    len: usize,
}

/// Reads every range whole, with as many reads in flight as the ring has slots. Ranges longer than
/// a slot go as several reads; a short read is resubmitted for the rest; a range that runs past
/// the end of its file fails with `UnexpectedEof`.
pub fn read_ranges(
    ring: &mut dyn ReadRing,
    ranges: &[RangeRead],
) -> Result<Vec<Vec<u8>>, ReadFailure> {
    let mut out: Vec<Vec<u8>> = ranges.iter().map(|r| vec![0; r.len]).collect();
    for_each_piece(ring, ranges, |range, at, data| {
        out[range][at..at + data.len()].copy_from_slice(data)
    })?;
    Ok(out)
}

/// Reads every range whole, handing each piece to `sink(range, offset_in_range, bytes)` as it
/// completes (in completion order, not file order).
pub fn for_each_piece(
    ring: &mut dyn ReadRing,
    ranges: &[RangeRead],
    mut sink: impl FnMut(usize, usize, &[u8]),
) -> Result<(), ReadFailure> {
    let block = ring.block_size();
    let mut waiting: VecDeque<Piece> = ranges
        .iter()
        .enumerate()
        .flat_map(|(range, r)| {
            (0..r.len).step_by(block.max(1)).map(move |at| Piece {
                range,
                at,
                len: block.min(r.len - at),
            })
        })
        .collect();
    let mut in_flight: Vec<Option<Piece>> = vec![None; ring.entries()];
    let mut flying = 0;
    let mut completions: Vec<Completion> = Vec::with_capacity(ring.entries());
    let fail = |piece: Piece, source: std::io::Error| ReadFailure {
        range: piece.range,
        offset: ranges[piece.range].offset,
        len: ranges[piece.range].len,
        source,
    };
    while !waiting.is_empty() || flying > 0 {
        while let Some(&piece) = waiting.front() {
            let r = ranges[piece.range];
            match ring.prep_read(r.fd, r.offset + piece.at as u64, piece.len, 0) {
                Ok(slot) => {
                    in_flight[slot] = Some(piece);
                    flying += 1;
                    waiting.pop_front();
                }
                Err(PrepError::Full(_)) => break,
                Err(err) => {
                    // Reads already in flight must finish before the ring serves anyone else.
                    drain(ring, flying);
                    let err = match err {
                        PrepError::Io(err) => err,
                        other => std::io::Error::other(other),
                    };
                    return Err(fail(piece, err));
                }
            }
        }
        completions.clear();
        if let Err(err) = ring.wait(1, &mut completions) {
            let piece = in_flight.iter().flatten().next().copied();
            return Err(fail(piece.expect("waiting only with reads in flight"), err));
        }
        let mut failure = None;
        for completion in &completions {
            let piece = in_flight[completion.slot]
                .take()
                .expect("a completion for a read in flight");
            flying -= 1;
            let read = match completion.result {
                Ok(0) => Err(std::io::ErrorKind::UnexpectedEof.into()),
                Ok(n) => Ok(n.min(piece.len)),
                Err(errno) => Err(std::io::Error::from_raw_os_error(errno)),
            };
            match read {
                Ok(n) if failure.is_none() => {
                    sink(piece.range, piece.at, &ring.buffer(completion.slot)[..n]);
                    if n < piece.len {
                        waiting.push_front(Piece {
                            range: piece.range,
                            at: piece.at + n,
                            len: piece.len - n,
                        });
                    }
                }
                Ok(_) => {}
                Err(err) => failure = failure.or(Some(fail(piece, err))),
            }
            ring.release(completion.slot);
        }
        if let Some(failure) = failure {
            drain(ring, flying);
            return Err(failure);
        }
    }
    Ok(())
}

/// Waits for the reads still in flight after a failure, so the ring is clean for its next user.
fn drain(ring: &mut dyn ReadRing, flying: usize) {
    let mut completions = Vec::with_capacity(flying);
    if ring.wait(flying, &mut completions).is_ok() {
        for completion in completions {
            ring.release(completion.slot);
        }
    }
}
