//! 3FS's USRBIO API, opened at run time from `libhf3fs_api_shared.so`.
//!
//! USRBIO is a zero-copy path around FUSE: the client process and the 3FS daemon share an *Iov*
//! (a buffer registered under `<mount>/3fs-virt/iovs`) and an *Ior* (a ring of I/O requests);
//! reads land in the Iov straight from the storage network. The library is never linked at build
//! time, so every machine builds Tarn; where it loads, files on a 3FS mount are read through it.
//! The `#[repr(C)]` structs below follow `src/lib/api/hf3fs_usrbio.h` of the 3FS repository; the
//! tests pin their sizes and offsets to that header's layout on LP64 Linux.

use std::ffi::{CString, c_char, c_int, c_void};
use std::os::fd::RawFd;
use std::path::Path;
use std::sync::Arc;

use super::{Completion, PrepError, ReadRing, Slots};

/// The shared library 3FS's client package installs; `TARN_USRBIO_LIB` names another path.
pub const LIBRARY: &str = "libhf3fs_api_shared.so";

/// `struct hf3fs_iov`: the shared buffer.
#[repr(C)]
#[derive(Debug)]
pub struct Hf3fsIov {
    pub base: *mut u8,
    pub iovh: *mut c_void,
    pub id: [c_char; 16],
    pub mount_point: [c_char; 256],
    pub size: usize,
    pub block_size: usize,
    pub numa: c_int,
}

/// `struct hf3fs_ior`: the submission/completion ring, with the Iov that backs it.
#[repr(C)]
#[derive(Debug)]
pub struct Hf3fsIor {
    pub iov: Hf3fsIov,
    pub iorh: *mut c_void,
    pub mount_point: [c_char; 256],
    pub for_read: bool,
    pub io_depth: c_int,
    pub priority: c_int,
    pub timeout: c_int,
    pub flags: u64,
}

/// `struct hf3fs_cqe`: one completion.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct Hf3fsCqe {
    pub index: i32,
    pub reserved: i32,
    pub result: i64,
    pub userdata: *const c_void,
}

type IovCreate = unsafe extern "C" fn(*mut Hf3fsIov, *const c_char, usize, usize, c_int) -> c_int;
type IovDestroy = unsafe extern "C" fn(*mut Hf3fsIov);
type IorCreate4 = unsafe extern "C" fn(
    *mut Hf3fsIor,
    *const c_char,
    c_int,
    bool,
    c_int,
    c_int,
    c_int,
    u64,
) -> c_int;
type IorDestroy = unsafe extern "C" fn(*mut Hf3fsIor);
type RegFd = unsafe extern "C" fn(c_int, u64) -> c_int;
type DeregFd = unsafe extern "C" fn(c_int);
type PrepIo = unsafe extern "C" fn(
    *const Hf3fsIor,
    *const Hf3fsIov,
    bool,
    *mut c_void,
    c_int,
    usize,
    u64,
    *const c_void,
) -> c_int;
type SubmitIos = unsafe extern "C" fn(*const Hf3fsIor) -> c_int;
type WaitForIos = unsafe extern "C" fn(
    *const Hf3fsIor,
    *mut Hf3fsCqe,
    c_int,
    c_int,
    *const libc::timespec,
) -> c_int;

/// The USRBIO entry points, resolved from the loaded library (which they keep loaded).
pub struct Usrbio {
    _library: libloading::Library,
    iovcreate: IovCreate,
    iovdestroy: IovDestroy,
    iorcreate4: IorCreate4,
    iordestroy: IorDestroy,
    reg_fd: RegFd,
    dereg_fd: DeregFd,
    prep_io: PrepIo,
    submit_ios: SubmitIos,
    wait_for_ios: WaitForIos,
}

impl std::fmt::Debug for Usrbio {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Usrbio")
    }
}

/// Why USRBIO is not available.
#[derive(Debug, thiserror::Error)]
#[error("3FS USRBIO library '{library}' is not usable: {source}")]
pub struct LoadError {
    pub library: String,
    pub source: libloading::Error,
}

impl Usrbio {
    /// Loads the library (`TARN_USRBIO_LIB`, else `libhf3fs_api_shared.so` on the loader's path)
    /// and resolves every entry point, or says why not.
    pub fn load() -> Result<Arc<Usrbio>, LoadError> {
        let library = std::env::var("TARN_USRBIO_LIB").unwrap_or_else(|_| LIBRARY.to_string());
        Usrbio::load_from(&library)
    }

