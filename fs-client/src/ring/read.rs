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
/// the end of its file fails with `UnexpectedEof`. Where the ring can, the reads land straight in
/// the buffers returned, which are never zeroed or copied.
pub fn read_ranges(
    ring: &mut dyn ReadRing,
    ranges: &[RangeRead],
) -> Result<Vec<Vec<u8>>, ReadFailure> {
    if !ring.reads_into_caller_memory() {
        let mut out: Vec<Vec<u8>> = ranges.iter().map(|r| vec![0; r.len]).collect();
        for_each_piece(ring, ranges, |range, at, data| {
            out[range][at..at + data.len()].copy_from_slice(data)
        })?;
        return Ok(out);
    }
    let mut out: Vec<Vec<u8>> = ranges.iter().map(|r| Vec::with_capacity(r.len)).collect();
    let starts: Vec<*mut u8> = out.iter_mut().map(|buf| buf.as_mut_ptr()).collect();
    let prep = |ring: &mut dyn ReadRing, piece: Piece| {
        let r = ranges[piece.range];
        // SAFETY: each piece is its own span of its range's buffer, allocated for the whole
        // range above; the buffers outlive every read, since `drive` returns only once none is
        // in flight or says that some may be, and then the buffers are leaked, not freed.
        unsafe {
            ring.prep_read_into(
                r.fd,
                r.offset + piece.at as u64,
                piece.len,
                starts[piece.range].add(piece.at),
                0,
            )
        }
    };
    match drive(ring, ranges, prep, |_, _, _, _| {}) {
        Ok(()) => {
            for (buf, r) in out.iter_mut().zip(ranges) {
                // SAFETY: every byte of the range was read into the buffer: a short read's rest
                // was read again until the range was whole.
                unsafe { buf.set_len(r.len) };
            }
            Ok(out)
        }
        Err(stopped) => {
            if stopped.reads_left_in_flight {
                std::mem::forget(out);
            }
            Err(stopped.failure)
        }
    }
}

/// Reads every range whole, handing each piece to `sink(range, offset_in_range, bytes)` as it
/// completes (in completion order, not file order).
pub fn for_each_piece(
    ring: &mut dyn ReadRing,
    ranges: &[RangeRead],
    mut sink: impl FnMut(usize, usize, &[u8]),
) -> Result<(), ReadFailure> {
    let prep = |ring: &mut dyn ReadRing, piece: Piece| {
        let r = ranges[piece.range];
        ring.prep_read(r.fd, r.offset + piece.at as u64, piece.len, 0)
    };
    drive(ring, ranges, prep, |ring, piece, slot, n| {
        sink(piece.range, piece.at, &ring.buffer(slot)[..n])
    })
    .map_err(|stopped| stopped.failure)
}

/// Why [`drive`] stopped short.
struct Stopped {
    failure: ReadFailure,
    /// The ring could not be waited on, so reads may still land in their memory.
    reads_left_in_flight: bool,
}

/// Keeps the ring full of slot-sized pieces of `ranges`, queued by `prep`, and hands each
/// completed piece to `done(ring, piece, slot, bytes_read)` before releasing its slot.
fn drive(
    ring: &mut dyn ReadRing,
    ranges: &[RangeRead],
    mut prep: impl FnMut(&mut dyn ReadRing, Piece) -> Result<usize, PrepError>,
    mut done: impl FnMut(&dyn ReadRing, Piece, usize, usize),
) -> Result<(), Stopped> {
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
            match prep(ring, piece) {
                Ok(slot) => {
                    in_flight[slot] = Some(piece);
                    flying += 1;
                    waiting.pop_front();
                }
                Err(PrepError::Full(_)) => break,
                Err(err) => {
                    // Reads already in flight must finish before the ring serves anyone else.
                    let reads_left_in_flight = !drain(ring, flying);
                    let err = match err {
                        PrepError::Io(err) => err,
                        other => std::io::Error::other(other),
                    };
                    return Err(Stopped {
                        failure: fail(piece, err),
                        reads_left_in_flight,
                    });
                }
            }
        }
        completions.clear();
        if let Err(err) = ring.wait(1, &mut completions) {
            let piece = in_flight.iter().flatten().next().copied();
            return Err(Stopped {
                failure: fail(piece.expect("waiting only with reads in flight"), err),
                reads_left_in_flight: true,
            });
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
                    done(ring, piece, completion.slot, n);
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
            let reads_left_in_flight = !drain(ring, flying);
            return Err(Stopped {
                failure,
                reads_left_in_flight,
            });
        }
    }
    Ok(())
}

/// Waits for the reads still in flight after a failure, so the ring is clean for its next user
/// and no read lands in memory after it; false where the ring could not be waited on.
fn drain(ring: &mut dyn ReadRing, flying: usize) -> bool {
    let mut completions = Vec::with_capacity(flying);
    if ring.wait(flying, &mut completions).is_err() {
        return false;
    }
    for completion in completions {
        ring.release(completion.slot);
    }
    true
}
