//! The io_uring ring: prepared reads become submission-queue entries, completions are reaped from
//! the completion queue in whatever order the device finishes them.

use std::os::fd::RawFd;

use io_uring::{IoUring, opcode, types};

use super::{AlignedBuffer, Completion, PrepError, ReadRing, Slots};

/// Reads through io_uring into the slots of one aligned buffer.
pub struct UringRing {
    ring: IoUring,
    buffer: AlignedBuffer,
    slots: Slots,
    /// Reads handed to the kernel whose completions have not been reaped.
    in_flight: usize,
    /// Reads pushed to the submission queue but not yet submitted.
    prepared: usize,
}

impl UringRing {
    /// A ring of `entries` slots of `block_size` bytes; fails where the kernel has io_uring off.
    pub fn new(entries: usize, block_size: usize) -> std::io::Result<Self> {
        let entries = entries.max(1);
        // The completion queue is twice the submission queue, and never more than `entries`
        // reads are outstanding, so completions cannot overflow.
        let ring = IoUring::new(entries.next_power_of_two() as u32)?;
        Ok(UringRing {
            ring,
            buffer: AlignedBuffer::new(entries, block_size),
            slots: Slots::new(entries),
            in_flight: 0,
            prepared: 0,
        })
    }

    /// Queues a read into `dest`, or into the slot it takes when `dest` is `None`.
    ///
    /// # Safety
    /// The read's memory must stay valid and unshared until its completion is reaped.
    unsafe fn prep(
        &mut self,
        fd: RawFd,
        offset: u64,
        len: usize,
        dest: Option<*mut u8>,
        user_data: u64,
    ) -> Result<usize, PrepError> {
        let slot = self.slots.take(len, self.block_size(), user_data)?;
        let dest = dest.unwrap_or_else(|| self.buffer.slot_ptr(slot));
        let entry = opcode::Read::new(types::Fd(fd), dest, len as u32)
            .offset(offset)
            .build()
            .user_data(slot as u64);
        // SAFETY: the caller vouches for `dest`.
        if unsafe { self.ring.submission().push(&entry) }.is_err() {
            self.slots.untake(slot);
            return Err(PrepError::Full(self.entries()));
        }
        self.prepared += 1;
        Ok(slot)
    }

    fn reap(&mut self, out: &mut Vec<Completion>) {
        for cqe in self.ring.completion() {
            let slot = cqe.user_data() as usize;
            let result = cqe.result();
            out.push(Completion {
                slot,
                user_data: self.slots.user_data[slot],
                result: if result >= 0 {
                    Ok(result as usize)
                } else {
                    Err(-result)
                },
            });
            self.in_flight -= 1;
        }
    }
}

impl ReadRing for UringRing {
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
        // SAFETY: the slot's memory belongs to this ring's buffer, which outlives the read (Drop
        // waits for every read in flight), and no other read uses the slot until it is released.
        unsafe { self.prep(fd, offset, len, None, user_data) }
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
        // SAFETY: the caller keeps `dest` valid and unshared until the completion is reaped.
        unsafe { self.prep(fd, offset, len, Some(dest), user_data) }
    }

    fn submit(&mut self) -> std::io::Result<()> {
        if self.prepared > 0 {
            self.ring.submit()?;
            self.in_flight += self.prepared;
            self.prepared = 0;
        }
        Ok(())
    }

    fn wait(&mut self, min_results: usize, out: &mut Vec<Completion>) -> std::io::Result<()> {
        self.submit()?;
        let before = out.len();
        self.reap(out);
        let want = min_results.min(self.in_flight + (out.len() - before));
        while out.len() - before < want {
            let missing = want - (out.len() - before);
            match self.ring.submit_and_wait(missing) {
                Ok(_) => {}
                Err(err) if err.raw_os_error() == Some(libc::EINTR) => {}
                Err(err) => return Err(err),
            }
            self.reap(out);
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

impl Drop for UringRing {
    fn drop(&mut self) {
        // The kernel may still write into the buffer: wait for every read before freeing it.
        let mut drained = Vec::new();
        if self
            .wait(self.in_flight + self.prepared, &mut drained)
            .is_err()
        {
            // The ring cannot be waited on; leak the buffer rather than let the kernel write
            // into freed memory.
            std::mem::forget(std::mem::replace(
                &mut self.buffer,
                AlignedBuffer::new(0, 0),
            ));
        }
    }
}
