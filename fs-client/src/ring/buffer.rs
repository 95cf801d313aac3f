//! The shared buffer a ring reads into, aligned for O_DIRECT and 3FS.

/// Alignment of the buffer and of each slot: the largest sector or page size in use.
const ALIGN: usize = 4096;

/// A zeroed buffer aligned to 4 KiB, cut into equal slots.
///
/// It is an anonymous mapping, so it is page-aligned and zero without being written: a page
/// costs memory and a fault only once a read lands in it. Rings that read into their callers'
/// memory ([`super::ReadRing::prep_read_into`]) never touch theirs, and a ring of 4 × 8 MiB
/// slots costs nothing to open (allocating it zeroed wrote all 32 MiB, some 10 ms, on every
/// process's first scan).
pub struct AlignedBuffer {
    ptr: *mut u8,
    len: usize,
    slot_size: usize,
}

// The buffer is plain memory owned by this value; the rings hand out slices under `&self`.
unsafe impl Send for AlignedBuffer {}
unsafe impl Sync for AlignedBuffer {}

impl AlignedBuffer {
    /// A buffer of `slots` slots of `slot_size` bytes (rounded up to the alignment).
    pub fn new(slots: usize, slot_size: usize) -> Self {
        let slot_size = slot_size.max(1).next_multiple_of(ALIGN);
        let len = slots
            .max(1)
            .checked_mul(slot_size)
            .expect("ring buffer size fits the address space");
        // SAFETY: a fresh private anonymous mapping of a non-zero length; no memory is aliased.
        let ptr = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                -1,
                0,
            )
        };
        if ptr == libc::MAP_FAILED {
            let layout = std::alloc::Layout::from_size_align(len, ALIGN)
                .expect("ring buffer size fits the address space");
            std::alloc::handle_alloc_error(layout);
        }
        AlignedBuffer {
            ptr: ptr.cast(),
            len,
            slot_size,
        }
    }

    /// Bytes per slot.
    pub fn slot_size(&self) -> usize {
        self.slot_size
    }

    /// The start of a slot, for a read in flight to write to.
    pub fn slot_ptr(&self, slot: usize) -> *mut u8 {
        assert!(
            (slot + 1) * self.slot_size <= self.len,
            "slot {slot} out of range"
        );
        // SAFETY: in bounds, checked above.
        unsafe { self.ptr.add(slot * self.slot_size) }
    }

    /// A slot's bytes. Only meaningful once the read into it has completed.
    pub fn slot(&self, slot: usize) -> &[u8] {
        // SAFETY: `slot_ptr` checked the bounds; the mapping is initialised (zero from birth).
        unsafe { std::slice::from_raw_parts(self.slot_ptr(slot), self.slot_size) }
    }

    /// A slot's bytes, writable (for rings that copy into it themselves).
    pub fn slot_mut(&mut self, slot: usize) -> &mut [u8] {
        // SAFETY: as for `slot`, and `&mut self` excludes other borrows.
        unsafe { std::slice::from_raw_parts_mut(self.slot_ptr(slot), self.slot_size) }
    }
}

impl Drop for AlignedBuffer {
    fn drop(&mut self) {
        // SAFETY: mapped in `new` with this length, and no slice of it outlives `self`.
        unsafe { libc::munmap(self.ptr.cast(), self.len) };
    }
}
