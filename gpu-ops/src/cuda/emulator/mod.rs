//! Tests' stand-in for a GPU: a [`Program`]'s CUDA C compiled by the host's C++ compiler after
//! `emulator.h` (which says what it emulates and what it cannot show) into a shared library,
//! whose kernels run on the CPU with host memory for device memory. This is how the kernels'
//! indexing, synchronisation and fragment layouts are tested where no GPU is lent; the GPU
//! check (`bench/gpu/run.sh`) remains the word on the hardware.

use std::ffi::{CString, c_char, c_void};
use std::path::Path;
use std::process::Command;

use super::program::Program;

/// The tests' random inputs and comparison metric, shared with `tests/` and the benches (of
/// which these tests use a part).
#[allow(dead_code)]
#[path = "../../../tests/ops/support.rs"]
pub(crate) mod support;

/// One kernel argument, as the kernel's parameter takes it.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Arg {
    /// A device pointer: here, a host address.
    Ptr(*const c_void),
    I32(i32),
    F32(f32),
}

impl<T> From<&[T]> for Arg {
    fn from(slice: &[T]) -> Arg {
        Arg::Ptr(slice.as_ptr().cast())
    }
}

impl<T> From<&mut [T]> for Arg {
    fn from(slice: &mut [T]) -> Arg {
        Arg::Ptr(slice.as_mut_ptr().cast())
    }
}

/// How a kernel runs: grid, threads per block, dynamic shared memory in bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Launch {
    pub(crate) grid: (u32, u32, u32),
    pub(crate) threads: u32,
    pub(crate) shared_bytes: usize,
}

/// When `cp.async` copies land: the two extremes the hardware allows, each of which shows a
/// different missing synchronisation (see `emulator.h`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CopyTiming {
    /// When `cp.async.wait_group` says they must have.
    Late,
    /// As soon as they are started.
    Early,
}

impl CopyTiming {
    pub(crate) const BOTH: [CopyTiming; 2] = [CopyTiming::Late, CopyTiming::Early];
}

/// The entry each kernel gets in the library:
/// `emulate_<kernel>(grid, threads, shared, copies_land_early, args)`.
type Entry = unsafe extern "C" fn(*const u32, u32, usize, bool, *mut *mut c_void) -> *const c_char;

/// A program's kernels, compiled for the CPU.
pub(crate) struct Emulated {
    library: libloading::Library,
    /// Holds the library file.
    _dir: tempfile::TempDir,
}

impl Emulated {
    /// Compiles `program` with `c++` (C++20); panics with the compiler's log if it fails.
    pub(crate) fn compile(program: &Program) -> Emulated {
        let dir = tempfile::tempdir().expect("a temporary folder");
        let header = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/cuda/emulator/emulator.h");
        let mut text = format!("#include \"{}\"\n", header.display());
        text.push_str(&program.source());
        for entry in program.kernels.entries() {
            text.push_str(&format!(
                "\nextern \"C\" __attribute__((visibility(\"default\"))) const char* \
                 emulate_{entry}(const unsigned* grid, \
                 unsigned threads, std::size_t shared, bool early, void** args) {{\n    \
                 return emu::launch({entry}, grid, threads, shared, early, args);\n}}\n"
            ));
        }
        let source = dir.path().join("program.cpp");
        let library = dir.path().join("program.so");
        std::fs::write(&source, text).expect("write the program");
        // Hidden symbols: each program's emulator state is its own, even while another
        // program's library runs in the same process (a test beside this one).
        let output = Command::new("c++")
            .args(["-std=c++20", "-O1", "-w", "-shared", "-fPIC", "-pthread"])
            .args(["-fvisibility=hidden", "-o"])
            .arg(&library)
            .arg(&source)
            .output()
            .expect("run c++");
        assert!(
            output.status.success(),
            "{:?} does not compile for the emulator:\n{}",
            program.kernels,
            String::from_utf8_lossy(&output.stderr)
        );
        // SAFETY: the library is ours, just built; loading it runs no initialisers of note.
        let library = unsafe { libloading::Library::new(&library) }.expect("load the program");
        Emulated { library, _dir: dir }
    }

    /// Runs kernel `entry` with its copies landing as `timing` says; panics with the
    /// emulator's fault (a misaligned address) if it hit one.
    ///
    /// # Safety
    /// `args` must match the kernel's parameters, and every pointer must cover what the
    /// kernel reads and writes under `launch`.
    pub(crate) unsafe fn launch(
        &self,
        entry: &str,
        launch: Launch,
        timing: CopyTiming,
        args: &[Arg],
    ) {
        let name = CString::new(format!("emulate_{entry}")).expect("a C name");
        // SAFETY: every entry the library defines has this signature (see `compile`).
        let run = unsafe { self.library.get::<Entry>(name.as_bytes_with_nul()) }
            .unwrap_or_else(|e| panic!("no kernel {entry}: {e}"));
        // Each argument in an 8-byte slot, pointed to as cuLaunchKernel takes them.
        let mut slots: Vec<[u8; 8]> = args
            .iter()
            .map(|arg| {
                let mut slot = [0u8; 8];
                match *arg {
                    Arg::Ptr(p) => slot.copy_from_slice(&(p as usize as u64).to_ne_bytes()),
                    Arg::I32(v) => slot[..4].copy_from_slice(&v.to_ne_bytes()),
                    Arg::F32(v) => slot[..4].copy_from_slice(&v.to_ne_bytes()),
                }
                slot
            })
            .collect();
        let mut pointers: Vec<*mut c_void> =
            slots.iter_mut().map(|s| s.as_mut_ptr().cast()).collect();
        let grid = [launch.grid.0, launch.grid.1, launch.grid.2];
        // SAFETY: the caller vouches for the arguments; the slots outlive the call.
        let fault = unsafe {
            run(
                grid.as_ptr(),
                launch.threads,
                launch.shared_bytes,
                timing == CopyTiming::Early,
                pointers.as_mut_ptr(),
            )
        };
        if !fault.is_null() {
            // SAFETY: a fault is a NUL-terminated string the library keeps until its next launch.
            let text = unsafe { std::ffi::CStr::from_ptr(fault) };
            panic!("{entry}: {}", text.to_string_lossy());
        }
    }
}