    /// Loads the library at `library` (a path, or a name the dynamic loader searches for).
    pub fn load_from(library: &str) -> Result<Arc<Usrbio>, LoadError> {
        let fail = |source| LoadError {
            library: library.to_string(),
            source,
        };
        // SAFETY: loading runs the library's initialisers; 3FS's client library is made to be
        // loaded into applications.
        let lib = unsafe { libloading::Library::new(library) }.map_err(fail)?;
        // SAFETY: each symbol is declared in hf3fs_usrbio.h with the signature given here.
        unsafe {
            Ok(Arc::new(Usrbio {
                iovcreate: *lib.get::<IovCreate>(b"hf3fs_iovcreate\0").map_err(fail)?,
                iovdestroy: *lib.get::<IovDestroy>(b"hf3fs_iovdestroy\0").map_err(fail)?,
                iorcreate4: *lib.get::<IorCreate4>(b"hf3fs_iorcreate4\0").map_err(fail)?,
                iordestroy: *lib.get::<IorDestroy>(b"hf3fs_iordestroy\0").map_err(fail)?,
                reg_fd: *lib.get::<RegFd>(b"hf3fs_reg_fd\0").map_err(fail)?,
                dereg_fd: *lib.get::<DeregFd>(b"hf3fs_dereg_fd\0").map_err(fail)?,
                prep_io: *lib.get::<PrepIo>(b"hf3fs_prep_io\0").map_err(fail)?,
                submit_ios: *lib.get::<SubmitIos>(b"hf3fs_submit_ios\0").map_err(fail)?,
                wait_for_ios: *lib
                    .get::<WaitForIos>(b"hf3fs_wait_for_ios\0")
                    .map_err(fail)?,
                _library: lib,
            }))
        }
    }
}

/// A read ring served by the 3FS daemon: an Iov of `entries × block_size` bytes and an Ior of
/// `entries` requests, both on one mount.
pub struct UsrbioRing {
    api: Arc<Usrbio>,
    iov: Box<Hf3fsIov>,
    ior: Box<Hf3fsIor>,
    slots: Slots,
    block_size: usize,
    cqes: Vec<Hf3fsCqe>,
    in_flight: usize,
}

// The handles are owned by this value and used from one thread at a time (`&mut self`).
unsafe impl Send for UsrbioRing {}

/// Turns a USRBIO return value (`-errno` on failure) into a `Result`.
fn check(ret: c_int) -> std::io::Result<c_int> {
    if ret < 0 {
        Err(std::io::Error::from_raw_os_error(-ret))
    } else {
        Ok(ret)
    }
}

impl UsrbioRing {
    /// Creates the Iov and the Ior on the 3FS mount at `mount`.
    pub fn new(
        api: Arc<Usrbio>,
        mount: &Path,
        entries: usize,
        block_size: usize,
    ) -> std::io::Result<Self> {
        let mount = CString::new(mount.as_os_str().as_encoded_bytes())
            .map_err(|_| std::io::Error::from(std::io::ErrorKind::InvalidInput))?;
        // SAFETY: both structs are plain C data that the create calls fill in.
        let mut iov: Box<Hf3fsIov> = Box::new(unsafe { std::mem::zeroed() });
        let mut ior: Box<Hf3fsIor> = Box::new(unsafe { std::mem::zeroed() });
        let size = entries * block_size;
        // SAFETY: valid pointers to caller-owned structs and a NUL-terminated mount path.
        unsafe {
            check((api.iovcreate)(&mut *iov, mount.as_ptr(), size, 0, -1))?;
            if let Err(err) = check((api.iorcreate4)(
                &mut *ior,
                mount.as_ptr(),
                entries as c_int,
                true,
                0,
                0,
                -1,
                0,
            )) {
                (api.iovdestroy)(&mut *iov);
                return Err(err);
            }
        }
        Ok(UsrbioRing {
            api,
            iov,
            ior,
            slots: Slots::new(entries),
            block_size,
            cqes: vec![
                Hf3fsCqe {
                    index: 0,
                    reserved: 0,
                    result: 0,
                    userdata: std::ptr::null(),
                };
                entries
            ],
            in_flight: 0,
        })
    }

    fn slot_ptr(&self, slot: usize) -> *mut u8 {
        assert!(
            slot < self.slots.user_data.len(),
            "slot {slot} out of range"
        );
        // SAFETY: the Iov holds `entries × block_size` bytes.
        unsafe { self.iov.base.add(slot * self.block_size) }
    }
}

impl ReadRing for UsrbioRing {
    fn entries(&self) -> usize {
        self.slots.user_data.len()
    }

    fn block_size(&self) -> usize {
        self.block_size
    }

    fn register(&mut self, fd: RawFd) -> std::io::Result<()> {
        // SAFETY: registers an open descriptor; 0 or less means success, else an errno.
        match unsafe { (self.api.reg_fd)(fd, 0) } {
            ret if ret <= 0 => Ok(()),
            errno => Err(std::io::Error::from_raw_os_error(errno)),
        }
    }

    fn deregister(&mut self, fd: RawFd) {
        // SAFETY: `fd` was registered by `register`.
        unsafe { (self.api.dereg_fd)(fd) }
    }

