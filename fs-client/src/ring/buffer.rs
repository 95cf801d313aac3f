//! The shared buffer a ring reads into, aligned for O_DIRECT and 3FS.

use std::alloc::{Layout, alloc_zeroed, dealloc};

/// Alignment of the buffer and of each slot: the largest sector or page size in use.
const ALIGN: usize = 4096;

/// A zeroed heap buffer aligned to 4 KiB, cut into equal slots.
pub struct AlignedBuffer {
    ptr: *mut u8,
    layout: Layout,
    slot_size: usize,
}

// The buffer is plain memory owned by this value; the rings hand out slices under `&self`.
unsafe impl Send for AlignedBuffer {}
unsafe impl Sync for AlignedBuffer {}

impl AlignedBuffer {
    /// A buffer of `slots` slots of `slot_size` bytes (rounded up to the alignment).
    pub fn new(slots: usize, slot_size: usize) -> Self {
        let slot_size = slot_size.max(1).next_multiple_of(ALIGN);
        let layout = Layout::from_size_align(slots.max(1) * slot_size, ALIGN)
            .expect("ring buffer size fits the address space");
        // SAFETY: the layout has a non-zero size.
        let ptr = unsafe { alloc_zeroed(layout) };
        if ptr.is_null() {
            std::alloc::handle_alloc_error(layout);
        }
        AlignedBuffer {
            ptr,
            layout,
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
            (slot + 1) * self.slot_size <= self.layout.size(),
            "slot {slot} out of range"
        );
        // SAFETY: in bounds, checked above.
        unsafe { self.ptr.add(slot * self.slot_size) }
    }

    /// A slot's bytes. Only meaningful once the read into it has completed.
    pub fn slot(&self, slot: usize) -> &[u8] {
        // SAFETY: `slot_ptr` checked the bounds; the memory is initialised (zeroed at birth).
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
        // SAFETY: allocated in `new` with this layout.
        unsafe { dealloc(self.ptr, self.layout) }
    }
}
