//! The one-read-at-a-time ring: each `wait` performs the submitted reads with `pread`, in order.
//! The baseline the other rings are measured against, and the fallback where io_uring is off.

use std::collections::VecDeque;
use std::os::fd::RawFd;

use super::{AlignedBuffer, Completion, PrepError, ReadRing, Slots};

/// Reads with `pread(2)`, one at a time, when waited for.
pub struct PreadRing {
    buffer: AlignedBuffer,
    slots: Slots,
    prepared: Vec<Request>,
    submitted: VecDeque<Request>,
}

struct Request {
    slot: usize,
    fd: RawFd,
    offset: u64,
    len: usize,
    /// Where the bytes go when not into the slot ([`ReadRing::prep_read_into`]).
    dest: Option<CallerMemory>,
}

/// A caller's buffer a request reads into.
struct CallerMemory(*mut u8);

// The caller of `prep_read_into` guarantees the memory stays valid and unshared until the
// request completes, on whichever thread waits for it.
unsafe impl Send for CallerMemory {}

impl PreadRing {
    /// A ring of `entries` slots of `block_size` bytes.
    pub fn new(entries: usize, block_size: usize) -> Self {
        PreadRing {
            buffer: AlignedBuffer::new(entries, block_size),
            slots: Slots::new(entries),
            prepared: Vec::new(),
            submitted: VecDeque::new(),
        }
    }

    fn prep(
        &mut self,
        fd: RawFd,
        offset: u64,
        len: usize,
        dest: Option<CallerMemory>,
        user_data: u64,
    ) -> Result<usize, PrepError> {
        let slot = self.slots.take(len, self.block_size(), user_data)?;
        self.prepared.push(Request {
            slot,
            fd,
            offset,
            len,
            dest,
        });
        Ok(slot)
    }

    fn perform(&mut self, request: Request) -> Completion {
        let buf = match &request.dest {
            // SAFETY: `prep_read_into`'s caller keeps the memory valid and unshared until this
            // completion is returned.
            Some(dest) => unsafe { std::slice::from_raw_parts_mut(dest.0, request.len) },
            None => &mut self.buffer.slot_mut(request.slot)[..request.len],
        };
        let mut done = 0;
        let result = loop {
            if done == buf.len() {
                break Ok(done);
            }
            // SAFETY: `buf[done..]` is valid writable memory of the given length.
            let n = unsafe {
                libc::pread(
                    request.fd,
                    buf[done..].as_mut_ptr().cast(),
                    buf.len() - done,
                    (request.offset + done as u64) as libc::off_t,
                )
            };
            match n {
                0 => break Ok(done),
                n if n > 0 => done += n as usize,
                _ => {
                    let errno = std::io::Error::last_os_error()
                        .raw_os_error()
                        .unwrap_or(libc::EIO);
                    if errno != libc::EINTR {
                        break Err(errno);
                    }
                }
            }
        };
        Completion {
            slot: request.slot,
            user_data: self.slots.user_data[request.slot],
            result,
        }
    }
}

impl ReadRing for PreadRing {
    fn entries(&self) -> usize {
        self.slots.user_data.len()
    }

    fn block_size(&self) -> usize {
        self.buffer.slot_size()
    }

    fn prep_read(
        &mut self,
        fd: RawFd,
        offset: u64,
        len: usize,
        user_data: u64,
    ) -> Result<usize, PrepError> {
        self.prep(fd, offset, len, None, user_data)
    }

    fn reads_into_caller_memory(&self) -> bool {
        true
    }

    unsafe fn prep_read_into(
        &mut self,
        fd: RawFd,
        offset: u64,
        len: usize,
        dest: *mut u8,
        user_data: u64,
    ) -> Result<usize, PrepError> {
        self.prep(fd, offset, len, Some(CallerMemory(dest)), user_data)
    }

    fn submit(&mut self) -> std::io::Result<()> {
        self.submitted.extend(self.prepared.drain(..));
        Ok(())
    }

    fn wait(&mut self, min_results: usize, out: &mut Vec<Completion>) -> std::io::Result<()> {
        self.submit()?;
        for _ in 0..min_results.max(1) {
            let Some(request) = self.submitted.pop_front() else {
                break;
            };
            let completion = self.perform(request);
            out.push(completion);
        }
        Ok(())
    }

    fn buffer(&self, slot: usize) -> &[u8] {
        self.buffer.slot(slot)
    }

    fn release(&mut self, slot: usize) {
        self.slots.release(slot);
    }
}