    fn prep_read(
        &mut self,
        fd: RawFd,
        offset: u64,
        len: usize,
        user_data: u64,
    ) -> Result<usize, PrepError> {
        let slot = self.slots.take(len, self.block_size, user_data)?;
        // SAFETY: the slot lies inside the Iov the Ior was created with; the slot index travels
        // as the request's userdata pointer and comes back in its completion.
        let ret = unsafe {
            (self.api.prep_io)(
                &*self.ior,
                &*self.iov,
                true,
                self.slot_ptr(slot).cast(),
                fd,
                offset as usize,
                len as u64,
                slot as *const c_void,
            )
        };
        if let Err(err) = check(ret) {
            self.slots.untake(slot);
            return Err(PrepError::Io(err));
        }
        self.in_flight += 1;
        Ok(slot)
    }

    fn submit(&mut self) -> std::io::Result<()> {
        // SAFETY: the Ior was created in `new`.
        check(unsafe { (self.api.submit_ios)(&*self.ior) }).map(|_| ())
    }

    fn wait(&mut self, min_results: usize, out: &mut Vec<Completion>) -> std::io::Result<()> {
        self.submit()?;
        let mut want = min_results.min(self.in_flight);
        loop {
            // SAFETY: `cqes` has room for `entries` completions; a null timeout waits forever.
            let got = check(unsafe {
                (self.api.wait_for_ios)(
                    &*self.ior,
                    self.cqes.as_mut_ptr(),
                    self.cqes.len() as c_int,
                    want as c_int,
                    std::ptr::null(),
                )
            })? as usize;
            for cqe in &self.cqes[..got] {
                let slot = cqe.userdata as usize;
                out.push(Completion {
                    slot,
                    user_data: self.slots.user_data[slot],
                    result: if cqe.result >= 0 {
                        Ok(cqe.result as usize)
                    } else {
                        Err(-cqe.result as i32)
                    },
                });
            }
            self.in_flight -= got;
            want = want.saturating_sub(got);
            if want == 0 {
                return Ok(());
            }
        }
    }

    fn buffer(&self, slot: usize) -> &[u8] {
        // SAFETY: a slot of the Iov, `block_size` bytes long.
        unsafe { std::slice::from_raw_parts(self.slot_ptr(slot), self.block_size) }
    }

    fn release(&mut self, slot: usize) {
        self.slots.release(slot);
    }
}

impl Drop for UsrbioRing {
    fn drop(&mut self) {
        let mut drained = Vec::new();
        let _ = self.wait(self.in_flight, &mut drained);
        // SAFETY: created in `new`, destroyed once, Ior before the Iov it uses.
        unsafe {
            (self.api.iordestroy)(&mut *self.ior);
            (self.api.iovdestroy)(&mut *self.iov);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::mem::{offset_of, size_of};

    use super::*;

    /// Offsets and sizes of the header's structs under the LP64 C ABI (x86-64 and aarch64 Linux):
    /// pointers and size_t 8 bytes, int 4, bool 1, each field at its natural alignment.
    #[test]
    fn struct_layout_matches_hf3fs_usrbio_h() {
        assert_eq!(offset_of!(Hf3fsIov, base), 0);
        assert_eq!(offset_of!(Hf3fsIov, iovh), 8);
        assert_eq!(offset_of!(Hf3fsIov, id), 16);
        assert_eq!(offset_of!(Hf3fsIov, mount_point), 32);
        assert_eq!(offset_of!(Hf3fsIov, size), 288);
        assert_eq!(offset_of!(Hf3fsIov, block_size), 296);
        assert_eq!(offset_of!(Hf3fsIov, numa), 304);
        assert_eq!(size_of::<Hf3fsIov>(), 312);

        assert_eq!(offset_of!(Hf3fsIor, iov), 0);
        assert_eq!(offset_of!(Hf3fsIor, iorh), 312);
        assert_eq!(offset_of!(Hf3fsIor, mount_point), 320);
        assert_eq!(offset_of!(Hf3fsIor, for_read), 576);
        assert_eq!(offset_of!(Hf3fsIor, io_depth), 580);
        assert_eq!(offset_of!(Hf3fsIor, priority), 584);
        assert_eq!(offset_of!(Hf3fsIor, timeout), 588);
        assert_eq!(offset_of!(Hf3fsIor, flags), 592);
        assert_eq!(size_of::<Hf3fsIor>(), 600);

        assert_eq!(offset_of!(Hf3fsCqe, index), 0);
        assert_eq!(offset_of!(Hf3fsCqe, reserved), 4);
        assert_eq!(offset_of!(Hf3fsCqe, result), 8);
        assert_eq!(offset_of!(Hf3fsCqe, userdata), 16);
        assert_eq!(size_of::<Hf3fsCqe>(), 24);
    }

    #[test]
    fn a_missing_library_is_one_clear_error() {
        let err = Usrbio::load_from("/nonexistent/libhf3fs_api_shared.so")
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with(
                "3FS USRBIO library '/nonexistent/libhf3fs_api_shared.so' is not usable"
            ),
            "{err}"
        );
    }
}
