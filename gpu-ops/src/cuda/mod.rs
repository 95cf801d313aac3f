//! The CUDA path: the operators' kernels compiled at run time with NVRTC for the device's
//! architecture and cached per shape ([`program`]), launched through cudarc. Nothing here is
//! linked against CUDA: cudarc loads `libcuda` and `libnvrtc` when a [`Gpu`] is opened, after
//! checking that both libraries are present (a missing one would otherwise panic).
//!
//! Each call copies its inputs to the device and its outputs back. Output buffers start
//! poisoned (every byte 0xff: NaN in f32, NaN in E4M3), so an element a kernel fails to write
//! shows up in any comparison. The device time of every launch is tallied
//! ([`Gpu::take_kernel_seconds`]) for benchmarks, which must not count the copies. The results
//! are checked against the CPU implementations by `bench/gpu/run.sh`.

mod attention;
#[cfg(test)]
mod emulator;
mod fp8;
pub(crate) mod minilm;
mod mla;
mod moe_gate;
pub(crate) mod program;

pub use fp8::Fp8Kernel;

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use cudarc::driver::sys::CUevent_flags;
use cudarc::driver::{
    CudaContext, CudaFunction, CudaSlice, CudaStream, DevicePtrMut, DeviceRepr, DriverError,
};

use crate::device::DeviceError;
use program::Program;

/// An opened CUDA device: its context, the stream every launch goes to, and the kernels
/// compiled so far.
pub struct Gpu {
    ctx: Arc<CudaContext>,
    stream: Arc<CudaStream>,
    /// `sm_XY`, what NVRTC compiles for.
    arch: String,
    name: String,
    /// Streaming multiprocessors: how many blocks keep the device busy.
    multiprocessors: usize,
    /// The most dynamic shared memory a block may opt in to (227 KiB on sm_90, 99 on sm_89).
    shared_bytes_optin: usize,
    /// (major, minor): which FP8 GEMM kernels the device runs.
    compute_capability: (i32, i32),
    /// The FP8 GEMM kernel in use: the device's default unless the GPU check picked one.
    fp8_kernel: Mutex<fp8::Fp8Kernel>,
    /// Compiled kernels by program source and entry point.
    kernels: Mutex<HashMap<(String, &'static str), CudaFunction>>,
    /// Device seconds spent in launches since the last [`Gpu::take_kernel_seconds`].
    kernel_seconds: Mutex<f64>,
}

impl std::fmt::Debug for Gpu {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Gpu({}, {})", self.name, self.arch)
    }
}

fn driver(error: DriverError) -> DeviceError {
    DeviceError::Driver(error.to_string())
}

impl Gpu {
    /// The process's GPU (device 0), opened on first use.
    pub(crate) fn shared() -> Result<Arc<Gpu>, DeviceError> {
        static GPU: OnceLock<Result<Arc<Gpu>, DeviceError>> = OnceLock::new();
        GPU.get_or_init(|| Gpu::open().map(Arc::new)).clone()
    }

    fn open() -> Result<Gpu, DeviceError> {
        // SAFETY: these only try to load the libraries; they call nothing in them.
        if !unsafe { cudarc::driver::sys::is_culib_present() } {
            return Err(DeviceError::NoDevice(
                "the CUDA driver library (libcuda.so) is not installed".into(),
            ));
        }
        if !unsafe { cudarc::nvrtc::sys::is_culib_present() } {
            return Err(DeviceError::NoDevice(
                "NVRTC (libnvrtc.so) is not installed; it compiles Tarn's kernels".into(),
            ));
        }
        let count = CudaContext::device_count().map_err(driver)?;
        if count < 1 {
            return Err(DeviceError::NoDevice("the driver sees no GPU".into()));
        }
        let ctx = CudaContext::new(0).map_err(driver)?;
        let (major, minor) = ctx.compute_capability().map_err(driver)?;
        let multiprocessors = ctx
            .attribute(
                cudarc::driver::sys::CUdevice_attribute::CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT,
            )
            .map_err(driver)?;
        let shared_bytes_optin = ctx
            .attribute(
                cudarc::driver::sys::CUdevice_attribute::CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK_OPTIN,
            )
            .map_err(driver)?;
        Ok(Gpu {
            stream: ctx.default_stream(),
            shared_bytes_optin: shared_bytes_optin.max(0) as usize,
            name: ctx.name().map_err(driver)?,
            arch: format!("sm_{major}{minor}"),
            multiprocessors: multiprocessors.max(1) as usize,
            compute_capability: (major, minor),
            fp8_kernel: Mutex::new(fp8::Fp8Kernel::default_for((major, minor))),
            ctx,
            kernels: Mutex::new(HashMap::new()),
            kernel_seconds: Mutex::new(0.0),
        })
    }

    /// The device's name and architecture, e.g. `NVIDIA H200 (sm_90)`.
    pub fn describe(&self) -> String {
        format!("{} ({})", self.name, self.arch)
    }

    /// Entry point `entry` of `program`, compiling the program on its first use.
    fn kernel(&self, program: &Program, entry: &'static str) -> Result<CudaFunction, DeviceError> {
        let source = program.source();
        let mut kernels = self.kernels.lock().expect("kernel cache lock");
        if let Some(function) = kernels.get(&(source.clone(), entry)) {
            return Ok(function.clone());
        }
        let ptx = program
            .compile(&self.arch)
            .map_err(|log| DeviceError::Compile {
                kernel: entry.to_string(),
                log,
            })?;
        let module = self.ctx.load_module(ptx).map_err(driver)?;
        for &name in program.kernels.entries() {
            let function = module.load_function(name).map_err(driver)?;
            kernels.insert((source.clone(), name), function);
        }
        Ok(kernels[&(source, entry)].clone())
    }

    /// A device buffer of `len` elements with every byte 0xff.
    fn poisoned<T: DeviceRepr>(&self, len: usize) -> Result<CudaSlice<T>, DeviceError> {
        // SAFETY: the buffer is filled before anything reads it.
        let mut buffer = unsafe { self.stream.alloc::<T>(len) }.map_err(driver)?;
        let bytes = len * std::mem::size_of::<T>();
        let (pointer, sync) = buffer.device_ptr_mut(&self.stream);
        // SAFETY: `pointer` addresses `bytes` bytes of the buffer just allocated on this stream.
        unsafe {
            cudarc::driver::result::memset_d8_async(pointer, 0xff, bytes, self.stream.cu_stream())
        }
        .map_err(driver)?;
        drop(sync);
        Ok(buffer)
    }

    /// Runs `launches` between two timing events and adds their device time to the tally.
    fn timed(&self, launches: impl FnOnce() -> Result<(), DriverError>) -> Result<(), DeviceError> {
        let timing = Some(CUevent_flags::CU_EVENT_DEFAULT);
        let start = self.stream.record_event(timing).map_err(driver)?;
        launches().map_err(driver)?;
        let end = self.stream.record_event(timing).map_err(driver)?;
        end.synchronize().map_err(driver)?;
        let millis = start.elapsed_ms(&end).map_err(driver)?;
        *self.kernel_seconds.lock().expect("timing lock") += f64::from(millis) / 1e3;
        Ok(())
    }

    /// Device seconds spent in kernels since the last call, copies excluded.
    pub fn take_kernel_seconds(&self) -> f64 {
        std::mem::take(&mut *self.kernel_seconds.lock().expect("timing lock"))
    }
}
